"""Thread subscriptions: poll watched tickets and notify when one changes.

Both protocol eras are served:
- 2025-11-25 clients send `resources/subscribe {uri}`; the session gets
  `notifications/resources/updated` on that session. The subscription ends with `unsubscribe` or
  when the session's connection closes (nothing of a closed session is kept);
- 2026-07-28 clients open `subscriptions/listen` with `resource_subscriptions`; the SDK streams the
  `ResourceUpdated` events of the server's subscription bus (`IdentityBus`). A middleware (`listening`)
  learns which tickets to poll while such a stream is open, and for whom.

A watch is (identity, ticket number): the identity is the caller's ("server", or with per-request
credentials the hash of the request's credential), so a ticket is read with its subscriber's own
credential and one user's notifications never reach another user's stream.

Every `poll_interval` seconds (`TICKETS_MCP_POLL_INTERVAL`, default 60) each watch is checked with
one `get_ticket` call, and its subscribers are notified when the ticket's own data says the thread
changed: `updated_at`, the unread count or the status. It never lists comments, so watching has no
side effect on the ticket. Who polls and who is told is the exchange's business (`Exchange`):
this process alone (`LocalExchange`), or replicas sharing Redis (`redis_state.RedisExchange`). Polling errors are logged, never raised.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from tickets_mcp.api import SharedStateUnavailable, TicketsApiError
from tickets_mcp.mcp_server.sdk import add_request_handler, connection_of, on_connection_close

if TYPE_CHECKING:
    from mcp.server import MCPServer

log = logging.getLogger("tickets_mcp.mcp_server")
_TICKET_URI = re.compile(r"^tickets://(\d+)(?:\?.*)?$")
Mark = tuple[object, object, object]
Watch = tuple[str, int]  # (identity, ticket number)
Subscription = tuple[str, str]  # (identity, uri as the client wrote it)

# The identity of the `subscriptions/listen` stream being opened (set by `listening`, read by `IdentityBus`).
_LISTEN_IDENTITY: contextvars.ContextVar[str | None] = contextvars.ContextVar("listen_identity", default=None)


def ticket_number(uri: str) -> int | None:
    match = _TICKET_URI.match(uri)
    return int(match.group(1)) if match else None


class IdentityBus:
    """The server's `SubscriptionBus`: a listen stream is registered with its caller's identity, and a thread
    event delivered for an identity reaches only the streams of that identity. Events without one (`publish`) reach
    every stream."""

    def __init__(self) -> None:
        self._listeners: dict[object, tuple[str | None, Callable[[ServerEvent], None]]] = {}

    def __len__(self) -> int:
        return len(self._listeners)

    async def publish(self, event: ServerEvent) -> None:
        self._deliver(None, event)
        await anyio.lowlevel.checkpoint()

    def deliver(self, identity: str, event: ServerEvent) -> None:
        self._deliver(identity, event)

    def _deliver(self, identity: str | None, event: ServerEvent) -> None:
        for owner, listener in list(self._listeners.values()):
            if identity is None or owner == identity:
                try:
                    listener(event)
                except Exception:  # one broken stream must not starve the others
                    log.exception("subscription listener raised; continuing")

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (_LISTEN_IDENTITY.get(), listener)

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe


class Exchange(Protocol):
    """Where watched threads are coordinated: this process alone, or replicas sharing Redis."""

    async def claim(self, watch: Watch) -> bool:
        """Should this process poll ``watch`` now? Alone: always; with replicas, the one holding its lease."""
        ...

    async def changed(self, watch: Watch, mark: str) -> bool:
        """Store what a poll saw; True if it differs from what the last poll (by any process) saw. The first
        mark of a watch is not a change."""
        ...

    async def announce(self, watch: Watch) -> None:
        """The thread changed: every process notifies its own subscribers of ``watch``."""
        ...

    def forget(self, keep: set[Watch]) -> None:
        """Drop what is kept locally for watches not in ``keep``."""
        ...

    async def listen(self, notify: Callable[[Watch], Awaitable[None]]) -> None:
        """Run for the server's lifetime, calling ``notify`` for each announced change."""
        ...


class LocalExchange:
    """One process: it polls every watch and notifies its own subscribers directly."""

    def __init__(self) -> None:
        self.marks: dict[Watch, str] = {}
        self._notify: Callable[[Watch], Awaitable[None]] | None = None

    async def claim(self, watch: Watch) -> bool:
        return True

    async def changed(self, watch: Watch, mark: str) -> bool:
        old = self.marks.get(watch)
        self.marks[watch] = mark
        return old is not None and old != mark

    async def announce(self, watch: Watch) -> None:
        if self._notify is not None:
            await self._notify(watch)

    def forget(self, keep: set[Watch]) -> None:
        for watch in set(self.marks) - keep:
            del self.marks[watch]

    async def listen(self, notify: Callable[[Watch], Awaitable[None]]) -> None:
        self._notify = notify
        await anyio.sleep_forever()


class ThreadWatcher:
    """Who watches which thread (per identity), what the last poll saw, and the poll loop."""

    def __init__(
        self,
        read_mark: Callable[[str, int], Awaitable[Mark]],
        interval: float,
        bus: IdentityBus,
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
        return {(identity, n) for identity, uri in subs if (n := ticket_number(uri)) is not None}

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

    async def watch(self, uri: str, identity: str) -> None:
        """Record what the thread looks like now, so the first poll compares against the subscription."""
        number = ticket_number(uri)
        if number is not None:
            await self._check((identity, number))
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
        changed: list[Watch] = []
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
        identity, number = watch
        for sub in [s for s in self.sessions if s[0] == identity and ticket_number(s[1]) == number]:
            for key, session in list(self.sessions.get(sub, {}).items()):
                try:
                    await session.send_resource_updated(sub[1])
                except Exception:  # a closed session: forget it
                    self.drop_session(sub, key)
        for sub in [s for s in self.listeners if s[0] == identity and ticket_number(s[1]) == number]:
            self._bus.deliver(identity, ResourceUpdated(uri=sub[1]))

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.exchange.listen, self.notify)
            while True:
                if not self.watches():
                    self._wake = anyio.Event()
                    await self._wake.wait()
                await anyio.sleep(self._interval)
                await self.poll_once()


def _watcher_and_identity(ctx: ServerRequestContext[Any]) -> tuple[ThreadWatcher, str]:
    """The server's watcher, and the identity (credential) of this request's caller."""
    app = ctx.lifespan_context
    return app.watcher, app.caller(ctx).identity


async def listening(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: while a 2026-07-28 `subscriptions/listen` stream is open, poll its tickets for its caller."""
    if ctx.method != "subscriptions/listen":
        return await call_next(ctx)
    wanted = ((ctx.params or {}).get("notifications") or {}).get("resourceSubscriptions") or []
    uris = [u for u in wanted if isinstance(u, str) and ticket_number(u) is not None]
    watcher, identity = _watcher_and_identity(ctx)
    token = _LISTEN_IDENTITY.set(identity)
    for uri in uris:
        watcher.add_listener((identity, uri))
        await watcher.watch(uri, identity)
    try:
        return await call_next(ctx)
    finally:
        _LISTEN_IDENTITY.reset(token)
        for uri in uris:
            watcher.drop_listener((identity, uri))


def install_subscriptions(server: MCPServer[Any]) -> None:
    """Serve resources/subscribe and resources/unsubscribe (2025-11-25) for ticket threads."""

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        watcher, identity = _watcher_and_identity(ctx)
        sub, key = (identity, params.uri), connection_of(ctx)
        if key not in watcher.sessions.get(sub, {}):
            on_connection_close(ctx, lambda: watcher.drop_session(sub, key))
        watcher.add_session(sub, key, ctx.session)
        await watcher.watch(params.uri, identity)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        watcher, identity = _watcher_and_identity(ctx)
        watcher.drop_session((identity, params.uri), connection_of(ctx))
        return EmptyResult()

    add_request_handler(server, "resources/subscribe", SubscribeRequestParams, subscribe)
    add_request_handler(server, "resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
