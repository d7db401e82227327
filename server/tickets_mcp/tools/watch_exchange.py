"""Where watched threads are coordinated: in this process, or across replicas through Redis.

A watch is a (scope, ticket number) pair: the scope names the credential it is read with ("server",
or the hash of a per-request credential), so two users' ticket 5 are two watches. The watcher asks
its exchange three things:

- `claim(watch)`: should this process poll it now? In process: always. With Redis: the replica that
  holds the watch's lease (``SET NX PX``, renewed by its holder on each poll) polls it, so a ticket
  is read once per interval however many replicas have subscribers for it. A replica only competes
  for the watches its own subscribers hold (only it has their credential); when the holder loses
  its subscribers or dies, the lease runs out and another claims it.
- `changed(watch, mark)`: store what a poll saw; True if it differs from what the last poll (by any
  replica) saw. The first mark of a watch is not a change.
- `announce(watch)`: the thread changed: every process notifies its own subscribers of that watch
  (with Redis a ``PUBLISH`` that every replica, this one included, receives in `listen`).

With Redis the exchange runs its commands through the shared state's `RedisLink` (one connection, one
timeout policy, one warning per outage); an outage reaches the watcher as `SharedStateUnavailable`, and
it goes on polling.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import anyio

if TYPE_CHECKING:
    from tickets_mcp.api.redis_link import RedisLink

log = logging.getLogger("tickets_mcp.watch")
Watch = tuple[str, int]  # (scope, ticket number)
PREFIX = "tickets-mcp:v1:watch"
CHANNEL = f"{PREFIX}:changed"

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


class Exchange(Protocol):
    async def claim(self, watch: Watch) -> bool: ...

    async def changed(self, watch: Watch, mark: str) -> bool: ...

    async def announce(self, watch: Watch) -> None: ...

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


class RedisExchange:
    """Replicas sharing one Redis: leases decide who polls, marks live in Redis, changes are published."""

    def __init__(self, link: RedisLink, interval: float) -> None:
        from tickets_mcp.api.redis_link import Lua

        self._link = link
        self._me = uuid.uuid4().hex
        self._lease_ms = max(int(interval * 3000), 2000)  # three missed polls, at least 2 s
        self._mark_ms = max(int(interval * 20_000), 60_000)
        self._claim, self._swap = Lua(_CLAIM), Lua(_SWAP)

    @staticmethod
    def _key(kind: str, watch: Watch) -> str:
        return f"{PREFIX}:{kind}:{watch[0]}:{watch[1]}"

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
                log.debug("thread notifications: subscribing again after %s", type(exc).__name__)
                await anyio.sleep(1.0)


def make_exchange(link: RedisLink | None, interval: float) -> Exchange:
    """In process without a link; through the shared state's Redis with one."""
    return LocalExchange() if link is None else RedisExchange(link, interval)
