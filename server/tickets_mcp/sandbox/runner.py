"""The in-process starter: uvicorn in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio.to_thread
import uvicorn

from tickets_mcp.sandbox.app import create_app
from tickets_mcp.sandbox.config import SandboxConfig
from tickets_mcp.sandbox.state import SandboxState

log = logging.getLogger("tickets_mcp.sandbox")


class _DropNoise(logging.Filter):
    """A ``drop`` fault returns without finishing the response on purpose; do not log it as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DropNoise())


@dataclass
class SandboxHandle:
    """A running sandbox: its URLs, demo credentials, and thread-safe helpers on its state."""

    root_url: str
    base_url: str
    files_url: str
    identity_url: str
    admin_url: str
    token: str
    username: str
    password: str
    account_id: str
    config: SandboxConfig
    state: SandboxState = dataclasses.field(repr=False)

    @property
    def port(self) -> int:
        return int(self.root_url.rsplit(":", 1)[1])

    def journal(self) -> list[dict[str, Any]]:
        return self.state.journal.entries()

    def writes(self) -> list[dict[str, Any]]:
        """Journal entries that could change something upstream (every method but GET)."""
        return [e for e in self.journal() if e["method"] != "GET"]

    def files(self) -> list[dict[str, Any]]:
        """The attachments stored so far: uuid, account, filename, size, content_type, sha256, created_at."""
        return self.state.store.all_files()

    def clear_journal(self) -> None:
        self.state.journal.clear()

    def set_faults(self, plan: Any = None, /, **rule: Any) -> None:
        """Replace the fault plan: ``set_faults({"sequence": ["503"]})`` or ``set_faults(sequence=[...])``."""
        self.state.faults.set(plan if plan is not None else (rule or None))

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def reset_limits(self) -> None:
        self.state.limiter.reset()

    def support_reply(self, number: int, body: str) -> dict[str, Any]:
        return self.state.support_reply(number, body)

    def mark_read(self, number: int) -> dict[str, Any]:
        """The user read the ticket in the control panel (W14); returns its v2 view."""
        return self.state.mark_read(number)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ``IPPROTO_TCP`` so asyncio sets ``TCP_NODELAY`` on accepted connections
    (without it, Nagle plus delayed ACKs add a delayed-ACK timeout to every keep-alive request)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class _QuickServer(uvicorn.Server):
    """uvicorn, but it notices an exit request at once instead of on its 0.1 s tick, and its
    shutdown polls briefly instead of sleeping, so tests can start and stop many sandboxes."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass

    def request_exit(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed meanwhile
                pass

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        servers = getattr(self, "servers", None)
        state = getattr(self, "server_state", None)
        if servers is None or state is None:  # pragma: no cover - a different uvicorn layout
            await super().shutdown(sockets)
            return
        for server in servers:
            server.close()
        for connection in list(state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 0)
        while (state.connections or state.tasks) and time.monotonic() < deadline:  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.01)
        for task in list(state.tasks):
            task.cancel()


class RunningSandbox:
    """``with run_sandbox() as sb`` or ``async with run_sandbox() as sb``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._server: _QuickServer | None = None
        self._thread: threading.Thread | None = None
        self._state: SandboxState | None = None
        self._error: BaseException | None = None

    def start(self) -> SandboxHandle:
        config = self.config
        state = SandboxState(config)
        self._state = state
        try:
            sock = bind_socket(config.host, config.port)
        except OSError:
            state.close()
            raise
        port = sock.getsockname()[1]
        uv_config = uvicorn.Config(
            create_app(config, state=state),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = _QuickServer(uv_config)
        self._server = server

        def serve() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name=f"sandbox:{port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"sandbox failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sandbox did not start within 10 s")
            time.sleep(0.002)
        host = f"[{config.host}]" if ":" in config.host else config.host
        root = f"http://{host}:{port}"
        return SandboxHandle(
            root_url=root,
            base_url=root + "/support",
            files_url=root + "/files",
            identity_url=root + "/identity/v3",
            admin_url=root + "/_sandbox",
            token=config.static_tokens[0] if config.static_tokens else "",
            username=config.username,
            password=config.password,
            account_id=config.account_id,
            config=config,
            state=state,
        )

    def stop(self) -> None:
        if self._state is not None:
            self._state.stopping.set()
        if self._server is not None:
            self._server.request_exit()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._state is not None:
            self._state.close()
            self._state = None

    def __enter__(self) -> SandboxHandle:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SandboxHandle:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)


def run_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> RunningSandbox:
    """Start a sandbox on a loopback port (0 = a free one) for the duration of a ``with`` block."""
    config = dataclasses.replace(config, **overrides) if config else SandboxConfig(**overrides)
    return RunningSandbox(config)
