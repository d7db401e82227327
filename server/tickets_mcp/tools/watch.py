"""Thread subscriptions: poll watched tickets and notify when one changes.

Both protocol eras are served:
- 2025-11-25 clients send `resources/subscribe {uri}`; the session gets
  `notifications/resources/updated` on that session;
- 2026-07-28 clients open `subscriptions/listen` with `resource_subscriptions`; the SDK streams the
  `ResourceUpdated` events published on the server's subscription bus. A middleware (`listening`)
  only learns which tickets to poll while such a stream is open.

One poller per server lifespan checks each watched ticket every `poll_interval` seconds
(`TICKETS_MCP_POLL_INTERVAL`, default 60) with one `get_ticket` call, and notifies when the ticket's
own data says the thread changed: `updated_at`, the unread count or the status. It never lists
comments, so watching has no side effect on the ticket. Polling errors are logged, never raised.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams
from mcp_types.jsonrpc import INVALID_REQUEST

from tickets_mcp.api import TicketsApiError
from tickets_mcp.tools.sdk import add_request_handler, connection_of

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.subscriptions import SubscriptionBus

log = logging.getLogger("tickets_mcp.watch")
_TICKET_URI = re.compile(r"^tickets://(\d+)(?:\?.*)?$")
Mark = tuple[object, object, object]


def ticket_number(uri: str) -> int | None:
    match = _TICKET_URI.match(uri)
    return int(match.group(1)) if match else None


class ThreadWatcher:
    """Watched ticket URIs → who to tell; polls and notifies."""

    def __init__(
        self, read_mark: Callable[[int], Awaitable[Mark]], interval: float, bus: SubscriptionBus
    ) -> None:
        self._read_mark = read_mark
        self._interval = interval
        self._bus = bus
        # 2025-11-25 subscribers per URI, keyed by their connection (each request gets its own
        # ServerSession object, so the connection is what subscribe and unsubscribe share).
        self.sessions: dict[str, dict[Hashable, Any]] = defaultdict(dict)
        self.listeners: dict[str, int] = defaultdict(int)  # open listen streams per URI
        self.marks: dict[int, Mark | None] = {}  # ticket number -> what the last poll saw
        self._wake = anyio.Event()

    def uris(self) -> set[str]:
        return {u for u, s in self.sessions.items() if s} | {u for u, n in self.listeners.items() if n > 0}

    async def watch(self, uri: str) -> None:
        number = ticket_number(uri)
        if number is not None and number not in self.marks:
            try:
                self.marks[number] = await self._read_mark(number)
            except TicketsApiError as exc:
                log.warning("cannot read ticket %s for a subscription: %s", number, exc.message)
                self.marks[number] = None
        self._wake.set()

    async def poll_once(self) -> list[str]:
        """Check every watched ticket once; notify and return the URIs that changed."""
        changed = []
        for uri in sorted(self.uris()):
            number = ticket_number(uri)
            if number is None:
                continue
            try:
                mark = await self._read_mark(number)
            except TicketsApiError as exc:
                log.warning("polling ticket %s failed: %s", number, exc.message)
                continue
            if mark != self.marks.get(number):
                self.marks[number] = mark
                changed.append(uri)
                await self._notify(uri)
        return changed

    async def _notify(self, uri: str) -> None:
        await self._bus.publish(ResourceUpdated(uri=uri))
        for key, session in list(self.sessions.get(uri, {}).items()):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # a closed session: forget it
                self.sessions[uri].pop(key, None)

    async def run(self) -> None:
        while True:
            if not self.uris():
                self._wake = anyio.Event()
                await self._wake.wait()
            await anyio.sleep(self._interval)
            await self.poll_once()


def _watcher(ctx: ServerRequestContext[Any]) -> ThreadWatcher:
    if ctx.lifespan_context.pool is not None:
        # One poller per server cannot read each user's tickets with that user's credential yet.
        raise MCPError(
            INVALID_REQUEST,
            "thread subscriptions are not available with per-request credentials; "
            "read the thread again (tickets://{number} or list_comments) to see what changed",
        )
    watcher: ThreadWatcher = ctx.lifespan_context.watcher
    return watcher


async def listening(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: while a 2026-07-28 `subscriptions/listen` stream is open, poll its tickets."""
    if ctx.method != "subscriptions/listen":
        return await call_next(ctx)
    wanted = ((ctx.params or {}).get("notifications") or {}).get("resourceSubscriptions") or []
    uris = [u for u in wanted if isinstance(u, str) and ticket_number(u) is not None]
    if not uris:
        return await call_next(ctx)
    watcher = _watcher(ctx)
    for uri in uris:
        watcher.listeners[uri] += 1
        await watcher.watch(uri)
    try:
        return await call_next(ctx)
    finally:
        for uri in uris:
            watcher.listeners[uri] -= 1


def install_subscriptions(server: MCPServer[Any]) -> None:
    """Serve resources/subscribe and resources/unsubscribe (2025-11-25) for ticket threads."""

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        watcher = _watcher(ctx)
        watcher.sessions[params.uri][connection_of(ctx)] = ctx.session
        await watcher.watch(params.uri)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        _watcher(ctx).sessions[params.uri].pop(connection_of(ctx), None)
        return EmptyResult()

    add_request_handler(server, "resources/subscribe", SubscribeRequestParams, subscribe)
    add_request_handler(server, "resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
