"""Server state held by the lifespan: the settings, the API client (made on first use), the catalog cache."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tickets_mcp.api import IamToken, PacingPolicy, RetryPolicy, ServiceUser, StaticToken
from tickets_mcp.settings import Settings

if TYPE_CHECKING:
    from tickets_mcp.api import TicketsClient
    from tickets_mcp.tools.watch import ThreadWatcher


class MissingCredentials(RuntimeError):
    """No credential is configured and the sandbox is off."""


def build_auth(settings: Settings) -> StaticToken | IamToken | ServiceUser:
    mode = settings.auth_mode
    if mode in ("static", "sandbox") and settings.token is not None:
        return StaticToken(settings.token)
    if mode == "iam" and settings.iam_token is not None:
        return IamToken(settings.iam_token)
    if mode == "service_user" and settings.username and settings.password and settings.account_id:
        return ServiceUser(
            settings.username, settings.password, settings.account_id, identity_url=settings.identity_url
        )
    raise MissingCredentials(
        "no Tickets API credentials: set SELECTEL_TOKEN, or SELECTEL_IAM_TOKEN, or SELECTEL_USERNAME + "
        "SELECTEL_PASSWORD + SELECTEL_ACCOUNT_ID; or run with --sandbox to try the embedded sandbox"
    )


def build_client(settings: Settings) -> TicketsClient:
    """The one TicketsClient of a server, configured from the settings."""
    from tickets_mcp.api import TicketsClient

    return TicketsClient(
        settings.base_url,
        build_auth(settings),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retry=RetryPolicy(budget=settings.retry_budget),
        pacing=PacingPolicy(
            creates_per_minute=settings.creates_per_minute,
            comments_per_minute=settings.comments_per_minute,
            window_seconds=settings.rate_window,
            # A call waits for a free slot at most as long as it would sit out 429s; past that the
            # agent is told exactly when to come back instead of the call hanging for a minute.
            max_wait=settings.retry_budget,
        ),
        dedup_window=settings.dedup_window,
    )


class CatalogCache:
    """Categories, category fields and products, cached with a TTL (they change rarely)."""

    def __init__(self, state: AppState, ttl: float) -> None:
        self._state = state
        self._ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = anyio.Lock()

    async def _get(self, key: Hashable, load: Any) -> Any:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        async with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._ttl:
                return hit[1]
            value = await load()
            self._entries[key] = (time.monotonic(), value)
            return value

    async def categories(self) -> list[Any]:
        return await self._get("categories", lambda: self._state.client.list_categories())

    async def fields(self, category: str) -> list[Any]:
        return await self._get(("fields", category), lambda: self._state.client.get_category_fields(category))

    async def products(self, parent: str | None = None) -> list[Any]:
        return await self._get(("products", parent), lambda: self._state.client.list_products(parent=parent))


class SessionLimiter:
    """Sliding-window limit on tool calls per session, apart from the upstream 429 handling.

    A looping agent is stopped here before it burns the account's API quota. 0 disables it.
    """

    def __init__(self, calls_per_minute: int, window: float = 60.0) -> None:
        self.limit = calls_per_minute
        self.window = window
        self._calls: dict[Hashable, deque[float]] = {}

    def check(self, key: Hashable) -> float | None:
        """Record a call; return None if allowed, else the seconds until the next call is allowed."""
        if self.limit <= 0:
            return None
        now = time.monotonic()
        if len(self._calls) > 1024:  # forget callers idle for a whole window (closed sessions)
            self._calls = {k: q for k, q in self._calls.items() if q and now - q[-1] < self.window}
        calls = self._calls.setdefault(key, deque())
        while calls and now - calls[0] >= self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return self.window - (now - calls[0])
        calls.append(now)
        return None


def connection_of(ctx: ServerRequestContext[Any]) -> Hashable:
    """What stays the same across the requests of one 2025-11-25 session: its connection."""
    return id(getattr(ctx.session, "_connection", ctx.session))


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
    """What every handler reaches through the lifespan context.

    The API client is made on first use, so a server answers `initialize` without loading the
    client's models or building a TLS context (cold start is a measured target).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = CatalogCache(self, settings.catalog_ttl)
        self.calls = SessionLimiter(settings.calls_per_minute, settings.rate_window)
        self.watcher: ThreadWatcher | None = None
        self._client: TicketsClient | None = None

    @property
    def client(self) -> TicketsClient:
        if self._client is None:
            self._client = build_client(self.settings)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
