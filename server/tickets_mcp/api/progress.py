"""Progress reporting through a context variable, so no method needs a callback parameter.

```python
async def on_progress(progress: float, total: float | None, message: str) -> None: ...

with reporting_progress(on_progress):
    await client.create_ticket(...)   # waits for pacing or Retry-After report progress here
```

Within one ``reporting_progress`` block the reported ``progress`` only ever increases (MCP
requires that): each wait or pagination run is a phase that continues from where the last one
ended. Units are seconds for waits and pages for pagination; ``total`` is given when known.
A callback that raises is logged and ignored: progress never breaks a call.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import anyio

logger = logging.getLogger("tickets_mcp.api")

ProgressCallback = Callable[[float, float | None, str], Awaitable[None] | None]

TICK_SECONDS = 1.0


class _Reporter:
    def __init__(self, callback: ProgressCallback) -> None:
        self.callback = callback
        self.offset = 0.0
        self.last = 0.0
        self.emitted = False

    async def emit(self, local: float, local_total: float | None, message: str) -> None:
        value = self.offset + max(local, 0.0)
        if self.emitted and value <= self.last:
            return
        total = None if local_total is None else self.offset + local_total
        self.last, self.emitted = value, True
        try:
            result = self.callback(value, total, message)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.warning("progress callback failed; ignored", exc_info=True)

    def end_phase(self) -> None:
        if self.emitted:
            self.offset = self.last + 1.0


_current: ContextVar[_Reporter | None] = ContextVar("tickets_mcp_api_progress", default=None)


@contextmanager
def reporting_progress(callback: ProgressCallback) -> Iterator[None]:
    """While the block runs, client waits and page fetches call ``callback(progress, total, message)``."""
    token = _current.set(_Reporter(callback))
    try:
        yield
    finally:
        _current.reset(token)


async def report(done: float, total: float | None, message: str) -> None:
    """Report one step of the current phase (no-op without a `reporting_progress` block)."""
    reporter = _current.get()
    if reporter is not None:
        await reporter.emit(done, total, message)


def end_phase() -> None:
    reporter = _current.get()
    if reporter is not None:
        reporter.end_phase()


async def sleep_reporting(seconds: float, message: str) -> None:
    """Sleep ``seconds``, reporting progress about once a second when someone listens."""
    if seconds <= 0:
        return
    if _current.get() is None:
        await anyio.sleep(seconds)
        return
    start = time.monotonic()
    total = round(seconds, 3)
    try:
        while True:
            elapsed = time.monotonic() - start
            left = seconds - elapsed
            if left <= 0:
                break
            await report(elapsed, total, f"{message} ({math.ceil(left)} s left)")
            await anyio.sleep(min(TICK_SECONDS, left))
        await report(seconds, total, f"{message}: done")
    finally:
        end_phase()
