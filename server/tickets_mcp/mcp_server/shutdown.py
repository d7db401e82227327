"""Graceful shutdown of the HTTP server, for rolling updates: readiness, refusal, drain, settlement.

On SIGTERM (or a first Ctrl-C), within ``TICKETS_MCP_SHUTDOWN_GRACE`` seconds:

1. ``/readyz`` answers 503 at once, so that a balancer (Kubernetes' readiness probe) sends nothing new
   here; ``/healthz`` (liveness) still answers 200, so the draining process is not restarted;
2. a new request that would start work (a tool call, a read, a new session) is refused with 503,
   ``Retry-After`` and ``Connection: close``: its client sends it again and another replica takes it.
   What calls under way still need passes: JSON-RPC responses and notifications (a consent answer, a
   cancellation), and the lists answered locally (a client checks a result against ``tools/list``);
3. the requests under way finish. Those still running when the grace period is nearly over are settled:
   their calls to the Tickets API end (`api.sending.in_progress.stop`), so a write that may have reached
   the API gets its recovery read and its caller an answer that says what was found;
4. as soon as nothing is under way, or at the end of the grace period, uvicorn closes the connections,
   the lifespan closes the API clients, and the command line flushes telemetry and exits 0.

A second signal stops at once. Imported by `server.run_http` only: nothing of it is on the stdio path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from types import FrameType
from typing import Any

import uvicorn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tickets_mcp.api.sending import in_progress

log = logging.getLogger("tickets_mcp.shutdown")

READY_PATH = "/readyz"
LIVE_PATH = "/healthz"
SETTLE_RESERVE = 5.0  # seconds before the end of the grace period to settle the calls still under way
FINISH = 1  # seconds uvicorn then waits for connections (idle streams) before it cancels them
MAX_PEEK = 1 << 20  # bytes of a POST read while draining to tell what it asks for
# Requests answered from what the server holds, without a call to the Tickets API: still served.
LOCAL_METHODS = frozenset(
    {"ping", "tools/list", "prompts/list", "resources/list", "resources/templates/list"}
)


class Drain:
    """The shutdown's state: draining or not, and the requests under way (GET streams not counted)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.draining = False
        self.under_way = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.figures: dict[str, Any] = {}

    def enter(self) -> None:
        self.under_way += 1
        self._idle.clear()

    def leave(self) -> None:
        self.under_way -= 1
        if self.under_way == 0:
            self._idle.set()

    def settle_at(self) -> float:
        """Seconds into the grace period at which the calls still under way are settled."""
        return max(self.grace - min(SETTLE_RESERVE, self.grace / 4), 0.0)

    async def _idle_by(self, deadline: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Drain: returns when nothing is under way or the grace period is over."""
        started = time.monotonic()
        self.draining = True
        waiting = self.under_way
        log.warning(
            "shutting down: %s now fails and new requests are refused; %d request(s) under way, "
            "%g s to finish",
            READY_PATH,
            waiting,
            self.grace,
        )
        settled = cut = 0
        if not await self._idle_by(started + self.settle_at()):
            settled = in_progress.stop()
            log.warning(
                "shutting down: %d request(s) still under way after %.1f s; %d call(s) to the Tickets API "
                "settled (a write that may have been sent is checked before it answers)",
                self.under_way,
                time.monotonic() - started,
                settled,
            )
            if not await self._idle_by(started + self.grace):
                cut = self.under_way
                log.error(
                    "shutting down: %d request(s) cut at the end of the %g s grace period", cut, self.grace
                )
        in_progress.stop()  # nothing more is written while the lifespan closes
        drained = time.monotonic() - started
        self.figures = {"under_way": waiting, "settled": settled, "cut": cut, "seconds": round(drained, 3)}
        log.warning("shutting down: drained in %.2f s (%d settled, %d cut)", drained, settled, cut)


class DrainGate:
    """The outermost ASGI layer: ``/readyz``, the refusal of new requests while draining, and the count
    of requests under way."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan, and nothing else
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        if path == READY_PATH:
            ready = not self.drain.draining
            body = {"status": "ready" if ready else "shutting_down"}
            await JSONResponse(body, status_code=200 if ready else 503)(scope, receive, send)
            return
        if self.drain.draining and path != LIVE_PATH:
            admitted = await self._admit(scope, receive)
            if admitted is None:
                await refusal()(scope, receive, send)
                return
            receive = admitted
        if scope.get("method") == "GET":  # probes, metadata and event streams: not waited for
            await self.app(scope, receive, send)
            return
        self.drain.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.leave()

    async def _admit(self, scope: Scope, receive: Receive) -> Receive | None:
        """While draining: the request's ``receive`` (its body replayed) if it starts no work; None if it
        must be refused."""
        if scope.get("method") != "POST":
            return None
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return None  # the client went away
            size += len(message.get("body", b""))
            if size > MAX_PEEK:
                return None
            if not message.get("more_body", False):
                break
        if starts_work(b"".join(m.get("body", b"") for m in messages)):
            return None
        return replay(messages, receive)


def starts_work(body: bytes) -> bool:
    """Whether a POST body holds a JSON-RPC request (a method and an id) that is not answered locally;
    an unreadable body counts as one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return True
    items = parsed if isinstance(parsed, list) else [parsed]
    return any(
        not isinstance(item, dict)
        or ("id" in item and "method" in item and item["method"] not in LOCAL_METHODS)
        for item in items
    )


def replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def refusal() -> JSONResponse:
    return JSONResponse(
        {
            "error": "shutting_down",
            "message": "This server is shutting down: send the request again (another replica takes it).",
        },
        status_code=503,
        headers={"Retry-After": "1", "Connection": "close"},
    )


class GracefulServer(uvicorn.Server):
    """uvicorn's server, whose first SIGTERM or SIGINT drains (`Drain.run`) before it stops; a second one
    stops at once. The signal is not raised again afterwards (uvicorn does, which would end the process
    with 143 and skip the telemetry flush): the process exits 0."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signalled = False
        self._draining: asyncio.Task[None] | None = None  # held, so the task is not collected

    async def startup(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is None:  # not serving yet: stop as uvicorn would
            self.should_exit = True
        elif self._signalled:  # a second signal
            self.should_exit = self.force_exit = True
        else:
            self._signalled = True
            log.info("shutting down on %s", signal.Signals(sig).name)
            self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._draining = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await self.drain.run()
        finally:
            self.should_exit = True
