"""State the clients of one credential share: rate windows and the create dedup.

In process by default (`SharedState.in_memory`); `SharedState.in_redis(url)` is the same state in a Redis
that several server replicas share (``redis_state.py``; the ``redis`` package is imported only then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tickets_mcp.api.dedup import Dedup, MemoryDedup
from tickets_mcp.api.windows import MemoryWindows, RateWindows

if TYPE_CHECKING:
    from tickets_mcp.api.redis_link import RedisLink


@dataclass(frozen=True)
class SharedState:
    """What the calls of one credential must agree on: rate windows and create dedup. In process by default;
    one object may serve many clients, and a Redis-backed one many replicas."""

    windows: RateWindows
    dedup: Dedup
    limits: RateWindows = field(default_factory=MemoryWindows)  # per-session call limits (never held)
    redis: RedisLink | None = None  # the connection of the Redis-backed state, for other shared parts

    @classmethod
    def in_memory(cls) -> SharedState:
        """Fresh in-process state, shared with nothing else."""
        return cls(windows=MemoryWindows(), dedup=MemoryDedup())

    @classmethod
    def in_redis(cls, url: str, *, timeout: float = 1.0, slot_lease: float = 300.0) -> SharedState:
        """State in the Redis at ``url``, shared with every replica using it; one connection (per event
        loop) serves both. ``slot_lease``: the longest a send may hold a pacing slot (a crashed replica's
        slot is freed then). Raises ImportError when the ``redis`` package is not installed."""
        from tickets_mcp.api.redis_link import RedisLink
        from tickets_mcp.api.redis_state import RedisDedup, RedisWindows

        link = RedisLink(url, timeout=timeout)
        return cls(
            windows=RedisWindows(link, lease=slot_lease),
            dedup=RedisDedup(link),
            limits=RedisWindows(link, lease=slot_lease, hold_after_loss=False),
            redis=link,
        )

    async def aclose(self) -> None:
        """Close what the state holds open (a Redis connection); in-process state holds nothing."""
        for part in (self.windows, self.dedup, self.limits):
            close = getattr(part, "aclose", None)
            if close is not None:
                await close()
