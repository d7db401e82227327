"""Unit tests of tickets_mcp.api: no network but loopback (httpx2.MockTransport where HTTP is needed; the
session's real Redis for the Redis-backed shared state).

`replica_windows` / `replica_dedups` give two objects that must share their state, once per
implementation: ``memory`` (one in-process object, twice) and ``redis`` (two objects on two separate
connections to the same Redis: two server replicas). The protocol tests run against both.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

try:
    import tickets_mcp.api  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

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
