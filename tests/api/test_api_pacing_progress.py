"""Pacing windows (fake clock) and progress reporting."""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets_mcp.api import PacingPolicy, RateLimited, StaticToken, TicketsClient, reporting_progress
from tickets_mcp.api.pacing import SAFETY, SlidingWindow, window_for
from tickets_mcp.api.progress import report, sleep_reporting


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_allows_limit_then_waits_for_the_oldest() -> None:
    clock = Clock()
    window = SlidingWindow(2, 60.0, clock)
    a, _ = window.try_acquire()
    b, _ = window.try_acquire()
    assert a and b
    clock.now += 1
    a.done()
    clock.now += 5
    b.done()
    slot, wait = window.try_acquire()
    assert slot is None and wait == pytest.approx(60 + SAFETY - 5)
    clock.now += wait
    assert window.try_acquire()[0] is not None


def test_in_flight_sends_count_as_now() -> None:
    window = SlidingWindow(1, 60.0, Clock())
    assert window.try_acquire()[0] is not None
    slot, wait = window.try_acquire()
    assert slot is None and 0 < wait <= 0.05


@given(st.lists(st.floats(0, 5), min_size=1, max_size=40), st.integers(1, 4))
def test_never_more_than_limit_in_any_window(gaps: list[float], limit: int) -> None:
    """Sends granted by the window, each finishing at once: no span of `window` holds more than limit."""
    clock = Clock()
    window = SlidingWindow(limit, 10.0, clock)
    finished: list[float] = []
    for gap in gaps:
        clock.now += gap
        slot, wait = window.try_acquire()
        while slot is None:
            clock.now += wait
            slot, wait = window.try_acquire()
        slot.done()
        finished.append(clock.now)
    for i, start in enumerate(finished):
        assert sum(1 for t in finished[i:] if t < start + 10.0) <= limit


def test_windows_are_shared_per_credential() -> None:
    policy = PacingPolicy()
    assert window_for("a", "create", policy) is window_for("a", "create", policy)
    assert window_for("a", "create", policy) is not window_for("b", "create", policy)
    assert window_for("a", "create", policy) is not window_for("a", "comment", policy)


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
