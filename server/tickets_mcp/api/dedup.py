"""Memory of ticket creations: identical payloads and the tickets an identity's clients created.

- `Dedup.run_once(key, window, create)`: the first call with a key runs ``create``; a call with the
  same key while it runs waits for it and gets its result (``reused=True``); a call within
  ``window`` seconds after it succeeded gets its result back. Failures are not remembered: when
  the first call fails, exactly one of the waiting calls runs ``create`` itself. ``window <= 0``
  disables all of this.
- `Dedup.remember_number` / `known_numbers`: tickets created per identity, so the
  ambiguous-create lookup never mistakes one of them for the ticket it is looking for.

The interface is async and deals in strings and JSON-able dicts only (the client passes
``result.model_dump(mode="json")`` and rebuilds the model), so a Redis-backed implementation can
serve several server replicas. `MemoryDedup` is the in-process one; an object owns all its state.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import anyio

Result = dict[str, Any]
Settle = Callable[[], Awaitable[Result | None]]


def payload_key(identity: str, operation: str, payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{identity}\x00{operation}\x00{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """What a `Dedup` store answered for a key: an earlier result, the key now ours, or busy."""

    result: Result | None = None
    ours: bool = False
    handle: Any = None  # what the store needs to wait for, renew or release this claim


class Dedup:
    """The memory of writes done or in flight. `run_once` is one algorithm over a store of claims,
    which `MemoryDedup` and the Redis version (`redis_state.RedisDedup`) each supply (the primitives
    below, and the numbers)."""

    # Whether a call that takes over from one that never stored a result asks ``settle`` first: yes
    # where that call may have died mid-write elsewhere (a replica), no in one process.
    settles_takeovers: ClassVar[bool] = True

    async def _claim(self, key: str) -> Claim:
        raise NotImplementedError

    async def _wait(self, key: str, claim: Claim) -> None:
        """Until the call holding ``key`` may have ended."""
        raise NotImplementedError

    async def _run(self, key: str, claim: Claim, create: Callable[[], Awaitable[Result]]) -> Result:
        return await create()

    async def _finish(self, key: str, claim: Claim, result: Result, window: float) -> None:
        raise NotImplementedError

    async def _abandon(self, key: str, claim: Claim) -> None:
        """Give the key up without a result: one waiting call runs ``create`` next."""
        raise NotImplementedError

    async def run_once(
        self,
        key: str,
        window: float,
        create: Callable[[], Awaitable[Result]],
        settle: Settle | None = None,
    ) -> tuple[Result, bool]:
        """(result, reused): ``reused`` is True when the result is an earlier (or concurrent) call's.

        ``settle`` is asked first when this call takes over from one that was running elsewhere and never
        finished (a replica died mid-write): its result, if it finds the write went through, is taken
        as that call's (``reused``) and nothing is sent."""
        if window <= 0:
            return await create(), False
        waited = False
        while True:
            claim = await self._claim(key)
            if claim.result is not None:
                return claim.result, True
            if claim.ours:
                break
            waited = True
            await self._wait(key, claim)
        # Ours now, after a call that never stored a result: it failed, or (elsewhere) died mid-write.
        # In the second case the write may have gone through: look before sending.
        taken_over: Result | None = None
        try:
            if waited and settle is not None and self.settles_takeovers:
                taken_over = await settle()
            result = taken_over if taken_over is not None else await self._run(key, claim, create)
            await self._finish(key, claim, result, window)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._abandon(key, claim)
            raise
        return result, taken_over is not None

    async def remember_number(self, identity: str, number: int) -> None:
        """Ticket ``number`` was created by ``identity``."""
        raise NotImplementedError

    async def known_numbers(self, identity: str) -> frozenset[int]:
        """The tickets remembered for ``identity``."""
        raise NotImplementedError


class MemoryDedup(Dedup):
    """`Dedup` in this process. A call waiting for an identical one in flight awaits an
    `anyio.Event` set when that one ends (so waiters share the first call's event loop); no polling.

    Results are stored and handed back as deep copies: no caller can change what another gets.
    """

    settles_takeovers = False  # a call it waits for always ends, its own recovery having run

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._done: dict[str, tuple[float, Result]] = {}  # key -> (expires at, result)
        self._expiry: list[tuple[float, str]] = []  # (expires at, key); stale entries allowed
        self._running: dict[str, anyio.Event] = {}  # key -> set when its create ends
        self._numbers: dict[str, set[int]] = {}

    def __len__(self) -> int:
        """Results currently remembered (expired ones are purged)."""
        with self._lock:
            self._purge(self._clock())
            return len(self._done)

    async def _claim(self, key: str) -> Claim:
        with self._lock:
            self._purge(self._clock())
            hit = self._done.get(key)
            if hit is not None:
                return Claim(result=copy.deepcopy(hit[1]))
            running = self._running.get(key)
            if running is not None:
                return Claim(handle=running)
            ours = self._running[key] = anyio.Event()
            return Claim(ours=True, handle=ours)

    async def _wait(self, key: str, claim: Claim) -> None:
        await claim.handle.wait()

    async def _finish(self, key: str, claim: Claim, result: Result, window: float) -> None:
        with self._lock:
            expires = self._clock() + window
            self._done[key] = (expires, copy.deepcopy(result))
            heapq.heappush(self._expiry, (expires, key))
        await self._abandon(key, claim)  # the key is no longer running; its waiters find the result

    async def _abandon(self, key: str, claim: Claim) -> None:
        with self._lock:
            if self._running.get(key) is claim.handle:
                del self._running[key]
        claim.handle.set()

    async def remember_number(self, identity: str, number: int) -> None:
        with self._lock:
            self._numbers.setdefault(identity, set()).add(number)

    async def known_numbers(self, identity: str) -> frozenset[int]:
        with self._lock:
            return frozenset(self._numbers.get(identity, ()))

    def _purge(self, now: float) -> None:
        """Forget expired results (caller holds the lock)."""
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            hit = self._done.get(key)
            if hit is not None and hit[0] <= now:
                del self._done[key]
