"""Tool results: a short text for the model plus structured content, and errors an agent can act on.

Every handler returns `ok(...)` or `fail(...)`. `from_api_error` turns the API client's typed
exceptions into `isError` results that say what to do next: which field was wrong and its allowed
values, how long to wait (and whether this server or the API held the call), what was not found, or
which call to make first.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from tickets_mcp.api import errors
from tickets_mcp.mcp_server.safety import one_line

SHOWN_CHARACTERS = 60  # of a rejected value, in an error message
# What an operation is called in a message, when it is not its own name.
ACTIONS = {
    "create_ticket": "ticket creation",
    "create_ticket_legacy": "ticket creation",
    "add_comment": "comment",
}


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


def shown(value: Any) -> str:
    """A value quoted in a message: sanitized, on one line, at most `SHOWN_CHARACTERS` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return json.dumps(one_line(text, SHOWN_CHARACTERS), ensure_ascii=False)


def _fields_text(fields: list[Any]) -> str:
    parts = []
    for f in fields:
        text = f"{f.field}: {f.reason}"
        if f.allowed:
            listed = ", ".join(str(a) for a in list(f.allowed)[:20])
            more = f" (+{len(f.allowed) - 20} more)" if len(f.allowed) > 20 else ""
            text += f" (allowed: {listed}{more})"
        parts.append(text)
    return "; ".join(parts)


def _rate_limited(exc: errors.RateLimited) -> CallToolResult:
    wait = None if exc.retry_after is None else max(1, math.ceil(exc.retry_after))
    when = f"retry after {wait} s" if wait is not None else "retry in a minute"
    if not exc.sent:  # paced by this server: nothing went to the API
        return fail(
            f"Not sent: this server held the {ACTIONS.get(exc.operation, exc.operation)} to the Tickets API's "
            f"documented limit ({exc.message}); {when}.",
            code="paced",
            retry_after_seconds=wait,
        )
    return fail(
        f"The Tickets API refused {exc.operation} as rate limited (HTTP 429); {when}.",
        code="rate_limited",
        retry_after_seconds=wait,
    )


def _invalid(exc: errors.InvalidRequest, what: str) -> CallToolResult:
    code = exc.code or "validation_error"
    if code == "ticket_closed":
        return fail(
            f"{what.capitalize()} is closed; reopen_ticket first to continue its conversation.", code=code
        )
    if code == "ticket_not_closed":
        return fail(
            f"{what.capitalize()} is not closed, so it cannot be reopened; add_comment instead.", code=code
        )
    if code == "not_votable":
        return fail(f"{what.capitalize()} cannot be rated now: {exc.message}", code=code)
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


# What to call when a named thing is not found (by the kind of subject, see `declare.SUBJECTS`).
NEXT_STEP_IF_MISSING = {
    "ticket ": " search_tickets finds the numbers of this account's tickets.",
    "comment ": " list_comments(number=...) lists a ticket's comments with their ids.",
    "category ": " list_categories lists the category keys.",
    "product ": " list_products lists the product keys (with parent=..., a product's sub-products).",
}


def from_api_error(exc: errors.TicketsApiError, *, subject: str | None = None) -> CallToolResult:
    """Map a client exception to an actionable `isError` result; ``subject`` is what the call was about
    (``ticket 2401007``, ``comment 9100001``, ``category 'billing'``, ...)."""
    what = subject or "the request"
    if isinstance(exc, errors.RateLimited):
        return _rate_limited(exc)
    if isinstance(exc, errors.SharedStateUnavailable):  # Redis of the replicas down: refused, nothing sent
        wait = max(1, math.ceil(exc.retry_after))
        return fail(exc.message, code=exc.code, sent=False, retry_after_seconds=wait)
    if exc.code == "not_applied":
        return fail(f"Not applied: {exc.message}", code="not_applied")
    if isinstance(exc, errors.InvalidRequest):
        return _invalid(exc, what)
    if isinstance(exc, errors.NotFound):
        step = next((hint for kind, hint in NEXT_STEP_IF_MISSING.items() if what.startswith(kind)), "")
        return fail(
            f"Not found: {what} does not exist or is not visible to this account.{step}", code="not_found"
        )
    if isinstance(exc, errors.AuthError):
        return fail(
            "The Tickets API refused the credentials (HTTP "
            f"{exc.status}). Check SELECTEL_TOKEN / SELECTEL_IAM_TOKEN or the service user "
            "(`tickets-mcp doctor` checks them), or with per-request credentials the token sent in "
            "X-Selectel-Token / X-Selectel-Auth-Token.",
            code="auth",
        )
    if exc.outcome_unknown:
        return fail(
            f"The outcome is unknown: {exc.message} Do not repeat the call blindly; "
            "search_tickets or list_comments first to see whether it went through.",
            code="outcome_unknown",
        )
    if isinstance(exc, errors.ServerError) and exc.code == "malformed_response":
        return fail(
            f"The Tickets API answered {exc.operation} (HTTP {exc.status}) in a shape this server does not "
            f"read: {exc.message} Try again later; if it persists, its route or answer may have changed: "
            "`tickets-mcp doctor` checks the route table against the API.",
            code="malformed_response",
        )
    if isinstance(exc, errors.ServerError):
        return fail(
            f"The Tickets API failed on {exc.operation} (HTTP {exc.status}) after retries; try again in a minute.",
            code="server_error",
        )
    if isinstance(exc, errors.TransportError):
        return fail(f"Could not reach the Tickets API: {exc.message} Try again shortly.", code="transport")
    return fail(f"Tickets API error: {exc.message}", code=exc.code or "api_error")
