"""Read-only mode refuses every write even when called by name; the per-session limit.

Both refusals must happen before anything goes upstream: the sandbox journal stays empty.
A control run without the restriction shows the same calls do reach the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import Implementation

from support.expected import OPEN_TICKET, WRITE_CALLS
from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as handle:
        yield handle


def test_every_write_tool_is_covered() -> None:
    assert {s.name for s in all_tools() if not s.read_only} == set(WRITE_CALLS)


async def test_read_only_refuses_writes_called_by_name(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, read_only=True, toolsets=("all",)))
    async with Client(server, raise_exceptions=True) as c:
        listed = {t.name for t in (await c.list_tools()).tools}
        assert not listed & set(WRITE_CALLS)
        sandbox.clear_journal()
        for name, args in WRITE_CALLS.items():
            result = await c.call_tool(name, args)
            assert result.is_error, name
            assert result.structured_content["code"] == "tool_disabled"
            assert "read-only" in text_of(result), text_of(result)
        assert sandbox.journal() == []
        assert not (await c.call_tool("get_ticket", {"number": OPEN_TICKET})).is_error


async def test_control_the_same_calls_reach_the_api_when_writable(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, toolsets=("all",)))
    async with Client(server, raise_exceptions=True) as c:
        for name, args in WRITE_CALLS.items():
            sandbox.clear_journal()
            await c.call_tool(name, args)
            writes = sandbox.writes()
            assert writes, f"{name} sent no write, so the read-only test would prove nothing"


RETRY_AFTER = re.compile(r"retry after (\d+) s")


async def _burst(c: Client, calls: int) -> list[Any]:
    return [await c.call_tool("get_ticket", {"number": OPEN_TICKET}) for _ in range(calls)]


def _clients(server: Any, era: str) -> tuple[Client, Client]:
    """Two callers: two connections (2025-11-25), or two client programs (2026-07-28, no sessions)."""
    if era == "legacy":
        return Client(server, mode="legacy"), Client(server, mode="legacy")
    a, b = (Implementation(name=f"agent-{x}", version="1") for x in "ab")
    return Client(server, mode="auto", client_info=a), Client(server, mode="auto", client_info=b)


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_per_session_limit_refuses_with_retry_after_and_sends_nothing(
    sandbox: SandboxHandle, era: str
) -> None:
    server = build_server(make_settings(sandbox, calls_per_minute=3))
    first_client, second_client = _clients(server, era)
    async with first_client as a, second_client as b:
        first = await _burst(a, 3)
        assert not any(r.is_error for r in first)
        sandbox.clear_journal()
        refused = await a.call_tool("get_ticket", {"number": OPEN_TICKET})
        assert sandbox.journal() == [], "a refused call went upstream"
        assert refused.is_error and refused.structured_content["code"] == "session_rate_limited"
        seconds = int(RETRY_AFTER.search(text_of(refused)).group(1))  # type: ignore[union-attr]
        assert 1 <= seconds <= 60 and refused.structured_content["retry_after_seconds"] == seconds
        # The other caller has its own budget, and every tool counts against it.
        other = await _burst(b, 3)
        assert not any(r.is_error for r in other)
        assert (await b.call_tool("count_tickets", {})).is_error
        assert (await a.call_tool("list_categories", {})).is_error


async def test_per_session_limit_window_is_configurable_and_can_be_off(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, calls_per_minute=0))
    async with Client(server, raise_exceptions=True) as c:
        results = await _burst(c, 25)
    assert not any(r.is_error for r in results)
    server = build_server(make_settings(sandbox, calls_per_minute=2, rate_window=0.5))  # a short "minute"
    async with Client(server, raise_exceptions=True) as c:
        assert [r.is_error for r in await _burst(c, 3)] == [False, False, True]
        await anyio.sleep(0.6)
        assert not (await c.call_tool("get_ticket", {"number": OPEN_TICKET})).is_error
