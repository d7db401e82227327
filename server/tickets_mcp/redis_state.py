"""The state that server replicas share through Redis: the opt-in ``redis`` extra, all in this module.

It is imported only when ``TICKETS_MCP_REDIS_URL`` is set (`mcp_server.state.SharedState.in_redis`).

- `RedisLink`: the connection, and how its outages are reported. Every command runs through
  `RedisLink.run`, which turns any Redis failure into `SharedStateUnavailable` (nothing was sent; come
  back in ``retry_after`` seconds).
- `RedisWindows` and `RedisDedup`: the API client's `RateWindows` and `Dedup` (the same protocols as the
  in-process ones, run against both by the same tests); `RedisWindows` serves the call limits too.
- `RedisExchange`: who polls a watched thread, what it looked like, and who is told when it changes.

**Event loops.** A ``redis.asyncio`` client and its pooled connections belong to the event loop that made
them, while the in-process state is loop-agnostic (a test, a thread or ``anyio.run`` may bring its own
loop). So the link keeps one client per running loop, made lazily on first use there; clients of loops
that have closed are dropped when the next one is made. In production the server runs on one loop.

**Outages.** Short socket timeouts (``timeout``, default 1 s, for connecting and for each command) and one
immediate retry on a fresh connection (a restarted Redis leaves stale pooled connections), so a dead Redis
never hangs a call. After a failure the link does not touch Redis again for ``probe_interval`` seconds:
calls fail at once, and only one call per interval pays a timeout. One WARNING is logged when Redis
becomes unreachable and one INFO when it answers again. The logs name the host, never the URL's password.
Whether a failure refuses the call (a write's pacing, dedup) or lets it go on (the call limit, polling) is
the caller's choice: the link only raises. ``release``, ``remember_number`` and storing a write's result
happen after a send went through: they are skipped quietly (the answer stands; a slot left in flight ends
with its lease).

**Lost state.** A Redis that restarts empty has forgotten the sends of the last window: a replica that
went on would break the API's rate limits. The link marks the Redis it first sees with a random "born"
token (``SET NX``) and checks it at most once per ``probe_interval``; when the token has changed, `held_for`
tells the pacing windows to refuse writes for one window from then (`RedisWindows` raises `state_lost`).

**Time** is the Redis server's (``TIME`` inside the scripts, in milliseconds), so the replicas' clocks never
matter; every check-and-take is one Lua script, atomic on the server.

- **Windows**: per key two sorted sets, the finished slots (score: when the send ended) and the slots in
  flight (score: when their lease runs out). A slot in flight counts as finishing now, as in memory; a
  replica may die mid-send, so a slot in flight holds at most ``lease`` seconds and then counts as
  finished at its lease's end. Both keys get a PEXPIRE that covers what they hold: idle keys vanish.
  ``room`` answers what ``acquire`` would, read-only.
- **Dedup**: an in-flight marker (``SET NX PX``, a lease renewed every third of it while the write runs,
  so a crashed replica's marker expires), the result stored for ``window`` seconds, and waiters (on any
  replica) that poll until the result is there or the marker is gone.
- **Known numbers**: a set per identity, kept ``numbers_ttl`` seconds after the last addition.
- **Journals**: a list per session of its writes' records, newest first (``LPUSH``, ``LTRIM``); the audit
  log's claims, one ``SET NX PX`` per write that several replicas may record (`RedisOnce`).
- **Watches**: the replica that holds a watch's lease (``SET NX PX``, renewed on each poll) polls it, so a
  ticket is read once per interval however many replicas have subscribers for it; a replica only competes
  for the watches its own subscribers hold (only it has their credential). Marks live in Redis, and a
  change is a ``PUBLISH`` every replica receives.

Keys: ``tickets-mcp:v1:<kind>:{<sha256 of the key, 32 hex>}[:part]``; watches ``tickets-mcp:v1:watch:...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from tickets_mcp.api.dedup import Claim, Dedup, Result
from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.windows import SAFETY

if TYPE_CHECKING:
    from redis.asyncio import Redis

Watch = tuple[str, int]  # (identity, ticket number), as `mcp_server.subscriptions` has it

# --- the connection ---------------------------------------------------------------------------

logger = logging.getLogger("tickets_mcp.redis")

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


# --- windows and dedup ------------------------------------------------------------------------

SAFETY_MS = math.ceil(SAFETY * 1000)

# The server's time in ms: integers below 2^53, so Lua's numbers (doubles) hold them exactly.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
_KEEP = (  # extend a key's expiry to at least `ttl` ms from now, never shorten it
    "local function keep(key, ttl) if redis.call('PTTL', key) < ttl then "
    "redis.call('PEXPIRE', key, ttl) end end\n"
)

# KEYS: finished slots, slots in flight. ARGV: limit, window ms, safety ms, lease ms, slot id.
# Returns {1, 0} (granted), {0, -1} (held by a send in flight), or {0, ms until one may be free}.
ACQUIRE = Lua(
    "redis.replicate_commands()\n"
    + _NOW
    + _KEEP
    + """
local limit, window, safety, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lost = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #lost, 2 do  -- a lease ran out (its replica is gone): the send counts as ended then
  redis.call('ZADD', KEYS[1], lost[i + 1], lost[i])
  redis.call('ZREM', KEYS[2], lost[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window - safety)
local flying, done = redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[1])
if done > 0 then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  keep(KEYS[1], tonumber(newest[2]) + window + safety - now + 1)
end
if flying + done < limit then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
  keep(KEYS[2], lease + window + safety + 1)
  return {1, 0}
end
local need = flying + done - limit + 1
if need > done then return {0, -1} end
local ends = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
return {0, tonumber(ends[2]) + window + safety - now}
"""
)

# KEYS: finished slots, slots in flight. ARGV: limit, window ms, safety ms. ACQUIRE's answer, taking nothing
# (and writing nothing: a lease that ran out counts as a finished slot at its end, as ACQUIRE would file it).
ROOM = Lua(
    _NOW
    + """
local limit, window, safety = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local horizon = now - window - safety
local ends = {}
local done = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. horizon, '+inf', 'WITHSCORES')
for i = 2, #done, 2 do table.insert(ends, tonumber(done[i])) end
local lost = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 2, #lost, 2 do
  if tonumber(lost[i]) > horizon then table.insert(ends, tonumber(lost[i])) end
end
local flying = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
if flying + #ends < limit then return 0 end
local need = flying + #ends - limit + 1
if need > #ends then return -1 end
table.sort(ends)
return ends[need] + window + safety - now
"""
)

# KEYS: finished slots, slots in flight. ARGV: slot id, window ms, safety ms. Idempotent.
RELEASE = Lua(
    "redis.replicate_commands()\n"
    + _KEEP
    + """
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
"""
    + _NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
keep(KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]) + 1)
return 1
"""
)

# KEYS: result, marker. ARGV: token, lease ms. Returns {1, result}, {2, ''} (ours to run) or {0, ''} (running).
CLAIM = Lua(
    """
local done = redis.call('GET', KEYS[1])
if done then return {1, done} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, ''}
"""
)

# KEYS: result, marker. ARGV: token, result JSON, window ms.
FINISH = Lua(
    """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
)

# KEYS: marker. ARGV: token, lease ms (RENEW) / token (ABANDON). Only the marker's owner touches it.
RENEW = Lua(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
ABANDON = Lua("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")


def key_name(kind: str, key: str) -> str:
    """The Redis key of one of our keys: bounded length, any characters, one hash tag (cluster-safe)."""
    return f"{PREFIX}{kind}:{{{hashlib.sha256(key.encode()).hexdigest()[:32]}}}"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisWindows:
    """`RateWindows` in Redis: one object per replica; replicas on the same Redis share every key."""

    def __init__(self, link: RedisLink, *, lease: float = 300.0, hold_after_loss: bool = True) -> None:
        self.link = link
        self.lease = lease
        self.hold_after_loss = hold_after_loss  # pacing: yes; the per-session call limits: no

    def __repr__(self) -> str:
        return f"RedisWindows({self.link.where!r})"

    @staticmethod
    def keys(key: str) -> list[str]:
        base = key_name("win", key)
        return [f"{base}:done", f"{base}:flight"]

    async def acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be > 0")
        window_ms = _ms(window)
        await self._check_held(window)
        slot = f"{secrets.token_hex(8)}.{window_ms}"  # release() learns the window from the slot id
        args = [limit, window_ms, SAFETY_MS, _ms(self.lease), slot]
        keys = self.keys(key)
        granted, wait_ms = await self.link.run(lambda client: ACQUIRE(client, keys, args))
        if int(granted) == 1:
            return slot, 0.0
        if int(wait_ms) < 0:  # held by a send in flight: it counts as finishing now
            return None, window + SAFETY
        return None, max(int(wait_ms) / 1000, 0.001)

    async def room(self, key: str, limit: int, window: float) -> float:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be > 0")
        await self._check_held(window)
        keys = self.keys(key)
        args = [limit, _ms(window), SAFETY_MS]
        wait_ms = int(await self.link.run(lambda client: ROOM(client, keys, args)))
        if wait_ms < 0:  # held by a send in flight: it counts as finishing now
            return window + SAFETY
        return 0.0 if wait_ms == 0 else max(wait_ms / 1000, 0.001)

    async def _check_held(self, window: float) -> None:
        if self.hold_after_loss:
            await self.link.fresh()
            held = self.link.held_for(window + SAFETY)
            if held > 0:  # Redis restarted empty within the window: its sends are unknown
                raise self.link.state_lost(held)

    async def release(self, key: str, slot: str) -> None:
        _, _, window_ms = slot.rpartition(".")
        if not window_ms.isdigit():
            return  # not a slot of ours
        keys = self.keys(key)
        args = [slot, int(window_ms), SAFETY_MS]
        with contextlib.suppress(SharedStateUnavailable):  # the send is over; its lease ends the slot
            await self.link.run(lambda client: RELEASE(client, keys, args))

    async def writable(self) -> None:
        async def ping(client: Redis) -> Any:
            return await client.ping()

        await self.link.run(ping)

    async def aclose(self) -> None:
        await self.link.aclose()


class RedisDedup(Dedup):
    """`Dedup` in Redis: an identical create on any replica waits for the first and gets its result."""

    def __init__(
        self, link: RedisLink, *, lease: float = 15.0, poll: float = 0.05, numbers_ttl: float = 86400.0
    ) -> None:
        self.link = link
        self.lease = lease
        self.poll = poll
        self.numbers_ttl = numbers_ttl

    def __repr__(self) -> str:
        return f"RedisDedup({self.link.where!r})"

    @staticmethod
    def keys(key: str) -> list[str]:
        base = key_name("dedup", key)
        return [f"{base}:result", f"{base}:running"]

    async def _claim(self, key: str) -> Claim:
        token = secrets.token_hex(8)
        state, value = await self.link.run(
            lambda client: CLAIM(client, self.keys(key), [token, _ms(self.lease)])
        )
        if int(state) == 1:
            return Claim(result=json.loads(value))
        return Claim(ours=int(state) == 2, handle=token)

    async def _wait(self, key: str, claim: Claim) -> None:
        await anyio.sleep(self.poll)  # another call (on any replica) is creating it

    async def _run(self, key: str, claim: Claim, create: Callable[[], Awaitable[Result]]) -> Result:
        return await self._holding(self.keys(key)[1], claim.handle, create)

    async def _finish(self, key: str, claim: Claim, result: Result, window: float) -> None:
        await self._quietly(FINISH, self.keys(key), [claim.handle, json.dumps(result), _ms(window)])

    async def _abandon(self, key: str, claim: Claim) -> None:
        await self._quietly(ABANDON, self.keys(key)[1:], [claim.handle])

    async def _holding(self, marker: str, token: str, create: Callable[[], Awaitable[Result]]) -> Result:
        """Run ``create`` while renewing our marker's lease."""
        failure: Exception | None = None
        result: Result = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._renew, marker, token)
            try:
                result = await create()
            except Exception as exc:  # raised below, outside the task group (not as an ExceptionGroup)
                failure = exc
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result

    async def _renew(self, marker: str, token: str) -> None:
        while True:
            await anyio.sleep(self.lease / 3)
            await self._quietly(RENEW, [marker], [token, _ms(self.lease)])

    async def _quietly(self, script: Lua, keys: list[str], args: list[Any]) -> None:
        """A write after the fact: when Redis is down it is skipped (the link has logged the outage)."""

        async def command(client: Redis) -> Any:
            return await script(client, keys, args)

        with contextlib.suppress(SharedStateUnavailable):
            await self.link.run(command)

    async def remember_number(self, identity: str, number: int) -> None:
        key = key_name("numbers", identity)

        async def add(client: Redis) -> Any:
            async with client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, number)
                pipe.pexpire(key, _ms(self.numbers_ttl))
                return await pipe.execute()

        with contextlib.suppress(SharedStateUnavailable):  # after a write went through: never fail it
            await self.link.run(add)

    async def known_numbers(self, identity: str) -> frozenset[int]:
        key = key_name("numbers", identity)

        async def members(client: Redis) -> Any:
            return await client.smembers(key)

        return frozenset(int(n) for n in await self.link.run(members))

    async def aclose(self) -> None:
        await self.link.aclose()


class RedisJournal:
    """The session journals (`mcp_server.journal.JournalStore`) in Redis: a list per session, newest first,
    trimmed to ``keep`` and kept ``ttl`` seconds after its last write, so any replica lists a session's
    writes whichever replica made them."""

    def __init__(self, link: RedisLink, *, ttl: float = 86400.0) -> None:
        self.link = link
        self.ttl = ttl

    async def append(self, session: str, item: str, keep: int) -> None:
        key = key_name("journal", session)

        async def push(client: Redis) -> Any:
            async with client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, item)
                pipe.ltrim(key, 0, keep - 1)
                pipe.pexpire(key, _ms(self.ttl))
                return await pipe.execute()

        await self.link.run(push)

    async def latest(self, session: str, count: int) -> list[str]:
        key = key_name("journal", session)

        async def read(client: Redis) -> Any:
            return await client.lrange(key, 0, count - 1)

        return [str(item) for item in await self.link.run(read)]


class RedisOnce:
    """`mcp_server.audit.Once` in Redis (``SET NX PX``): one replica of all writes a write's audit line."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    async def first(self, key: str, ttl: float) -> bool:
        name = key_name("audit", key)

        async def claim(client: Redis) -> Any:
            return await client.set(name, "1", nx=True, px=_ms(ttl))

        return bool(await self.link.run(claim))


# --- watched threads --------------------------------------------------------------------------

WATCH_PREFIX = f"{PREFIX}watch"
CHANNEL = f"{WATCH_PREFIX}:changed"

# Take the lease if free, or renew it if ours; true when this replica holds it.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Store the new mark; 1 if there was an older one and it differs.
_SWAP = """
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if old ~= false and old ~= ARGV[1] then return 1 end
return 0
"""


class RedisExchange:
    """Replicas sharing one Redis: leases decide who polls, marks live in Redis, changes are published.

    The per-caller bound on watched tickets counts over every replica: per identity one sorted set
    (``watch:held:<identity>``) of ``<number>:<replica>`` members, each scored with the end of its lease
    (`HELD_LEASE`, renewed every `renew_every` seconds by `hold`), so a dead replica's tickets stop counting
    when their leases run out. `take` checks and adds in one script: the distinct numbers held, with the new
    ones, must stay within the limit."""

    HELD_LEASE = 30.0
    renew_every: float | None = HELD_LEASE / 3

    # KEYS: the held set. ARGV: replica, lease ms, limit, numbers... Returns {1, n} (taken, n now watched) or
    # {0, n} (refused, n watched already).
    _TAKE = (
        "redis.replicate_commands()\n"
        + _NOW
        + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease, limit, seen, count = tonumber(ARGV[2]), tonumber(ARGV[3]), {}, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = string.match(member, '^(%d+):')
  if n and not seen[n] then seen[n] = true count = count + 1 end
end
local held = count
for i = 4, #ARGV do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true count = count + 1 end
end
if count > limit then return {0, held} end
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now + lease, ARGV[i] .. ':' .. ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], lease)
return {1, count}
"""
    )
    # KEYS: the held set. ARGV: replica, lease ms, how many to keep, the numbers kept..., the numbers dropped...
    _HOLD = (
        "redis.replicate_commands()\n"
        + _NOW
        + """
local lease, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 4, 3 + keep do redis.call('ZADD', KEYS[1], now + lease, ARGV[i] .. ':' .. ARGV[1]) end
for i = 4 + keep, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i] .. ':' .. ARGV[1]) end
if keep > 0 then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
"""
    )

    def __init__(self, link: RedisLink, interval: float) -> None:
        self._link = link
        self._me = uuid.uuid4().hex
        self._lease_ms = max(int(interval * 3000), 2000)  # three missed polls, at least 2 s
        self._mark_ms = max(int(interval * 20_000), 60_000)
        self._claim, self._swap = Lua(_CLAIM), Lua(_SWAP)
        self._take_script, self._hold_script = Lua(self._TAKE), Lua(self._HOLD)
        self._counted: dict[str, set[int]] = {}  # what this replica has counted in Redis, per identity

    @staticmethod
    def _key(kind: str, watch: Watch) -> str:
        return f"{WATCH_PREFIX}:{kind}:{watch[0]}:{watch[1]}"

    @staticmethod
    def _held_key(identity: str) -> str:
        return f"{WATCH_PREFIX}:held:{identity}"

    async def _run(self, script: Lua, keys: list[str], args: list[Any]) -> Any:
        return await self._link.run(lambda client: script(client, keys, args))

    async def claim(self, watch: Watch) -> bool:
        keys, args = [self._key("lease", watch)], [self._me, self._lease_ms]
        return bool(await self._link.run(lambda client: self._claim(client, keys, args)))

    async def changed(self, watch: Watch, mark: str) -> bool:
        keys, args = [self._key("mark", watch)], [mark, self._mark_ms]
        return bool(await self._link.run(lambda client: self._swap(client, keys, args)))

    async def announce(self, watch: Watch) -> None:
        message = json.dumps([watch[0], watch[1]])
        await self._link.run(lambda client: client.publish(CHANNEL, message))

    def forget(self, keep: set[Watch]) -> None:
        return None  # nothing local: leases and marks expire in Redis

    async def take(self, identity: str, numbers: set[int], limit: int) -> int | None:
        keys, args = [self._held_key(identity)], [self._me, _ms(self.HELD_LEASE), limit, *sorted(numbers)]
        taken, count = await self._run(self._take_script, keys, args)
        if int(taken) != 1:
            return int(count)
        self._counted.setdefault(identity, set()).update(numbers)
        return None

    async def hold(self, held: dict[str, set[int]]) -> None:
        """Renew what was taken and is still watched here; drop what is not. A number watched here that was
        never taken (Redis was away then) is not added: it counts on this replica only."""
        for identity in list(self._counted):
            counted = self._counted[identity]
            keep, drop = counted & held.get(identity, set()), counted - held.get(identity, set())
            if keep:
                self._counted[identity] = keep
            else:
                del self._counted[identity]
            args: list[Any] = [self._me, _ms(self.HELD_LEASE), len(keep), *sorted(keep), *sorted(drop)]
            try:
                await self._run(self._hold_script, [self._held_key(identity)], args)
            except SharedStateUnavailable:
                self._counted.setdefault(identity, set()).update(drop)  # dropped again on the next renewal
                raise

    async def listen(self, notify: Callable[[Watch], Awaitable[None]]) -> None:
        """Receive every replica's announcements; subscribe again (after a pause) when Redis goes away. The
        outage itself is reported by the link, when the next poll reaches it."""
        while True:
            try:
                async with self._link.client().pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            scope, number = json.loads(message["data"])
                            await notify((str(scope), int(number)))
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:  # Redis unreachable (RedisError, OSError): retry quietly
                logger.debug("thread notifications: subscribing again after %s", type(exc).__name__)
                await anyio.sleep(1.0)
