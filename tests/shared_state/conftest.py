"""The state that replicas share (rate windows, create dedup), against every implementation.

`replica_windows` / `replica_dedups` give two objects that must share their state, once per
implementation: ``memory`` (one in-process object, twice) and ``redis`` (two objects on two separate
connections to the session's real Redis: two server replicas). The protocol tests run against both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tickets_mcp.api.dedup import Dedup, MemoryDedup
from tickets_mcp.api.windows import MemoryWindows, RateWindows

IMPLEMENTATIONS = ["memory", "redis"]


@pytest.fixture(params=IMPLEMENTATIONS)
async def replica_windows(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RateWindows, RateWindows]]:
    if request.param == "memory":
        one = MemoryWindows()
        yield one, one
        return
    from tickets_mcp.redis_state import RedisLink, RedisWindows

    url = request.getfixturevalue("redis_url")
    first, second = RedisWindows(RedisLink(url)), RedisWindows(RedisLink(url))
    yield first, second
    await first.aclose()
    await second.aclose()


@pytest.fixture(params=IMPLEMENTATIONS)
async def replica_dedups(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Dedup, Dedup]]:
    if request.param == "memory":
        one = MemoryDedup()
        yield one, one
        return
    from tickets_mcp.redis_state import RedisDedup, RedisLink

    url = request.getfixturevalue("redis_url")
    first, second = RedisDedup(RedisLink(url), poll=0.01), RedisDedup(RedisLink(url), poll=0.01)
    yield first, second
    await first.aclose()
    await second.aclose()
