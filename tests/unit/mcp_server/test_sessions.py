"""Session owners and the sessions-per-caller count (`mcp_server/sessions.py`), in process: the bookkeeping,
and the HTTP app (`build_http_app`) driven through httpx2's ASGI transport, no socket, so that the SDK's
idle timeout can be made short and a session that times out is seen to free its caller's slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest

from support.raw_http import INIT, MCP_HEADERS
from tickets_mcp.mcp_server.server import build_http_app, build_server
from tickets_mcp.mcp_server.sessions import Owner, SessionOwners
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio


def test_an_owner_counts_against_its_credential_and_its_subject() -> None:
    both = Owner("static:abc", ("client", "https://issuer", "alice"))
    assert both.counted() == ("credential static:abc", "oauth https://issuer alice")
    assert Owner(principal=("client", None, None)).counted() == ("oauth  client:client",)
    assert Owner("static:abc") != both and Owner("static:abc") == Owner("static:abc")


def test_a_slot_is_held_while_opening_and_freed_once_when_the_session_ends() -> None:
    owners = SessionOwners(limit=2)
    alice, bob = Owner("static:a"), Owner("static:b")
    owners.reserve(alice)
    owners.opened("s1", alice)
    owners.reserve(alice)  # a second opening, not answered yet
    assert owners.full(alice) == "credential static:a" and owners.full(bob) is None
    owners.release(alice)  # that opening failed
    assert owners.full(alice) is None
    owners.reserve(alice)
    owners.opened("s2", alice)
    assert owners.full(alice) is not None and len(owners) == 2
    owners.forget("s1")
    owners.forget("s1")  # the SDK may discard a session twice: one slot only
    assert owners.full(alice) is None and owners.owner("s1") is None and owners.owner("s2") == alice
    owners.forget("s2")
    assert len(owners) == 0 and owners.full(alice) is None


def test_one_warning_per_probed_session() -> None:
    owners = SessionOwners(limit=1)
    owners.reserve(Owner("static:a"))
    owners.opened("s1", Owner("static:a"))
    assert owners.first_probe("s1") and not owners.first_probe("s1")
    owners.forget("s1")
    assert owners.first_probe("s1")  # the set is bounded by the open sessions


@asynccontextmanager
async def app(**settings: object) -> AsyncIterator[httpx2.AsyncClient]:
    s = Settings(transport="http", credentials="per-request", **settings)  # type: ignore[arg-type]
    server = build_server(s)
    asgi = build_http_app(server, s)
    server.session_manager.session_idle_timeout = 0.3  # read when a session is opened
    async with (
        server.session_manager.run(),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), base_url="http://127.0.0.1") as http,
    ):
        yield http


async def test_a_session_that_times_out_frees_its_slot() -> None:
    async with app(sessions_per_caller=1) as http:
        alice = {**MCP_HEADERS, "X-Selectel-Token": "alice_111"}
        first = await http.post("/mcp", json=INIT, headers=alice)
        assert first.status_code == 200 and first.headers["mcp-session-id"]
        assert (await http.post("/mcp", json=INIT, headers=alice)).status_code == 429
        other = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "X-Selectel-Token": "bob_111"})
        assert other.status_code == 200
        await anyio.sleep(0.8)  # the SDK's idle timeout ends alice's session
        again = await http.post("/mcp", json=INIT, headers=alice)
        assert again.status_code == 200, again.text
        gone = {
            **alice,
            "Mcp-Session-Id": first.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        assert (await http.delete("/mcp", headers=gone)).status_code == 404


async def test_a_refused_opening_does_not_hold_a_slot() -> None:
    async with app(sessions_per_caller=1) as http:
        alice = {**MCP_HEADERS, "X-Selectel-Token": "alice_111"}
        bad = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=alice)
        assert bad.status_code == 400  # not an initialize: the SDK opens nothing
        assert (
            await http.post("/mcp", json=INIT, headers={**alice, "Host": "evil.example"})
        ).status_code == 421
        assert (await http.post("/mcp", json=INIT, headers=alice)).status_code == 200


async def test_the_2026_era_has_no_sessions_to_count() -> None:
    async with app(sessions_per_caller=1) as http:
        alice = {**MCP_HEADERS, "X-Selectel-Token": "alice_111"}
        assert (await http.post("/mcp", json=INIT, headers=alice)).status_code == 200
        modern = {**alice, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
        envelope = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": envelope}}
        answer = await http.post("/mcp", json=listing, headers=modern)
        assert answer.status_code == 200 and "mcp-session-id" not in answer.headers, answer.text
