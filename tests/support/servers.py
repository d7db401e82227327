"""Real processes on loopback: a free port, a clean environment, a `tickets-mcp` server process, and an
HTTP transport that spreads requests over replicas.

`ServerProcess` starts ``python -m tickets_mcp --transport http --port <port> ARGS`` (or another command
that takes ``--port``, such as the sandbox subcommand) and waits until a probe path answers. Its stdout
and stderr go to temporary files (a pipe would fill up with DEBUG logs and stall the server) and are read
back with `stdout()` and `stderr()`. `RoundRobin` is an httpx2 transport that sends each request to the
next of several replicas, as a load balancer without sticky sessions would.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx2

SETTINGS_PREFIXES = ("SELECTEL_", "TICKETS_MCP_")  # credentials and settings: never inherited
MCP_HTTP = (sys.executable, "-m", "tickets_mcp", "--transport", "http")  # the MCP server over HTTP
SANDBOX_API = (sys.executable, "-m", "tickets_mcp", "sandbox")  # the sandbox's own HTTP API
HEALTHZ = "/healthz"
SANDBOX_PROBE = "/support/v2/categories"  # answers (401 without a token) once the sandbox listens


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(*, drop: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """The caller's environment without credentials or settings (SELECTEL_*, TICKETS_MCP_*, and the
    prefixes in ``drop``), plus ``extra``."""
    prefixes = (*SETTINGS_PREFIXES, *drop)
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


class ServerProcess:
    """``COMMAND --port <port> ARGS`` on 127.0.0.1, with ``env`` on top of a clean environment.

    COMMAND is `MCP_HTTP` unless given; `start()` returns once ``probe`` answers without a server error."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
        *,
        command: Sequence[str | Path] = MCP_HTTP,
        probe: str = HEALTHZ,
        drop: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.env = clean_env(drop=drop, **(env or {}))
        self.command = [str(part) for part in command]
        self.args = list(args)
        self.probe = probe
        self._out = tempfile.TemporaryFile("w+")
        self._log = tempfile.TemporaryFile("w+")
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def start(self, timeout: float = 30) -> ServerProcess:
        self.proc = subprocess.Popen(
            [*self.command, "--port", str(self.port), *self.args],
            env=self.env,
            stdout=self._out,
            stderr=self._log,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if httpx2.get(f"{self.base}{self.probe}", timeout=0.5).status_code < 500:
                    return self
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.stderr()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C (SIGINT), as a user stops it; the exit code (killed if it does not exit in time)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stdout(self) -> str:
        return _read(self._out)

    def stderr(self) -> str:
        return _read(self._log)


@contextmanager
def running_replicas(
    env: Mapping[str, str], count: int = 3, *, secret: str | None = None
) -> Iterator[list[ServerProcess]]:
    """``count`` server processes with one environment (replicas behind a balancer); on the way out each is
    stopped, and none may have logged ``secret``."""
    replicas = [ServerProcess(dict(env)) for _ in range(count)]
    try:
        for replica in replicas:
            replica.start()
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()
    if secret is not None:
        for replica in replicas:
            assert secret not in replica.stderr(), "the credential reached a log"


def _read(file: IO[str]) -> str:
    """All that was written to ``file`` so far (the writer keeps appending at the end)."""
    file.flush()
    file.seek(0)
    text = file.read()
    file.seek(0, os.SEEK_END)
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
