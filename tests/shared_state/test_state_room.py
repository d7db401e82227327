"""`RateWindows.room`: whether a key's window has room, taking nothing, in memory and in Redis (two replicas
on separate connections). A credential the API has not accepted yet waits for its account's window this
way without counting in it (`api.pacing`)."""

from __future__ import annotations

import anyio
import pytest

from tickets_mcp.api.windows import SAFETY, RateWindows

Pair = tuple[RateWindows, RateWindows]
pytestmark = pytest.mark.anyio


async def test_room_answers_as_acquire_would_and_takes_nothing(replica_windows: Pair) -> None:
    one, two = replica_windows
    assert await two.room("k", 2, 0.4) == 0.0  # an unknown key
    for _ in range(5):
        assert await two.room("k", 1, 0.4) == 0.0  # asking takes nothing
    a, _ = await one.acquire("k", 2, 0.4)
    assert a is not None and await two.room("k", 2, 0.4) == 0.0
    b, _ = await one.acquire("k", 2, 0.4)
    assert b is not None
    assert await two.room("k", 2, 0.4) == 0.4 + SAFETY  # both in flight: they count as finishing now
    await one.release("k", a)
    await anyio.sleep(0.1)
    wait = await two.room("k", 2, 0.4)
    assert 0.4 + SAFETY - 0.1 - 0.06 <= wait <= 0.4 + SAFETY - 0.1 + 0.001  # until a ages out
    _, said = await one.acquire("k", 2, 0.4)
    assert abs(said - wait) < 0.05  # the same answer as acquire's
    await anyio.sleep(wait + 0.01)
    assert await two.room("k", 2, 0.4) == 0.0
    assert (await one.acquire("k", 2, 0.4))[0] is not None  # and the room was there


async def test_room_validates_like_acquire(replica_windows: Pair) -> None:
    one, _ = replica_windows
    with pytest.raises(ValueError):
        await one.room("k", 0, 1.0)
    with pytest.raises(ValueError):
        await one.room("k", 1, 0)


async def test_a_slot_whose_lease_ran_out_counts_as_finished_then(redis_url: str) -> None:
    """A replica died mid-send: its slot in flight holds only until its lease ends, for room as for acquire."""
    from tickets_mcp.redis_state import RedisLink, RedisWindows

    dead, alive = RedisWindows(RedisLink(url=redis_url), lease=0.2), RedisWindows(RedisLink(url=redis_url))
    slot, _ = await dead.acquire("k", 1, 0.5)
    assert slot is not None and await alive.room("k", 1, 0.5) == 0.5 + SAFETY
    await anyio.sleep(0.3)  # the lease ran out 0.1 s ago: finished then, ages out 0.5 s after that
    wait = await alive.room("k", 1, 0.5)
    assert 0.5 + SAFETY - 0.1 - 0.06 <= wait <= 0.5 + SAFETY - 0.1 + 0.01
    await dead.aclose()
    await alive.aclose()
