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

    def append(self, entry: dict[str, Any], started: float) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, "time": started, "time_iso": iso(started), **entry}
            record["body"] = redact(record.get("body"))
            self._entries.append(record)
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
