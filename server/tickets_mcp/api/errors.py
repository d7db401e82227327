"""One exception tree for the Tickets API client, by HTTP status and by cause.

```
TicketsApiError
├── AuthError          401 / 403 (and a failed service-user login)
├── NotFound           404
├── InvalidRequest     400, or arguments rejected locally before sending (status None, sent False)
├── RateLimited        429 past the retry budget; .retry_after in seconds
├── ServerError        5xx, or a success answer that could not be parsed
├── TransportError     the network: connect, timeout, dropped connection
└── SharedStateUnavailable  the Redis that replicas share cannot be reached; nothing was sent
```

Every error carries the ``operation`` name, the HTTP ``status`` (None when there was none), the
API error ``code`` (W4: ``validation_error``, ``ticket_closed``, ``not_votable``, ...), ``sent``
(whether the request may have reached the server) and ``outcome_unknown`` (a write that may or
may not have been applied). Messages say what to do next and never contain credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 500


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected field: dotted path, why, and the allowed values when the set is closed."""

    field: str
    reason: str
    allowed: list[Any] | None = None


class TicketsApiError(Exception):
    """Base of every error raised by the client."""

    default_sent: bool | None = True

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status: int | None,
        code: str | None = None,
        sent: bool | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.code = code
        self.sent = self.default_sent if sent is None else sent
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        where = f"{self.operation}" + (f" (HTTP {self.status})" if self.status is not None else "")
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(operation={self.operation!r}, status={self.status!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )


class AuthError(TicketsApiError):
    """The credentials were rejected (401) or lack permission (403)."""


class NotFound(TicketsApiError):
    """The ticket, comment or category does not exist for this account (404)."""


class InvalidRequest(TicketsApiError):
    """The request was refused as invalid (400), or rejected locally before anything was sent."""

    def __init__(self, message: str, *, fields: list[FieldError] | None = None, **details: Any) -> None:
        details.setdefault("sent", details.get("status") is not None)
        super().__init__(message, **details)
        self.fields: list[FieldError] = list(fields or [])


class RateLimited(TicketsApiError):
    """Too many requests (429); ``retry_after`` says when to come back, in seconds, if known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        details.setdefault("status", 429)
        details.setdefault("code", "rate_limited")
        super().__init__(message, **details)
        self.retry_after = retry_after


class ServerError(TicketsApiError):
    """The API failed (5xx) or answered with something that is not the documented shape."""


class TransportError(TicketsApiError):
    """The network failed. ``sent`` False means the request provably never left. ``unfinished``: the
    connection was closed on this side before the answer came, so the API may still be working on it."""

    default_sent = None

    def __init__(self, message: str, *, unfinished: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.unfinished = unfinished


class SharedStateUnavailable(TicketsApiError):
    """The state several replicas share (Redis: pacing, create dedup) could not be reached, so a write
    that depends on it was refused before anything was sent. ``retry_after``: seconds to come back in."""

    default_sent = False

    def __init__(self, message: str, *, retry_after: float, operation: str = "shared_state") -> None:
        super().__init__(
            message, operation=operation, status=None, code="shared_state_unavailable", sent=False
        )
        self.retry_after = retry_after


# -- building errors from answers ---------------------------------------------------------------

_HINTS: dict[str, str] = {
    "ticket_closed": "The ticket is closed: reopen it first if the conversation must continue.",
    "ticket_not_closed": "The ticket is not closed, so there is nothing to reopen.",
    "not_votable": "This ticket or comment cannot be rated now.",
    "validation_error": "Fix the listed fields and send the request again.",
}
_STATUS_HINTS: dict[int, str] = {
    401: "The credentials were rejected: check the token, or the service user's name, password and "
    "account id.",
    403: "The credentials lack permission for this operation (an account-scoped token is needed).",
    404: "Nothing with this identifier exists for this account: check the number or key.",
}


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line, at most ``limit`` characters, so an upstream body cannot flood a message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_error_body(body: Any) -> tuple[str | None, str | None, list[FieldError]]:
    """(code, message, fields) from an error body: W4 first, then common shapes; never raises."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            body = inner
        elif isinstance(inner, str):
            return None, inner, []
        code = body.get("code")
        message = body.get("message") or body.get("detail") or body.get("description")
        if isinstance(message, list | dict):
            message = str(message)
        fields: list[FieldError] = []
        for item in body.get("fields") or []:
            if isinstance(item, dict) and item.get("field") is not None:
                allowed = item.get("allowed")
                fields.append(
                    FieldError(
                        field=str(item["field"]),
                        reason=str(item.get("reason") or "invalid"),
                        allowed=list(allowed) if isinstance(allowed, list) else None,
                    )
                )
        return (
            str(code) if code is not None and not isinstance(code, dict | list) else None,
            str(message) if message is not None else None,
            fields,
        )
    if isinstance(body, str) and body.strip():
        return None, body, []
    return None, None, []


def error_from_status(
    operation: str,
    status: int,
    body: Any,
    *,
    retry_after: float | None = None,
    outcome_unknown: bool = False,
) -> TicketsApiError:
    """The typed error for an HTTP error answer (body already decoded, or text, or None)."""
    code, upstream, fields = parse_error_body(body)
    hint = _HINTS.get(code or "") or _STATUS_HINTS.get(status, "")
    parts = [clip(upstream) if upstream else f"HTTP {status}"]
    if fields:
        parts.append("Fields: " + "; ".join(_describe(f) for f in fields) + ".")
    if hint:
        parts.append(hint)
    message = " ".join(p if p.endswith((".", "!", "?", "…")) else p + "." for p in parts)
    if status in (401, 403):
        return AuthError(message, operation=operation, status=status, code=code)
    if status == 404:
        return NotFound(message, operation=operation, status=status, code=code)
    if status == 429:
        when = f" Retry after {retry_after:.0f} s." if retry_after is not None else ""
        return RateLimited(
            message + when, operation=operation, code=code or "rate_limited", retry_after=retry_after
        )
    if status >= 500:
        if outcome_unknown:
            message += " " + OUTCOME_UNKNOWN_HINT
        else:
            message += " The Tickets API failed; try again later."
        return ServerError(
            message, operation=operation, status=status, code=code, outcome_unknown=outcome_unknown
        )
    return InvalidRequest(message, operation=operation, status=status, code=code, fields=fields)


OUTCOME_UNKNOWN_HINT = (
    "The request may or may not have been applied: search for the result (for a new ticket, search "
    "by its summary) before trying again, or it may be duplicated."
)


def _describe(field: FieldError) -> str:
    text = f"{field.field}: {field.reason}"
    if field.allowed:
        text += " (allowed: " + ", ".join(map(str, field.allowed[:20])) + ")"
    return text


def invalid_arguments(operation: str, fields: list[FieldError]) -> InvalidRequest:
    """The error for arguments rejected locally: nothing was sent."""
    listed = "; ".join(_describe(f) for f in fields)
    return InvalidRequest(
        f"Invalid arguments, nothing was sent. {listed}.",
        operation=operation,
        status=None,
        code="validation_error",
        sent=False,
        fields=fields,
    )


__all__ = [
    "AuthError",
    "FieldError",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SharedStateUnavailable",
    "TicketsApiError",
    "TransportError",
]
