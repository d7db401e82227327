"""The create-dedup protocol, every implementation (real time): in memory and in Redis, two replicas on
separate connections (``replica_dedups``): a call on one waits for the identical call on the other.
The in-memory dedup alone, on a fake clock, is in tests/unit/api/test_api_dedup.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from support.fake_creates import Creator, creator_result, instant, run
from tickets_mcp.api.dedup import Dedup

Pair = tuple[Dedup, Dedup]


async def eventually(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds (a waiter on Redis polls), at most 5 s."""
    for _ in range(1000):
        if condition():
            return
        await anyio.sleep(0.005)
    raise AssertionError("the condition never held")


@pytest.mark.anyio
async def test_protocol_a_concurrent_identical_call_on_another_replica_gets_the_first_result(
    replica_dedups: Pair,
) -> None:
    one, two = replica_dedups
    creator, first, second = Creator(), [], []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, one, creator, first)
        await eventually(lambda: creator.calls == 1)
        tg.start_soon(run, two, creator, second)
        await anyio.sleep(0.1)
        assert creator.calls == 1 and first == second == []
        creator.gate(1).set()
    assert first == [(creator_result(101), False)]
    assert second == [(creator_result(101), True)]
    assert creator.calls == 1


@pytest.mark.anyio
async def test_protocol_a_result_is_reused_within_the_window_only(replica_dedups: Pair) -> None:
    one, two = replica_dedups
    assert await one.run_once("k", 0.3, instant(1)) == ({"ticket": {"number": 1}}, False)
    assert await two.run_once("k", 0.3, instant(2)) == ({"ticket": {"number": 1}}, True)
    assert await two.run_once("other", 0.3, instant(3)) == ({"ticket": {"number": 3}}, False)
    await anyio.sleep(0.35)
    assert await two.run_once("k", 0.3, instant(4)) == ({"ticket": {"number": 4}}, False)


@pytest.mark.anyio
async def test_protocol_a_failure_is_not_remembered_and_exactly_one_waiter_retries(
    replica_dedups: Pair,
) -> None:
    one, two = replica_dedups
    creator, results = Creator(1), []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, one, creator, results)
        await eventually(lambda: creator.calls == 1)
        for i in range(3):
            tg.start_soon(run, two if i % 2 == 0 else one, creator, results)
        await anyio.sleep(0.1)
        assert creator.calls == 1
        creator.gate(1).set()  # the first create fails
        await eventually(lambda: creator.calls == 2)
        await anyio.sleep(0.1)
        assert creator.calls == 2 and len(results) == 1  # one waiter runs create, two wait for it
        creator.gate(2).set()
    assert isinstance(results[0], RuntimeError)
    assert results[1] == (creator_result(102), False)
    assert results[2:] == [(creator_result(102), True)] * 2
    assert creator.calls == 2


@pytest.mark.anyio
async def test_protocol_after_a_failure_the_next_call_runs_create_again(replica_dedups: Pair) -> None:
    one, two = replica_dedups

    async def broken() -> dict[str, Any]:
        raise RuntimeError("503")

    with pytest.raises(RuntimeError):
        await one.run_once("k", 600, broken)
    assert await two.run_once("k", 600, instant(7)) == ({"ticket": {"number": 7}}, False)


@pytest.mark.anyio
async def test_protocol_a_cancelled_first_call_lets_a_waiter_run_create(replica_dedups: Pair) -> None:
    one, two = replica_dedups
    creator, results = Creator(), []
    scope = anyio.CancelScope()

    async def first() -> None:
        with scope:
            await one.run_once("k", 600, creator)

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await eventually(lambda: creator.calls == 1)
        tg.start_soon(run, two, creator, results)
        await anyio.sleep(0.1)
        assert creator.calls == 1
        scope.cancel()
        await eventually(lambda: creator.calls == 2)
        creator.gate(2).set()
    assert results == [(creator_result(102), False)]


@pytest.mark.anyio
async def test_protocol_window_zero_disables_dedup(replica_dedups: Pair) -> None:
    one, two = replica_dedups
    creator, results = Creator(), []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, one, creator, results, "k", 0)
        tg.start_soon(run, two, creator, results, "k", 0)
        await eventually(lambda: creator.calls == 2)
        creator.gate(1).set()
        creator.gate(2).set()
    assert [reused for _, reused in results] == [False, False]
    assert (await one.run_once("k", 0, instant(1)))[1] is False
    assert (await two.run_once("k", -1, instant(2)))[1] is False


@pytest.mark.anyio
async def test_protocol_callers_cannot_change_what_others_get(replica_dedups: Pair) -> None:
    one, two = replica_dedups
    first, _ = await one.run_once("k", 600, instant(1))
    first["ticket"]["number"] = 666
    again, reused = await two.run_once("k", 600, instant(2))
    assert reused and again == {"ticket": {"number": 1}}
    again["ticket"]["number"] = 777
    assert (await one.run_once("k", 600, instant(3)))[0] == {"ticket": {"number": 1}}


@pytest.mark.anyio
async def test_protocol_known_numbers_are_per_credential_and_shared(replica_dedups: Pair) -> None:
    one, two = replica_dedups
    assert isinstance(one, Dedup)
    await one.remember_number("a", 1)
    await two.remember_number("a", 2)
    await one.remember_number("a", 2)
    await two.remember_number("b", 3)
    assert await two.known_numbers("a") == frozenset({1, 2})
    assert await one.known_numbers("b") == frozenset({3})
    assert await one.known_numbers("c") == frozenset()
