"""Logging: stderr only (stdout is the protocol in stdio mode), and never a secret.

`configure_logging` installs one stderr handler with `RedactingFilter`, which masks the configured
secrets, token header values and JSON passwords in every record (message, arguments, traceback).
The format is text, or JSON (`JsonFormatter`: one object per line, for log shippers).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Literal

NOISY = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "urllib3",  # the OTLP exporter's HTTP client
    "uvicorn.access",
    "mcp.server.lowlevel.server",
)


def configure_logging(level: str, secrets: list[str], fmt: Literal["text", "json"] = "text") -> None:
    """stderr only, redacted, and quiet HTTP libraries (httpx logs every URL at INFO)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


MASK = "***"
_HEADER = re.compile(
    r"(?i)(?P<pre>\b(?:x-(?:auth-|subject-)?token|(?:proxy-)?authorization)\b[\"']?\s*[:=,]\s*(?:b?[\"'])?"
    r"(?:(?:bearer|token|basic)\s+)?)(?P<val>[^\s\"',;)}\]]+)"
)
_JSON_PASSWORD = re.compile(
    r"(?i)(?P<pre>[\"']?(?:password|passwd|secret)[\"']?\s*:\s*[\"'])(?P<val>[^\"']*)"
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Mask the given secret values (4+ characters), token header values and JSON passwords in ``text``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _HEADER.sub(lambda m: m.group("pre") + MASK, text)
    return _JSON_PASSWORD.sub(lambda m: m.group("pre") + (MASK if m.group("val") else ""), text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's message, args, traceback and stack text.

    ``secrets`` is an iterable of secret strings or a callable returning one (called per record, so a
    refreshed token is picked up). The filter never raises and never drops a record.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]] | Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        self._secrets: Callable[[], Iterable[str]]
        if callable(secrets):
            self._secrets = secrets
        else:
            fixed = tuple(secrets)
            self._secrets = lambda: fixed

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            try:
                secrets = tuple(s for s in self._secrets() if isinstance(s, str))
            except Exception:
                secrets = ()
            try:
                message = record.getMessage()
            except Exception:  # bad format args: keep both parts, redacted, rather than lose the record
                message = f"{record.msg} {record.args!r}"
            record.msg = redact(message, secrets)
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text, secrets)
            if record.stack_info:
                record.stack_info = redact(record.stack_info, secrets)
        except Exception:
            try:
                record.msg, record.args = "<log message dropped by RedactingFilter: formatting failed>", None
            except Exception:
                pass
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``; then
    ``exc_info`` and ``stack_info`` (text) when the record has them, and ``trace_id``/``span_id`` when it
    was logged inside a span (`otel.TraceContextFilter` sets them). Non-ASCII is escaped, so a record is
    always exactly one line. The redacting filter runs first: message and traceback are already masked.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        for key in ("trace_id", "span_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        return json.dumps(entry, default=str)
