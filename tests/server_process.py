"""A `tickets-mcp` server as a real process on loopback, and an HTTP transport that spreads requests.

Its stderr goes to a temporary file (a pipe would fill up with DEBUG logs and stall the server) and is
read back with `stderr()`. `RoundRobin` is an httpx2 transport that sends each request to the next of
several replicas, as a load balancer without sticky sessions would.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence

import httpx2

from redis_support import free_port


class ServerProcess:
    """`python -m tickets_mcp --transport http` on 127.0.0.1:<port>, with ``env`` on top of a clean one."""

    def __init__(self, env: Mapping[str, str], args: Sequence[str] = (), port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
        self.env.update(env)
        self.args = list(args)
        self._log = tempfile.TemporaryFile("w+")
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def start(self, timeout: float = 30) -> ServerProcess:
        command = [sys.executable, "-m", "tickets_mcp", "--transport", "http", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, *self.args], env=self.env, stdout=subprocess.DEVNULL, stderr=self._log, text=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if httpx2.get(f"{self.base}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{self.stderr()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr(self) -> str:
        self._log.flush()
        self._log.seek(0)
        text = self._log.read()
        self._log.seek(0, os.SEEK_END)
        return text


class RoundRobin(httpx2.AsyncBaseTransport):
    """Each request goes to the next port in ``ports`` (the host and path stay): no sticky sessions.

    Like a load balancer's health check, a port that refuses the connection is skipped from then on and
    the request goes to the next one (it never reached a server, so resending it is safe). A request
    that a replica dies in the middle of fails, as it would behind a real balancer."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self._turn = itertools.count()
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        while True:
            if not self.ports:
                raise httpx2.ConnectError("no replica is up")
            port = self.ports[next(self._turn) % len(self.ports)]
            self.sent.append(port)
            request.url = request.url.copy_with(port=port)
            try:
                return await self._inner.handle_async_request(request)
            except httpx2.ConnectError:
                if port in self.ports:
                    self.ports.remove(port)

    async def aclose(self) -> None:
        await self._inner.aclose()
