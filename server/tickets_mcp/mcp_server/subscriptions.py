"""Thread subscriptions: poll watched tickets and notify when one changes; bounded per session and caller.

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

**Bounds** (`Limits`, from the settings): a session holds at most ``subscriptions_per_session``
subscriptions (distinct uris; a 2026-07-28 listen stream is one session), and a caller makes the server
watch at most ``subscriptions_per_caller`` distinct tickets over all its sessions and streams (on every
replica, with Redis). 0 turns subscriptions off. Subscribing to a uri the session holds counts nothing;
unsubscribing, the session's end and the stream's end free the slots. Beyond a bound the request gets a
JSON-RPC error saying which bound, its setting, and what to do. Each `resources/subscribe` counts as one
call of the session's call limit, each listen as one of the caller's.

Every `poll_interval` seconds (`TICKETS_MCP_POLL_INTERVAL`, default 60) each watch is checked with
one `get_ticket` call, and its subscribers are notified when the ticket's own data says the thread
changed: `updated_at`, the unread count or the status. It never lists comments, so watching has no
side effect on the ticket. Who polls and who is told is the exchange's business (`Exchange`):
this process alone (`LocalExchange`), or replicas sharing Redis (`redis_state.RedisExchange`). Polling
errors are logged, never raised, and at most one line per caller per `WARN_EVERY` seconds (`Throttle`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_REQUEST, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from tickets_mcp.api import SharedStateUnavailable, TicketsApiError
from tickets_mcp.mcp_server.sdk import add_request_handler, connection_of, on_connection_close

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from tickets_mcp.settings import Settings

log = logging.getLogger("tickets_mcp.mcp_server")
_TICKET_URI = re.compile(r"^tickets://(\d+)(?:\?.*)?$")
Mark = tuple[object, object, object]
Watch = tuple[str, int]  # (identity, ticket number)
Subscription = tuple[str, str]  # (identity, uri as the client wrote it)
SessionKey = Callable[[ServerRequestContext[Any]], Hashable]

WARN_EVERY = 60.0  # seconds between two log lines about one caller's failing polls
SHOWN_URIS = 10  # held uris a refusal lists

# The identity of the `subscriptions/listen` stream being opened (set by `listening`, read by `IdentityBus`).
_LISTEN_IDENTITY: contextvars.ContextVar[str | None] = contextvars.ContextVar("listen_identity", default=None)


def ticket_number(uri: str) -> int | None:
    match = _TICKET_URI.match(uri)
    return int(match.group(1)) if match else None


# --- the bounds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How many subscriptions one session (or listen stream) holds, and how many distinct tickets one caller
    watches; 0 in either turns subscriptions off."""

    per_session: int = 50
    per_caller: int = 50

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.subscriptions_per_session, settings.subscriptions_per_caller)

    @property
    def off(self) -> bool:
        return self.per_session <= 0 or self.per_caller <= 0


def refusal(message: str, code: str, **data: Any) -> MCPError:
    """A JSON-RPC error for a subscription the server will not take (`resources/subscribe` and
    `subscriptions/listen` are not tool calls, so there is no isError result to give)."""
    return MCPError(INVALID_REQUEST, message, {"code": code, **data})


def _listed(uris: list[str]) -> str:
    shown = ", ".join(sorted(uris)[:SHOWN_URIS])
    return shown + (f" and {len(uris) - SHOWN_URIS} more" if len(uris) > SHOWN_URIS else "")


def turned_off(limits: Limits, uri: str) -> MCPError:
    setting = "SESSION" if limits.per_session <= 0 else "CALLER"
    return refusal(
        f"Not subscribed to {uri}: subscriptions are turned off on this server "
        f"(TICKETS_MCP_SUBSCRIPTIONS_PER_{setting}=0), so no thread is watched. Read the resource again "
        "(resources/read) when you need to know whether it changed.",
        "subscriptions_off",
        setting=f"TICKETS_MCP_SUBSCRIPTIONS_PER_{setting}",
    )


def session_full(limits: Limits, uri: str, held: list[str]) -> MCPError:
    return refusal(
        f"Not subscribed to {uri}: this session already holds {len(held)} subscriptions, the most one session "
        f"may hold (TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION={limits.per_session}): {_listed(held)}. Call "
        "resources/unsubscribe for one you no longer need, then subscribe again.",
        "subscription_limit",
        limit=limits.per_session,
        setting="TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION",
        subscribed=sorted(held),
    )


def stream_full(limits: Limits, asked: int) -> MCPError:
    return refusal(
        f"Not listening: this subscriptions/listen asks for {asked} ticket subscriptions, and one stream may "
        f"hold at most {limits.per_session} (TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION). Listen again with at "
        f"most {limits.per_session} resource_subscriptions, the threads you need most.",
        "subscription_limit",
        limit=limits.per_session,
        setting="TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION",
    )


def caller_full(limits: Limits, what: str, watched: int) -> MCPError:
    return refusal(
        f"Not subscribed to {what}: your credential already has {watched} tickets watched over all its sessions "
        f"and listen streams, the most one caller may have (TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER="
        f"{limits.per_caller}). Call resources/unsubscribe for one you no longer need (in any of your "
        "sessions), or close a session or listen stream you no longer use, then subscribe again.",
        "subscription_limit",
        limit=limits.per_caller,
        setting="TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER",
        watched=watched,
    )


def rate_limited(method: str, limit: int, window: float, wait: float) -> MCPError:
    seconds = max(1, math.ceil(wait))
    return refusal(
        f"Too many calls (limit {limit} per {window:g} s, TICKETS_MCP_CALLS_PER_MINUTE; {method} counts as "
        f"one): nothing was subscribed. Retry after {seconds} s.",
        "session_rate_limited",
        retry_after_seconds=seconds,
    )


class Throttle:
    """At most one log line per caller and reason every ``every`` seconds; the next one says how many were
    held back. Polls that fail for an expected reason (the API answers 500, a credential it refuses) would
    otherwise log one line per ticket per poll."""

    def __init__(self, every: float = WARN_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when last logged, held back since)

    def log(self, level: int, identity: str, reason: str, message: str, *args: object) -> None:
        now = self._clock()
        key = (identity, reason)
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every:
            self._last[key] = (last[0], last[1] + 1)
            return
        self._last[key] = (now, 0)
        if last is not None and last[1]:
            message += "; %d more failed polls of this caller's threads in the last %.0f s were not logged"
            args = (*args, last[1], now - last[0])
        log.log(level, message, *args)

    def forget(self, keep: set[str]) -> None:
        """Forget the callers not in ``keep`` (nobody watches for them any more)."""
        for key in [k for k in self._last if k[0] not in keep]:
            del self._last[key]


# --- the bus and the exchange ---------------------------------------------------------------------------


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

    # How often `hold` must run to keep this process's watches counted (None: only when they change).
    renew_every: float | None

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

    async def take(self, identity: str, numbers: set[int], limit: int) -> int | None:
        """Count ``numbers`` (new to this process) among the tickets ``identity`` watches: None when they fit
        within ``limit`` over every process (and are counted from now), else how many it watches already.
        This process's own count is the watcher's; alone, they always fit."""
        ...

    async def hold(self, held: dict[str, set[int]]) -> None:
        """What this process watches now, per identity: renew those counts, drop the others."""
        ...

    async def listen(self, notify: Callable[[Watch], Awaitable[None]]) -> None:
        """Run for the server's lifetime, calling ``notify`` for each announced change."""
        ...


class LocalExchange:
    """One process: it polls every watch and notifies its own subscribers directly."""

    renew_every: float | None = None

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

    async def take(self, identity: str, numbers: set[int], limit: int) -> int | None:
        return None

    async def hold(self, held: dict[str, set[int]]) -> None:
        return None

    async def listen(self, notify: Callable[[Watch], Awaitable[None]]) -> None:
        self._notify = notify
        await anyio.sleep_forever()


# --- the watcher ----------------------------------------------------------------------------------------


class ThreadWatcher:
    """Who watches which thread (per identity), within which bounds, what the last poll saw, and the poll loop."""

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
        self._of_connection: dict[Hashable, set[Subscription]] = {}  # what each session holds, for its bound
        self._closing: set[Hashable] = set()  # connections whose close callback is registered
        self.throttle = Throttle()
        self._wake = anyio.Event()
        self._released = anyio.Event()  # a watch may have gone: the exchange's counts are due

    def watches(self) -> set[Watch]:
        subs = {s for s, held in self.sessions.items() if held} | {s for s, n in self.listeners.items() if n}
        return {(identity, n) for identity, uri in subs if (n := ticket_number(uri)) is not None}

    def tickets_of(self, identity: str) -> set[int]:
        """The tickets this process watches for ``identity`` (what its per-caller bound counts here)."""
        return {n for i, n in self.watches() if i == identity}

    def held(self) -> dict[str, set[int]]:
        by_identity: dict[str, set[int]] = defaultdict(set)
        for identity, number in self.watches():
            by_identity[identity].add(number)
        return dict(by_identity)

    def add_session(self, sub: Subscription, key: Hashable, session: Any) -> None:
        self.sessions[sub][key] = session
        self._of_connection.setdefault(key, set()).add(sub)

    def drop_session(self, sub: Subscription, key: Hashable) -> None:
        held = self.sessions.get(sub)
        if held is not None:
            held.pop(key, None)
            if not held:
                del self.sessions[sub]
        mine = self._of_connection.get(key)
        if mine is not None:
            mine.discard(sub)
            if not mine:
                del self._of_connection[key]
        self._released.set()

    def closing(self, key: Hashable) -> bool:
        """True the first time for a connection: its close callback (`drop_connection`) is to be registered."""
        if key in self._closing:
            return False
        self._closing.add(key)
        return True

    def drop_connection(self, key: Hashable) -> None:
        """The session's connection closed: everything it held is let go."""
        self._closing.discard(key)
        for sub in list(self._of_connection.get(key, ())):
            self.drop_session(sub, key)

    def add_listener(self, sub: Subscription) -> None:
        self.listeners[sub] += 1

    def drop_listener(self, sub: Subscription) -> None:
        self.listeners[sub] -= 1
        if self.listeners[sub] <= 0:
            del self.listeners[sub]
        self._released.set()

    async def subscribe(self, sub: Subscription, key: Hashable, session: Any, limits: Limits) -> None:
        """`resources/subscribe` of session ``key``, within the bounds (`MCPError` beyond them). A uri that is
        not a ticket's is never polled nor notified, so nothing is held for it."""
        identity, uri = sub
        number = ticket_number(uri)
        if number is None:
            return
        if limits.off:
            raise turned_off(limits, uri)
        mine = self._of_connection.get(key, set())
        if sub in mine:  # the same uri again: nothing new to hold or read
            self.sessions[sub][key] = session
            return
        if len(mine) >= limits.per_session:
            raise session_full(limits, uri, [u for _, u in mine])
        watched = self.tickets_of(identity)
        new = number not in watched
        if new and len(watched) >= limits.per_caller:
            raise caller_full(limits, uri, len(watched))
        self.add_session(sub, key, session)  # before any await: concurrent subscribes see it
        if new:
            other = await self._take(identity, {number}, limits)
            if other is not None:
                self.drop_session(sub, key)
                raise caller_full(limits, uri, other)
            await self.check((identity, number))  # what the thread looks like now: the first poll's baseline
        self._wake.set()

    async def listen_to(self, identity: str, uris: list[str], limits: Limits) -> list[Watch]:
        """Hold a listen stream's ticket uris (distinct) within the bounds (`MCPError` beyond them); the watches
        new to this process, whose marks are to be read. The caller drops the listeners when the stream ends."""
        if not uris:
            return []
        if limits.off:
            raise turned_off(limits, uris[0])
        if len(uris) > limits.per_session:
            raise stream_full(limits, len(uris))
        watched = self.tickets_of(identity)
        new = {n for u in uris if (n := ticket_number(u)) is not None} - watched
        if len(watched) + len(new) > limits.per_caller:
            raise caller_full(limits, "these threads", len(watched))
        for uri in uris:
            self.add_listener((identity, uri))
        other = await self._take(identity, new, limits) if new else None
        if other is not None:
            for uri in uris:
                self.drop_listener((identity, uri))
            raise caller_full(limits, "these threads", other)
        self._wake.set()
        return sorted((identity, n) for n in new)

    async def _take(self, identity: str, numbers: set[int], limits: Limits) -> int | None:
        try:
            return await self.exchange.take(identity, numbers, limits.per_caller)
        except SharedStateUnavailable:  # Redis is away (logged once by the link): this process's count holds
            return None

    async def watch(self, uri: str, identity: str) -> None:
        """Record what the thread looks like now, so the first poll compares against the subscription."""
        number = ticket_number(uri)
        if number is not None:
            await self.check((identity, number))
        self._wake.set()

    async def check(self, watch: Watch) -> bool:
        """Read the ticket's mark; tell the exchange; True (and announced) when it changed."""
        try:
            mark = json.dumps(list(await self._read_mark(*watch)), default=str)
            if await self.exchange.changed(watch, mark):
                await self.exchange.announce(watch)
                return True
        except SharedStateUnavailable:
            pass  # the link has logged the outage once; the next poll tries again
        except TicketsApiError as exc:
            self.throttle.log(
                logging.WARNING, watch[0], "api", "polling ticket %s failed: %s", watch[1], exc.message
            )
        except LookupError:
            self.throttle.log(
                logging.INFO,
                watch[0],
                "credential",
                "ticket %s: its subscriber's credential is no longer held here",
                watch[1],
            )
        return False

    async def poll_once(self) -> list[Watch]:
        """Check each watch this process holds the lease of once; return the ones that changed."""
        changed: list[Watch] = []
        watches = self.watches()
        self.exchange.forget(watches)
        self.throttle.forget({identity for identity, _ in watches})
        for watch in sorted(watches):
            try:
                mine = await self.exchange.claim(watch)
            except SharedStateUnavailable:  # logged once by the link; polling pauses until it answers
                return changed
            if mine and await self.check(watch):
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

    async def keep_counted(self) -> None:
        """Keep the exchange's per-caller counts what this process watches: when a watch goes, and every
        ``renew_every`` seconds (replicas' counts expire unless renewed, so a dead replica's are freed)."""
        every = self.exchange.renew_every
        while True:
            with anyio.move_on_after(math.inf if every is None else every):
                await self._released.wait()
            self._released = anyio.Event()
            with contextlib.suppress(SharedStateUnavailable):  # logged once by the link; renewed when back
                await self.exchange.hold(self.held())

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.exchange.listen, self.notify)
            if self.exchange.renew_every is not None:  # alone, the watcher's own count is the whole count
                tg.start_soon(self.keep_counted)
            while True:
                if not self.watches():
                    self._wake = anyio.Event()
                    await self._wake.wait()
                await anyio.sleep(self._interval)
                await self.poll_once()


# --- the two eras' entry points ---------------------------------------------------------------------------


def _bounds(caller: Any) -> tuple[Limits, Any]:
    """The bounds and the call limit of a request's caller. A caller without settings or call limit (a bare
    identity, as the watcher's unit tests build it) gets the default bounds and no call limit."""
    settings = getattr(caller, "settings", None)
    return (Limits.of(settings) if settings is not None else Limits()), getattr(caller, "calls", None)


async def listening(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: while a 2026-07-28 `subscriptions/listen` stream is open, poll its tickets for its caller,
    within the bounds. Each listen counts as one call of the caller's call limit, per caller rather than per
    client name: a 2026-07-28 request has no session, and its client name is whatever the client says."""
    if ctx.method != "subscriptions/listen":
        return await call_next(ctx)
    wanted = ((ctx.params or {}).get("notifications") or {}).get("resourceSubscriptions") or []
    uris = list(dict.fromkeys(u for u in wanted if isinstance(u, str) and ticket_number(u) is not None))
    app = ctx.lifespan_context
    caller = app.caller(ctx)
    identity: str = caller.identity
    watcher: ThreadWatcher = app.watcher
    limits, calls = _bounds(caller)
    if calls is not None and (wait := await calls.check((identity, "subscriptions/listen"))) is not None:
        raise rate_limited("subscriptions/listen", calls.limit, calls.window, wait)
    fresh = await watcher.listen_to(identity, uris, limits)
    token = _LISTEN_IDENTITY.set(identity)
    try:
        for watch in fresh:
            await watcher.check(watch)
        return await call_next(ctx)
    finally:
        _LISTEN_IDENTITY.reset(token)
        for uri in uris:
            watcher.drop_listener((identity, uri))


def install_subscriptions(server: MCPServer[Any], session_key: SessionKey) -> None:
    """Serve resources/subscribe and resources/unsubscribe (2025-11-25) for ticket threads; a subscribe
    counts against the session's call limit (``session_key`` names the session it counts for)."""

    async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        caller = ctx.lifespan_context.caller(ctx)
        watcher: ThreadWatcher = caller.watcher
        wait = await caller.calls.check(session_key(ctx))
        if wait is not None:
            raise rate_limited("resources/subscribe", caller.calls.limit, caller.calls.window, wait)
        key = connection_of(ctx)
        if watcher.closing(key):  # registered before anything is held, so a close never leaks a watch
            on_connection_close(ctx, lambda: watcher.drop_connection(key))
        await watcher.subscribe((caller.identity, params.uri), key, ctx.session, Limits.of(caller.settings))
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        caller = ctx.lifespan_context.caller(ctx)
        caller.watcher.drop_session((caller.identity, params.uri), connection_of(ctx))
        return EmptyResult()

    add_request_handler(server, "resources/subscribe", SubscribeRequestParams, subscribe)
    add_request_handler(server, "resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
