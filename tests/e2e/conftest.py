"""End-to-end fixtures: the real sandbox on loopback, the real server, a real `mcp.Client`.

`client` is parametrized over both protocol eras: `auto` lands on 2026-07-28 (no handshake),
`legacy` forces the 2025-11-25 initialize handshake that most clients still use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from support.mcp_client import Elicitor
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """One sandbox for the e2e session; generous write limits so tests don't pace each other."""
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


@pytest.fixture
def elicitor() -> Elicitor:
    return Elicitor()


@pytest.fixture
async def client(sandbox: SandboxHandle, era: str, elicitor: Elicitor) -> AsyncIterator[Client]:
    server = build_server(make_settings(sandbox))
    async with Client(server, raise_exceptions=True, mode=era, elicitation_callback=elicitor) as c:  # type: ignore[arg-type]
        yield c
