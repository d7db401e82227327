"""The connection to the Redis that several server replicas share, and how its outages are reported.

`RedisLink` owns the ``redis.asyncio`` clients of one Redis URL and runs every command of the shared
state (`redis_state.py`) through `RedisLink.run`, which turns any Redis failure into
`SharedStateUnavailable` (nothing was sent; come back in ``retry_after`` seconds).

- **Event loops.** A ``redis.asyncio`` client and its pooled connections belong to the event loop that
  made them, while the in-memory state is loop-agnostic (a test, a thread or ``anyio.run`` may bring
  its own loop). So the link keeps one client per running loop, made lazily on first use there;
  clients of loops that have closed are dropped when the next one is made. It needs the asyncio
  backend (``redis.asyncio``); in production the server runs on one loop, so there is one client.
- **Outages.** Short socket timeouts (``timeout``, default 1 s, for connecting and for each command)
  and one immediate retry on a fresh connection (a restarted Redis leaves stale pooled connections),
  so a dead Redis never hangs a call. After a failure the link does not touch Redis again for
  ``probe_interval`` seconds: calls fail at once, and only one call per interval pays a timeout.
  One WARNING is logged when Redis becomes unreachable and one INFO when it answers again, never
  one per call. The logs name the host, never the URL's password; the error an agent sees names neither.
- **Lost state.** A Redis that restarts empty (no persistence) has forgotten the sends of the last
  window: a replica that went on would break the API's rate limits. The link marks the Redis it
  first sees with a random "born" token (``SET NX``) and checks it at most once per ``probe_interval``;
  when the token has changed, the state was lost, and `held_for` tells the pacing windows to refuse
  writes for one window from then (`RedisWindows` raises `state_lost`: nothing sent, retry after).
- Whether a failure refuses the call (a write's pacing, create dedup) or lets it go on (the
  per-session call limit) is the caller's choice: the link only raises.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from tickets_mcp.api.errors import SharedStateUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("tickets_mcp.api")

T = TypeVar("T")

# Every key of the shared state starts with this; the tag changes when the layout of the keys does.
PREFIX = "tickets-mcp:v1:"
BORN = f"{PREFIX}born"


def where(url: str) -> str:
    """The Redis a URL points at, for logs and messages: host, port and database, never credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 6379}{parts.path if parts.path not in ('', '/') else '/0'}"


class Lua:
    """A Lua script run by its SHA (EVALSHA), sent in full (EVAL, which also caches it) when the server
    does not know it yet, e.g. after a restart. Runs atomically on the server."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, client: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


# KEYS: the born key. ARGV: a new token. Returns the token of this Redis (ours if it had none).
_BORN_SCRIPT = (
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end return redis.call('GET', KEYS[1])"
)


class RedisLink:
    """The clients (one per event loop) of one Redis URL, with outage detection and one log line per change."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        probe_interval: float = 1.0,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.where = where(url)
        self.timeout = timeout
        self.probe_interval = probe_interval
        self.retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, Redis] = {}
        self._up = True  # as far as we know; the first failure logs the warning
        self._quiet_until = 0.0  # while down: fail at once until then, without touching Redis
        self._born: str | None = None  # the token of the Redis we first saw (see `held_for`)
        self._born_checked = -math.inf
        self.lost_at: float | None = None  # when we saw that Redis had lost the shared state

    def __repr__(self) -> str:
        return f"RedisLink({self.where!r})"

    @property
    def up(self) -> bool:
        """Whether the last command reached Redis (True until one fails)."""
        return self._up

    def client(self) -> Redis:
        """The client of the running event loop, made on first use there."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                for old in [lp for lp in self._clients if lp.is_closed()]:
                    del self._clients[old]  # its connections died with their loop
                client = self._clients[loop] = aioredis.Redis.from_url(
                    self.url,
                    socket_connect_timeout=self.timeout,
                    socket_timeout=self.timeout,
                    retry=Retry(NoBackoff(), 1),
                    decode_responses=True,
                    client_name="tickets-mcp",
                )
            return client

    async def run(self, command: Callable[[Redis], Awaitable[T]]) -> T:
        """Run ``command`` with this loop's client; any Redis failure raises `SharedStateUnavailable`."""
        if not self._up and self._clock() < self._quiet_until:
            raise self.unavailable()
        try:
            client = self.client()
            if self._clock() - self._born_checked >= self.probe_interval:
                await self._check_born(client)
            result = await command(client)
        except (RedisError, OSError) as exc:  # OSError includes socket timeouts
            self._failed(exc)
            raise self.unavailable() from None
        if not self._up:
            self._recovered()
        return result

    async def fresh(self) -> None:
        """Make sure `held_for` is current: check the born token if it is due (no command otherwise)."""
        await self.run(_nothing)

    async def _check_born(self, client: Redis) -> None:
        born = await _BORN(client, [BORN], [secrets.token_hex(8)])
        self._born_checked = self._clock()
        if self._born is None:
            self._born = born
        elif born != self._born:
            self._born, self.lost_at = born, self._clock()
            logger.warning(
                "shared state: Redis at %s restarted empty; ticket creations and comments wait one rate "
                "window, since the sends of the last one were forgotten",
                self.where,
            )

    def held_for(self, window: float) -> float:
        """Seconds writes must still wait because the shared state was lost within the last ``window``."""
        if self.lost_at is None:
            return 0.0
        return max(0.0, self.lost_at + window - self._clock())

    def state_lost(self, held: float) -> SharedStateUnavailable:
        wait = max(1, math.ceil(held))
        return SharedStateUnavailable(
            "shared state unavailable: the Redis that this server's replicas share restarted and forgot the "
            "writes of the last rate window, so writes wait for that window to pass (the API's own limit "
            f"still counts them); nothing was sent; retry in {wait} s.",
            retry_after=float(wait),
        )

    def unavailable(self) -> SharedStateUnavailable:
        wait = max(1, math.ceil(self.retry_after))
        return SharedStateUnavailable(
            "shared state unavailable: the Redis that this server's replicas share for rate limits and "
            f"duplicate detection does not answer; nothing was sent; retry in {wait} s.",
            retry_after=float(wait),
        )

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._quiet_until = self._clock() + self.probe_interval
            if not self._up:
                return
            self._up = False
        logger.warning(
            "shared state unavailable: Redis at %s does not answer (%s: %s); ticket creations and comments "
            "are refused until it is back, reads go on",
            self.where,
            type(exc).__name__,
            _brief(exc),
        )

    def _recovered(self) -> None:
        with self._lock:
            if self._up:
                return
            self._up = True
        logger.info("shared state: Redis at %s answers again", self.where)

    async def aclose(self) -> None:
        """Close the running loop's client; clients of other loops are dropped (they cannot be closed
        from here, and their loop's end closes their sockets)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            clients, self._clients = self._clients, {}
        mine = clients.get(loop) if loop is not None else None
        if mine is not None:
            try:
                await mine.aclose()
            except (RedisError, OSError):
                pass


_BORN = Lua(_BORN_SCRIPT)


async def _nothing(client: Redis) -> None:
    return None


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else "no details"
