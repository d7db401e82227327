"""The Redis-backed shared state against a real Redis: what only it has (leases, expiry, event loops,
outages). Its protocol semantics are tested with the memory versions' (``replica_windows``,
``replica_dedups`` in test_api_windows.py and test_api_dedup.py).

Tests that stop the session's Redis start it again in a ``finally``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis

from support.redis_server import RedisServer
from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.windows import SAFETY
from tickets_mcp.mcp_server.state import SharedState
from tickets_mcp.redis_state import BORN, PREFIX, RedisDedup, RedisLink, RedisWindows, key_name, where

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def raw(url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@contextmanager
def stopped(server: RedisServer) -> Iterator[None]:
    """Redis down for the block, and up again after it, whatever happens."""
    server.stop()
    try:
        yield
    finally:
        if server.process is None:
            server.start()


def instant(number: int) -> Any:
    async def create() -> dict[str, Any]:
        return {"ticket": {"number": number}}

    return create


# -- windows -----------------------------------------------------------------------------------------


async def test_two_replicas_share_a_limit_exactly_under_concurrency(redis_url: str) -> None:
    replicas = [RedisWindows(RedisLink(redis_url)) for _ in range(2)]
    granted: list[str] = []

    async def take(windows: RedisWindows) -> None:
        slot, _ = await windows.acquire("pace:acct:create", 2, 60.0)
        if slot is not None:
            granted.append(slot)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(take, replicas[i % 2])
    assert len(granted) == 2
    for windows in replicas:
        await windows.aclose()


def test_one_object_serves_several_event_loops(redis_url: str) -> None:
    """A redis.asyncio client belongs to one loop: the link makes one per loop, so threads (each with
    its own loop) share one RedisWindows and still get exactly the limit between them."""
    windows = RedisWindows(RedisLink(redis_url))
    granted: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    async def worker() -> None:
        for _ in range(10):
            slot, _ = await windows.acquire("shared", 15, 3600.0)
            if slot is not None:
                granted.append(slot)
                await windows.release("shared", slot)
        await windows.aclose()

    def run() -> None:
        try:
            start.wait()
            anyio.run(worker)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(granted) == 15 and len(set(granted)) == 15
    anyio.run(windows.acquire, "after", 1, 1.0)  # yet another loop, after the others closed


async def test_keys_are_prefixed_hashed_and_vanish_when_idle(redis_url: str) -> None:
    windows = RedisWindows(RedisLink(redis_url))
    key = "calls:('server', 'client', 'some agent', '1.0')"
    done, flight = RedisWindows.keys(key)
    assert flight == key_name("win", key) + ":flight" and flight.startswith(PREFIX + "win:{")
    assert len(flight) == len(PREFIX + "win:{}:flight") + 32
    slot, _ = await windows.acquire(key, 5, 0.2)
    assert slot is not None
    async with raw(redis_url) as r:
        assert await r.keys("win:*") == [] and set(await r.keys("*")) == {flight, BORN}
        assert 0 < await r.pttl(flight) <= (300 + 0.2 + SAFETY) * 1000 + 1  # the lease, then the window
        await windows.release(key, slot)
        assert set(await r.keys("*")) == {done, BORN}
        assert 0 < await r.pttl(done) <= (0.2 + SAFETY) * 1000 + 1
        await anyio.sleep(0.3)
        assert await r.keys("*") == [BORN]  # the mark of this Redis (see the lost-state test) stays
    await windows.aclose()


async def test_a_slot_left_in_flight_by_a_dead_replica_ends_with_its_lease(redis_url: str) -> None:
    dead = RedisWindows(RedisLink(redis_url), lease=0.3)
    alive = RedisWindows(RedisLink(redis_url), lease=0.3)
    slot, _ = await dead.acquire("k", 1, 0.2)
    assert slot is not None  # and never released: the replica died mid-send
    assert await alive.acquire("k", 1, 0.2) == (None, 0.2 + SAFETY)
    await anyio.sleep(0.35)
    held, wait = await alive.acquire("k", 1, 0.2)  # it counts as ended when its lease ran out
    assert held is None and wait < 0.2 + SAFETY - 0.01
    await anyio.sleep(wait + 0.01)
    assert (await alive.acquire("k", 1, 0.2))[0] is not None
    await dead.aclose()
    await alive.aclose()


# -- dedup --------------------------------------------------------------------------------------------


async def test_a_dead_replicas_marker_expires_and_a_waiter_runs_the_create(redis_url: str) -> None:
    dedup = RedisDedup(RedisLink(redis_url), poll=0.01)
    async with raw(redis_url) as r:  # a replica claimed it and died: nobody renews its marker
        await r.set(RedisDedup.keys("k")[1], "dead-replica", px=300)
    started = time.monotonic()
    result = await dedup.run_once("k", 600, instant(5))
    assert result == ({"ticket": {"number": 5}}, False)
    assert time.monotonic() - started >= 0.25
    await dedup.aclose()


async def test_the_lease_is_renewed_while_a_slow_create_runs(redis_url: str) -> None:
    one = RedisDedup(RedisLink(redis_url), lease=0.15, poll=0.01)
    two = RedisDedup(RedisLink(redis_url), lease=0.15, poll=0.01)
    calls: list[int] = []

    async def slow() -> dict[str, Any]:
        calls.append(1)
        await anyio.sleep(0.6)  # four leases long
        return {"ticket": {"number": 9}}

    results: list[Any] = []

    async def call(dedup: RedisDedup) -> None:
        results.append(await dedup.run_once("k", 600, slow))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, one)
        await anyio.sleep(0.05)
        tg.start_soon(call, two)
    assert len(calls) == 1
    assert sorted(results, key=lambda r: r[1]) == [
        ({"ticket": {"number": 9}}, False),
        ({"ticket": {"number": 9}}, True),
    ]
    await one.aclose()
    await two.aclose()


async def test_results_and_known_numbers_expire(redis_url: str) -> None:
    dedup = RedisDedup(RedisLink(redis_url), numbers_ttl=0.2)
    await dedup.run_once("k", 0.2, instant(1))
    async with raw(redis_url) as r:
        result_key, marker = RedisDedup.keys("k")
        assert 0 < await r.pttl(result_key) <= 200 and await r.exists(marker) == 0
        await dedup.remember_number("cred", 11)
        assert await dedup.known_numbers("cred") == frozenset({11})
        await anyio.sleep(0.25)
        assert await dedup.known_numbers("cred") == frozenset()
        assert await r.keys("*") == [BORN]
    await dedup.aclose()


# -- Redis unreachable ----------------------------------------------------------------------------------


async def test_redis_down_writes_fail_closed_reads_go_on_one_warning_then_recovery(
    redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tickets_mcp.mcp_server.state import CallLimit

    caplog.set_level(logging.INFO, logger="tickets_mcp.redis")
    link = RedisLink(redis_url, probe_interval=0.2)
    windows, dedup = RedisWindows(link), RedisDedup(link)
    calls = CallLimit(windows, 1, 60.0)
    slot, _ = await windows.acquire("pace:acct:comment", 60, 60.0)
    assert slot is not None and await calls.check("session") is None
    created: list[int] = []

    async def create() -> dict[str, Any]:
        created.append(1)
        return {"ticket": {"number": 1}}

    with stopped(redis_server):
        started = time.monotonic()
        with pytest.raises(SharedStateUnavailable) as info:
            await windows.acquire("pace:acct:create", 2, 60.0)
        assert time.monotonic() - started < 2
        error = info.value
        assert error.code == "shared_state_unavailable" and error.sent is False and error.retry_after == 5
        assert error.message.startswith("shared state unavailable: ")
        assert "nothing was sent; retry in 5 s" in error.message
        started = time.monotonic()
        for _ in range(30):
            with pytest.raises(SharedStateUnavailable):
                await windows.acquire("pace:acct:create", 2, 60.0)
            with pytest.raises(SharedStateUnavailable):
                await dedup.run_once("k", 600, create)
            with pytest.raises(SharedStateUnavailable):  # the ambiguous-write lookups must not guess
                await dedup.known_numbers("cred")
            assert await calls.check("session") is None  # the session limit fails open (it is at 1/1)
            await windows.release("pace:acct:comment", slot)  # after a send: never raises
            await dedup.remember_number("cred", 1)  # after a send: never raises
            await anyio.sleep(0.01)  # past the probe interval at times: Redis is tried again
        assert time.monotonic() - started < 5 and created == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "shared state unavailable" in warnings[0].getMessage()
    assert "reads go on" in warnings[0].getMessage()

    await anyio.sleep(0.25)  # the probe interval
    assert await dedup.run_once("k", 600, create) == ({"ticket": {"number": 1}}, False)
    # It came back empty: the sends of the last window are forgotten, so pacing refuses writes for a window
    with pytest.raises(SharedStateUnavailable, match="restarted and forgot") as lost:
        await windows.acquire("pace:acct:create", 2, 60.0)
    assert lost.value.retry_after == 61 and lost.value.sent is False  # the window and its margin, rounded up
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "answers again" in r.getMessage()]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(infos) == 1 and len(warnings) == 2 and "restarted empty" in warnings[1]
    await link.aclose()


async def test_a_redis_that_lost_its_state_holds_writes_for_one_window(redis_url: str) -> None:
    """The Redis is emptied under the replicas (a restart without persistence): pacing holds one window
    from when the link noticed; the per-session call limits do not; after the window, writes go on."""
    link = RedisLink(redis_url, probe_interval=0.05)
    pacing, limits = RedisWindows(link), RedisWindows(link, hold_after_loss=False)
    first, _ = await pacing.acquire("pace:acct:create", 2, 0.5)
    assert first is not None
    async with raw(redis_url) as admin:
        await admin.flushall()
    await anyio.sleep(0.06)
    with pytest.raises(SharedStateUnavailable, match="retry in 1 s"):
        await pacing.acquire("pace:acct:create", 2, 0.5)
    assert (await limits.acquire("calls:session", 5, 0.5))[0] is not None
    await anyio.sleep(0.55)
    assert (await pacing.acquire("pace:acct:create", 2, 0.5))[0] is not None
    await link.aclose()


async def test_a_create_in_flight_when_redis_dies_keeps_its_result(
    redis_url: str, redis_server: RedisServer
) -> None:
    """The ticket was created: losing Redis while storing the result must not turn it into an error."""
    dedup = RedisDedup(RedisLink(redis_url, probe_interval=0.1))

    async def create() -> dict[str, Any]:
        redis_server.stop()
        return {"ticket": {"number": 3}}

    try:
        assert await dedup.run_once("k", 600, create) == ({"ticket": {"number": 3}}, False)
    finally:
        if redis_server.process is None:
            redis_server.start()
    await dedup.aclose()


# -- the rest -----------------------------------------------------------------------------------------


def test_where_never_shows_credentials() -> None:
    assert where("redis://user:s3cret@cache.internal:6380/2") == "cache.internal:6380/2"
    assert where("rediss://:s3cret@cache.internal") == "cache.internal:6379/0"
    assert where("unix:///run/redis.sock") == "unix:/run/redis.sock"


async def test_shared_state_in_redis_and_its_close(redis_url: str) -> None:
    one, two = SharedState.in_redis(redis_url), SharedState.in_redis(redis_url)
    assert isinstance(one.windows, RedisWindows) and isinstance(one.dedup, RedisDedup)
    assert one.windows.link is one.dedup.link  # type: ignore[attr-defined]
    assert (await one.windows.acquire("pace:c:create", 1, 60))[0] is not None
    assert (await two.windows.acquire("pace:c:create", 1, 60))[0] is None
    await one.dedup.remember_number("c", 1)
    assert await two.dedup.known_numbers("c") == frozenset({1})
    await one.aclose()
    await one.aclose()  # idempotent
    assert (await one.windows.acquire("pace:c:comment", 1, 60))[0] is not None  # reconnects lazily
    await one.aclose()
    await two.aclose()
    await SharedState().aclose()  # nothing to close
