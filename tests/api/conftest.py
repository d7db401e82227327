"""Unit tests of tickets_mcp.api: no network (httpx2.MockTransport where HTTP is needed)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import tickets_mcp.api  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))
