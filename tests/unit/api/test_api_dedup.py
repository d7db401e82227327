"""Create dedup and `SharedState`.

`MemoryDedup` is driven by a fake clock (concurrency through anyio Events); the protocol tests, in memory
and in Redis, are in tests/shared_state/test_state_dedup.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import pytest

from support.fake_creates import Creator, creator_result, instant, run
from tickets_mcp.api.dedup import Dedup, MemoryDedup, payload_key
from tickets_mcp.api.windows import MemoryWindows, RateWindows
from tickets_mcp.mcp_server.state import SharedState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_a_concurrent_identical_call_waits_for_the_first_and_reuses_its_result() -> None:
    dedup, creator, first, second = MemoryDedup(), Creator(), [], []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, dedup, creator, first)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(run, dedup, creator, second)
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 1 and first == second == []
        creator.gate(1).set()
        # No sleep polling: the waiter resumes within a few scheduler turns of the first finishing.
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert first and second
    assert first[0] == (creator_result(101), False)
    assert second[0] == (creator_result(101), True)
    assert creator.calls == 1


@pytest.mark.anyio
async def test_the_waiter_is_woken_by_an_event_not_by_a_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    monkeypatch.setattr(anyio, "sleep", no_sleep)
    dedup, creator, results = MemoryDedup(), Creator(), []
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(run, dedup, creator, results)
        await anyio.wait_all_tasks_blocked()
        creator.gate(1).set()
    assert sorted(reused for _, reused in results) == [False, True, True] and creator.calls == 1


@pytest.mark.anyio
async def test_a_result_is_reused_within_the_window_only() -> None:
    clock = Clock()
    dedup = MemoryDedup(clock)
    assert await dedup.run_once("k", 10, instant(1)) == ({"ticket": {"number": 1}}, False)
    clock.now += 9.9
    assert await dedup.run_once("k", 10, instant(2)) == ({"ticket": {"number": 1}}, True)
    assert await dedup.run_once("other", 10, instant(3)) == ({"ticket": {"number": 3}}, False)
    clock.now += 0.1
    assert await dedup.run_once("k", 10, instant(4)) == ({"ticket": {"number": 4}}, False)


@pytest.mark.anyio
async def test_expired_results_are_purged() -> None:
    clock = Clock()
    dedup = MemoryDedup(clock)
    for i in range(50):
        await dedup.run_once(f"k{i}", 10 if i % 2 else 100, instant(i))
    assert len(dedup) == 50
    clock.now += 10
    assert len(dedup) == 25
    clock.now += 90
    await dedup.run_once("late", 10, instant(99))
    assert len(dedup) == 1


@pytest.mark.anyio
async def test_a_failure_is_not_remembered_and_exactly_one_waiter_retries() -> None:
    dedup, creator, results = MemoryDedup(), Creator(1), []
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(run, dedup, creator, results)
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 1
        creator.gate(1).set()  # the first create fails
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 2 and len(results) == 1  # one waiter runs create, two wait for it
        creator.gate(2).set()
    assert isinstance(results[0], RuntimeError)
    assert results[1] == (creator_result(102), False)
    assert results[2:] == [(creator_result(102), True)] * 2
    assert creator.calls == 2


@pytest.mark.anyio
async def test_after_a_failure_the_next_call_runs_create_again() -> None:
    dedup = MemoryDedup()

    async def broken() -> dict[str, Any]:
        raise RuntimeError("503")

    with pytest.raises(RuntimeError):
        await dedup.run_once("k", 600, broken)
    assert await dedup.run_once("k", 600, instant(7)) == ({"ticket": {"number": 7}}, False)


@pytest.mark.anyio
async def test_a_cancelled_first_call_lets_a_waiter_run_create() -> None:
    dedup, creator, results = MemoryDedup(), Creator(), []
    scope = anyio.CancelScope()

    async def first() -> None:
        with scope:
            await dedup.run_once("k", 600, creator)

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(run, dedup, creator, results)
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 1
        scope.cancel()
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 2
        creator.gate(2).set()
    assert results == [(creator_result(102), False)]


@pytest.mark.anyio
async def test_window_zero_disables_dedup() -> None:
    dedup, creator, results = MemoryDedup(), Creator(), []
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(run, dedup, creator, results, "k", 0)
        await anyio.wait_all_tasks_blocked()
        assert creator.calls == 2
        creator.gate(1).set()
        creator.gate(2).set()
    assert [reused for _, reused in results] == [False, False]
    assert (await dedup.run_once("k", 0, instant(1)))[1] is False
    assert (await dedup.run_once("k", -1, instant(2)))[1] is False
    assert len(dedup) == 0


@pytest.mark.anyio
async def test_callers_cannot_change_what_others_get() -> None:
    dedup = MemoryDedup()
    first, _ = await dedup.run_once("k", 600, instant(1))
    first["ticket"]["number"] = 666
    again, reused = await dedup.run_once("k", 600, instant(2))
    assert reused and again == {"ticket": {"number": 1}}
    again["ticket"]["number"] = 777
    assert (await dedup.run_once("k", 600, instant(3)))[0] == {"ticket": {"number": 1}}


@pytest.mark.anyio
async def test_known_numbers_are_per_credential() -> None:
    dedup = MemoryDedup()
    await dedup.remember_number("a", 1)
    await dedup.remember_number("a", 2)
    await dedup.remember_number("a", 2)
    await dedup.remember_number("b", 3)
    assert await dedup.known_numbers("a") == frozenset({1, 2})
    assert await dedup.known_numbers("b") == frozenset({3})
    assert await dedup.known_numbers("c") == frozenset()
    assert isinstance(dedup, Dedup)


def test_payload_key_is_canonical_and_scoped() -> None:
    key = payload_key("cred", "create_ticket", {"a": 1, "b": [1, 2]})
    assert key == payload_key("cred", "create_ticket", {"b": [1, 2], "a": 1})
    assert key != payload_key("other", "create_ticket", {"a": 1, "b": [1, 2]})
    assert key != payload_key("cred", "add_comment", {"a": 1, "b": [1, 2]})
    assert len(key) == 64


# --- SharedState --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_two_in_memory_states_share_nothing() -> None:
    one, two = SharedState(), SharedState()
    assert isinstance(one.windows, MemoryWindows) and isinstance(one.dedup, MemoryDedup)
    assert isinstance(one.windows, RateWindows) and isinstance(one.dedup, Dedup)
    assert one.windows is not two.windows and one.dedup is not two.dedup
    assert (await one.windows.acquire("pace:c:create", 1, 60))[0] is not None
    assert (await one.windows.acquire("pace:c:create", 1, 60))[0] is None
    assert (await two.windows.acquire("pace:c:create", 1, 60))[0] is not None
    assert (await one.dedup.run_once("k", 600, instant(1)))[1] is False
    assert (await two.dedup.run_once("k", 600, instant(2))) == ({"ticket": {"number": 2}}, False)
    await one.dedup.remember_number("c", 1)
    assert await two.dedup.known_numbers("c") == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.windows = two.windows  # type: ignore[misc]
