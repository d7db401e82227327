"""Thread subscriptions are bounded: per session, per caller (over sessions, listen streams and replicas), by
the call limit, and a failing upstream does not flood the log.

A real `tickets-mcp --transport http --credentials per-request` process (low limits through the environment)
in front of a sandbox that accepts several static tokens, each of its own account, so the sandbox journal
tells each test's polls apart (`account`). Clients are real `mcp.Client`s: 2025-11-25 sessions
(`resources/subscribe`) and 2026-07-28 listen streams. With Redis, two replicas share one real Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:resources/")]  # the 2025-11-25 way

# One token (and account) per test, so that the journal's `account` says whose polls a GET was.
TOKENS = {
    name: f"{name}-5c0ffee{n}_90{n}"
    for n, name in enumerate(["session", "caller", "calls", "faults", "listen", "redis"])
}
TICKETS = [f"tickets://{2401001 + i}" for i in range(8)]
LIMITS = {
    "TICKETS_MCP_CREDENTIALS": "per-request",
    "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION": "3",
    "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER": "5",
    "TICKETS_MCP_CALLS_PER_MINUTE": "8",
    "TICKETS_MCP_POLL_INTERVAL": "0.1",
    "TICKETS_MCP_RETRY_BUDGET": "0",
}


@dataclass
class Running:
    sb: SandboxHandle
    process: ServerProcess


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(static_tokens=tuple(TOKENS.values())) as sb:
        yield sb


def upstream(sb: SandboxHandle) -> dict[str, str]:
    return {"SELECTEL_TICKETS_URL": sb.base_url, "SELECTEL_IDENTITY_URL": sb.identity_url}


@pytest.fixture(scope="module")
def server(sandbox: SandboxHandle) -> Iterator[Running]:
    process = ServerProcess({**upstream(sandbox), **LIMITS}).start()
    try:
        yield Running(sandbox, process)
    finally:
        process.stop()
    for token in TOKENS.values():
        assert token not in process.stderr(), "a credential reached the log"


@asynccontextmanager
async def session(url: str, token: str, era: str = "legacy") -> AsyncIterator[Client]:
    """An MCP client of ``token``: a 2025-11-25 session (``legacy``) or 2026-07-28 requests (``auto``)."""
    http = httpx2.AsyncClient(headers={"X-Selectel-Token": token}, timeout=30)
    async with Client(streamable_http_client(url, http_client=http), mode=era) as client:  # type: ignore[arg-type]
        yield client


def account(name: str) -> str:
    return TOKENS[name].rpartition("_")[2]


def polled(sb: SandboxHandle, name: str) -> list[str]:
    """The ticket uris read (GET /v2/tickets/N) with the token of test ``name``, in order."""
    return [
        f"tickets://{str(e['path']).rpartition('/')[2]}"
        for e in sb.journal()
        if e["method"] == "GET" and e["account"] == account(name) and "/v2/tickets/" in str(e["path"])
    ]


async def refused(pending: object) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await pending  # type: ignore[misc]
    return caught.value


async def test_a_session_holds_its_limit_an_unsubscribe_frees_a_slot_and_only_accepted_ones_are_polled(
    server: Running,
) -> None:
    one, two, three, four = TICKETS[:4]
    async with session(server.process.url, TOKENS["session"]) as c:
        for uri in (one, two, three, one):  # the same uri twice holds one slot
            await c.subscribe_resource(uri)
        error = await refused(c.subscribe_resource(four))
        assert "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION=3" in error.message
        assert "resources/unsubscribe" in error.message and all(u in error.message for u in (one, two, three))
        assert error.data["code"] == "subscription_limit" and error.data["limit"] == 3
        await anyio.sleep(0.5)
        assert four not in polled(server.sb, "session")  # refused: never read
        await c.unsubscribe_resource(one)
        await c.subscribe_resource(four)
        await anyio.sleep(0.3)
        server.sb.clear_journal()
        await anyio.sleep(1.0)
        reads = polled(server.sb, "session")
    assert set(reads) == {two, three, four}
    assert 3 * 4 <= len(reads) <= 3 * 12  # every 0.1 s for 1 s, each accepted ticket once per poll


async def test_the_caller_limit_counts_the_tickets_of_all_its_sessions_and_a_session_end_frees_them(
    server: Running,
) -> None:
    url, token = server.process.url, TOKENS["caller"]
    async with session(url, token) as second:
        async with session(url, token) as first:
            for uri in TICKETS[:3]:
                await first.subscribe_resource(uri)
            for uri in TICKETS[3:5]:
                await second.subscribe_resource(uri)
            error = await refused(second.subscribe_resource(TICKETS[5]))
            assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message and "5 tickets" in error.message
            assert "resources/unsubscribe" in error.message
            assert error.data["setting"] == "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER"
            await second.subscribe_resource(TICKETS[0])  # already watched for this caller: no new ticket
            async with session(url, TOKENS["session"]) as stranger:  # another caller is not counted with it
                await stranger.subscribe_resource(TICKETS[5])
        await anyio.sleep(0.3)  # the first session ended (DELETE): its tickets are freed
        async with session(url, token) as third:
            await third.subscribe_resource(TICKETS[5])
            await third.subscribe_resource(TICKETS[6])
            error = await refused(third.subscribe_resource(TICKETS[7]))
            assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
        await anyio.sleep(0.3)
        server.sb.clear_journal()
        await anyio.sleep(0.6)
        assert set(polled(server.sb, "caller")) == {TICKETS[0], TICKETS[3], TICKETS[4]}  # the third left too


async def test_each_subscribe_counts_against_the_sessions_call_limit(server: Running) -> None:
    async with session(server.process.url, TOKENS["calls"]) as c:
        for _ in range(8):  # TICKETS_MCP_CALLS_PER_MINUTE=8
            await c.subscribe_resource(TICKETS[0])
        error = await refused(c.subscribe_resource(TICKETS[1]))
    assert "Retry after" in error.message and "TICKETS_MCP_CALLS_PER_MINUTE" in error.message
    assert error.data["code"] == "session_rate_limited" and 1 <= error.data["retry_after_seconds"] <= 61
    assert TICKETS[1] not in polled(server.sb, "calls")


async def test_polls_failing_with_500_log_a_bounded_number_of_warnings_without_traceback(
    server: Running,
) -> None:
    logged = len(server.process.stderr())
    async with session(server.process.url, TOKENS["faults"]) as c:
        for uri in TICKETS[:3]:
            await c.subscribe_resource(uri)
        server.sb.clear_journal()
        server.sb.set_faults(probability=1.0, kinds=["500"], methods=["GET"], path_prefix="/v2/tickets/")
        try:
            await anyio.sleep(2.0)
        finally:
            server.sb.clear_faults()
        failed = [e for e in server.sb.journal() if e["account"] == account("faults") and e["fault"] == "500"]
    log = server.process.stderr()[logged:]
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(failed) >= 15  # 3 tickets, every 0.1 s, for 2 s: every poll failed
    assert 1 <= len(warnings) <= 2, warnings  # one per caller per minute, not one per failed poll
    assert "polling ticket" in warnings[0]
    assert "Traceback" not in log


async def test_a_listen_stream_is_bounded_per_stream_and_with_the_callers_other_subscriptions(
    server: Running,
) -> None:
    url, token = server.process.url, TOKENS["listen"]
    async with session(url, token) as legacy, session(url, token, "auto") as modern:
        with pytest.raises(MCPError) as too_many:
            async with modern.listen(resource_subscriptions=TICKETS[:4]):
                pass
        assert "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION" in too_many.value.message
        for uri in TICKETS[:3]:
            await legacy.subscribe_resource(uri)
        async with modern.listen(resource_subscriptions=[TICKETS[0], TICKETS[3], TICKETS[4]]):  # 5 tickets
            with pytest.raises(MCPError) as over:
                async with modern.listen(resource_subscriptions=[TICKETS[5]]):
                    pass
            assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in over.value.message
            async with session(url, token) as other:  # a session with room, of the same caller
                error = await refused(other.subscribe_resource(TICKETS[6]))
            assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
        await anyio.sleep(0.3)  # the stream's end reaches the server: it freed two tickets
        async with modern.listen(resource_subscriptions=[TICKETS[5]]):
            await anyio.sleep(0.3)
    reads = polled(server.sb, "listen")
    assert TICKETS[6] not in reads and TICKETS[7] not in reads
    assert TICKETS[5] in reads


# --- replicas sharing Redis --------------------------------------------------------------------------------


@pytest.fixture
def replicas(sandbox: SandboxHandle, redis_url: str) -> Iterator[list[ServerProcess]]:
    env = {**upstream(sandbox), **LIMITS, "TICKETS_MCP_REDIS_URL": redis_url}
    processes = [ServerProcess(env) for _ in range(2)]
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()
    for process in processes:
        assert "Traceback" not in process.stderr()


async def test_the_caller_limit_holds_across_replicas_sharing_redis(
    sandbox: SandboxHandle, replicas: list[ServerProcess]
) -> None:
    token = TOKENS["redis"]
    async with session(replicas[0].url, token) as a, session(replicas[1].url, token) as b:
        for uri in TICKETS[:3]:
            await a.subscribe_resource(uri)
        for uri in TICKETS[3:5]:
            await b.subscribe_resource(uri)
        error = await refused(b.subscribe_resource(TICKETS[5]))
        assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message and "5 tickets" in error.message
        await b.subscribe_resource(TICKETS[0])  # watched for this caller on the other replica: not new
        await a.unsubscribe_resource(TICKETS[1])
        await anyio.sleep(0.3)  # the first replica lets Redis know
        await a.subscribe_resource(TICKETS[5])
        async with session(replicas[1].url, token) as c:  # a session with room, of the same caller
            error = await refused(c.subscribe_resource(TICKETS[6]))
        assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
    assert TICKETS[6] not in polled(sandbox, "redis")
