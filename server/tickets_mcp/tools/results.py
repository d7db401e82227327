"""Tool results: a short text for the model plus structured content, and errors an agent can act on.

Every handler returns `ok(...)` or raises/returns `fail(...)`. `from_api_error` turns the API
client's typed exceptions into `isError` results that say what to do next: which field was
wrong and its allowed values, how long to wait, or which tool to call first.
"""

from __future__ import annotations

import math
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from tickets_mcp.api import errors


def ok(text: str, structured: BaseModel) -> CallToolResult:
    """A successful result: `text` is a short summary or compact Markdown, never the JSON again."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json", exclude_none=True),
    )


def fail(message: str, **details: Any) -> CallToolResult:
    """An `isError` result. `details` become structured content (e.g. retry_after_seconds)."""
    structured = {"error": message, **{k: v for k, v in details.items() if v is not None}}
    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        structured_content=structured,
        is_error=True,
    )


def _fields_text(fields: list[Any]) -> str:
    parts = []
    for f in fields:
        text = f"{f.field}: {f.reason}"
        if f.allowed:
            shown = ", ".join(str(a) for a in list(f.allowed)[:20])
            more = f" (+{len(f.allowed) - 20} more)" if len(f.allowed) > 20 else ""
            text += f" (allowed: {shown}{more})"
        parts.append(text)
    return "; ".join(parts)


def from_api_error(exc: errors.TicketsApiError, *, subject: str | None = None) -> CallToolResult:
    """Map a client exception to an actionable `isError` result; ``subject`` is what the call was about
    (``ticket 2401007``, ``comment 9100001``, ...)."""
    what = subject or "the request"
    if isinstance(exc, errors.RateLimited):
        wait = None if exc.retry_after is None else max(1, math.ceil(exc.retry_after))
        when = f"retry after {wait} s" if wait is not None else "retry in a minute"
        return fail(
            f"Rate limited by the Tickets API: {when}. The API allows 2 new tickets and 60 comments per minute.",
            code="rate_limited",
            retry_after_seconds=wait,
        )
    if isinstance(exc, errors.InvalidRequest):
        code = exc.code or "validation_error"
        if code == "ticket_closed":
            return fail(f"{what.capitalize()} is closed; call reopen_ticket first.", code=code)
        if code == "ticket_not_closed":
            return fail(
                f"{what.capitalize()} is not closed, so it cannot be reopened; comment instead.", code=code
            )
        if code == "not_votable":
            return fail(f"This cannot be rated now: {exc.message}", code=code)
        fields = list(exc.fields or [])
        detail = _fields_text(fields) if fields else exc.message
        prefix = "Invalid arguments, nothing was sent" if not exc.sent else "The API rejected the request"
        return fail(
            f"{prefix}: {detail}. Fix these fields and call again.",
            code=code,
            fields=[
                {"field": f.field, "reason": f.reason, **({"allowed": list(f.allowed)} if f.allowed else {})}
                for f in fields
            ]
            or None,
        )
    if isinstance(exc, errors.NotFound):
        return fail(f"Not found: {what} does not exist or is not visible to this account.", code="not_found")
    if isinstance(exc, errors.AuthError):
        return fail(
            "The Tickets API refused the credentials (HTTP "
            f"{exc.status}). Check SELECTEL_TOKEN / SELECTEL_IAM_TOKEN or the service user; "
            "`tickets-mcp doctor` checks them.",
            code="auth",
        )
    if exc.outcome_unknown:
        return fail(
            f"The outcome is unknown: {exc.message} Do not repeat the call blindly; "
            "search_tickets or list_comments first to see whether it went through.",
            code="outcome_unknown",
        )
    if isinstance(exc, errors.ServerError):
        return fail(
            f"The Tickets API failed (HTTP {exc.status}) after retries. Try again in a minute.",
            code="server_error",
        )
    if isinstance(exc, errors.TransportError):
        return fail(f"Could not reach the Tickets API: {exc.message} Try again shortly.", code="transport")
    return fail(f"Tickets API error: {exc.message}", code=exc.code or "api_error")
