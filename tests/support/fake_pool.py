"""Stand-ins for what a `CallerPool` holds (an entry with its API client) and the clock it reads, for the
pool's unit tests: they count closes and say whether the client is accepted or busy."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeClient:
    accepted: bool = True  # the API has accepted its credential (the pool's protected part)
    busy: bool = False  # a request of it is in flight
    closed: bool = False

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class FakeEntry:
    client: FakeClient = field(default_factory=FakeClient)
    used: float = 0.0


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now
