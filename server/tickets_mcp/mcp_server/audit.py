"""The audit log for operators: one line per write, opt-in with ``TICKETS_MCP_AUDIT_LOG``.

- a file path: JSON lines, each appended with one ``write`` on a descriptor opened for it (``O_APPEND``:
  lines of several processes never interleave, and a file moved away by a rotation tool is created
  again on the next write), so every line is in the file when the write's result is returned;
- ``stderr``: the same JSON lines with ``"audit": true``, for a container's log collector;
- ``otlp``: OpenTelemetry log records (the ``otel`` extra), to the OTLP endpoint of the standard
  ``OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT`` variables (`telemetry.audit_export`).

A line is the record of `journal.WriteRecord` without its undo: a hash of the body, never the body, and
no token, password or comment text. **Each write once**, across replicas too: a create or a comment that
an identical call reused, or that another replica settled after the one sending it died, made one ticket
or comment; the first replica to record it claims its key (`Once`, in Redis when the replicas share one)
and the others write nothing. A write that cannot be audited is refused before it is sent when
``TICKETS_MCP_AUDIT_REQUIRED=true`` (`unwritable`); otherwise the failure is one warning (and one line
when it works again), and the write goes on.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.settings import Settings

logger = logging.getLogger("tickets_mcp.audit")

ONCE_TTL = 3600.0  # seconds a write's key is remembered beyond the dedup window (reuses come within it)
ONCE_KEYS = 100_000  # keys remembered in this process


class Once(Protocol):
    """Whether a key is claimed for the first time within ``ttl`` seconds: `MemoryOnce`, `redis_state.RedisOnce`."""

    async def first(self, key: str, ttl: float) -> bool: ...


class MemoryOnce:
    def __init__(self, size: int = ONCE_KEYS, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []

    async def first(self, key: str, ttl: float) -> bool:
        now = self._clock()
        while self._expiry and (self._expiry[0][0] <= now or len(self._until) > self._size):
            until, old = heapq.heappop(self._expiry)
            if self._until.get(old) == until:
                del self._until[old]
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + ttl
        heapq.heappush(self._expiry, (now + ttl, key))
        return True


class Sink(Protocol):
    def unwritable(self) -> str | None:
        """Why a line cannot be written now, or None."""

    def write(self, record: dict[str, Any]) -> None:
        """Write one record; raises `OSError` when it cannot."""

    def close(self) -> None: ...


def line_of(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class FileSink:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"the audit file {str(self.path)!r}"

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def unwritable(self) -> str | None:
        try:
            os.close(self._open())
        except OSError as exc:
            return f"{exc.strerror or type(exc).__name__}"
        return None

    def write(self, record: dict[str, Any]) -> None:
        fd = self._open()
        try:
            os.write(fd, line_of(record))
        finally:
            os.close(fd)

    def close(self) -> None:
        return None


class StderrSink:
    def __repr__(self) -> str:
        return "stderr"

    def unwritable(self) -> str | None:
        return None

    def write(self, record: dict[str, Any]) -> None:
        sys.stderr.write(line_of({"audit": True, **record}).decode())
        sys.stderr.flush()

    def close(self) -> None:
        return None


class Unavailable:
    """A sink that cannot be written: why is said by `unwritable`, and a write raises `OSError`."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return "the OTLP audit log"

    def unwritable(self) -> str | None:
        return self.why

    def write(self, record: dict[str, Any]) -> None:
        raise OSError(self.why)

    def close(self) -> None:
        return None


def sink_of(where: str, otlp: Callable[[], Sink] | None = None) -> Sink:
    """The sink of ``TICKETS_MCP_AUDIT_LOG``; ``otlp`` makes the OpenTelemetry one (`telemetry.audit_export`,
    which the server passes in: OpenTelemetry is imported only in `telemetry`)."""
    if where == "stderr":
        return StderrSink()
    if where == "otlp":
        return otlp() if otlp is not None else Unavailable("no OpenTelemetry log export in this process")
    return FileSink(Path(where).expanduser())


class AuditLog:
    """Where the audit lines go (nowhere without ``TICKETS_MCP_AUDIT_LOG``) and whether writes need it."""

    def __init__(
        self, sink: Sink | None, once: Once, *, required: bool = False, ttl: float = ONCE_TTL
    ) -> None:
        self.sink = sink
        self.once = once
        self.required = required and sink is not None
        self.ttl = ttl
        self._failing = False

    @classmethod
    def of(cls, settings: Settings, once: Once, otlp: Callable[[], Sink] | None = None) -> AuditLog:
        sink = sink_of(settings.audit_log, otlp) if settings.audit_log else None
        return cls(sink, once, required=settings.audit_required, ttl=settings.dedup_window + ONCE_TTL)

    def unwritable(self) -> str | None:
        """When the log is required: why it cannot be written now (logged), or None."""
        if not self.required or self.sink is None:
            return None
        problem = self.sink.unwritable()
        if problem is not None:
            self._failed(problem)
        return problem

    async def write(self, record: dict[str, Any], key: str | None) -> None:
        """Write ``record``, unless ``key`` (the write's own, see `journal.once_key`) was written already."""
        if self.sink is None:
            return
        if key is not None:
            try:
                if not await self.once.first(key, self.ttl):
                    return
            except SharedStateUnavailable:  # better the line twice than never
                pass
        try:
            self.sink.write(record)
        except OSError as exc:
            self._failed(exc.strerror or str(exc) or type(exc).__name__)
            return
        if self._failing:
            self._failing = False
            logger.info("audit log: %s is written again", self.sink)

    def _failed(self, problem: str) -> None:
        if self._failing:
            return
        self._failing = True
        logger.warning(
            "audit log: cannot write %s (%s); %s",
            self.sink,
            problem,
            "writes are refused until it can"
            if self.required
            else "writes go on without it (TICKETS_MCP_AUDIT_REQUIRED=true refuses them instead)",
        )

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
