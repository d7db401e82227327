"""The pool of per-credential callers: accepted credentials are protected from churn, requests in flight and
watched callers are never evicted, made-up credentials only evict each other."""

from __future__ import annotations

import asyncio

import pytest

from support.fake_pool import Clock, FakeClient, FakeEntry
from tickets_mcp.api import IamToken, StaticToken
from tickets_mcp.mcp_server.state import CallerPool

pytestmark = pytest.mark.anyio


def token(name: str) -> StaticToken:
    return StaticToken(f"{name}_1")


def pool_of(**options: object) -> tuple[CallerPool[FakeEntry], dict[str, FakeEntry]]:
    made: dict[str, FakeEntry] = {}

    def make(auth: StaticToken | IamToken) -> FakeEntry:
        entry = made[auth.identity] = FakeEntry(FakeClient(accepted=False))
        return entry

    return CallerPool(make, **options), made  # type: ignore[arg-type]


def identity(name: str) -> str:
    return token(name).identity


async def test_made_up_credentials_evict_only_each_other() -> None:
    pool, _ = pool_of(size=2, pending=3, idle=1e9)
    alice = pool.get(token("alice"))
    alice.client.accepted = True  # the API answered one of her requests
    pool.get(token("alice"))
    for n in range(200):
        pool.get(token(f"junk-{n}"))
    await asyncio.sleep(0)
    assert identity("alice") in pool and not alice.client.closed
    assert len(pool) == 1 + 3  # the junk part stays at its bound
    assert identity("junk-199") in pool and identity("junk-0") not in pool


async def test_a_new_user_accepted_since_is_moved_to_the_protected_part_not_evicted() -> None:
    pool, _ = pool_of(size=4, pending=2, idle=1e9)
    bob = pool.get(token("bob"))  # first request: not accepted yet
    bob.client.accepted = True  # ... its answer came
    for n in range(50):
        pool.get(token(f"junk-{n}"))
    await asyncio.sleep(0)
    assert identity("bob") in pool and not bob.client.closed
    assert pool.peek(identity("bob")) is bob


async def test_an_entry_with_a_request_in_flight_is_never_evicted() -> None:
    pool, _ = pool_of(size=2, pending=2, idle=1e9)
    carol = pool.get(token("carol"))
    carol.client.busy = True  # her first request is upstream
    for n in range(50):
        pool.get(token(f"junk-{n}"))
    await asyncio.sleep(0)
    assert identity("carol") in pool and not carol.client.closed
    carol.client.busy = False  # answered 401: a made-up token after all
    for n in range(50, 53):
        pool.get(token(f"junk-{n}"))
    await asyncio.sleep(0)
    assert identity("carol") not in pool and carol.client.closed


async def test_past_its_bound_the_protected_part_evicts_the_least_recent_but_not_the_watched() -> None:
    watched = {identity("alice")}
    pool, made = pool_of(size=3, pending=2, idle=1e9, pinned=lambda: watched)
    for name in ("alice", "dave", "erin", "frank"):
        pool.get(token(name)).client.accepted = True
        pool.get(token(name))
    for n in range(10):  # more accepted users than the part holds
        pool.get(token(f"user-{n}")).client.accepted = True
        pool.get(token(f"user-{n}"))
    await asyncio.sleep(0)
    assert identity("alice") in pool and not made[identity("alice")].client.closed
    assert identity("dave") not in pool and made[identity("dave")].client.closed
    assert len(pool) == 3  # the watched one and the two most recent
    assert pool.peek(identity("alice")) is made[identity("alice")]


async def test_idle_entries_go_unless_in_flight_or_watched() -> None:
    clock = Clock()
    watched = {identity("alice")}
    pool, made = pool_of(size=10, pending=10, idle=60, clock=clock, pinned=lambda: watched)
    for name in ("alice", "bob", "carol"):
        pool.get(token(name)).client.accepted = True
        pool.get(token(name))
    made[identity("bob")].client.busy = True
    clock.now = 61
    pool.get(token("new"))
    await asyncio.sleep(0)
    assert identity("carol") not in pool and made[identity("carol")].client.closed
    assert identity("alice") in pool and identity("bob") in pool
    with pytest.raises(KeyError):
        pool.peek(identity("carol"))
    await pool.aclose()
    assert len(pool) == 0 and made[identity("alice")].client.closed
