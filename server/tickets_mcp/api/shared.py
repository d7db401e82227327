"""State the clients of one credential share: rate windows and the create dedup."""

from __future__ import annotations

from dataclasses import dataclass

from tickets_mcp.api.dedup import Dedup, MemoryDedup
from tickets_mcp.api.windows import MemoryWindows, RateWindows


@dataclass(frozen=True)
class SharedState:
    """What the calls of one credential must agree on: rate windows and create dedup. In process by default;
    one object may serve many clients (and later be backed by Redis)."""

    windows: RateWindows
    dedup: Dedup

    @classmethod
    def in_memory(cls) -> SharedState:
        """Fresh in-process state, shared with nothing else."""
        return cls(windows=MemoryWindows(), dedup=MemoryDedup())
