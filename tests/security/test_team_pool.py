"""Per-request credentials that strangers cannot evict: the pool of per-credential clients under churn.

A real `tickets-mcp --transport http --credentials per-request` process in front of a sandbox that knows
alice's, bob's and 300 other users' static tokens (each of its own account, so the journal tells them
apart) and refuses every other token with 401. Alice watches a thread (polled every 2 s); bob, who has
used the server before, creates a ticket that takes seconds upstream (a ``timeout`` fault: applied at
once, answered late). Meanwhile a burst of tool calls with distinct credentials churns the pool: made-up
tokens (a stranger), or the 300 users, more than the pool's 256 (no attacker at all). The burst's calls
name no valid ticket number (refused before anything is sent), the cheapest request that still gets its
credential a client from the pool. Bob must get the API's own answer (never ``not_applied`` or a
recovered one, never a second ticket), alice's thread must still be polled, and her calls still work.

Below, the API client alone: a connection closed on this side under a write is never "not applied", and
closing a client waits for its requests in flight.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.expected import OPEN_TICKET
from support.mcp_client import text_of
from support.servers import ServerProcess
from tickets_mcp.api import StaticToken, TicketsClient, TransportError
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings(
        "ignore:resources/subscribe is removed"
    ),  # alice subscribes the 2025-11-25 way
]
ALICE = "alice-5f0c2e9a1b_710001"
BOB = "bob-8d3e61a07c_710002"
USERS = tuple(f"user{i:03d}-{uuid.UUID(int=i).hex[-10:]}_{720000 + i}" for i in range(300))
POLL = 2.0  # seconds between two polls of alice's thread
DELAY = 4.0  # seconds bob's create waits upstream for its answer (the ticket exists from the start)
CHURN = 600
MODERN = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "MCP-Method": "tools/call",
    "MCP-Name": "get_ticket",
}


def account(token: str) -> str:
    return token.rsplit("_", 1)[1]


@dataclass
class Running:
    sb: SandboxHandle
    process: ServerProcess

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    tokens = (ALICE, BOB, *USERS)
    with run_sandbox(static_tokens=tokens, creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        process = ServerProcess(
            {
                "SELECTEL_TICKETS_URL": sb.base_url,
                "SELECTEL_IDENTITY_URL": sb.identity_url,
                "TICKETS_MCP_CREDENTIALS": "per-request",
                "TICKETS_MCP_POLL_INTERVAL": str(POLL),
                "TICKETS_MCP_CALLS_PER_MINUTE": "100000",  # on: every call is counted per caller
                "TICKETS_MCP_CREATES_PER_MINUTE": "1000",
            }
        )
        try:
            yield Running(sb, process.start())
        finally:
            process.stop()
        log = process.stderr()
        assert "Traceback" not in log, log[-3000:]
        assert not any(token in log for token in (ALICE, BOB, USERS[0])), "a credential reached the log"


def client(server: Running, token: str, era: str = "auto") -> Client:
    http = httpx2.AsyncClient(headers={"X-Selectel-Token": token}, timeout=60)
    return Client(streamable_http_client(server.url, http_client=http), mode=era)  # type: ignore[arg-type]


def get_ticket(number: object, n: int) -> dict[str, Any]:
    """A 2026-07-28 tools/call as one POST: no session, so each one is a request of its own."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "churn", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    params = {"name": "get_ticket", "arguments": {"number": number}, "_meta": meta}
    return {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}


async def calls(server: Running, tokens: list[str], number: object) -> list[tuple[float, str]]:
    """One get_ticket(number) per token, 32 at a time: for each, when it was answered and its error code
    ("" for a result that is not an error)."""
    answers: list[tuple[float, str]] = []
    limiter = anyio.CapacityLimiter(32)
    async with httpx2.AsyncClient(timeout=60) as http:

        async def one(n: int, token: str) -> None:
            async with limiter:
                answer = await http.post(
                    server.url, json=get_ticket(number, n), headers={**MODERN, "X-Selectel-Token": token}
                )
                assert answer.status_code == 200, answer.text
                result = answer.json()["result"]
                code = (
                    (result.get("structuredContent") or {}).get("code", "?") if result.get("isError") else ""
                )
                answers.append((time.monotonic(), code))

        async with anyio.create_task_group() as tg:
            for n, token in enumerate(tokens):
                tg.start_soon(one, n, token)
    return answers


def polls(sb: SandboxHandle, since: float) -> int:
    return len(
        [
            e
            for e in sb.journal()
            if e["method"] == "GET"
            and e["path"].endswith(f"/v2/tickets/{OPEN_TICKET}")
            and e["account"] == account(ALICE)
            and e["time"] >= since
        ]
    )


def creates(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [
        e
        for e in sb.writes()
        if e["method"] == "POST" and e["path"].endswith("/v2/tickets") and e["account"] == account(BOB)
    ]


async def churn_during_a_slow_create(server: Running, burst: list[str]) -> list[str]:
    """Bob's create, slow upstream, with ``burst`` churning the pool while it is in flight, and alice's
    thread watched throughout. Checks bob's answer, alice's polls and alice's calls; returns the burst's
    error codes."""
    sb = server.sb
    draft = {
        "summary": f"pool churn {uuid.uuid4().hex[:8]}",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["churn.example"]}],
    }
    before = len(creates(sb))
    created: list[tuple[float, Any]] = []
    async with client(server, ALICE, "legacy") as alice, client(server, BOB) as bob:
        assert not (await bob.call_tool("count_tickets", {})).is_error  # bob has used the server before
        await alice.subscribe_resource(f"tickets://{OPEN_TICKET}")
        assert polls(sb, 0) >= 1, "the watch did not read the thread"
        sb.set_faults(
            {
                "sequence": [{"kind": "timeout", "delay": DELAY}],
                "methods": ["POST"],
                "path_prefix": "/v2/tickets",
            }
        )

        async def create() -> None:
            result = await bob.call_tool("create_ticket", draft)
            created.append((time.monotonic(), result))

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(create)
                await anyio.sleep(0.3)  # bob's create is upstream now, waiting for its answer
                answers = await calls(server, burst, "not-a-number")
                churned = time.time()
                for _ in range(int((POLL + 1.0) / 0.1)):  # until the next poll of alice's thread
                    if polls(sb, churned):
                        break
                    await anyio.sleep(0.1)
        finally:
            sb.clear_faults()
        assert polls(sb, churned) >= 1, "alice's watched thread is no longer polled"
        read = await alice.call_tool("get_ticket", {"number": OPEN_TICKET})
        assert not read.is_error, text_of(read)

    answered, result = created[0]
    during = [at for at, _ in answers if at < answered]
    assert len(during) >= 300, f"only {len(during)} calls of the burst came while bob's create was in flight"
    assert not result.is_error, text_of(result)
    assert result.structured_content.get("code") != "not_applied"
    assert not result.structured_content.get("recovered"), (
        "bob's create was cut off and looked for afterwards"
    )
    assert len(creates(sb)) == before + 1  # exactly one ticket, no retry
    log = server.process.stderr()
    assert "outcome unknown" not in log and "not applied" not in log, log[-2000:]
    return [code for _, code in answers]


async def test_made_up_credentials_evict_only_each_other(server: Running) -> None:
    junk = [f"junk-{uuid.uuid4().hex}_{800000 + i}" for i in range(CHURN)]
    codes = await churn_during_a_slow_create(server, junk)
    assert codes == ["invalid_arguments"] * CHURN  # each refused before anything was sent


async def test_more_users_than_the_pool_holds_cut_off_no_write_and_no_watch(server: Running) -> None:
    sb = server.sb
    sb.clear_journal()
    first = await calls(server, list(USERS), OPEN_TICKET)  # 300 accepted credentials, more than 256
    assert [code for _, code in first] == [""] * len(USERS)
    assert len({e["account"] for e in sb.journal()}) == len(USERS)
    codes = await churn_during_a_slow_create(server, list(USERS))  # all of them active again
    assert codes == ["invalid_arguments"] * len(USERS)


# -- the client alone ---------------------------------------------------------------------------------


V2_DRAFT: dict[str, Any] = {
    "categories": ["dns"],
    "category_fields": [{"key": "zone", "values": ["closed.example"]}],
}


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(creates_per_minute=10_000) as sb:
        yield sb


async def test_a_write_cut_off_on_this_side_is_never_not_applied(sandbox: SandboxHandle) -> None:
    """The HTTP client is closed under a create the API has not finished with (it answers 504 later and
    never creates it): the check afterwards finds nothing, but the API may still apply it, so the outcome
    stays unknown instead of "calling again is safe"."""
    sandbox.set_faults(
        {"sequence": [{"kind": "timeout", "delay": 1.5, "applied": False}], "methods": ["POST"]}
    )
    async with TicketsClient(sandbox.base_url, StaticToken(sandbox.token), dedup_window=0) as api:
        async with anyio.create_task_group() as tg:

            async def cut_off() -> None:
                await anyio.sleep(0.3)
                await api.http_client.aclose()  # what closed an evicted client under its request

            tg.start_soon(cut_off)
            with pytest.raises(TransportError) as info:
                await api.create_ticket(summary=f"cut off {uuid.uuid4().hex[:6]}", **V2_DRAFT)
    error = info.value
    assert error.outcome_unknown and error.code != "not_applied"
    assert "closed on this side" in error.message and "may still apply it" in error.message
    await anyio.sleep(1.5)  # journaled once the sandbox answers (504, not created), after the client left
    posts = [e for e in sandbox.writes() if e["path"].endswith("/v2/tickets")]
    assert len(posts) == 1 and posts[0]["applied"] is False


async def test_closing_a_client_waits_for_its_requests_in_flight(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": [{"kind": "timeout", "delay": 1.0}], "methods": ["POST"]})
    api = TicketsClient(sandbox.base_url, StaticToken(sandbox.token), dedup_window=0)
    async with anyio.create_task_group() as tg:

        async def close_soon() -> None:
            await anyio.sleep(0.3)
            await api.aclose()  # the HTTP client closes once the create is answered

        tg.start_soon(close_soon)
        result = await api.create_ticket(summary=f"closed later {uuid.uuid4().hex[:6]}", **V2_DRAFT)
    assert not result.recovered and result.ticket.number > 0  # the API's own answer, not a check afterwards
    assert not api.busy and api._http is None  # closed once the last request ended
    assert (await api.get_ticket(result.ticket.number)).number == result.ticket.number  # still usable
    assert api._http is None
