"""Client-side pacing: a burst of writes waits locally instead of provoking 429s.

The documented limits (the vendor's rate-limit page) are counts per minute: 2 ticket creations, 60 comments,
20 attachment uploads (the Attachments API).
A classic token bucket of capacity N and rate N/minute lets 2N through in some 60 s span, which
a sliding-window server refuses; so each bucket here is a *sliding-window log* (``windows.py``):
a send is allowed when fewer than N sends of the same bucket finished within the last window. A
send's time is taken when its answer arrives (not when it left), which is never earlier than the
moment the server counted it, so the local window always trails the server's. Sends still in
flight count as "just now".

A `Pacer` paces one credential (base URL + a hash of the auth identity); its windows live in the
`RateWindows` object it is given (the client's shared state), keyed ``pace:<who>:<bucket>``, so every
client handed the same windows shares the buckets. Which operations draw from which bucket is the
route table's ``bucket``.

The API counts its limits per account, so the tokens of one account share its windows: ``<who>`` is the
account. But a static token names its account unverified (``..._<account>``), and a made-up token must not
spend a real account's budget. So the account's windows count only the sends of a credential the API has
accepted (``accepted()``). Until then a send is paced by its credential's own window, waits until the
account's window has room without taking a slot of it (`RateWindows.room`), and, once the answer shows
the credential was accepted, is counted in the account's window after the fact. A refused (401/403)
token thus never touches the account's windows, while a real token is paced with its account from its
first send, on every replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import anyio

from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.api.windows import SAFETY, RateWindows

Bucket = Literal["create", "comment", "upload"]

__all__ = ["SAFETY", "Bucket", "Pacer", "PacingPolicy", "PacingTimeout"]

# While the slot we wait for is held by a send still in flight, look again this often (at most).
IN_FLIGHT_POLL = 0.05


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
    uploads_per_minute: int = 20

    def __post_init__(self) -> None:
        if min(self.creates_per_minute, self.comments_per_minute, self.uploads_per_minute) < 1:
            raise ValueError("limits must be at least 1 per window")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be > 0")

    def limit(self, bucket: Bucket) -> int:
        if bucket == "upload":
            return self.uploads_per_minute
        return self.creates_per_minute if bucket == "create" else self.comments_per_minute


class PacingTimeout(Exception):
    """The turn is further away than ``policy.max_wait``; nothing was sent and no slot is held.

    ``wait``: seconds from now until the slot would be free (a lower bound while the slot is held by
    a send still in flight).
    """

    def __init__(self, wait: float, bucket: Bucket, limit: int) -> None:
        super().__init__(f"the next {bucket} slot (limit {limit}) is free in {wait:.2f} s")
        self.wait = wait
        self.bucket = bucket
        self.limit = limit


# The limit of an after-the-fact count (`Pacer._count`): it is always taken.
UNLIMITED = 2**31


class Pacer:
    """The pacing of one credential under one policy, over shared `RateWindows`: by ``account`` (the key of
    the account's windows, None when the credential does not show one) once ``accepted()``, else by
    ``credential``."""

    def __init__(
        self,
        policy: PacingPolicy,
        windows: RateWindows,
        credential: str,
        *,
        account: str | None = None,
        accepted: Callable[[], bool] = lambda: True,
    ) -> None:
        self.policy = policy
        self.windows = windows
        self.credential = credential
        self.account = account
        self.accepted = accepted

    def key(self, bucket: Bucket, who: str | None = None) -> str:
        return f"pace:{who or self.credential}:{bucket}"

    @asynccontextmanager
    async def slot(
        self, bucket: Bucket, *, on_wait: Callable[[float], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Wait for a free slot of `bucket` (calling on_wait(seconds) instead of sleeping when given), hold it
        while the block runs (the send), release it when the block exits, answer or exception.
        Raises PacingTimeout without waiting when the wait would exceed policy.max_wait."""
        if not self.policy.enabled:
            yield
            return
        account = None if self.account is None else self.key(bucket, self.account)
        counted = account is None or self.accepted()
        waited = 0.0
        if account is not None and not counted:  # the account's window must have room; it is not charged
            _, waited = await self._turn(account, bucket, on_wait, waited, take=False)
        key = account if account is not None and counted else self.key(bucket)
        slot, _ = await self._turn(key, bucket, on_wait, waited, take=True)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled send must still free its slot
                await self.windows.release(key, slot)
                if account is not None and not counted and self.accepted():
                    await self._count(account)

    async def _count(self, key: str) -> None:
        """Count a send that is over in ``key``'s window: the account's, after its credential was accepted."""
        try:
            slot, _ = await self.windows.acquire(key, UNLIMITED, self.policy.window_seconds)
            if slot is not None:
                await self.windows.release(key, slot)
        except SharedStateUnavailable:  # the send is done and its answer stands; only the count is lost
            pass

    async def _turn(
        self,
        key: str,
        bucket: Bucket,
        on_wait: Callable[[float], Awaitable[None]] | None,
        waited: float,
        *,
        take: bool,
    ) -> tuple[str, float]:
        """Wait until ``key`` has room, then (a slot of it if ``take``, else "", the total wait). ``waited``:
        what the send waited before this turn, for ``max_wait``."""
        limit = self.policy.limit(bucket)
        window = self.policy.window_seconds
        max_wait = self.policy.max_wait
        while True:
            if take:
                slot, wait = await self.windows.acquire(key, limit, window)
                if slot is not None:
                    return slot, waited
            else:
                wait = await self.windows.room(key, limit, window)
                if wait <= 0:
                    return "", waited
            if max_wait is not None and waited + wait > max_wait:
                raise PacingTimeout(wait, bucket, limit)
            if wait >= window + SAFETY - 1e-9:  # held by a send in flight: its end is unknown
                wait = min(window, IN_FLIGHT_POLL)
            if on_wait is not None:
                await on_wait(wait)
            else:
                await anyio.sleep(wait)
            waited += wait
