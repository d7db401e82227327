"""The third-party MCP tools (Inspector CLI, conformance suite, mcpb) pinned in devtools/node.

They are installed by `make test` through `make node-tools`. Without them a test skips locally, but under
CI (the `CI` environment variable) a missing tool is a failure: these checks must never go quietly green.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support.servers import clean_env

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "devtools" / "node" / "node_modules" / ".bin"
TIMEOUT = 120


def node_env() -> dict[str, str]:
    """The caller's environment without credentials, with the pinned Node 22 and tools first on PATH."""
    env = clean_env()
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("NO_COLOR", "1")
    return env


def require_tool(name: str) -> Path:
    path = NODE_BIN / name
    if not path.exists():
        message = f"{path} is missing: run `make node-tools` (npm ci in devtools/node)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_tool(
    args: list[str | Path], timeout: float = TIMEOUT, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=node_env(), cwd=cwd
    )
