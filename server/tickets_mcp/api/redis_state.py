"""`RateWindows` and `Dedup` in Redis: the state several server replicas must agree on.

Same semantics as `MemoryWindows` and `MemoryDedup` (the protocol tests run against both); what differs:

- **Time** is the Redis server's (``TIME`` inside the scripts, in milliseconds), so the replicas' clocks
  never matter. Every check-and-take is one Lua script, atomic on the server.
- **Windows**: per key two sorted sets, the finished slots (score: when the send ended) and the slots
  in flight (score: when their lease runs out). A slot in flight counts as finishing now, as in memory;
  but a replica may die mid-send, so a slot in flight holds at most ``lease`` seconds (default 300 s, more
  than any one send with its timeouts) and then counts as finished at its lease's end. Both keys get a
  PEXPIRE that covers what they hold: idle keys vanish.
- **Dedup**: an in-flight marker (``SET NX PX``, a lease of ``lease`` seconds renewed every third of it
  while the create runs, so a crashed replica's marker expires), the result stored for ``window``
  seconds, and waiters (on any replica) that poll every ``poll`` seconds until the result is there or
  the marker is gone; a failed or cancelled create deletes its marker, so exactly one waiter (the one
  whose ``SET NX`` wins) runs the create next.
- **Known numbers**: a set per credential, kept ``numbers_ttl`` seconds (default a day) after the last
  addition; the lookups that use them look back minutes.
- **Redis unreachable** (`RedisLink`): ``acquire``, ``run_once`` and ``known_numbers`` raise
  `SharedStateUnavailable` before anything is sent (the callers that may go on, like the per-session call
  limit, catch it). ``release``, ``remember_number`` and storing a create's result happen after a send
  went through: they are skipped quietly (the answer stands; a slot left in flight ends with its lease).

Keys: ``tickets-mcp:v1:<kind>:{<sha256 of the key, 32 hex>}[:part]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from tickets_mcp.api.dedup import Result, Settle
from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.redis_link import PREFIX, Lua, RedisLink
from tickets_mcp.api.windows import SAFETY

if TYPE_CHECKING:
    from redis.asyncio import Redis

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
        if self.hold_after_loss:
            await self.link.fresh()
            held = self.link.held_for(window + SAFETY)
            if held > 0:  # Redis restarted empty within the window: its sends are unknown
                raise self.link.state_lost(held)
        slot = f"{secrets.token_hex(8)}.{window_ms}"  # release() learns the window from the slot id
        args = [limit, window_ms, SAFETY_MS, _ms(self.lease), slot]
        keys = self.keys(key)
        granted, wait_ms = await self.link.run(lambda client: ACQUIRE(client, keys, args))
        if int(granted) == 1:
            return slot, 0.0
        if int(wait_ms) < 0:  # held by a send in flight: it counts as finishing now
            return None, window + SAFETY
        return None, max(int(wait_ms) / 1000, 0.001)

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


class RedisDedup:
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

    async def run_once(
        self,
        key: str,
        window: float,
        create: Callable[[], Awaitable[Result]],
        settle: Settle | None = None,
    ) -> tuple[Result, bool]:
        if window <= 0:
            return await create(), False
        keys = self.keys(key)
        token = secrets.token_hex(8)
        claim_args = [token, _ms(self.lease)]
        waited = False
        while True:
            state, value = await self.link.run(lambda client: CLAIM(client, keys, claim_args))
            if int(state) == 1:
                return json.loads(value), True
            if int(state) == 2:
                break
            waited = True
            await anyio.sleep(self.poll)  # another call (on any replica) is creating it
        # Ours now, after a call that never stored a result: it failed, or its replica died mid-write.
        # In the second case the write may have gone through: look before sending.
        taken_over: Result | None = None
        try:
            if waited and settle is not None:
                taken_over = await settle()
            result = taken_over if taken_over is not None else await self._holding(keys[1], token, create)
            stored = json.dumps(result)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._quietly(ABANDON, keys[1:], [token])  # one waiter runs it next
            raise
        await self._quietly(FINISH, keys, [token, stored, _ms(window)])
        return result, taken_over is not None

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

    async def remember_number(self, credential: str, number: int) -> None:
        key = key_name("numbers", credential)

        async def add(client: Redis) -> Any:
            async with client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, number)
                pipe.pexpire(key, _ms(self.numbers_ttl))
                return await pipe.execute()

        with contextlib.suppress(SharedStateUnavailable):  # after a write went through: never fail it
            await self.link.run(add)

    async def known_numbers(self, credential: str) -> frozenset[int]:
        key = key_name("numbers", credential)

        async def members(client: Redis) -> Any:
            return await client.smembers(key)

        return frozenset(int(n) for n in await self.link.run(members))

    async def aclose(self) -> None:
        await self.link.aclose()
