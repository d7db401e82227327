"""Process-wide memory of ticket creations: identical payloads and tickets this process created.

- `run_once(key, window, create)`: the first call with a key runs ``create``; a call with the
  same key while it runs waits for it; a call within ``window`` seconds after it succeeded gets
  its result back. Failures are not remembered.
- `remember_number` / `known_numbers`: tickets this process created per credential, so the
  ambiguous-create lookup never mistakes one of them for the ticket it is looking for.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

POLL_SECONDS = 0.05

_lock = threading.Lock()
_done: dict[str, tuple[float, Any]] = {}
_running: set[str] = set()
_numbers: dict[str, set[int]] = {}


def payload_key(credential: str, operation: str, payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{credential}\x00{operation}\x00{canonical}".encode()).hexdigest()


def _purge(now: float) -> None:
    for key in [k for k, (expires, _) in _done.items() if expires <= now]:
        del _done[key]


async def run_once(key: str, window: float, create: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
    """(result, reused): ``reused`` is True when the result is an earlier call's."""
    if window <= 0:
        return await create(), False
    while True:
        with _lock:
            _purge(time.monotonic())
            if key in _done:
                return _done[key][1], True
            if key not in _running:
                _running.add(key)
                break
        await anyio.sleep(POLL_SECONDS)
    try:
        result = await create()
        with _lock:
            _done[key] = (time.monotonic() + window, result)
        return result, False
    finally:
        with _lock:
            _running.discard(key)


def remember_number(credential: str, number: int) -> None:
    with _lock:
        _numbers.setdefault(credential, set()).add(number)


def known_numbers(credential: str) -> frozenset[int]:
    with _lock:
        return frozenset(_numbers.get(credential, ()))


def reset_all() -> None:
    """Forget everything (tests)."""
    with _lock:
        _done.clear()
        _running.clear()
        _numbers.clear()
