"""Helpers shared by the benchmarks: a sandbox in its own process, a raw JSON-RPC stdio peer, RSS, stats.

The stdio peer speaks JSON-RPC lines directly (no `mcp.Client`), so the client side of a measurement
costs about as little as the direct httpx2 GET it is compared with: what is left is the server.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
TICKETS_MCP = str(BIN / "tickets-mcp")
BARE = [PY, str(ROOT / "bench" / "bare_server.py")]
PROTOCOL = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
DEMO_TOKEN = "sandbox-demo-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class SandboxProcess:
    """`tickets-mcp sandbox` in a subprocess (its own GIL); ``with SandboxProcess() as sb``."""

    def __init__(self, time_scale: float = 1.0, tokens: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root + "/support"
        self.admin = self.root + "/_sandbox"
        self.token = DEMO_TOKEN
        self.headers = {"X-Token": self.token}
        cmd = [TICKETS_MCP, "sandbox", "--port", str(self.port), "--time-scale", repr(time_scale)]
        cmd += [f"--static-token={token}" for token in tokens]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> SandboxProcess:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx2.get(self.admin + "/health", timeout=1).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("sandbox process exited")
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("sandbox did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a credentials-only `tickets-mcp` pointed at this sandbox."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
        env.update(SELECTEL_TOKEN=self.token, SELECTEL_TICKETS_URL=self.base_url, **extra)
        return env

    def journal(self) -> list[dict[str, Any]]:
        return list(httpx2.get(self.admin + "/journal", timeout=10).json()["items"])

    def clear_journal(self) -> None:
        httpx2.delete(self.admin + "/journal", timeout=10)

    def first_ticket(self) -> int:
        page = httpx2.get(
            self.base_url + "/v2/tickets", headers=self.headers, params={"items_per_page": 1}, timeout=10
        ).json()
        return int(page["items"][0]["number"])


class StdioPeer:
    """A spawned stdio MCP server and a minimal JSON-RPC client of it."""

    def __init__(self, cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self._next = 100

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, request_id: int) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server closed stdout (exit {self.proc.poll()})")
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)

    def initialize(self) -> float:
        """Send initialize (legacy handshake), return seconds from spawn to the result, then initialized."""
        self.send(INIT)
        reply = self.receive(1)
        elapsed = time.perf_counter() - self.started
        if "result" not in reply:
            raise RuntimeError(f"initialize failed: {reply}")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return elapsed

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        reply = self.receive(self._next)
        if "result" not in reply:
            raise RuntimeError(f"{method} failed: {reply}")
        return dict(reply["result"])

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine_facts() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    import importlib.metadata as md

    versions = ", ".join(
        f"{p} {md.version(p)}" for p in ("mcp", "httpx2", "pydantic", "uvicorn", "starlette")
    )
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPU ({cpu}), {int(mem) // 1024} MiB RAM, Linux {os.uname().release}, "
        f"Python {sys.version.split()[0]}; {versions}; load average at start {load[0]:.2f}"
    )


@dataclass
class Row:
    key: str
    measure: str
    value: str
    target: str
    met: bool
    note: str = ""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
