"""What the server holds while it runs, and how a handler reaches its caller's part of it.

- `ServerState` (the lifespan's value): the settings, the `SharedState` (in this process, or in the Redis
  replicas share), the per-session call limit, the thread watcher, and the callers.
- `Caller`: what the handlers of one caller use: the API client and catalog cache of its credential, and
  its **identity** (the credential's hash, ``auth.identity``), which keys everything kept per caller. With
  the server's own credential there is one caller; with per-request credentials (``--credentials
  per-request``) each credential gets its own from a bounded `CallerPool`, where credentials the API has
  accepted are kept apart from made-up ones, so a stranger's churn cannot evict them.
- `caller_of(ctx)` gives a handler or a middleware its caller; `session_key(ctx)` what the call limit
  counts per.

The API client is made on first use: a server answers `initialize` without loading the client's models
or building a TLS context (cold start is measured).
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tickets_mcp.api import reporting_progress
from tickets_mcp.api.dedup import Dedup, MemoryDedup
from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.windows import MemoryWindows, RateWindows
from tickets_mcp.mcp_server.audit import AuditLog, MemoryOnce, Once, Sink
from tickets_mcp.mcp_server.callers import access_token, request_auth
from tickets_mcp.mcp_server.journal import Changes, JournalStore, MemoryJournal, Writer, trace_id
from tickets_mcp.mcp_server.sdk import connection_of, on_connection_close
from tickets_mcp.mcp_server.subscriptions import Exchange, IdentityBus, LocalExchange, ThreadWatcher
from tickets_mcp.runtime import build_client
from tickets_mcp.settings import Settings

if TYPE_CHECKING:
    from tickets_mcp.api import IamToken, StaticToken, TicketsClient
    from tickets_mcp.api.models import Category, CategoryField, Product

POOL_SIZE = 256  # credentials the API has accepted (the protected part of a `CallerPool`)
PENDING_SIZE = 32  # credentials not accepted yet: made-up ones, and new users before their first answer
IDLE_SECONDS = 900.0
SERVER_IDENTITY = "server"  # the identity of the server's own credential
CONNECTIONS = 4096  # 2025-11-25 connections whose journal is named here


@dataclass(frozen=True)
class SharedState:
    """What the server's replicas must agree on: the API clients' rate windows and write dedup, the
    per-session call limits, and who polls which watched thread. In this process by default;
    `in_redis` keeps it in the Redis every replica uses (`redis_state.py`)."""

    windows: RateWindows = field(default_factory=MemoryWindows)
    dedup: Dedup = field(default_factory=MemoryDedup)
    limits: RateWindows = field(default_factory=MemoryWindows)
    watches: Exchange = field(default_factory=LocalExchange)
    journal: JournalStore = field(default_factory=MemoryJournal)  # the sessions' writes
    once: Once = field(default_factory=MemoryOnce)  # the writes in the audit log
    close: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def in_redis(cls, url: str, *, slot_lease: float = 300.0, poll_interval: float = 60.0) -> SharedState:
        """The same state in the Redis at ``url``; the ``redis`` package is imported only here. ``slot_lease``:
        the longest a send may hold a pacing slot (a crashed replica's slot is freed then)."""
        from tickets_mcp.redis_state import (
            RedisDedup,
            RedisExchange,
            RedisJournal,
            RedisLink,
            RedisOnce,
            RedisWindows,
        )

        link = RedisLink(url)
        return cls(
            windows=RedisWindows(link, lease=slot_lease),
            dedup=RedisDedup(link),
            limits=RedisWindows(link, lease=slot_lease, hold_after_loss=False),
            watches=RedisExchange(link, poll_interval),
            journal=RedisJournal(link),
            once=RedisOnce(link),
            close=link.aclose,
        )

    @classmethod
    def of(cls, settings: Settings) -> SharedState:
        """In this process, or with ``TICKETS_MCP_REDIS_URL`` in Redis. A send holds its pacing slot at most
        as long as its timeouts allow, with a margin."""
        if settings.redis_url is None:
            return cls()
        lease = max(300.0, 2 * (settings.connect_timeout + settings.read_timeout))
        return cls.in_redis(
            settings.redis_url.get_secret_value(), slot_lease=lease, poll_interval=settings.poll_interval
        )

    async def aclose(self) -> None:
        if self.close is not None:
            await self.close()


class CatalogCache:
    """Categories, category fields and products, cached with a TTL (they change rarely)."""

    def __init__(self, client: Callable[[], TicketsClient], ttl: float) -> None:
        self._client = client
        self._ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = anyio.Lock()

    async def _get(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        async with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._ttl:
                return hit[1]
            value = await load()
            self._entries[key] = (time.monotonic(), value)
            return value

    async def categories(self, active_only: bool = True, **sort: Any) -> list[Category]:
        """The categories a ticket can be created in (the active ones), or all of them."""
        client = self._client()
        key = ("categories", active_only, *sorted(sort.items()))
        result: list[Category] = await self._get(
            key, lambda: client.list_categories(is_only_active=active_only, **sort)
        )
        return result

    async def fields(self, category: str) -> list[CategoryField]:
        result: list[CategoryField] = await self._get(
            ("fields", category), lambda: self._client().get_category_fields(category)
        )
        return result

    async def products(self, parent: str | None = None, **sort: Any) -> list[Product]:
        client = self._client()
        key = ("products", parent, *sorted(sort.items()))
        result: list[Product] = await self._get(key, lambda: client.list_products(parent=parent, **sort))
        return result

    async def file_extensions(self) -> list[str]:
        """The extensions the Attachments API takes (lower case, no dot)."""
        result: list[str] = await self._get(("file_extensions",), self._client().list_file_extensions)
        return result


class CallLimit:
    """At most ``limit`` tool calls per session per window; 0 turns it off. A looping agent is stopped here
    before it burns the account's API quota. A call that fans out to many API reads (a search with
    ``latest_comments``) is still one call: its reads are bounded on their own (`threads.read_latest`),
    so one big lookup does not lock the session out."""

    def __init__(self, windows: RateWindows, limit: int, window: float) -> None:
        self.windows = windows
        self.limit = limit
        self.window = window

    async def check(self, session: Hashable) -> float | None:
        """Count one call; None if allowed, else the seconds until the next one is."""
        if self.limit <= 0:
            return None
        key = f"calls:{session}"
        try:
            slot, wait = await self.windows.acquire(key, self.limit, self.window)
        except SharedStateUnavailable:  # the replicas' Redis is down (logged once): fail open, reads go on
            return None
        if slot is None:
            return wait
        await self.windows.release(key, slot)
        return None


# Comment lists one caller (one credential) reads at once, for the latest comments of many tickets.
CONCURRENT_READS = 4


class Caller:
    """What the handlers of one caller use: the server's settings, call limit and watcher, and the API
    client and catalog cache of the caller's credential. ``identity`` names the credential without
    revealing it."""

    def __init__(
        self, server: ServerState, identity: str, client: Callable[[], TicketsClient], catalog: CatalogCache
    ) -> None:
        self.settings = server.settings
        self.calls = server.calls
        self.watcher = server.watcher
        self.changes = server.changes
        self.identity = identity
        self.catalog = catalog
        self._client = client
        self.used = time.monotonic()

    @property
    def client(self) -> TicketsClient:
        return self._client()

    @functools.cached_property
    def reads(self) -> anyio.CapacityLimiter:
        """The bound on this caller's comment reads in flight, all its calls in this process together."""
        return anyio.CapacityLimiter(CONCURRENT_READS)


class PooledClient(Protocol):
    """What the pool needs of an entry's client (`TicketsClient`)."""

    accepted: bool  # the API has accepted its credential at least once

    @property
    def busy(self) -> bool: ...  # a request is in flight

    async def aclose(self) -> None: ...  # closes when its last request in flight ends


class Entry(Protocol):
    used: float

    @property
    def client(self) -> PooledClient: ...


E = TypeVar("E", bound=Entry)


class CallerPool(Generic[E]):
    """Entries (a client and its caches) per credential hash, in two bounded parts, least recently used first
    out. A credential the API has not accepted yet (`TicketsClient.accepted`) is held in the small
    ``pending`` part; once accepted, its entry moves to the ``size`` part, which only accepted credentials
    reach: requests with made-up credentials only ever evict each other. Any entry unused for ``idle``
    seconds goes too. An entry with a request in flight is never evicted, nor an accepted one that a
    watched thread is polled with (``pinned()``: those identities), so a part may hold more than its bound
    while they last. Two users' calls never share a client, a catalog entry or a dedup entry (dedup keys
    carry the identity)."""

    def __init__(
        self,
        make: Callable[[StaticToken | IamToken], E],
        *,
        size: int = POOL_SIZE,
        pending: int = PENDING_SIZE,
        idle: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        pinned: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self._make = make
        self._size = size
        self._pending_size = pending
        self._idle = idle
        self._clock = clock
        self._pinned = pinned
        self._accepted: OrderedDict[str, E] = OrderedDict()
        self._pending: OrderedDict[str, E] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._accepted) + len(self._pending)

    def __contains__(self, identity: object) -> bool:
        return identity in self._accepted or identity in self._pending

    def get(self, auth: StaticToken | IamToken) -> E:
        identity = auth.identity
        entry = self._find(identity)
        if entry is None:
            entry = self._make(auth)
        self._hold(identity, entry)
        self._evict(self._clock(), keep=identity)
        return entry

    def peek(self, identity: str) -> E:
        """The entry of ``identity`` (as if used now); `KeyError` when it is no longer held."""
        entry = self._find(identity)
        if entry is None:
            raise KeyError(identity)
        self._hold(identity, entry)
        return entry

    def _find(self, identity: str) -> E | None:
        entry = self._accepted.get(identity)
        return self._pending.get(identity) if entry is None else entry

    def _hold(self, identity: str, entry: E) -> None:
        """Put ``entry`` last (most recent) in its part; an accepted credential's in the protected one."""
        part = self._accepted if entry.client.accepted else self._pending
        if part is self._accepted:
            self._pending.pop(identity, None)
        part[identity] = entry
        part.move_to_end(identity)
        entry.used = self._clock()

    def _evict(self, now: float, keep: str) -> None:
        self._trim(self._pending, self._pending_size, now, keep)
        self._trim(self._accepted, self._size, now, keep)

    def _trim(self, part: OrderedDict[str, E], bound: int, now: float, keep: str) -> None:
        """Close the oldest entries of ``part`` while it holds more than ``bound`` or they are idle; spare the
        one being handed out (``keep``), those in flight and the pinned (moved last), and move a pending
        entry whose credential was accepted since to the protected part instead."""
        pinned: Collection[str] | None = None  # asked only when a protected entry would go
        for _ in range(len(part)):
            identity, oldest = next(iter(part.items()))
            if len(part) <= bound and now - oldest.used < self._idle:
                return
            if part is self._pending and oldest.client.accepted:
                del part[identity]
                self._accepted[identity] = oldest
                continue
            if part is self._accepted and pinned is None:
                pinned = self._pinned()
            if identity == keep or oldest.client.busy or (pinned is not None and identity in pinned):
                part.move_to_end(identity)
                continue
            del part[identity]
            self._close_later(oldest)

    def _close_later(self, entry: E) -> None:
        task = asyncio.get_running_loop().create_task(entry.client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        entries = [*self._accepted.values(), *self._pending.values()]
        self._accepted, self._pending = OrderedDict(), OrderedDict()
        for entry in entries:
            await entry.client.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


class ServerState:
    """What the server's lifespan holds; `caller_of` gives a request its caller's `Caller`."""

    def __init__(self, settings: Settings, bus: IdentityBus, otlp: Callable[[], Sink] | None = None) -> None:
        self.settings = settings
        # Its keys carry the identity or the account. With TICKETS_MCP_REDIS_URL it lives in the Redis the
        # replicas share, and so do the session limits; else each has its own in this process.
        self.shared = SharedState.of(settings)
        self.calls = CallLimit(self.shared.limits, settings.calls_per_minute, settings.rate_window)
        self.watcher = ThreadWatcher(self._mark, settings.poll_interval, bus, self.shared.watches)
        self.changes = Changes(self.shared.journal, AuditLog.of(settings, self.shared.once, otlp))
        self._connections: dict[Hashable, str] = {}  # a 2025-11-25 connection -> its journal's name
        self._client: TicketsClient | None = None
        catalog = CatalogCache(self._own_client, settings.catalog_ttl)
        self.own = Caller(self, SERVER_IDENTITY, self._own_client, catalog)
        self.pool: CallerPool[Caller] | None = (
            CallerPool(self._caller, pinned=self._watching) if settings.credentials == "per-request" else None
        )

    def _own_client(self) -> TicketsClient:
        if self._client is None:
            self._client = build_client(self.settings, self.shared.windows, self.shared.dedup)
        return self._client

    def _caller(self, auth: StaticToken | IamToken) -> Caller:
        """A per-request caller: its own client and catalog cache."""
        client = build_client(self.settings, self.shared.windows, self.shared.dedup, auth)
        return Caller(
            self, auth.identity, lambda: client, CatalogCache(lambda: client, self.settings.catalog_ttl)
        )

    @property
    def client(self) -> TicketsClient:
        return self._own_client()

    def caller(self, ctx: ServerRequestContext[Any]) -> Caller:
        """The server's own caller, or the one this request's headers carry."""
        if self.pool is None:
            return self.own
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None)  # the HTTP request's (None on stdio)
        return self.pool.get(request_auth(headers or {}))

    def _watching(self) -> set[str]:
        """The identities whose credential a watched thread is polled with (their pool entries stay)."""
        return {identity for identity, _ in self.watcher.watches()}

    async def _mark(self, identity: str, number: int) -> tuple[object, object, object]:
        """What the watcher compares between polls: the ticket's update time, unread count and status, read
        with the subscriber's credential (`KeyError` when a per-request credential is no longer held), within
        the subscriber's bound on reads in flight, so its watches add no parallel reads of their own."""
        caller = self.own if self.pool is None else self.pool.peek(identity)
        async with caller.reads:
            ticket = await caller.client.get_ticket(number)
        return (ticket.updated_at, ticket.unread_comments_count, ticket.status)

    def journal_key(self, ctx: ServerRequestContext[Any], key: Hashable) -> str:
        """The name a session's journal is kept under: its `session_key`, a 2025-11-25 connection named by a
        random token instead of its address (which another replica, or a later connection, may reuse)."""
        if not (isinstance(key, tuple) and key[1:2] == ("session",)):
            return json.dumps(key, default=str)
        connection = key[2]
        name = self._connections.get(connection)
        if name is None:
            while len(self._connections) >= CONNECTIONS:  # those whose close was not seen
                self._connections.pop(next(iter(self._connections)))
            name = self._connections[connection] = f"{key[0]}|connection|{secrets.token_hex(16)}"
            on_connection_close(ctx, lambda: self._forget(connection))
        return name

    def _forget(self, connection: Hashable) -> None:
        name = self._connections.pop(connection, None)
        if name is not None and isinstance(self.shared.journal, MemoryJournal):
            self.shared.journal.forget(name)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.pool is not None:
            await self.pool.aclose()
        self.changes.audit.close()
        await self.shared.aclose()


def caller_of(ctx: Context | ServerRequestContext[Any]) -> Caller:
    """The caller of this request (a handler's `Context` or a middleware's request context)."""
    request = ctx.request_context if isinstance(ctx, Context) else ctx
    server = cast(ServerState, request.lifespan_context)  # what `build_server`'s lifespan yields
    return server.caller(request)


def session_key(ctx: ServerRequestContext[Any]) -> Hashable:
    """What the per-session call limit counts per: a session of one caller.

    A 2025-11-25 session is one connection. A 2026-07-28 request has no session (each request is
    its own connection): with OAuth, calls are counted per signed-in user (the access token's subject,
    else its client id), so users of one credential never share a budget; without it, per client
    program, named in the request's `_meta`: a guard against a looping agent, not against a client
    that lies about its name.
    """
    identity = caller_of(ctx).identity
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        token = access_token(ctx)
        if token is not None:
            return (identity, "subject", token.subject or token.client_id)
        info = (ctx.meta or {}).get("io.modelcontextprotocol/clientInfo") or {}
        if isinstance(info, dict):
            return (identity, "client", str(info.get("name")), str(info.get("version")))
        return (identity, "client", str(info))
    return (identity, "session", connection_of(ctx))


def writer_of(ctx: Context | ServerRequestContext[Any]) -> Writer:
    """Who makes a write in this request, for its record (`journal.Changes.note`)."""
    request = ctx.request_context if isinstance(ctx, Context) else ctx
    server = cast(ServerState, request.lifespan_context)
    caller = server.caller(request)
    token = access_token(request)
    subject = token.subject or token.client_id if token is not None else None
    identity = caller.client.identity
    journal = server.journal_key(request, session_key(request))
    return Writer(subject or identity, identity, journal, trace_id())


def charge_session(ctx: Context) -> Callable[[], Awaitable[float | None]]:
    """Count one call against this session's limit, for a fan-out that no tool call counted (a prompt's);
    the wait in seconds when the limit is reached."""
    caller = caller_of(ctx)
    session = session_key(ctx.request_context)
    return lambda: caller.calls.check(session)


@contextmanager
def progress_to(ctx: Context) -> Iterator[None]:
    """Forward the client's backoff, pacing and paging waits as MCP progress notifications."""

    async def report(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    with reporting_progress(report):
        yield
