"""The request journal: what reached the API, never a token; login passwords are redacted."""

from __future__ import annotations

import threading
import time
from typing import Any

from tickets_mcp.sandbox.tickets import iso

REDACTED = "***"
SECRET_KEYS = {"password"}


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_KEYS and not isinstance(v, dict | list) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class Journal:
    def __init__(self, limit: int = 10000) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0
        self._limit = limit
        self._lock = threading.Lock()

    def reserve(self) -> int:
        """A sequence number in arrival order (the entry itself is added when the answer is sent)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, entry: dict[str, Any], started: float, seq: int | None = None) -> dict[str, Any]:
        record = {"seq": seq or self.reserve(), "time": started, "time_iso": iso(started), **entry}
        record["body"] = redact(record.get("body"))
        with self._lock:
            self._entries.append(record)
            self._entries.sort(key=lambda e: e["seq"])
            del self._entries[: -self._limit]
        return record

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @staticmethod
    def now() -> float:
        return time.time()
