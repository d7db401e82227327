"""Logging: stderr only (stdout is the protocol in stdio mode), and never a secret.

`configure_logging` installs one stderr handler with `RedactingFilter`, which masks the configured
secrets, token header values and passwords (in JSON, also escaped inside JSON strings) in every record
(message, arguments, traceback), and cuts MCP session ids to a prefix (a session id is a handle to the
session: whoever has it can try to use it). The format is text, or JSON (`JsonFormatter`: one object per
line, for log shippers).

Levels: the chosen level applies to this project's loggers (``tickets_mcp.*``); every other logger stays at
INFO at the most verbose, because at DEBUG the libraries log whole payloads (``sse_starlette`` every
event it streams: comment bodies, consent questions; the SDK's JSON-RPC dispatch), and the HTTP libraries
stay at WARNING (httpx logs every URL at INFO).
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


OWN = "tickets_mcp"  # the loggers that follow the chosen level all the way down to DEBUG


def configure_logging(level: str, secrets: list[str], fmt: Literal["text", "json"] = "text") -> None:
    """stderr only, redacted; DEBUG for this project's loggers only, and quiet HTTP libraries."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    chosen = logging.getLevelName(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.INFO, chosen))  # third-party loggers inherit this: never DEBUG
    logging.getLogger(OWN).setLevel(chosen)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, chosen))


MASK = "***"
# A quote as it appears in logged text: plain, or escaped once or more (JSON inside a JSON string: \" and
# \\\"), or as a JSON unicode escape.
_QUOTE = r"(?:\\*[\"']|\\+u0022)"
_HEADER = re.compile(
    r"(?i)(?P<pre>\b(?:x-(?:auth-|subject-)?token|(?:proxy-)?authorization)\b" + _QUOTE + r"?\s*[:=,]\s*"
    r"(?:b?" + _QUOTE + r")?(?:(?:bearer|token|basic)\s+)?)(?P<val>[^\s\"',;)}\]\\]+)"
)
# The value runs to the same quote that opened it, at the same escape depth: an escaped quote inside it
# (one more backslash) does not end it, and a value cut off by the end of the line is masked to there.
_JSON_PASSWORD = re.compile(
    r"(?im)(?P<pre>" + _QUOTE + r"?(?:password|passwd|secret)" + _QUOTE + r"?\s*:\s*(?P<q>" + _QUOTE + r"))"
    r"(?P<val>.*?)(?=(?<!\\)(?P=q)|$)"
)
# MCP session ids (32 hex digits from the SDK, or whatever a client sent as one): kept to a prefix.
_STOP = r"\s\"',;)}\]\\"
_SEP = r"(?:" + _QUOTE + r"?\s*[:=,]\s*(?:b?" + _QUOTE + r")?|\s+)"
_SESSION_ID = re.compile(
    r"(?i)(?P<pre>\bsession(?:[ _-]?id)?" + _SEP + r")(?P<keep>[0-9a-f]{8})[0-9a-f-]{8,}"
    r"|(?P<lpre>\bsession[ _-]?id" + _SEP + r")(?P<lkeep>[^" + _STOP + r"]{1,8})[^" + _STOP + r"]+"
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Mask the given secret values (4+ characters), token header values and passwords (also escaped
    inside a JSON string) in ``text``, and cut session ids to their first 8 characters."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _HEADER.sub(lambda m: m.group("pre") + MASK, text)
    text = _JSON_PASSWORD.sub(lambda m: m.group("pre") + (MASK if m.group("val") else ""), text)
    return _SESSION_ID.sub(_cut_session_id, text)


def _cut_session_id(m: re.Match[str]) -> str:
    if m.group("pre") is not None:
        return m.group("pre") + m.group("keep") + "…"
    return m.group("lpre") + m.group("lkeep") + "…"


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
