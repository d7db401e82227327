"""Backoff policy: Retry-After, full jitter, per-wait cap and per-call budget, method safety.

What may be re-sent and how long to wait, as pure functions; the request loop in ``sending.py`` applies
it. A non-idempotent write is never re-sent after an ambiguous failure. Why not a retry library:
docs/decisions.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Longest Retry-After we take literally; beyond it the value is treated as nonsense and ignored.
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a call retries.

    - ``max_attempts``: attempts in all (first one included) for 5xx / timeouts / connection
      errors on idempotent operations, and for connect errors on any operation.
    - ``max_rate_limited_retries``: how many 429s one call sits out before giving up.
    - ``backoff_base`` / ``backoff_cap``: full jitter, ``uniform(0, min(cap, base * 2**n))``.
    - ``max_wait``: cap of any single wait, Retry-After included (longer → `RateLimited`).
    - ``budget``: total seconds one call may spend waiting between attempts.
    - ``jitter``: False makes the backoff its upper bound (deterministic tests).
    """

    max_attempts: int = 3
    max_rate_limited_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_wait: float = 30.0
    budget: float = 30.0
    jitter: bool = True
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_base, self.backoff_cap, self.max_wait, self.budget) < 0:
            raise ValueError("waits and budgets must be >= 0")
        if self.max_rate_limited_retries < 0:
            raise ValueError("max_rate_limited_retries must be >= 0")

    def backoff(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1 = first retry): full jitter, capped."""
        ceiling = backoff_ceiling(self.backoff_base, self.backoff_cap, retry_number)
        return self.rng(0.0, ceiling) if self.jitter else ceiling


@dataclass
class RetryState:
    """The bookkeeping of one call across its attempts."""

    policy: RetryPolicy
    attempts: int = 0  # requests that went out (or tried to)
    rate_limited: int = 0  # 429s seen
    waited: float = 0.0  # seconds spent waiting between attempts

    def fits(self, wait: float) -> bool:
        """Whether waiting ``wait`` more seconds stays within the per-wait cap and the budget."""
        return wait <= self.policy.max_wait and self.waited + wait <= self.policy.budget + 1e-9

    def can_retry_failure(self) -> bool:
        return self.attempts < self.policy.max_attempts

    def can_retry_rate_limit(self) -> bool:
        return self.rate_limited <= self.policy.max_rate_limited_retries


def backoff_ceiling(base: float, cap: float, retry_number: int) -> float:
    """``min(cap, base * 2**(n-1))`` without overflowing for large ``n``."""
    exponent = max(retry_number - 1, 0)
    if exponent > 60:
        return cap
    return min(cap, base * float(2**exponent))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

    Fractional deltas are accepted (some APIs send them). A date in the past gives 0. Anything
    unparseable, negative or absurd (over a day) gives None, meaning "not said".
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_RETRY_AFTER:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    seconds = (when - current).total_seconds()
    if seconds > MAX_RETRY_AFTER:
        return None
    return max(0.0, seconds)


def retry_after_from_headers(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """``retry-after-ms`` (non-standard, milliseconds) if present, else ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        seconds = parse_retry_after(millis)
        if seconds is not None:
            return seconds / 1000.0
    return parse_retry_after(headers.get("retry-after"), now=now)
