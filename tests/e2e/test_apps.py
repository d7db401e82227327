"""The MCP App (`mcp_server/apps.py`) through a real in-memory client, in both protocol eras.

A client that negotiates the Apps extension sees `_meta.ui` on create_ticket, get_ticket and
list_comments, the app-only helper, and the two views; any other client, and every client of a server
started with `--no-apps` / `TICKETS_MCP_APPS=off`, sees exactly what it would without the app. Results
are the same either way. The helper obeys read-only mode, the tool filters and the OAuth scopes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from support.app_host import APPS
from support.mcp_client import Elicitor, text_of
from support.sandbox import make_settings
from tickets_mcp.cli import build_parser, load_settings
from tickets_mcp.mcp_server.apps import DRAFT, OPENS, THREAD
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio

UI = "io.modelcontextprotocol/ui"
HELPERS = {"draft_catalog", "thread_actions"}


@asynccontextmanager
async def connect(
    sandbox: SandboxHandle, era: str, *, apps_client: bool, **settings: Any
) -> AsyncIterator[Client]:
    server = build_server(make_settings(sandbox, **settings))
    extensions = [APPS] if apps_client else None
    async with Client(
        server, raise_exceptions=True, mode=era, extensions=extensions, elicitation_callback=Elicitor()
    ) as c:  # type: ignore[arg-type]
        yield c


async def listing(client: Client) -> dict[str, dict[str, Any]]:
    tools = (await client.list_tools()).tools
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}


async def test_an_apps_client_sees_the_views_on_the_tools_that_open_them(
    sandbox: SandboxHandle, era: str
) -> None:
    async with connect(sandbox, era, apps_client=True) as client:
        tools = await listing(client)
        uis = {name: tool["_meta"]["ui"] for name, tool in tools.items() if "ui" in tool.get("_meta", {})}
        assert uis == {
            "create_ticket": {"resourceUri": DRAFT},
            "get_ticket": {"resourceUri": THREAD},
            "list_comments": {"resourceUri": THREAD},
            "draft_catalog": {"resourceUri": DRAFT, "visibility": ["app"]},
            "thread_actions": {"resourceUri": THREAD, "visibility": ["app"]},
        }
        assert all(tools[h]["annotations"]["readOnlyHint"] is True for h in HELPERS)
        for uri in (DRAFT, THREAD):
            (content,) = (await client.read_resource(uri)).contents
            assert content.mime_type == "text/html;profile=mcp-app"
            assert content.meta == {"ui": {"csp": {}, "prefersBorder": True}}  # the empty default CSP


@pytest.mark.parametrize("uri", [DRAFT, THREAD])
async def test_each_view_is_one_offline_file_that_sets_untrusted_text_as_text(
    sandbox: SandboxHandle, era: str, uri: str
) -> None:
    async with connect(sandbox, era, apps_client=True) as client:
        (content,) = (await client.read_resource(uri)).contents
    html = content.text
    assert html.startswith("<!doctype html>") and "/*BRIDGE*/" not in html  # the bridge is inlined
    forbidden = [r"<script[^>]+src", r"<link", r"<iframe", r"@import", r"url\(", r"https?://", r"\bfetch\(",
                 r"XMLHttpRequest", r"WebSocket", r"EventSource", r"\beval\(", r"new Function", r"innerHTML",
                 r"outerHTML", r"insertAdjacentHTML", r"document\.write"]  # fmt: skip
    assert [p for p in forbidden if re.search(p, html)] == []
    for protocol in ("ui/initialize", "ui/notifications/initialized", "ui/notifications/tool-input",
                     "ui/notifications/tool-result", "ui/notifications/tool-cancelled",
                     "ui/notifications/host-context-changed", "ui/resource-teardown",
                     "ui/notifications/size-changed", "event.source !== window.parent"):  # fmt: skip
        assert protocol in html, protocol


async def test_a_client_without_apps_sees_what_a_server_without_apps_shows(
    sandbox: SandboxHandle, era: str
) -> None:
    async with (
        connect(sandbox, era, apps_client=False) as plain,
        connect(sandbox, era, apps_client=True, apps=False) as off,
    ):
        without = await listing(plain)
        assert without == await listing(off)  # the same tools, the same bytes
        assert not HELPERS & set(without) and all("ui" not in t.get("_meta", {}) for t in without.values())
        for helper in HELPERS:
            refused = await plain.call_tool(helper, {})
            assert refused.is_error and "only a host that renders MCP Apps" in text_of(refused)
        with pytest.raises(MCPError):
            await off.read_resource(DRAFT)  # no views either


async def test_apps_are_advertised_only_when_on(sandbox: SandboxHandle, era: str) -> None:
    """`ServerCapabilities.extensions` is of the 2026-07-28 protocol; a 2025-11-25 host goes by `_meta.ui`."""
    async with (
        connect(sandbox, era, apps_client=True) as on,
        connect(sandbox, era, apps_client=True, apps=False) as off,
    ):
        advertised = on.session.server_capabilities.extensions or {}  # type: ignore[union-attr]
        assert (UI in advertised) is (era == "auto")
        assert UI not in (off.session.server_capabilities.extensions or {})  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_ticket", {"number": 0, "include_comments": True}),
        ("list_comments", {"number": 0}),
        ("create_ticket", {"summary": "Disk slow", "categories": ["cloud_servers"], "dry_run": True}),
    ],
)
async def test_results_are_the_same_with_or_without_the_app(
    sandbox: SandboxHandle, era: str, tool: str, arguments: dict[str, Any]
) -> None:
    if arguments.get("number") == 0:
        arguments = {**arguments, "number": sandbox_ticket(sandbox)}
    async with (
        connect(sandbox, era, apps_client=True) as app,
        connect(sandbox, era, apps_client=False) as plain,
    ):
        with_app, without = await app.call_tool(tool, arguments), await plain.call_tool(tool, arguments)
    assert not with_app.is_error, text_of(with_app)
    assert with_app.content == without.content and with_app.structured_content == without.structured_content
    assert set(OPENS) >= {tool}


def sandbox_ticket(sandbox: SandboxHandle) -> int:
    import httpx2

    with httpx2.Client(base_url=sandbox.base_url, headers={"X-Token": sandbox.token}, timeout=10) as api:
        return int(api.get("/v2/tickets", params={"items_per_page": 1}).json()["items"][0]["number"])


async def test_the_helper_serves_the_draft_form_its_catalog(sandbox: SandboxHandle, era: str) -> None:
    async with connect(sandbox, era, apps_client=True) as client:
        result = await client.call_tool("draft_catalog", {"category": "dedicated_servers", "product": "s3"})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert {"cloud_servers", "dedicated_servers"} <= {c["key"] for c in out["categories"]}
    assert all(c.get("description") for c in out["categories"] if c["key"] == "dedicated_servers")
    fields = {f["key"]: f for f in out["fields"]}
    assert fields["location"]["required"] is True and fields["location"]["values"]
    assert {p["key"] for p in out["sub_products"]} == {"s3_standard", "s3_cold"}


@pytest.mark.parametrize(
    "settings",
    [
        {"read_only": True},
        {"exclude_tools": ("create_ticket",)},
        {"tools": ("get_ticket", "list_comments")},
        {"toolsets": ("comments", "catalog")},
    ],
    ids=["read-only", "exclude-tools", "tools", "toolsets"],
)
async def test_the_helper_follows_create_ticket_through_modes_and_filters(
    sandbox: SandboxHandle, era: str, settings: dict[str, Any]
) -> None:
    async with connect(sandbox, era, apps_client=True, **settings) as client:
        tools = await listing(client)
        assert "create_ticket" not in tools and "draft_catalog" not in tools
        result = await client.call_tool("draft_catalog", {})
        assert result.is_error
        opened = {name for name, t in tools.items() if "ui" in t.get("_meta", {})}
        thread = {"get_ticket", "list_comments"} & set(tools)
        assert opened == thread | ({"thread_actions"} if thread else set())


async def test_without_the_write_scope_the_helper_is_hidden_and_refused(
    sandbox: SandboxHandle, era: str
) -> None:
    async with connect(sandbox, era, apps_client=True, **READ_ONLY_TOKEN) as client:  # in memory: read only
        tools = await listing(client)
        assert "create_ticket" not in tools and "draft_catalog" not in tools
        assert tools["get_ticket"]["_meta"]["ui"] == {"resourceUri": THREAD}
        result = await client.call_tool("draft_catalog", {})
        assert result.is_error and result.structured_content["code"] == "insufficient_scope"


READ_ONLY_TOKEN = {  # in memory there is no access token: the caller may read only, as with tickets:read
    "oauth_issuer": "https://issuer.example",
    "oauth_jwks_url": "https://issuer.example/jwks.json",
    "oauth_audience": "https://tickets.example/mcp",
    "transport": "http",
}


@pytest.mark.parametrize(
    ("settings", "refused"),
    [
        ({}, {}),
        ({"read_only": True}, {"add_comment": "read_only", "rate_comment": "read_only"}),
        ({"exclude_tools": ("add_comment",)}, {"add_comment": "tool_disabled"}),
        ({"tools": ("get_ticket", "rate_comment")}, {"add_comment": "tool_disabled"}),
        ({"toolsets": ("tickets",)}, {"add_comment": "tool_disabled", "rate_comment": "tool_disabled"}),
        (READ_ONLY_TOKEN, {"add_comment": "insufficient_scope", "rate_comment": "insufficient_scope"}),
    ],
    ids=["writable", "read-only", "exclude-tools", "tools", "toolsets", "oauth-read-scope"],
)
async def test_the_thread_view_learns_which_writes_it_may_offer_as_tools_list_shows_them(
    sandbox: SandboxHandle, era: str, settings: dict[str, Any], refused: dict[str, str]
) -> None:
    async with connect(sandbox, era, apps_client=True, **settings) as client:
        tools = await listing(client)
        assert "thread_actions" in tools  # it follows get_ticket and list_comments, which are reads
        result = await client.call_tool("thread_actions", {})
        assert not result.is_error, text_of(result)
        out = result.structured_content
        assert out == {"allowed": [w for w in ("add_comment", "rate_comment") if w not in refused],
                       "refused": refused}  # fmt: skip
        assert set(out["allowed"]) == {"add_comment", "rate_comment"} & set(tools)  # as tools/list shows
        for name in refused:  # and as tools/call answers
            call = await client.call_tool(name, {"number": 1, "body": "x", "comment_id": 1, "score": 1})
            assert call.is_error


async def test_the_thread_helper_goes_with_the_tools_that_open_the_thread_view(
    sandbox: SandboxHandle, era: str
) -> None:
    async with connect(sandbox, era, apps_client=True, tools=("create_ticket",)) as client:
        tools = await listing(client)
        assert "thread_actions" not in tools and "draft_catalog" in tools
        assert (await client.call_tool("thread_actions", {})).is_error


def test_no_apps_and_apps_off_turn_the_app_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(build_parser().parse_args([])).apps is True
    assert load_settings(build_parser().parse_args(["--no-apps"])).apps is False
    monkeypatch.setenv("TICKETS_MCP_APPS", "off")
    assert load_settings(build_parser().parse_args([])).apps is False
