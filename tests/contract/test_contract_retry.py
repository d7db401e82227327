"""Backoff, budgets and never-duplicated writes, as seen in the sandbox's journal."""

from __future__ import annotations

import time

import anyio
import pytest

from support.api_client import CATEGORY, FIELDS, calls, make_client
from tickets_mcp.api import (
    InvalidRequest,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportError,
    reporting_progress,
)
from tickets_mcp.api.dedup import MemoryDedup
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
CREATE = "/support/v2/tickets"


async def create(sb: SandboxHandle, summary: str, **client_options: object):  # type: ignore[no-untyped-def]
    async with make_client(sb, **client_options) as c:
        return await c.create_ticket(summary=summary, categories=[CATEGORY], category_fields=FIELDS)


async def journaled_post(sb: SandboxHandle) -> None:
    """A timeout fault's request is journaled when its delay ends, after the client gave up."""
    with anyio.fail_after(5):
        for _ in range(100):
            if calls(sb, "POST"):
                return
            await anyio.sleep(0.05)


@pytest.mark.parametrize("kind", ["429", "429-date"])
async def test_429_retry_after_is_honoured(sandbox: SandboxHandle, kind: str) -> None:
    sandbox.set_faults({"sequence": [kind], "methods": ["GET"], "retry_after": 1})
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str) -> None:
        progress.append(message)

    async with make_client(sandbox) as c:
        with reporting_progress(on_progress):
            ticket = (await c.search_tickets(items_per_page=1)).items[0]
    first, second = calls(sandbox, "GET")
    assert first["status"] == 429 and first["fault"] == kind and second["status"] == 200
    assert second["time"] - first["time"] >= 1.0
    assert ticket.number and any("rate limited" in m for m in progress)


async def test_429_date_waits_until_the_date(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["429-date"], "methods": ["GET"], "retry_after": 1})
    async with make_client(sandbox) as c:
        start = time.time()
        await c.list_categories()
    _, second = calls(sandbox, "GET")
    # The sandbox rounds the date up to a whole second; the retry never comes before it.
    assert second["time"] >= int(start) + 1


async def test_429_without_retry_after_uses_backoff(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["429-none", "429-none"], "methods": ["GET"]})
    async with make_client(sandbox) as c:
        await c.list_topics()
    assert [e["status"] for e in calls(sandbox, "GET")] == [429, 429, 200]


async def test_over_budget_raises_rate_limited(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["429"], "retry_after": 7})
    async with make_client(sandbox, retry=RetryPolicy(max_wait=2.0, budget=2.0)) as c:
        with pytest.raises(RateLimited) as info:
            await c.add_comment(2401030, body="hello")
    assert info.value.retry_after == 7 and info.value.status == 429
    assert len(calls(sandbox)) == 1


async def test_5xx_on_get_is_retried(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["503", "502"], "methods": ["GET"]})
    async with make_client(sandbox) as c:
        assert await c.list_categories()
    assert [e["status"] for e in calls(sandbox, "GET")] == [503, 502, 200]


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
async def test_5xx_on_create_is_never_resent_and_looked_up(sandbox: SandboxHandle, kind: str) -> None:
    sandbox.set_faults({"sequence": [kind], "methods": ["POST"]})
    summary = f"Contract: unapplied {kind}"
    with pytest.raises(ServerError) as info:
        await create(sandbox, summary)
    if kind == "504":  # a gateway gave up waiting: the API may still create it, so nothing is proven
        assert info.value.outcome_unknown and info.value.code != "not_applied"
        assert "search for the result" in info.value.message and "again in a minute" in info.value.message
    else:  # the API answered: the search afterwards proves it was not created
        assert not info.value.outcome_unknown and info.value.code == "not_applied"
        assert "Calling create_ticket again is safe" in info.value.message
    posts = calls(sandbox, "POST", "/v2/tickets")
    assert len(posts) == 1 and posts[0]["status"] == int(kind)
    lookup = [e for e in calls(sandbox, "GET", "/v2/tickets") if e["query"].get("q") == [summary]]
    assert lookup and lookup[0]["time"] > posts[0]["time"]


async def test_applied_5xx_on_create_is_recovered(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": [{"kind": "502", "applied": True}], "methods": ["POST"]})
    result = await create(sandbox, "Contract: applied 502")
    assert result.recovered and not result.reused and result.ticket.summary == "Contract: applied 502"
    assert len(calls(sandbox, "POST", "/v2/tickets")) == 1


@pytest.mark.parametrize("kind", ["drop", "malformed"])
async def test_dropped_or_garbled_create_is_recovered(sandbox: SandboxHandle, kind: str) -> None:
    sandbox.set_faults({"sequence": [kind], "methods": ["POST"]})
    result = await create(sandbox, f"Contract: {kind}")
    assert result.recovered
    assert len(calls(sandbox, "POST", "/v2/tickets")) == 1


async def test_timeout_on_create_is_never_resent(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(
        {"sequence": [{"kind": "timeout", "delay": 1.0, "applied": False}], "methods": ["POST"]}
    )
    with pytest.raises(TransportError) as info:
        await create(sandbox, "Contract: timeout", read_timeout=0.3)
    assert info.value.outcome_unknown and info.value.sent
    assert "the request timed out, so the API may still apply it" in info.value.message
    await journaled_post(sandbox)
    assert len(calls(sandbox, "POST", "/v2/tickets")) == 1
    assert any(e["query"].get("q") == ["Contract: timeout"] for e in calls(sandbox, "GET"))


async def test_applied_timeout_on_create_is_recovered(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": [{"kind": "timeout", "delay": 1.0}], "methods": ["POST"]})
    result = await create(sandbox, "Contract: slow create", read_timeout=0.3)
    assert result.recovered
    await journaled_post(sandbox)
    assert len(calls(sandbox, "POST", "/v2/tickets")) == 1


async def test_comment_5xx_is_never_resent(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["500"], "methods": ["POST"]})
    async with make_client(sandbox) as c:
        with pytest.raises(ServerError) as info:
            await c.add_comment(2401030, body="once only")
        assert info.value.code == "not_applied" and not info.value.outcome_unknown  # the thread was read
        assert "once only" not in [x.body for x in await c.list_comments(2401030)]
    assert len(calls(sandbox, "POST")) == 1
    assert [e["method"] for e in calls(sandbox)][:2] == ["POST", "GET"]


async def test_identical_create_is_reused(sandbox: SandboxHandle) -> None:
    shared = MemoryDedup()  # what two clients of one server (or replicas) share
    first = await create(sandbox, "Contract: twice", dedup=shared)
    second = await create(sandbox, "Contract: twice", dedup=shared)
    assert second.reused and second.ticket.number == first.ticket.number
    assert len(calls(sandbox, "POST")) == 1
    third = await create(sandbox, "Contract: twice", dedup_window=0, dedup=shared)
    assert not third.reused and third.ticket.number != first.ticket.number
    fourth = await create(sandbox, "Contract: twice")  # a client with its own state knows nothing of them
    assert not fourth.reused
    assert len([c for c in calls(sandbox, "POST") if c["status"] == 200]) == 3


async def test_invalid_arguments_send_nothing(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        bad_calls = [
            c.create_ticket(summary="", categories=[CATEGORY]),
            c.create_ticket(summary="s", categories=[CATEGORY], access_level="everyone"),  # type: ignore[arg-type]
            c.search_tickets(items_per_page=5000),
            c.get_ticket(0),
            c.rate_comment(1, score=3),
            c.close_ticket(1, score=9),
            c.add_comment(1, body=""),
            c.create_ticket_legacy(summary="x" * 300, comment_body="b"),
            c.list_tickets_legacy(keystone_projects=["a", "b"]),
        ]
        for pending in bad_calls:
            with pytest.raises(InvalidRequest) as info:
                await pending
            assert info.value.status is None and info.value.sent is False and info.value.fields
    assert sandbox.journal() == []
