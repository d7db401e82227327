"""Fixtures for the sandbox tests: real HTTP (httpx2) against run_sandbox() instances.

One sandbox per module (``sandbox``); every test that uses it starts with no faults and an empty
journal, and leaves no faults behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tickets_mcp.sandbox import SandboxHandle, run_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """One sandbox per module, with limits high enough not to interfere."""
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000, uploads_per_minute=10_000) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sandbox" not in request.fixturenames:
        yield
        return
    handle: SandboxHandle = request.getfixturevalue("sandbox")
    handle.clear_faults()
    handle.clear_journal()
    yield
    handle.clear_faults()


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox.base_url, headers={"X-Token": sandbox.token}, timeout=10) as client:
        yield client
