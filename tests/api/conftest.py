"""Unit tests of tickets_mcp.api: no network (httpx2.MockTransport where HTTP is needed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tickets_mcp.api  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

from tickets_mcp.api import dedup, pacing


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Pacing windows and the dedup memory are process-wide: start every test without them."""
    pacing.reset_all()
    dedup.reset_all()
    yield
    pacing.reset_all()
    dedup.reset_all()
