"""Third-party MCP tools (Inspector CLI, conformance suite, mcpb) run as subprocesses against our server.

They live in devtools/node (pinned versions, installed by `make test` through `make node-tools`). Without
them the tests skip locally, but under CI (the `CI` environment variable) a missing tool is a failure:
these checks must never go quietly green.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "devtools" / "node" / "node_modules" / ".bin"
TICKETS_MCP = Path(sys.executable).parent / "tickets-mcp"
TIMEOUT = 120


def node_env() -> dict[str, str]:
    """The caller's environment without credentials, with the pinned Node 22 and tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """`tickets-mcp --sandbox --transport http` on a free loopback port; yields the /mcp URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
    proc = subprocess.Popen(
        [str(TICKETS_MCP), "--sandbox", "--transport", "http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("tickets-mcp --transport http did not start")
            time.sleep(0.1)
        yield f"{base}/mcp"
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
