"""Resources, templates, completions and thread subscriptions, in both eras."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference, ResourceTemplateReference, ResourceUpdatedNotification

from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
INJECTED = 2401007


async def test_resources_list_shows_catalog_and_open_tickets(client: Client) -> None:
    resources = (await client.list_resources()).resources
    uris = [str(r.uri) for r in resources]
    assert "catalog://categories" in uris and "catalog://products" in uris
    assert "tickets://session/changes" in uris  # the session's writes
    tickets = [u for u in uris if u.startswith("tickets://") and u != "tickets://session/changes"]
    assert f"tickets://{INJECTED}" in tickets and 0 < len(tickets) <= 50


async def test_templates(client: Client) -> None:
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert {
        "tickets://{number}{?page,before}",
        "catalog://categories/{key}/fields",
        "catalog://products/{parent}",
    } <= templates


async def test_read_thread_and_catalog(client: Client) -> None:
    thread = (await client.read_resource(f"tickets://{INJECTED}")).contents[0]
    assert thread.mime_type == "text/markdown"
    assert "\n```client " in thread.text and "\u200b" not in thread.text
    cats = (await client.read_resource("catalog://categories")).contents[0].text
    assert "cloud_servers" in cats
    fields = (await client.read_resource("catalog://categories/cloud_servers/fields")).contents[0].text
    assert "region" in fields
    products = (await client.read_resource("catalog://products")).contents[0].text
    assert products.strip()


async def test_missing_ticket_resource_is_an_error(client: Client) -> None:
    with pytest.raises(Exception, match="not found"):
        await client.read_resource("tickets://999")


async def test_completions(client: Client) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="tickets://{number}{?page,before}")
    numbers = (await client.complete(ref, {"name": "number", "value": "24010"})).completion.values
    assert str(INJECTED) in numbers and all(n.startswith("24010") for n in numbers)
    ref = ResourceTemplateReference(type="ref/resource", uri="catalog://categories/{key}/fields")
    assert (await client.complete(ref, {"name": "key", "value": "clo"})).completion.values == [
        "cloud_servers"
    ]
    prompt = PromptReference(type="ref/prompt", name="summarize_thread")
    assert (
        str(INJECTED)
        in (await client.complete(prompt, {"name": "number", "value": "2401"})).completion.values
    )
    ref = ResourceTemplateReference(type="ref/resource", uri="catalog://products/{parent}")
    assert (await client.complete(ref, {"name": "parent", "value": ""})).completion.values


@pytest.mark.filterwarnings("ignore:resources/")  # the 2025-11-25 way, on purpose
async def test_unsubscribe_stops_notifications(sandbox: SandboxHandle) -> None:
    updates: list[str] = []

    async def on_message(message: object) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            updates.append(str(root.params.uri))

    server = build_server(make_settings(sandbox, poll_interval=0.1))
    async with Client(server, mode="legacy", message_handler=on_message) as c:
        await c.subscribe_resource("tickets://2401011")
        await c.unsubscribe_resource("tickets://2401011")
        sandbox.support_reply(2401011, "The replica caught up.")
        await anyio.sleep(0.6)
    assert updates == []


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the 2025-11-25 way, on purpose
async def test_subscription_legacy_notifies_on_support_reply(sandbox: SandboxHandle) -> None:
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: object) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            updates.append(str(root.params.uri))
            got.set()

    server = build_server(make_settings(sandbox, poll_interval=0.1))
    async with Client(server, mode="legacy", message_handler=on_message) as c:
        assert c.server_capabilities.resources.subscribe is True
        await c.subscribe_resource("tickets://2401006")
        await anyio.sleep(0.3)
        assert updates == []  # nothing new yet
        sandbox.support_reply(2401006, "We relaxed the PDB on our side; the update continues.")
        with anyio.fail_after(5):
            await got.wait()
    assert updates == ["tickets://2401006"]


async def test_subscription_modern_listen_notifies_on_support_reply(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, poll_interval=0.1))
    async with Client(server, mode="auto") as c:
        async with c.listen(resource_subscriptions=["tickets://2401008"]) as sub:
            await anyio.sleep(0.3)
            sandbox.support_reply(2401008, "Платёж зачислен.")
            with anyio.fail_after(5):
                async for event in sub:
                    assert getattr(event, "uri", None) == "tickets://2401008"
                    break


async def test_listed_ticket_titles_are_sanitized(client: Client, sandbox: SandboxHandle) -> None:
    body = {
        "summary": "Invisible\u200b title \u202ereversed\U000e0041",
        "categories": ["billing"],
        "category_fields": [{"key": "question_type", "values": ["invoice"]}],
        "access_level": "account_users",
        "files": [],
        "keystone_projects": [],
        "products": [],
        "secrets": [],
    }
    created = httpx2.post(f"{sandbox.base_url}/v2/tickets", json=body, headers={"X-Token": sandbox.token})
    number = created.json()["number"]
    resources = (await client.list_resources()).resources
    title = next(r.title for r in resources if str(r.uri) == f"tickets://{number}")
    assert title == f"#{number} Invisible title reversed"


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the 2025-11-25 way, on purpose
async def test_a_session_that_ends_without_unsubscribing_is_no_longer_polled(sandbox: SandboxHandle) -> None:
    """A 2025-11-25 session over HTTP subscribes and ends (DELETE) without unsubscribing: the server lets
    go of it, so the ticket is no longer polled (nothing of the closed session is kept)."""
    from support.servers import ServerProcess

    env = {
        "SELECTEL_TOKEN": sandbox.token,
        "SELECTEL_TICKETS_URL": sandbox.base_url,
        "SELECTEL_IDENTITY_URL": sandbox.identity_url,
        "TICKETS_MCP_POLL_INTERVAL": "0.1",
    }
    server = ServerProcess(env).start()
    path = "/v2/tickets/2401011"
    try:
        async with Client(streamable_http_client(server.url), mode="legacy") as c:
            await c.subscribe_resource("tickets://2401011")
            await anyio.sleep(0.5)
        polled_while_open = [e for e in sandbox.journal() if str(e["path"]).endswith(path)]
        await anyio.sleep(0.3)  # the session's end reaches the server
        sandbox.clear_journal()
        await anyio.sleep(0.6)
        after = [e for e in sandbox.journal() if str(e["path"]).endswith(path)]
    finally:
        server.stop()
    assert len(polled_while_open) >= 3
    assert after == []
