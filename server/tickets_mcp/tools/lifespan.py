"""What the server's lifespan holds, and how a handler reaches it.

`AppState`: the settings, the API client (made on first use: a server answers `initialize` without
loading the client's models or building a TLS context), the catalog cache, the per-session call
limit and the thread watcher.
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
from tickets_mcp.api.windows import MemoryWindows, RateWindows
from tickets_mcp.runtime import build_client
from tickets_mcp.settings import Settings
from tickets_mcp.tools.sdk import connection_of
from tickets_mcp.tools.watch import ThreadWatcher

if TYPE_CHECKING:
    from mcp.server.subscriptions import SubscriptionBus

    from tickets_mcp.api import TicketsClient
    from tickets_mcp.api.models import Category, CategoryField, Product


class CatalogCache:
    """Categories, category fields and products, cached with a TTL (they change rarely)."""

    def __init__(self, state: AppState, ttl: float) -> None:
        self._state = state
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
        client = self._state.client
        key = ("categories", active_only, *sorted(sort.items()))
        return await self._get(key, lambda: client.list_categories(is_only_active=active_only, **sort))

    async def fields(self, category: str) -> list[CategoryField]:
        return await self._get(("fields", category), lambda: self._state.client.get_category_fields(category))

    async def products(self, parent: str | None = None, **sort: str) -> list[Product]:
        client = self._state.client
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
        slot, wait = await self.windows.acquire(key, self.limit, self.window)
        if slot is None:
            return wait
        await self.windows.release(key, slot)
        return None


def caller_of(ctx: ServerRequestContext[Any]) -> Hashable:
    """Who the per-session limit counts for.

    A 2025-11-25 session is one connection. A 2026-07-28 request has no session (each request is
    its own connection), so calls are counted per client program, named in the request's `_meta`:
    a guard against a looping agent, not against a client that lies about its name.
    """
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        info = (ctx.meta or {}).get("io.modelcontextprotocol/clientInfo") or {}
        if isinstance(info, dict):
            return ("client", str(info.get("name")), str(info.get("version")))
        return ("client", str(info))
    return ("session", connection_of(ctx))


class AppState:
    """What every handler reaches through the lifespan context."""

    def __init__(self, settings: Settings, bus: SubscriptionBus) -> None:
        self.settings = settings
        self.catalog = CatalogCache(self, settings.catalog_ttl)
        self.calls = SessionLimit(MemoryWindows(), settings.calls_per_minute, settings.rate_window)
        self.watcher = ThreadWatcher(self._mark, settings.poll_interval, bus)
        self._client: TicketsClient | None = None

    @property
    def client(self) -> TicketsClient:
        if self._client is None:
            self._client = build_client(self.settings)
        return self._client

    async def _mark(self, number: int) -> tuple[object, object, object]:
        """What the watcher compares between polls: the ticket's update time, unread count and status."""
        ticket = await self.client.get_ticket(number)
        return (ticket.updated_at, ticket.unread_comments_count, ticket.status)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def state_of(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


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
