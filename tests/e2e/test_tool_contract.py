"""The tool contract as clients see it: names, annotations, schemas (snapshotted), modes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mcp import Client

from support.expected import CATALOG_TOOLS, CONSENT_TOOLS, DEFAULT_TOOLS, LEGACY_TOOLS
from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
SNAPSHOTS = Path(__file__).parent / "snapshots"


async def test_default_toolsets_list_exactly_the_default_tools(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == DEFAULT_TOOLS
    assert [t.name for t in tools] == [s.name for s in all_tools() if s.name in DEFAULT_TOOLS]


async def test_every_tool_sets_all_four_annotations_and_a_short_description(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        ann = tool.annotations
        assert ann is not None, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(ann, hint), bool), f"{tool.name}.{hint} not set explicitly"
        assert tool.description and len(tool.description) <= 200, tool.name
        sentences = re.findall(r"[.!?](?:\s|$)", tool.description)
        assert 1 <= len(sentences) <= 2, f"{tool.name}: one or two sentences"
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object", tool.name
        assert "ctx" not in tool.input_schema.get("properties", {}), tool.name
        assert "consent" not in tool.input_schema.get("properties", {}), tool.name


async def test_registry_declares_consent_for_exactly_the_opinion_and_exposure_tools() -> None:
    assert {s.name for s in all_tools() if s.consent} == CONSENT_TOOLS
    for spec in all_tools():
        if spec.read_only:
            assert not spec.kind.destructive and spec.kind.idempotent, spec.name


async def test_argument_names_follow_the_contract(client: Client) -> None:
    props = {t.name: set(t.input_schema.get("properties", {})) for t in (await client.list_tools()).tools}
    assert "number" in props["get_ticket"] and "comment_id" in props["get_comment"]
    assert "category" in props["get_category_fields"] and "parent" in props["list_products"]
    assert "body" in props["add_comment"] and "body" in props["reopen_ticket"]
    assert {
        "summary",
        "comment_body",
        "categories",
        "category_fields",
        "products",
        "access_level",
        "keystone_projects",
        "files",
        "secrets",
        "body_values",
        "dry_run",
    } <= props["create_ticket"]
    assert {
        "q",
        "is_only_opened",
        "is_only_closed",
        "is_only_abuse",
        "access_levels",
        "keystone_projects",
        "sort_by",
        "sort_by_order",
        "page",
        "items_per_page",
    } <= props["search_tickets"]
    assert {"score", "comment"} <= props["close_ticket"]


@pytest.mark.parametrize("era", ["legacy"])
async def test_schema_snapshots(sandbox: SandboxHandle, era: str) -> None:
    """A schema change is a reviewed diff: `make snapshots` writes the new ones; a missing one fails."""
    server = build_server(make_settings(sandbox, toolsets=("tickets", "comments", "catalog", "legacy")))
    async with Client(server, mode=era) as c:
        tools = (await c.list_tools()).tools
    for tool in tools:
        current = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
        path = SNAPSHOTS / f"{tool.name}.json"
        text = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert path.exists(), f"{tool.name} has no snapshot: run `make snapshots` and commit it"
        assert path.read_text(encoding="utf-8") == text, (
            f"schema of {tool.name} changed: run `make snapshots` and review the diff"
        )
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == {t.name for t in tools}


async def test_read_only_mode_neither_lists_nor_serves_writes(sandbox: SandboxHandle, era: str) -> None:
    server = build_server(make_settings(sandbox, read_only=True))
    sandbox.clear_journal()
    async with Client(server, mode=era) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names == {s.name for s in all_tools() if s.read_only and s.toolset != "legacy"}
        result = await c.call_tool("create_ticket", {"summary": "x", "categories": ["servers"]})
    assert result.is_error and "read-only" in text_of(result)
    assert not sandbox.writes()


async def test_toolsets_all_adds_legacy_and_off_toolsets_explain_themselves(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, toolsets="all"))
    async with Client(server) as c:
        assert LEGACY_TOOLS <= {t.name for t in (await c.list_tools()).tools}
    server = build_server(make_settings(sandbox, toolsets="catalog"))
    async with Client(server) as c:
        assert {t.name for t in (await c.list_tools()).tools} == CATALOG_TOOLS
        result = await c.call_tool("search_tickets", {})
    assert result.is_error and "--toolsets tickets" in text_of(result)


async def test_invalid_arguments_name_the_field_and_send_nothing(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    cases = [
        ("close_ticket", {"number": 1, "score": 9}, "score"),
        ("rate_comment", {"comment_id": 1, "score": 5}, "score"),
        ("add_comment", {"number": 1, "body": ""}, "body"),
        ("search_tickets", {"items_per_page": 0}, "items_per_page"),
        ("search_tickets", {"sort_by": "priority"}, "sort_by"),
        ("create_ticket", {"summary": "s", "categories": ["x"], "files": ["not-a-uuid"]}, "files"),
        ("get_ticket", {"number": "abc"}, "number"),
    ]
    for name, args, field in cases:
        result = await client.call_tool(name, args)
        assert result.is_error, name
        text = text_of(result)
        assert field in text and "nothing was sent" in text, text
        assert "Traceback" not in text and "pydantic.dev" not in text
    assert sandbox.journal() == []
