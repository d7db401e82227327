"""What the server's lifespan holds, and how a handler reaches it.

`AppState`: the settings, the API client (made on first use: a server answers `initialize` without
loading the client's models or building a TLS context), the catalog cache, the per-session call
limit and the thread watcher. With per-request credentials (`--credentials per-request`) each
caller's client and catalog cache come from a `ClientPool`; `scope_of` / `state_of` give a handler
its caller's `UserState` either way.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tickets_mcp.api import reporting_progress
from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.windows import RateWindows
from tickets_mcp.runtime import build_client, build_shared
from tickets_mcp.settings import Settings
from tickets_mcp.tools.credentials import ClientPool, request_auth
from tickets_mcp.tools.sdk import connection_of
from tickets_mcp.tools.watch import ScopedBus, ThreadWatcher
from tickets_mcp.tools.watch_exchange import make_exchange

if TYPE_CHECKING:
    from tickets_mcp.api import IamToken, StaticToken, TicketsClient
    from tickets_mcp.api.models import Category, CategoryField, Product


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

    async def categories(self, active_only: bool = True, **sort: str) -> list[Category]:
        """The categories a ticket can be created in (the active ones), or all of them."""
        client = self._client()
        key = ("categories", active_only, *sorted(sort.items()))
        return await self._get(key, lambda: client.list_categories(is_only_active=active_only, **sort))

    async def fields(self, category: str) -> list[CategoryField]:
        return await self._get(("fields", category), lambda: self._client().get_category_fields(category))

    async def products(self, parent: str | None = None, **sort: str) -> list[Product]:
        client = self._client()
        key = ("products", parent, *sorted(sort.items()))
        return await self._get(key, lambda: client.list_products(parent=parent, **sort))


class SessionLimit:
    """At most ``limit`` tool calls (and the API reads they fan out to) per session per window;
    0 turns it off. A looping agent is stopped here before it burns the account's API quota."""

    def __init__(self, windows: RateWindows, limit: int, window: float) -> None:
        self.windows = windows
        self.limit = limit
        self.window = window

    async def check(self, caller: Hashable) -> float | None:
        """Count one call; None if allowed, else the seconds until the next one is."""
        if self.limit <= 0:
            return None
        key = f"calls:{caller}"
        try:
            slot, wait = await self.windows.acquire(key, self.limit, self.window)
        except SharedStateUnavailable:  # the replicas' Redis is down (logged once): fail open, reads go on
            return None
        if slot is None:
            return wait
        await self.windows.release(key, slot)
        return None


def caller_of(ctx: ServerRequestContext[Any]) -> Hashable:
    """Who the per-session limit counts for: a session of one credential.

    A 2025-11-25 session is one connection. A 2026-07-28 request has no session (each request is
    its own connection), so calls are counted per client program, named in the request's `_meta`:
    a guard against a looping agent, not against a client that lies about its name. With per-request
    credentials the caller's credential (its hash) is part of the key.
    """
    key = scope_of(ctx).key
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        info = (ctx.meta or {}).get("io.modelcontextprotocol/clientInfo") or {}
        if isinstance(info, dict):
            return (key, "client", str(info.get("name")), str(info.get("version")))
        return (key, "client", str(info))
    return (key, "session", connection_of(ctx))


class UserState:
    """What the handlers of one caller use: the server's settings, call limit and watcher, and the API
    client and catalog cache of the caller's credential (the server's own, or with per-request
    credentials the request's). ``key`` names the credential without revealing it."""

    def __init__(
        self, app: AppState, key: str, client: Callable[[], TicketsClient], catalog: CatalogCache
    ) -> None:
        self.settings = app.settings
        self.calls = app.calls
        self.watcher = app.watcher
        self.key = key
        self.catalog = catalog
        self._client = client
        self.used = time.monotonic()

    @property
    def client(self) -> TicketsClient:
        return self._client()


class AppState:
    """What the server's lifespan holds; `scope_of` gives a request its caller's `UserState`."""

    def __init__(self, settings: Settings, bus: ScopedBus) -> None:
        self.settings = settings
        # Its keys carry the credential or the account. With TICKETS_MCP_REDIS_URL it lives in the Redis the
        # replicas share, and so do the session limits; else each has its own windows in this process.
        self.shared = build_shared(settings)
        self.calls = SessionLimit(self.shared.limits, settings.calls_per_minute, settings.rate_window)
        exchange = make_exchange(self.shared.redis, settings.poll_interval)
        self.watcher = ThreadWatcher(self._mark, settings.poll_interval, bus, exchange)
        self._client: TicketsClient | None = None
        catalog = CatalogCache(self._own_client, settings.catalog_ttl)
        self.own = UserState(self, "server", self._own_client, catalog)
        self.pool: ClientPool[UserState] | None = (
            ClientPool(self._user) if settings.credentials == "per-request" else None
        )

    def _own_client(self) -> TicketsClient:
        if self._client is None:
            self._client = build_client(self.settings, self.shared)
        return self._client

    def _user(self, auth: StaticToken | IamToken) -> UserState:
        """A per-request caller's state: its own client and catalog cache."""
        client = build_client(self.settings, self.shared, auth)
        return UserState(
            self, auth.identity, lambda: client, CatalogCache(lambda: client, self.settings.catalog_ttl)
        )

    @property
    def client(self) -> TicketsClient:
        return self._own_client()

    def user(self, ctx: ServerRequestContext[Any]) -> UserState:
        """The caller's state: the server's own credential, or the one this request's headers carry."""
        if self.pool is None:
            return self.own
        headers = getattr(
            getattr(ctx, "request", None), "headers", None
        )  # the HTTP request's (None on stdio)
        return self.pool.get(request_auth(headers or {}))

    async def _mark(self, scope: str, number: int) -> tuple[object, object, object]:
        """What the watcher compares between polls: the ticket's update time, unread count and status, read
        with the subscriber's credential (`KeyError` when a per-request credential is no longer held)."""
        user = self.own if self.pool is None else self.pool.peek(scope)
        ticket = await user.client.get_ticket(number)
        return (ticket.updated_at, ticket.unread_comments_count, ticket.status)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.pool is not None:
            await self.pool.aclose()
        await self.shared.aclose()


def scope_of(ctx: ServerRequestContext[Any]) -> UserState:
    """The caller's state: the server's own credential, or the one this request's headers carry."""
    app: AppState = ctx.lifespan_context
    return app.user(ctx)


def state_of(ctx: Context) -> UserState:
    return scope_of(ctx.request_context)


def charge_session(ctx: Context) -> Callable[[], Awaitable[float | None]]:
    """Count one more API read against this session's call limit; the wait in seconds when it is reached."""
    state = state_of(ctx)
    caller = caller_of(ctx.request_context)
    return lambda: state.calls.check(caller)


@contextmanager
def progress_to(ctx: Context) -> Iterator[None]:
    """Forward the client's backoff, pacing and paging waits as MCP progress notifications."""

    async def report(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    with reporting_progress(report):
        yield
