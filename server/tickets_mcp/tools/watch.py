"""Thread subscriptions: poll watched tickets and notify when one changes.

Both protocol eras are served:
- 2025-11-25 clients send `resources/subscribe {uri}`; the session gets
  `notifications/resources/updated` on that session. The subscription ends with `unsubscribe` or
  when the session's connection closes (nothing of a closed session is kept);
- 2026-07-28 clients open `subscriptions/listen` with `resource_subscriptions`; the SDK streams the
  `ResourceUpdated` events of the server's subscription bus (`ScopedBus`). A middleware (`listening`)
  learns which tickets to poll while such a stream is open, and for whom.

A watch is (scope, ticket number): the scope is the caller's credential ("server", or with
per-request credentials the hash of the request's), so a ticket is read with its subscriber's own
credential and one user's notifications never reach another user's stream.

Every `poll_interval` seconds (`TICKETS_MCP_POLL_INTERVAL`, default 60) each watch is checked with
one `get_ticket` call, and its subscribers are notified when the ticket's own data says the thread
changed: `updated_at`, the unread count or the status. It never lists comments, so watching has no
side effect on the ticket. Who polls and who is told is the exchange's business (`watch_exchange`):
this process alone, or replicas sharing Redis. Polling errors are logged, never raised.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from tickets_mcp.api import SharedStateUnavailable, TicketsApiError
from tickets_mcp.tools.sdk import add_request_handler, connection_of, on_connection_close
from tickets_mcp.tools.watch_exchange import Exchange, Watch

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger("tickets_mcp.watch")
_TICKET_URI = re.compile(r"^tickets://(\d+)(?:\?.*)?$")
Mark = tuple[object, object, object]
Subscription = tuple[str, str]  # (scope, uri as the client wrote it)

# The scope of the `subscriptions/listen` stream being opened (set by `listening`, read by `ScopedBus`).
_LISTEN_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar("listen_scope", default=None)


def ticket_number(uri: str) -> int | None:
    match = _TICKET_URI.match(uri)
    return int(match.group(1)) if match else None


class ScopedBus:
    """The server's `SubscriptionBus`: a listen stream is registered with its caller's scope, and a thread
    event delivered for a scope reaches only the streams of that scope. Unscoped events (`publish`) reach
    every stream."""

    def __init__(self) -> None:
        self._listeners: dict[object, tuple[str | None, Callable[[ServerEvent], None]]] = {}

    def __len__(self) -> int:
        return len(self._listeners)

    async def publish(self, event: ServerEvent) -> None:
        self._deliver(None, event)
        await anyio.lowlevel.checkpoint()

    def deliver(self, scope: str, event: ServerEvent) -> None:
        self._deliver(scope, event)

    def _deliver(self, scope: str | None, event: ServerEvent) -> None:
        for owner, listener in list(self._listeners.values()):
            if scope is None or owner == scope:
                try:
                    listener(event)
                except Exception:  # one broken stream must not starve the others
                    log.exception("subscription listener raised; continuing")

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (_LISTEN_SCOPE.get(), listener)

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe


class ThreadWatcher:
    """Who watches which thread (per scope), what the last poll saw, and the poll loop."""

    def __init__(
        self,
        read_mark: Callable[[str, int], Awaitable[Mark]],
        interval: float,
        bus: ScopedBus,
        exchange: Exchange,
    ) -> None:
        self._read_mark = read_mark
        self._interval = interval
        self._bus = bus
        self.exchange = exchange
        # 2025-11-25 subscribers, keyed by their connection (each request gets its own ServerSession
        # object, so the connection is what subscribe, unsubscribe and the close callback share).
        self.sessions: dict[Subscription, dict[Hashable, Any]] = defaultdict(dict)
        self.listeners: dict[Subscription, int] = defaultdict(int)  # open listen streams
        self._wake = anyio.Event()

    def watches(self) -> set[Watch]:
        subs = {s for s, held in self.sessions.items() if held} | {s for s, n in self.listeners.items() if n}
        return {(scope, n) for scope, uri in subs if (n := ticket_number(uri)) is not None}

    def add_session(self, sub: Subscription, key: Hashable, session: Any) -> None:
        self.sessions[sub][key] = session

    def drop_session(self, sub: Subscription, key: Hashable) -> None:
        held = self.sessions.get(sub)
        if held is not None:
            held.pop(key, None)
            if not held:
                del self.sessions[sub]

    def add_listener(self, sub: Subscription) -> None:
        self.listeners[sub] += 1

    def drop_listener(self, sub: Subscription) -> None:
        self.listeners[sub] -= 1
        if self.listeners[sub] <= 0:
            del self.listeners[sub]

    async def watch(self, uri: str, scope: str) -> None:
        """Record what the thread looks like now, so the first poll compares against the subscription."""
        number = ticket_number(uri)
        if number is not None:
            await self._check((scope, number))
        self._wake.set()

    async def _check(self, watch: Watch) -> bool:
        """Read the ticket's mark; tell the exchange; True (and announced) when it changed."""
        try:
            mark = json.dumps(list(await self._read_mark(*watch)), default=str)
            if await self.exchange.changed(watch, mark):
                await self.exchange.announce(watch)
                return True
        except SharedStateUnavailable:
            pass  # the link has logged the outage once; the next poll tries again
        except TicketsApiError as exc:
            log.warning("polling ticket %s failed: %s", watch[1], exc.message)
        except LookupError:
            log.info("ticket %s: its subscriber's credential is no longer held here", watch[1])
        return False

    async def poll_once(self) -> list[Watch]:
        """Check each watch this process holds the lease of once; return the ones that changed."""
        changed = []
        watches = self.watches()
        self.exchange.forget(watches)
        for watch in sorted(watches):
            try:
                mine = await self.exchange.claim(watch)
            except SharedStateUnavailable:  # logged once by the link; polling pauses until it answers
                return changed
            if mine and await self._check(watch):
                changed.append(watch)
        return changed

    async def notify(self, watch: Watch) -> None:
        """Tell this process's subscribers of ``watch`` (every uri they wrote for that ticket)."""
        scope, number = watch
        for sub in [s for s in self.sessions if s[0] == scope and ticket_number(s[1]) == number]:
            for key, session in list(self.sessions.get(sub, {}).items()):
                try:
                    await session.send_resource_updated(sub[1])
                except Exception:  # a closed session: forget it
                    self.drop_session(sub, key)
        for sub in [s for s in self.listeners if s[0] == scope and ticket_number(s[1]) == number]:
            self._bus.deliver(scope, ResourceUpdated(uri=sub[1]))

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.exchange.listen, self.notify)
            while True:
                if not self.watches():
                    self._wake = anyio.Event()
                    await self._wake.wait()
                await anyio.sleep(self._interval)
                await self.poll_once()


def _scope(ctx: ServerRequestContext[Any]) -> tuple[ThreadWatcher, str]:
    """The server's watcher, and the scope (credential) of this request's caller."""
    app = ctx.lifespan_context
    return app.watcher, app.user(ctx).key


async def listening(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: while a 2026-07-28 `subscriptions/listen` stream is open, poll its tickets for its caller."""
    if ctx.method != "subscriptions/listen":
        return await call_next(ctx)
    wanted = ((ctx.params or {}).get("notifications") or {}).get("resourceSubscriptions") or []
    uris = [u for u in wanted if isinstance(u, str) and ticket_number(u) is not None]
    watcher, scope = _scope(ctx)
    token = _LISTEN_SCOPE.set(scope)
    for uri in uris:
        watcher.add_listener((scope, uri))
        await watcher.watch(uri, scope)
    try:
        return await call_next(ctx)
    finally:
        _LISTEN_SCOPE.reset(token)
        for uri in uris:
            watcher.drop_listener((scope, uri))


def install_subscriptions(server: MCPServer[Any]) -> None:
    """Serve resources/subscribe and resources/unsubscribe (2025-11-25) for ticket threads."""

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        watcher, scope = _scope(ctx)
        sub, key = (scope, params.uri), connection_of(ctx)
        if key not in watcher.sessions.get(sub, {}):
            on_connection_close(ctx, lambda: watcher.drop_session(sub, key))
        watcher.add_session(sub, key, ctx.session)
        await watcher.watch(params.uri, scope)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        watcher, scope = _scope(ctx)
        watcher.drop_session((scope, params.uri), connection_of(ctx))
        return EmptyResult()

    add_request_handler(server, "resources/subscribe", SubscribeRequestParams, subscribe)
    add_request_handler(server, "resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
