"""Replicas share pacing, create dedup and call limits through Redis (TICKETS_MCP_REDIS_URL).

Two servers built in one process are two replicas (each has its own lifespan state and its own Redis
connection); both talk to the session's sandbox and its real Redis. The sandbox journal is the truth
about what reached the API. Tests that stop Redis start it again in a ``finally``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr, ValidationError

from support.mcp_client import Elicitor, text_of
from support.redis_server import RedisServer
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def replicas(
    sandbox: SandboxHandle, redis_url: str, era: str = "auto", count: int = 2, **overrides: Any
) -> AsyncIterator[list[Client]]:
    """``count`` servers on one Redis, each behind its own MCP client."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            server = build_server(make_settings(sandbox, redis_url=SecretStr(redis_url), **overrides))
            client = Client(server, mode=era, elicitation_callback=Elicitor())  # type: ignore[arg-type]
            clients.append(await stack.enter_async_context(client))
        yield clients


def draft(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "categories": ["billing"],
        "category_fields": [{"key": "question_type", "values": ["invoice"]}],
    }


def creates(sandbox: SandboxHandle, summary: str) -> list[dict[str, Any]]:
    """The creates with this summary that reached the API."""
    return [
        e
        for e in sandbox.writes()
        if e["path"].endswith("/v2/tickets") and (e.get("body") or {}).get("summary") == summary
    ]


async def test_an_identical_create_through_two_replicas_makes_one_ticket(
    sandbox: SandboxHandle, redis_url: str, era: str
) -> None:
    summary = f"Invoice question {uuid.uuid4().hex[:8]}"
    results: list[Any] = []
    async with replicas(sandbox, redis_url, era, dedup_window=600) as (one, two):

        async def create(client: Client) -> None:
            results.append(await client.call_tool("create_ticket", draft(summary)))

        async with anyio.create_task_group() as tg:  # the agent's retry lands on another replica at once
            tg.start_soon(create, one)
            tg.start_soon(create, two)
        later = await two.call_tool("create_ticket", draft(summary))  # and a retry after the first ended
    assert all(not r.is_error for r in [*results, later]), [text_of(r) for r in results]
    numbers = {r.structured_content["ticket"]["number"] for r in [*results, later]}
    assert len(numbers) == 1
    assert sorted(bool(r.structured_content.get("reused")) for r in results) == [False, True]
    assert later.structured_content["reused"] is True
    assert len(creates(sandbox, summary)) == 1


async def test_creates_are_paced_across_replicas(sandbox: SandboxHandle, redis_url: str) -> None:
    """2 creates per (compressed, 1 s) window for the account, whichever replica sends them."""
    tag = uuid.uuid4().hex[:8]
    async with replicas(sandbox, redis_url, creates_per_minute=2, rate_window=1.0, retry_budget=0.3) as (
        one,
        two,
    ):
        first = await one.call_tool("create_ticket", draft(f"Paced {tag} 1"))
        second = await two.call_tool("create_ticket", draft(f"Paced {tag} 2"))
        third = await one.call_tool("create_ticket", draft(f"Paced {tag} 3"))
        fourth = await two.call_tool("create_ticket", draft(f"Paced {tag} 4"))
        await anyio.sleep(1.1)  # the window has passed
        fifth = await two.call_tool("create_ticket", draft(f"Paced {tag} 5"))
    assert [r.is_error for r in (first, second, third, fourth, fifth)] == [False, False, True, True, False]
    assert (
        third.structured_content["code"] == "paced" and third.structured_content["retry_after_seconds"] >= 1
    )
    sent = [n for n in range(1, 6) if creates(sandbox, f"Paced {tag} {n}")]
    assert sent == [1, 2, 5]


async def test_session_limit_is_shared_by_replicas(sandbox: SandboxHandle, redis_url: str) -> None:
    async with replicas(sandbox, redis_url, calls_per_minute=3) as (one, two):
        results = [await c.call_tool("count_tickets", {}) for c in (one, two, one, two)]
    assert [r.is_error for r in results] == [False, False, False, True]
    assert results[-1].structured_content["code"] == "session_rate_limited"


async def test_redis_down_refuses_writes_unsent_and_serves_reads(
    sandbox: SandboxHandle, redis_url: str, redis_server: RedisServer, era: str
) -> None:
    summary = f"While Redis is down {uuid.uuid4().hex[:8]}"
    window = {"rate_window": 1.0}
    async with replicas(
        sandbox, redis_url, era, count=1, dedup_window=600, calls_per_minute=100, **window
    ) as (one,):
        assert not (await one.call_tool("count_tickets", {})).is_error  # connected while it was up
        sandbox.clear_journal()
        redis_server.stop()
        try:
            created = await one.call_tool("create_ticket", draft(summary))
            comment = await one.call_tool("add_comment", {"number": 2401011, "body": "Still down?"})
            closed = await one.call_tool(
                "close_ticket", {"number": 2401011}
            )  # not paced: refused all the same
            search = await one.call_tool("search_tickets", {"q": "backup"})
            listed = await one.call_tool("count_tickets", {})
        finally:
            redis_server.start()
        await anyio.sleep(1.1)  # the link tries Redis again after its probe interval
        # It came back empty (no persistence): the writes of the last window are unknown, so they wait it out
        held = await one.call_tool("create_ticket", draft(summary))
        await anyio.sleep(1.1)
        again = await one.call_tool("create_ticket", draft(summary))
    assert held.is_error and held.structured_content["code"] == "shared_state_unavailable"
    assert "restarted and forgot" in text_of(held) and held.structured_content["sent"] is False
    for refused in (created, comment, closed):
        assert refused.is_error
        assert refused.structured_content["code"] == "shared_state_unavailable"
        assert refused.structured_content["sent"] is False
        assert refused.structured_content["retry_after_seconds"] == 5
        assert text_of(refused).startswith("shared state unavailable: ")
        assert "nothing was sent; retry in 5 s" in text_of(refused)
        assert str(redis_server.port) not in text_of(refused)  # the agent learns nothing of the topology
    assert not search.is_error and not listed.is_error
    assert not again.is_error, text_of(again)
    assert len(creates(sandbox, summary)) == 1  # only the one after Redis came back
    assert not [e for e in sandbox.writes() if e["path"].endswith(("/comments", "/close"))]


def test_redis_url_is_checked_at_start_up() -> None:
    with pytest.raises(ValidationError, match="redis://"):
        Settings(token=SecretStr("t"), redis_url=SecretStr("cache.internal:6379"))
    assert Settings(token=SecretStr("t"), redis_url=SecretStr("")).redis_url is None
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # the package is not installed
        from tickets_mcp.cli import main
        sys.exit(main(["--sandbox", "--redis-url", "redis://127.0.0.1:1/0"]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "pip install 'tickets-mcp[redis]'" in proc.stderr and "Traceback" not in proc.stderr


def test_redis_is_imported_only_when_configured() -> None:
    """Cold start (bench P1): a server without TICKETS_MCP_REDIS_URL never imports the redis package."""
    code = textwrap.dedent(
        """
        import sys, anyio
        from mcp import Client
        from pydantic import SecretStr
        from tickets_mcp.settings import Settings
        from tickets_mcp.mcp_server.server import build_server

        async def main(settings):
            async with Client(build_server(settings)) as client:
                await client.list_tools()

        settings = Settings(token=SecretStr("t"), base_url="http://127.0.0.1:1")
        anyio.run(main, settings)
        print("redis" in sys.modules)
        from tickets_mcp.mcp_server.state import SharedState
        shared = SharedState.of(settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:1/0")}))
        print("redis" in sys.modules, type(shared.windows).__name__, type(shared.dedup).__name__)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["False", "True RedisWindows RedisDedup"]


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the 2025-11-25 way, on purpose
async def test_thread_notifications_survive_a_redis_outage_with_one_warning(
    sandbox: SandboxHandle, redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes away under a subscription: polling pauses with one warning (not one per poll), and a
    change after Redis is back still reaches the subscriber on the other replica."""
    caplog.set_level(logging.INFO, logger="tickets_mcp")
    number, uri = 2401008, "tickets://2401008"
    async with replicas(sandbox, redis_url, "auto", poll_interval=0.1) as (one, two):
        await one.call_tool("count_tickets", {})
        async with two.listen(resource_subscriptions=[uri]) as sub:
            await anyio.sleep(0.3)
            redis_server.stop()
            try:
                await anyio.sleep(1.0)  # about ten polls while Redis is away
            finally:
                redis_server.start()
            await anyio.sleep(2.0)  # the notification channel reconnects within a second or so
            sandbox.support_reply(number, "Back after the outage.")
            with anyio.fail_after(10):
                async for event in sub:
                    assert getattr(event, "uri", None) == uri
                    break
    # the outage is said once (by the link the pacing, dedup and watches share), and so is the recovery
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([w for w in warnings if "shared state unavailable" in w]) == 1, warnings
    assert any("answers again" in r.getMessage() for r in caplog.records)
