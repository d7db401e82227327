"""A replica dies in the middle of a write; an agent's retry lands on another replica.

The dead replica left its in-flight dedup marker in Redis (its lease runs out) and may or may not have
sent the write. The replica that takes over looks first: if the write went through, it answers with it
(marked recovered) and sends nothing; if not, it sends. A real Redis and a real sandbox; the sandbox
journal says what was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
import redis.asyncio as aioredis

from support.sandbox import make_settings
from tickets_mcp.api import TicketsClient
from tickets_mcp.api.dedup import payload_key
from tickets_mcp.api.operations import new_ticket_body
from tickets_mcp.mcp_server.state import SharedState
from tickets_mcp.redis_state import RedisDedup
from tickets_mcp.runtime import build_client
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
FIELDS: dict[str, Any] = {
    "summary": "taken over after a replica died",
    "categories": ["dns"],
    "category_fields": [{"key": "zone", "values": ["takeover.example"]}],
}
DEAD_LEASE_MS = 400  # what is left of the dead replica's marker lease


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with run_sandbox(creates_per_minute=1000, comments_per_minute=1000) as handle:
        yield handle


@pytest.fixture
async def client(sandbox: SandboxHandle, redis_url: str) -> AsyncIterator[TicketsClient]:
    settings = make_settings(sandbox, dedup_window=600)
    shared = SharedState.in_redis(redis_url)
    async with build_client(settings, shared.windows, shared.dedup) as c:
        yield c
    await shared.aclose()


async def dead_marker(url: str, key: str) -> None:
    """The marker a replica that died mid-write leaves behind: not ours, expiring soon."""
    redis = aioredis.Redis.from_url(url)
    await redis.set(RedisDedup.keys(key)[1], "dead-replica", px=DEAD_LEASE_MS)
    await redis.aclose()


def post(sb: SandboxHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx2.post(f"{sb.base_url}{path}", json=body, headers={"X-Token": sb.token}, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def sent(sb: SandboxHandle, suffix: str) -> int:
    return len([e for e in sb.writes() if str(e["path"]).endswith(suffix)])


@pytest.mark.parametrize("went_through", [True, False])
async def test_a_create_taken_over_is_looked_for_first(
    client: TicketsClient, sandbox: SandboxHandle, redis_url: str, went_through: bool
) -> None:
    fields = {**FIELDS, "summary": f"{FIELDS['summary']} {went_through}"}
    body = new_ticket_body(**fields)
    await dead_marker(redis_url, payload_key(client.identity, "create_ticket", body))
    sandbox.clear_journal()
    if went_through:  # the dead replica's POST reached the API before it died
        first = post(sandbox, "/v2/tickets", body)["number"]
    result = await client.create_ticket(**fields)
    if went_through:
        assert result.ticket.number == first and result.reused and sent(sandbox, "/v2/tickets") == 1
    else:
        assert not result.reused and sent(sandbox, "/v2/tickets") == 1


@pytest.mark.parametrize("went_through", [True, False])
async def test_a_comment_taken_over_is_looked_for_first(
    client: TicketsClient, sandbox: SandboxHandle, redis_url: str, went_through: bool
) -> None:
    number = 2401006
    text = f"a comment whose replica died ({went_through})"
    key = payload_key(client.identity, "add_comment", {"number": number, "body": text, "files": None})
    await dead_marker(redis_url, key)
    sandbox.clear_journal()
    if went_through:
        post(sandbox, f"/tickets/{number}/comments", {"body": text})
    comment = await client.add_comment(number, body=text)
    assert comment.recovered is went_through
    assert sent(sandbox, f"/{number}/comments") == 1


async def test_an_identical_comment_on_two_replicas_is_sent_once(
    sandbox: SandboxHandle, redis_url: str
) -> None:
    """Two replicas (two clients on one Redis) get the same comment, at the same time (an agent's retry
    racing its first try) and again just after: it is added once."""
    settings = make_settings(sandbox, dedup_window=600)
    shared = [SharedState.in_redis(redis_url), SharedState.in_redis(redis_url)]
    text = "said once, retried on another replica"
    sandbox.clear_journal()
    got: list[Any] = [None, None]
    async with (
        build_client(settings, shared[0].windows, shared[0].dedup) as one,
        build_client(settings, shared[1].windows, shared[1].dedup) as two,
    ):

        async def add(i: int, client: TicketsClient) -> None:
            got[i] = await client.add_comment(2401006, body=text)

        async with anyio.create_task_group() as tg:
            tg.start_soon(add, 0, one)
            tg.start_soon(add, 1, two)
        again = await two.add_comment(2401006, body=text)
    for state in shared:
        await state.aclose()
    assert got[0].id == got[1].id == again.id and got[0].recovered != got[1].recovered and again.recovered
    assert sent(sandbox, "/2401006/comments") == 1
