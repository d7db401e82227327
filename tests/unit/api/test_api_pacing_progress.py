"""Pacing through the client (shared state per credential) and progress reporting.

The sliding-window semantics themselves are tests/unit/api/test_api_windows.py."""

from __future__ import annotations

import httpx2
import pytest

from tickets_mcp.api import (
    PacingPolicy,
    RateLimited,
    StaticToken,
    TicketsClient,
    reporting_progress,
)
from tickets_mcp.api.progress import report, sleep_reporting
from tickets_mcp.api.windows import MemoryWindows


def test_policy_bounds() -> None:
    with pytest.raises(ValueError):
        PacingPolicy(creates_per_minute=0)
    assert PacingPolicy().limit("create") == 2 and PacingPolicy().limit("comment") == 60


@pytest.mark.anyio
async def test_pacing_over_max_wait_raises_without_sending() -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"id": len(sent)})

    policy = PacingPolicy(comments_per_minute=1, window_seconds=60, max_wait=1.0)
    transport = httpx2.MockTransport(handler)
    async with TicketsClient(
        "https://x.invalid/support", StaticToken("t"), transport=transport, pacing=policy
    ) as c:
        await c.add_comment(1, body="one")
        with pytest.raises(RateLimited) as info:
            await c.add_comment(1, body="two")
    assert len(sent) == 1
    assert info.value.sent is False and info.value.status is None and info.value.retry_after >= 59


@pytest.mark.anyio
async def test_clients_share_pacing_only_through_the_state_they_are_given() -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"id": len(sent)})

    policy = PacingPolicy(comments_per_minute=1, window_seconds=60, max_wait=0.5)
    shared = MemoryWindows()

    def client(windows: MemoryWindows | None) -> TicketsClient:
        transport = httpx2.MockTransport(handler)
        return TicketsClient(
            "https://x.invalid/support", StaticToken("t"), transport=transport, pacing=policy, windows=windows
        )

    async with client(shared) as first, client(shared) as second, client(None) as alone:
        await first.add_comment(1, body="one")
        with pytest.raises(RateLimited):  # the same credential's window, shared through `shared`
            await second.add_comment(1, body="two")
        await alone.add_comment(1, body="three")  # its own in-process state: nothing to wait for
    assert [r.content for r in sent] == [b'{"body":"one"}', b'{"body":"three"}']


@pytest.mark.anyio
async def test_progress_is_monotonic_across_phases() -> None:
    seen: list[tuple[float, float | None, str]] = []

    async def callback(progress: float, total: float | None, message: str) -> None:
        seen.append((progress, total, message))

    with reporting_progress(callback):
        await sleep_reporting(0.05, "first wait")
        await sleep_reporting(0.05, "second wait")
        await report(1, None, "page 1")
    values = [p for p, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert any("second wait" in m for _, _, m in seen) and seen[-1][2] == "page 1"


@pytest.mark.anyio
async def test_progress_callback_errors_are_ignored() -> None:
    def broken(progress: float, total: float | None, message: str) -> None:
        raise RuntimeError("boom")

    with reporting_progress(broken):
        await sleep_reporting(0.01, "wait")


@pytest.mark.anyio
async def test_no_reporting_outside_the_block() -> None:
    await report(1, 2, "nobody listens")  # no error, no callback
