"""Fixtures for the sandbox tests: real HTTP (httpx2) against run_sandbox() instances."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tickets_mcp.sandbox  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

import httpx2

from tickets_mcp.sandbox import SandboxHandle, run_sandbox


@pytest.fixture(scope="module")
def shared_sb() -> Iterator[SandboxHandle]:
    """One sandbox per module, with limits high enough not to interfere."""
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


@pytest.fixture
def sb(shared_sb: SandboxHandle) -> Iterator[SandboxHandle]:
    shared_sb.clear_faults()
    shared_sb.clear_journal()
    yield shared_sb
    shared_sb.clear_faults()


@pytest.fixture
def api(sb: SandboxHandle) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}, timeout=10) as client:
        yield client
