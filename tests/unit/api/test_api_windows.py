"""Sliding-window logs and the `Pacer` over them.

`MemoryWindows` is driven by a fake clock; the protocol tests, in memory and in Redis, are in
tests/shared_state/test_state_windows.py.
"""

from __future__ import annotations

import threading

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets_mcp.api.pacing import IN_FLIGHT_POLL, Pacer, PacingPolicy, PacingTimeout
from tickets_mcp.api.windows import SAFETY, MemoryWindows, RateWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits:
    """An on_wait that records the waits and moves the fake clock instead of sleeping."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        self.clock.now += seconds
        await anyio.lowlevel.checkpoint()


# --- MemoryWindows ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_limit_reached_then_wait_for_the_oldest_finished_slot() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    a, wait_a = await w.acquire("k", 2, 60.0)
    b, wait_b = await w.acquire("k", 2, 60.0)
    assert a and b and a != b and wait_a == wait_b == 0.0
    clock.now += 1
    await w.release("k", a)  # a finished at 1001
    clock.now += 5
    await w.release("k", b)  # b finished at 1006
    slot, wait = await w.acquire("k", 2, 60.0)
    assert slot is None and wait == pytest.approx(1001 + 60 + SAFETY - 1006)
    clock.now += wait - 0.01
    assert (await w.acquire("k", 2, 60.0))[0] is None  # not yet
    clock.now += 0.02
    assert (await w.acquire("k", 2, 60.0))[0] is not None


@pytest.mark.anyio
async def test_a_slot_ages_out_from_its_release_not_from_its_acquire() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    slot, _ = await w.acquire("k", 1, 10.0)
    assert slot is not None
    clock.now += 30  # a slow send
    await w.release("k", slot)
    clock.now += 10 + SAFETY - 0.01
    assert (await w.acquire("k", 1, 10.0))[0] is None
    clock.now += 0.02
    assert (await w.acquire("k", 1, 10.0))[0] is not None


@pytest.mark.anyio
async def test_a_slot_in_flight_blocks_and_counts_as_finishing_now() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    slot, _ = await w.acquire("k", 1, 10.0)
    assert slot is not None
    for _ in range(3):
        clock.now += 1000  # however long the send takes, its slot is held
        assert await w.acquire("k", 1, 10.0) == (None, 10.0 + SAFETY)
    await w.release("k", slot)
    clock.now += 10 + SAFETY + 0.001
    assert (await w.acquire("k", 1, 10.0))[0] is not None


@pytest.mark.anyio
async def test_a_finished_slot_frees_before_one_still_in_flight() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    a, _ = await w.acquire("k", 2, 10.0)
    b, _ = await w.acquire("k", 2, 10.0)
    assert a and b
    clock.now += 2
    await w.release("k", b)  # a stays in flight
    clock.now += 3
    slot, wait = await w.acquire("k", 2, 10.0)
    assert slot is None and wait == pytest.approx(10 + SAFETY - 3)


@pytest.mark.anyio
async def test_release_is_idempotent_and_unknown_slots_are_ignored() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    slot, _ = await w.acquire("k", 1, 10.0)
    assert slot is not None
    await w.release("k", slot)
    clock.now += 5
    await w.release("k", slot)  # does not restart its age
    await w.release("k", "no-such-slot")
    await w.release("no-such-key", slot)
    clock.now += 5 + SAFETY + 0.001
    assert (await w.acquire("k", 1, 10.0))[0] is not None


@pytest.mark.anyio
async def test_keys_are_independent() -> None:
    w = MemoryWindows(Clock())
    assert (await w.acquire("a", 1, 60.0))[0] is not None
    assert (await w.acquire("a", 1, 60.0))[0] is None
    assert (await w.acquire("b", 1, 60.0))[0] is not None
    assert (await w.acquire("a:x", 1, 60.0))[0] is not None


@pytest.mark.anyio
async def test_idle_keys_are_dropped_and_busy_ones_kept() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    for i in range(1000):  # e.g. one key per MCP session
        slot, _ = await w.acquire(f"session:{i}", 5, 1.0)
        assert slot is not None
        await w.release(f"session:{i}", slot)
    busy, _ = await w.acquire("busy", 1, 1.0)  # never released: stays in flight
    assert busy is not None
    assert len(w) == 1001
    clock.now += 1 + SAFETY + 0.001
    assert len(w) == 1
    clock.now += 3600
    await w.acquire("other", 1, 1.0)
    assert len(w) == 2 and (await w.acquire("busy", 1, 1.0))[0] is None


@pytest.mark.anyio
async def test_a_key_whose_window_grew_is_kept_until_the_longer_window_passes() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    slot, _ = await w.acquire("k", 1, 1.0)
    assert slot is not None
    await w.release("k", slot)
    assert (await w.acquire("k", 1, 10.0))[0] is None  # same key, now a 10 s window
    clock.now += 5
    assert len(w) == 1 and (await w.acquire("k", 1, 10.0))[0] is None
    clock.now += 5 + SAFETY + 0.001
    assert len(w) == 0


@pytest.mark.anyio
async def test_limit_and_window_are_validated() -> None:
    w = MemoryWindows()
    with pytest.raises(ValueError):
        await w.acquire("k", 0, 1.0)
    with pytest.raises(ValueError):
        await w.acquire("k", 1, 0.0)
    assert isinstance(w, RateWindows)


@given(st.lists(st.floats(0, 5), min_size=1, max_size=40), st.integers(1, 4))
def test_never_more_than_limit_in_any_window(gaps: list[float], limit: int) -> None:
    """Sends granted by the window, each finishing at once: no span of `window` holds more than limit."""

    async def scenario() -> list[float]:
        clock = Clock()
        w = MemoryWindows(clock)
        finished: list[float] = []
        for gap in gaps:
            clock.now += gap
            slot, wait = await w.acquire("k", limit, 10.0)
            while slot is None:
                clock.now += wait
                slot, wait = await w.acquire("k", limit, 10.0)
            await w.release("k", slot)
            finished.append(clock.now)
        return finished

    finished = anyio.run(scenario)
    for i, start in enumerate(finished):
        assert sum(1 for t in finished[i:] if t < start + 10.0) <= limit


def test_thread_safety_smoke() -> None:
    """Threads, each with its own event loop, race for one key: exactly `limit` slots are granted."""
    w = MemoryWindows()
    granted: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    async def worker() -> None:
        for _ in range(100):
            slot, _ = await w.acquire("shared", 150, 3600.0)
            if slot is not None:
                granted.append(slot)
                await w.release("shared", slot)
            await w.acquire(f"own:{threading.get_ident()}", 1000, 3600.0)

    def run() -> None:
        try:
            start.wait()
            anyio.run(worker)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(granted) == 150 and len(set(granted)) == 150
    assert len(w) == 9


# --- Pacer --------------------------------------------------------------------------------------


class Refusing:
    """RateWindows that must not be touched."""

    async def acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        raise AssertionError("acquire called")

    async def release(self, key: str, slot: str) -> None:
        raise AssertionError("release called")


@pytest.mark.anyio
async def test_disabled_pacer_does_nothing() -> None:
    pacer = Pacer(PacingPolicy(enabled=False), Refusing(), "cred")
    for _ in range(5):
        async with pacer.slot("create"):
            pass


@pytest.mark.anyio
async def test_pacer_keys_and_limits_come_from_credential_bucket_and_policy() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    policy = PacingPolicy(creates_per_minute=1, comments_per_minute=3, max_wait=0)
    a, b = Pacer(policy, w, "a"), Pacer(policy, w, "b")
    assert a.key("comment") == "pace:a:comment"
    async with a.slot("create"):
        assert await w.acquire("pace:a:create", 1, 60.0) == (None, 60 + SAFETY)
    for _ in range(3):
        async with a.slot("comment"):
            pass
    clock.now += 1
    with pytest.raises(PacingTimeout) as info:
        async with a.slot("comment"):
            raise AssertionError("entered")
    assert info.value.bucket == "comment" and info.value.limit == 3
    async with b.slot("create"), b.slot("comment"):  # another credential: its own buckets
        pass


@pytest.mark.anyio
async def test_pacer_waits_for_the_slot_through_on_wait() -> None:
    clock = Clock()
    pacer = Pacer(PacingPolicy(creates_per_minute=1, window_seconds=10), MemoryWindows(clock), "c")
    waits = Waits(clock)
    async with pacer.slot("create", on_wait=waits):
        pass
    released = clock.now
    clock.now += 2
    async with pacer.slot("create", on_wait=waits):
        assert clock.now >= released + 10 + SAFETY
    assert waits.seen == [pytest.approx(10 + SAFETY - 2)]


@pytest.mark.anyio
async def test_pacer_sleeps_when_no_on_wait_is_given() -> None:
    pacer = Pacer(PacingPolicy(creates_per_minute=1, window_seconds=0.1), MemoryWindows(), "c")
    async with pacer.slot("create"):
        pass
    started = anyio.current_time()
    async with pacer.slot("create"):
        pass
    assert anyio.current_time() - started >= 0.1


@pytest.mark.anyio
async def test_pacer_polls_while_the_slot_is_held_in_flight() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    pacer = Pacer(PacingPolicy(creates_per_minute=1, window_seconds=10), w, "c")
    answer = anyio.Event()
    released_at: list[float] = []
    waits = Waits(clock)

    async def first() -> None:
        async with pacer.slot("create"):
            await answer.wait()
        released_at.append(clock.now)

    async def polling(seconds: float) -> None:
        await waits(seconds)
        if len(waits.seen) == 3:
            answer.set()
            await anyio.wait_all_tasks_blocked()  # the first send ends and frees its slot

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        async with pacer.slot("create", on_wait=polling):
            entered = clock.now
    assert waits.seen[:3] == [IN_FLIGHT_POLL] * 3
    assert released_at == [pytest.approx(1000 + 3 * IN_FLIGHT_POLL)]
    assert entered >= released_at[0] + 10 + SAFETY


@pytest.mark.anyio
async def test_pacing_timeout_over_max_wait_takes_no_slot() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    pacer = Pacer(PacingPolicy(creates_per_minute=1, window_seconds=10, max_wait=5), w, "c")
    waits = Waits(clock)
    async with pacer.slot("create"):
        pass
    clock.now += 1
    with pytest.raises(PacingTimeout) as info:
        async with pacer.slot("create", on_wait=waits):
            raise AssertionError("entered")
    assert info.value.wait == pytest.approx(10 + SAFETY - 1)
    assert info.value.bucket == "create" and info.value.limit == 1
    assert waits.seen == [] and clock.now == 1001  # no waiting at all
    clock.now += info.value.wait
    slot, _ = await w.acquire(pacer.key("create"), 1, 10)  # the refused call holds nothing
    assert slot is not None


@pytest.mark.anyio
async def test_pacing_timeout_at_once_when_the_slot_is_in_flight() -> None:
    clock = Clock()
    pacer = Pacer(
        PacingPolicy(creates_per_minute=1, window_seconds=10, max_wait=5), MemoryWindows(clock), "c"
    )
    waits = Waits(clock)
    async with pacer.slot("create"):
        with pytest.raises(PacingTimeout) as info:
            async with pacer.slot("create", on_wait=waits):
                raise AssertionError("entered")
    assert info.value.wait == 10 + SAFETY and waits.seen == []


@pytest.mark.anyio
async def test_slot_is_released_when_the_send_fails_or_is_cancelled() -> None:
    clock = Clock()
    w = MemoryWindows(clock)
    pacer = Pacer(PacingPolicy(creates_per_minute=1, window_seconds=10), w, "c")
    key = pacer.key("create")
    with pytest.raises(RuntimeError):
        async with pacer.slot("create"):
            raise RuntimeError("connection reset")
    clock.now += 1
    assert (await w.acquire(key, 1, 10))[1] == pytest.approx(10 + SAFETY - 1)  # finished, not in flight
    clock.now += 10
    with anyio.CancelScope() as scope:
        async with pacer.slot("create"):
            scope.cancel()
            await anyio.sleep(1)
    clock.now += 10 + SAFETY + 0.001
    assert (await w.acquire(key, 1, 10))[0] is not None
