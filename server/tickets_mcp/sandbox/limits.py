"""The documented rate limits (the vendor's rate-limit page): 2 ticket creations, 60 comments and 20
attachment uploads per minute.

A sliding window of ``60 s x time_scale`` per account and bucket (``create`` is shared by the v1
and v2 creates; ``comment`` counts added comments, not reopen comments; ``upload`` counts files stored
by the Attachments API). Only requests that
succeed are counted; the check runs after validation, just before the write. The refused request
gets 429 ``rate_limited`` with ``Retry-After`` (W5): delta-seconds rounded up (at least 1), or an
HTTP-date rounded up to the next whole second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate

from tickets_mcp.sandbox.errors import ApiError

WINDOW_SECONDS = 60.0
WHAT = {"create": "ticket creations", "comment": "comments", "upload": "attachment uploads"}


def retry_after_value(delay: float, form: str, now: float | None = None) -> str:
    """The ``Retry-After`` header for a wait of ``delay`` seconds, as delta-seconds or HTTP-date."""
    if form == "date":
        wall = time.time() if now is None else now
        return formatdate(math.ceil(wall + max(delay, 0.0)), usegmt=True)
    return str(max(1, math.ceil(delay)))


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, int],
        window: float,
        retry_after_format: str = "delta",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self.window = window
        self.retry_after_format = retry_after_format
        self.clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: tuple[str, str], now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def check(self, account: str, bucket: str) -> None:
        """Raise a 429 ``ApiError`` if one more ``bucket`` action would exceed the limit."""
        limit = self.limits[bucket]
        with self._lock:
            now = self.clock()
            hits = self._trim((account, bucket), now)
            if len(hits) < limit:
                return
            wait = hits[0] + self.window - now
        what = WHAT[bucket]
        raise ApiError(
            "rate_limited",
            f"Too many {what}: at most {limit} per minute; retry in {wait:.2f} s",
            headers={"Retry-After": retry_after_value(wait, self.retry_after_format)},
        )

    def record(self, account: str, bucket: str) -> None:
        with self._lock:
            now = self.clock()
            self._trim((account, bucket), now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
