"""Thread subscriptions: poll watched tickets and notify when support replies.

Both protocol eras are served:
- 2025-11-25 clients send `resources/subscribe {uri}`; the session gets
  `notifications/resources/updated` on that session;
- 2026-07-28 clients open `subscriptions/listen` with `resource_subscriptions`; the SDK's
  `ListenHandler` streams `ResourceUpdated` events published on the server's bus. We wrap the
  handler only to learn which tickets to poll while the stream is open.

One poller per server lifespan checks each watched ticket every `poll_interval` seconds
(`TICKETS_MCP_POLL_INTERVAL`, default 60) with one `get_ticket` call, and notifies when the ticket's
own data says the thread changed: `updated_at`, the unread count or the status. It never lists
comments, so watching has no side effect on the ticket. Polling errors are logged, never raised.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import ListenHandler, ResourceUpdated
from mcp.types import (
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from tickets_mcp.api import TicketsApiError
from tickets_mcp.tools.state import connection_of

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from tickets_mcp.tools.state import AppState

log = logging.getLogger("tickets_mcp.watch")
_TICKET_URI = re.compile(r"^tickets://(\d+)(?:\?.*)?$")


def ticket_number(uri: str) -> int | None:
    match = _TICKET_URI.match(uri)
    return int(match.group(1)) if match else None


# What a poll compares: the ticket's update time, unread count and status.
Mark = tuple[object, object, object]


class ThreadWatcher:
    """Watched ticket URIs → who to tell; polls and notifies."""

    def __init__(self, state: AppState, server: MCPServer[Any]) -> None:
        self._state = state
        self._server = server
        # 2025-11-25 subscribers per URI, keyed by their connection (each request gets its own
        # ServerSession object, so the connection is what subscribe and unsubscribe share).
        self.sessions: dict[str, dict[Hashable, Any]] = defaultdict(dict)
        self.listeners: dict[str, int] = defaultdict(int)  # open listen streams per URI
        self.marks: dict[int, Mark | None] = {}  # ticket number -> what the last poll saw
        self._wake = anyio.Event()

    def uris(self) -> set[str]:
        return {u for u, s in self.sessions.items() if s} | {u for u, n in self.listeners.items() if n > 0}

    async def _mark(self, number: int) -> Mark:
        ticket = await self._state.client.get_ticket(number)
        return (ticket.updated_at, ticket.unread_comments_count, ticket.status)

    async def watch(self, uri: str) -> None:
        number = ticket_number(uri)
        if number is not None and number not in self.marks:
            try:
                self.marks[number] = await self._mark(number)
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
                mark = await self._mark(number)
            except TicketsApiError as exc:
                log.warning("polling ticket %s failed: %s", number, exc.message)
                continue
            if mark != self.marks.get(number):
                self.marks[number] = mark
                changed.append(uri)
                await self._notify(uri)
        return changed

    async def _notify(self, uri: str) -> None:
        await self._server._subscriptions.publish(ResourceUpdated(uri=uri))
        for key, session in list(self.sessions.get(uri, {}).items()):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # a closed session: forget it
                self.sessions[uri].pop(key, None)

    async def run(self) -> None:
        interval = self._state.settings.poll_interval
        while True:
            if not self.uris():
                self._wake = anyio.Event()
                await self._wake.wait()
            await anyio.sleep(interval)
            await self.poll_once()


def install_subscriptions(server: MCPServer[AppState]) -> None:
    """Serve resources/subscribe (2025-11-25) and subscriptions/listen (2026-07-28) for ticket threads."""
    lowlevel = server._lowlevel_server
    listen = ListenHandler(server._subscriptions)

    def watcher(ctx: ServerRequestContext[AppState]) -> ThreadWatcher:
        assert ctx.lifespan_context.watcher is not None
        return ctx.lifespan_context.watcher

    async def subscribe(ctx: ServerRequestContext[AppState], params: SubscribeRequestParams) -> EmptyResult:
        w = watcher(ctx)
        w.sessions[params.uri][connection_of(ctx)] = ctx.session
        await w.watch(params.uri)
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[AppState], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        watcher(ctx).sessions[params.uri].pop(connection_of(ctx), None)
        return EmptyResult()

    async def listen_and_watch(
        ctx: ServerRequestContext[AppState], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        w = watcher(ctx)
        uris = [u for u in params.notifications.resource_subscriptions or [] if ticket_number(u) is not None]
        for uri in uris:
            w.listeners[uri] += 1
            await w.watch(uri)
        try:
            return await listen(ctx, params)
        finally:
            for uri in uris:
                w.listeners[uri] -= 1

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen_and_watch)
