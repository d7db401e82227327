"""Sliding-window logs: the one rate-window implementation (pacing and per-session call limits).

A key allows a send when fewer than ``limit`` sends of that key finished within the last ``window``
seconds; a send counts from when its answer arrives, and one still in flight counts as finishing now.
`RateWindows` is the interface (Redis can serve it to several replicas), `MemoryWindows` the in-process
one. Why not the ``limits`` package: docs/decisions.md.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

# Added to every computed wait: the server's clock and ours tick apart by a little.
SAFETY = 0.02


@runtime_checkable
class RateWindows(Protocol):
    """Sliding-window logs keyed by strings; one object serves every key."""

    async def acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        """(slot id, 0.0) if fewer than `limit` slots of `key` finished within the last `window` seconds
        (a slot still in flight counts as finishing now); else (None, seconds until one may be free)."""
        ...

    async def release(self, key: str, slot: str) -> None:
        """The slot's send is over (answer or failure): it ages out of the window from now."""
        ...

    async def room(self, key: str, limit: int, window: float) -> float:
        """0.0 if `acquire` would grant a slot of `key` now, else the seconds it would say to wait; takes
        nothing (a send that must respect a key's window without counting in it)."""
        ...

    async def writable(self) -> None:
        """Return when a write may go out now; raise `SharedStateUnavailable` when the state the replicas
        coordinate through is out of reach (every write then fails closed, paced or not)."""
        ...


class _Log:
    """The slots of one key: slot id -> when its send ended (None while in flight)."""

    __slots__ = ("slots", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.slots: dict[str, float | None] = {}

    def prune(self, now: float) -> None:
        horizon = now - self.window - SAFETY
        expired = [sid for sid, end in self.slots.items() if end is not None and end <= horizon]
        for sid in expired:
            del self.slots[sid]

    def expires_at(self) -> float | None:
        """When the last finished slot ages out, if no send is in flight (else None)."""
        ends = list(self.slots.values())
        if not ends or any(end is None for end in ends):
            return None
        return max(end for end in ends if end is not None) + self.window + SAFETY


class MemoryWindows:
    """`RateWindows` in this process: thread-safe (a `threading.Lock`), loop-agnostic, no timers.

    Keys with nothing left in their window are dropped (an expiry heap is swept on every call), so
    memory stays bounded by the keys active within their window, however many keys come and go.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        self._expiry: list[tuple[float, str]] = []  # (when a key may be idle, key); stale entries allowed
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        """Keys currently tracked (each has a slot in flight or within its window)."""
        with self._lock:
            self._sweep(self._clock())
            return len(self._logs)

    async def acquire(self, key: str, limit: int, window: float) -> tuple[str | None, float]:
        return self._take(key, limit, window, take=True)

    async def room(self, key: str, limit: int, window: float) -> float:
        return self._take(key, limit, window, take=False)[1]

    def _take(self, key: str, limit: int, window: float, *, take: bool) -> tuple[str | None, float]:
        """(a new slot, 0.0) when there is room (taken only if ``take``), else (None, the wait)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be > 0")
        with self._lock:
            now = self._clock()
            self._sweep(now)
            log = self._logs.get(key)
            if log is None:
                if not take:
                    return None, 0.0
                log = self._logs[key] = _Log(window)
            log.window = window
            log.prune(now)
            if len(log.slots) < limit:
                if not take:
                    return None, 0.0
                slot = str(next(self._ids))
                log.slots[slot] = None
                return slot, 0.0
            finished = sorted(end for end in log.slots.values() if end is not None)
            need = len(log.slots) - limit + 1  # slots that must age out first
            if need > len(finished):  # held by a send still in flight: it counts as finishing now
                return None, window + SAFETY
            return None, max(finished[need - 1] + window + SAFETY - now, 0.001)

    async def release(self, key: str, slot: str) -> None:
        with self._lock:
            now = self._clock()
            log = self._logs.get(key)
            if log is not None and slot in log.slots and log.slots[slot] is None:
                log.slots[slot] = now
                heapq.heappush(self._expiry, (now + log.window + SAFETY, key))
            self._sweep(now)

    async def writable(self) -> None:
        return None  # this process's own memory is always there

    def _sweep(self, now: float) -> None:
        """Drop the keys whose window is empty (caller holds the lock)."""
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            log = self._logs.get(key)
            if log is None:
                continue
            log.prune(now)
            if not log.slots:
                del self._logs[key]
                continue
            expires = log.expires_at()  # the window grew since that entry was pushed
            if expires is not None and expires > now:
                heapq.heappush(self._expiry, (expires, key))
