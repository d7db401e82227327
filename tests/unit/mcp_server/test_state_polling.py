"""A watched thread's poll is one of its caller's reads: it waits for the caller's bound on reads in flight
(`Caller.reads`), so watches add no parallel reads beyond the caller's own."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from tickets_mcp.api import StaticToken, TicketsClient
from tickets_mcp.mcp_server.state import CONCURRENT_READS, ServerState
from tickets_mcp.mcp_server.subscriptions import IdentityBus
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio


async def test_a_poll_waits_for_the_callers_reads_in_flight() -> None:
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.url.path)
        return httpx2.Response(200, json={"number": 7, "status": "in_progress", "unread_comments_count": 0})

    settings = Settings(token=SecretStr("t_1"), base_url="https://x.invalid/support")
    state = ServerState(settings, IdentityBus())
    state._client = TicketsClient(
        settings.base_url, StaticToken("t_1"), transport=httpx2.MockTransport(handler)
    )
    holders = [object() for _ in range(CONCURRENT_READS)]
    for holder in holders:  # the caller's own reads, all in flight
        await state.own.reads.acquire_on_behalf_of(holder)
    marks: list[object] = []

    async def poll() -> None:
        marks.append(await state._mark("server", 7))

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll)
        await anyio.wait_all_tasks_blocked()
        assert sent == [] and marks == []  # the poll waits its turn
        state.own.reads.release_on_behalf_of(holders[0])
    assert sent == ["/support/v2/tickets/7"] and marks == [(None, 0, "in_progress")]
    for holder in holders[1:]:
        state.own.reads.release_on_behalf_of(holder)
    await state.aclose()
