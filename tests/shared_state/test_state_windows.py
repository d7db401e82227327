"""The rate-window protocol, every implementation (real time): in memory and in Redis, two replicas on
separate connections (``replica_windows``). `MemoryWindows` alone, on a fake clock, is in
tests/unit/api/test_api_windows.py.
"""

from __future__ import annotations

import anyio
import pytest

from tickets_mcp.api.windows import SAFETY, RateWindows

Pair = tuple[RateWindows, RateWindows]


@pytest.mark.anyio
async def test_protocol_limit_reached_then_wait_for_the_oldest_finished_slot(replica_windows: Pair) -> None:
    one, two = replica_windows
    a, wait_a = await one.acquire("k", 2, 0.4)
    b, wait_b = await two.acquire("k", 2, 0.4)
    assert a and b and a != b and wait_a == wait_b == 0.0
    await one.release("k", a)
    await anyio.sleep(0.1)
    await two.release("k", b)
    slot, wait = await two.acquire("k", 2, 0.4)  # a ages out 0.4 s (+ SAFETY) after its release
    assert slot is None and 0.4 + SAFETY - 0.1 - 0.06 <= wait <= 0.4 + SAFETY - 0.1 + 0.001
    assert (await one.acquire("k", 2, 0.4))[0] is None
    await anyio.sleep(wait + 0.01)
    assert (await one.acquire("k", 2, 0.4))[0] is not None
    assert (await two.acquire("k", 2, 0.4))[0] is None  # b still counts


@pytest.mark.anyio
async def test_protocol_a_slot_in_flight_blocks_and_counts_as_finishing_now(replica_windows: Pair) -> None:
    one, two = replica_windows
    slot, _ = await one.acquire("k", 1, 0.2)
    assert slot is not None
    await anyio.sleep(0.3)  # longer than the window: a send in flight still holds its slot
    assert await two.acquire("k", 1, 0.2) == (None, 0.2 + SAFETY)
    await one.release("k", slot)
    held, wait = await two.acquire("k", 1, 0.2)
    assert held is None and 0.15 < wait <= 0.2 + SAFETY  # finished just now (ms clock: maybe exactly now)
    await anyio.sleep(wait + 0.01)
    assert (await two.acquire("k", 1, 0.2))[0] is not None


@pytest.mark.anyio
async def test_protocol_a_finished_slot_frees_before_one_still_in_flight(replica_windows: Pair) -> None:
    one, two = replica_windows
    a, _ = await one.acquire("k", 2, 0.5)
    b, _ = await two.acquire("k", 2, 0.5)
    assert a and b
    await two.release("k", b)  # a stays in flight
    await anyio.sleep(0.1)
    slot, wait = await one.acquire("k", 2, 0.5)
    assert slot is None and 0.3 < wait < 0.5 + SAFETY - 0.09


@pytest.mark.anyio
async def test_protocol_release_is_idempotent_and_unknown_slots_are_ignored(replica_windows: Pair) -> None:
    one, two = replica_windows
    slot, _ = await one.acquire("k", 1, 0.3)
    assert slot is not None
    await one.release("k", slot)
    await anyio.sleep(0.2)
    await two.release("k", slot)  # does not restart its age
    await two.release("k", "no-such-slot")
    await two.release("no-such-key", slot)
    await anyio.sleep(0.2)
    assert (await two.acquire("k", 1, 0.3))[0] is not None


@pytest.mark.anyio
async def test_protocol_keys_are_independent_and_limits_validated(replica_windows: Pair) -> None:
    one, two = replica_windows
    assert isinstance(one, RateWindows)
    assert (await one.acquire("a", 1, 60.0))[0] is not None
    assert (await two.acquire("a", 1, 60.0))[0] is None
    assert (await two.acquire("b", 1, 60.0))[0] is not None
    assert (await one.acquire("a:x", 1, 60.0))[0] is not None
    with pytest.raises(ValueError):
        await one.acquire("k", 0, 1.0)
    with pytest.raises(ValueError):
        await two.acquire("k", 1, 0.0)


@pytest.mark.anyio
async def test_protocol_concurrent_acquires_get_exactly_the_limit(replica_windows: Pair) -> None:
    """20 acquires at once, half through each replica, limit 2: exactly two slots."""
    one, two = replica_windows
    granted: list[str] = []

    async def take(windows: RateWindows) -> None:
        slot, _ = await windows.acquire("pace:acct:create", 2, 60.0)
        if slot is not None:
            granted.append(slot)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(take, one if i % 2 else two)
    assert len(granted) == 2 and len(set(granted)) == 2
