"""Client-side pacing: a burst of writes waits locally instead of provoking 429s.

The documented limits (reference §3) are counts per minute: 2 ticket creations, 60 comments.
A classic token bucket of capacity N and rate N/minute lets 2N through in some 60 s span, which
a sliding-window server refuses; so each bucket here is a *sliding-window log*: a send is allowed
when fewer than N sends of the same bucket finished within the last window. A send's time is
taken when its answer arrives (not when it left), which is never earlier than the moment the
server counted it, so the local window always trails the server's. Sends still in flight count
as "just now".

Buckets are process-wide and keyed by credential (base URL + a hash of the auth identity), so
every `TicketsClient` using the same credential shares them. Which operations draw from which
bucket is the route table's ``bucket``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anyio

Bucket = Literal["create", "comment"]

# Added to every computed wait: the server's clock and ours tick apart by a little.
SAFETY = 0.02


@dataclass(frozen=True)
class PacingPolicy:
    """Local limits per credential. ``enabled=False`` sends at once (then 429s are retried).

    ``max_wait``: the longest a call waits for its turn; None waits as long as needed. A call
    whose turn is further away raises `RateLimited` without sending.
    """

    creates_per_minute: int = 2
    comments_per_minute: int = 60
    window_seconds: float = 60.0
    enabled: bool = True
    max_wait: float | None = None

    def __post_init__(self) -> None:
        if self.creates_per_minute < 1 or self.comments_per_minute < 1:
            raise ValueError("limits must be at least 1 per window")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be > 0")

    def limit(self, bucket: Bucket) -> int:
        return self.creates_per_minute if bucket == "create" else self.comments_per_minute


class Slot:
    """One granted send. Call `done()` when its answer arrived (or it failed)."""

    __slots__ = ("_window", "finished_at")

    def __init__(self, window: SlidingWindow) -> None:
        self._window = window
        self.finished_at: float | None = None

    def done(self) -> None:
        if self.finished_at is None:
            self.finished_at = self._window.clock()


class SlidingWindow:
    """At most ``limit`` sends finished within any ``window`` seconds (thread-safe, loop-agnostic)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._slots: list[Slot] = []
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[Slot | None, float]:
        """A slot now, or (None, seconds until one may be free)."""
        with self._lock:
            now = self.clock()
            horizon = now - self.window - SAFETY
            self._slots = [s for s in self._slots if s.finished_at is None or s.finished_at > horizon]
            if len(self._slots) < self.limit:
                slot = Slot(self)
                self._slots.append(slot)
                return slot, 0.0
            finished = sorted(s.finished_at for s in self._slots if s.finished_at is not None)
            in_flight = len(self._slots) - len(finished)
            need = len(self._slots) - self.limit + 1  # slots that must expire
            if need > len(finished):  # waiting on sends still in flight: look again shortly
                return None, min(self.window, 0.05) if in_flight else self.window
            return None, max(finished[need - 1] + self.window + SAFETY - now, 0.001)

    def next_free_in(self) -> float:
        """Seconds until a slot would be free (0 if now), without taking one."""
        slot, wait = self.try_acquire()
        if slot is not None:
            with self._lock:
                self._slots.remove(slot)
            return 0.0
        return wait


_registry: dict[tuple[str, str, int, float], SlidingWindow] = {}
_registry_lock = threading.Lock()


def window_for(credential: str, bucket: Bucket, policy: PacingPolicy) -> SlidingWindow:
    """The process-wide window of one credential and bucket."""
    key = (credential, bucket, policy.limit(bucket), policy.window_seconds)
    with _registry_lock:
        window = _registry.get(key)
        if window is None:
            window = _registry[key] = SlidingWindow(policy.limit(bucket), policy.window_seconds)
        return window


def reset_all() -> None:
    """Forget every window (tests)."""
    with _registry_lock:
        _registry.clear()


async def acquire(
    window: SlidingWindow,
    *,
    on_wait: Callable[[float], Awaitable[None]] | None = None,
    max_wait: float | None = None,
) -> Slot | float:
    """Wait for a slot and return it; or return the wait in seconds if it exceeds ``max_wait``.

    ``on_wait(seconds)`` is awaited instead of sleeping when given (it sleeps and reports).
    """
    waited = 0.0
    while True:
        slot, wait = window.try_acquire()
        if slot is not None:
            return slot
        if max_wait is not None and waited + wait > max_wait:
            return waited + wait
        if on_wait is not None:
            await on_wait(wait)
        else:
            await anyio.sleep(wait)
        waited += wait
