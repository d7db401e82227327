"""The `tickets-mcp` console script of the venv, run as a user runs it: in a clean environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.servers import clean_env

TICKETS_MCP = Path(sys.executable).parent / "tickets-mcp"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tickets-mcp ARGS`` with ``env`` on top of a clean environment; its output as text."""
    return subprocess.run(
        [str(TICKETS_MCP), *args], capture_output=True, text=True, timeout=60, env=clean_env(**env)
    )
