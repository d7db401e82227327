"""Tool results: a short text for the model plus structured content, and errors an agent can act on.

Every handler returns `ok(...)` or `fail(...)`. `from_api_error` turns the API client's typed
exceptions into `isError` results that say what to do next: which field was wrong and its allowed
values, how long to wait (and whether this server or the API held the call), what was not found, or
which call to make first.

The API's own words in an error (its message, the reasons and values of its field errors, its code) are
untrusted text, like a summary: anyone who can put text where the API echoes it writes them. They are
sanitized, put on one line, quoted (`safety.quoted`) and cut at `API_WORDS` characters; a code that is not
an identifier is not passed on. Messages this client wrote itself (nothing sent, paced, transport) are not
quoted.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from tickets_mcp.api import errors
from tickets_mcp.mcp_server.safety import one_line, quoted, sanitize

SHOWN_CHARACTERS = 60  # of a rejected value, in an error message
API_WORDS = 300  # characters of the API's own message shown in an error; the rest is cut, and said so
FIELD_WORDS = 120  # of one reason in the API's field errors
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,60}")  # an error code is an identifier, or it is not passed on
_PLAIN = re.compile(r"[\w.:@/+\[\]-]{1,60}")  # a field path or allowed value shown as is; others quoted
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


def api_words(exc: errors.TicketsApiError) -> str:
    """The message of an error, for a sentence: quoted as untrusted text when an answer of the API carried
    it (it has an HTTP status), else this client's own words (sanitized only)."""
    return quoted(exc.message, API_WORDS) if exc.status is not None else sanitize(exc.message)


def _code(exc: errors.TicketsApiError, default: str) -> str:
    return exc.code if exc.code is not None and _CODE.fullmatch(exc.code) else default


def _token(value: Any) -> str:
    """A field path or an allowed value: as is when it is a plain identifier, else quoted."""
    text = str(value)
    return text if _PLAIN.fullmatch(text) else quoted(text, SHOWN_CHARACTERS)


def _fields_text(fields: list[Any], *, answered: bool) -> str:
    """The field errors in a sentence; those of an API answer (``answered``) are untrusted: reasons quoted."""
    parts = []
    for f in fields:
        reason = quoted(f.reason, FIELD_WORDS) if answered else f.reason
        text = f"{_token(f.field) if answered else f.field}: {reason}"
        if f.allowed:
            listed = ", ".join(_token(a) if answered else str(a) for a in list(f.allowed)[:20])
            more = f" (+{len(f.allowed) - 20} more)" if len(f.allowed) > 20 else ""
            text += f" (allowed: {listed}{more})"
        parts.append(text)
    return "; ".join(parts)


def _fields_data(fields: list[Any]) -> list[dict[str, Any]] | None:
    """The field errors as structured content: each text sanitized, on one line, cut."""

    def clean(value: Any, limit: int) -> Any:
        return one_line(value, limit) if isinstance(value, str) else value

    return [
        {
            "field": clean(f.field, SHOWN_CHARACTERS),
            "reason": clean(f.reason, FIELD_WORDS),
            **({"allowed": [clean(a, SHOWN_CHARACTERS) for a in f.allowed]} if f.allowed else {}),
        }
        for f in fields
    ] or None


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
    code = _code(exc, "validation_error")
    if code == "ticket_closed":
        return fail(
            f"{what.capitalize()} is closed; reopen_ticket first to continue its conversation.", code=code
        )
    if code == "ticket_not_closed":
        return fail(
            f"{what.capitalize()} is not closed, so it cannot be reopened; add_comment instead.", code=code
        )
    if code == "not_votable":
        return fail(f"{what.capitalize()} cannot be rated now: {api_words(exc)}", code=code)
    fields = list(exc.fields or [])
    answered = exc.status is not None
    detail = _fields_text(fields, answered=answered) if fields else api_words(exc)
    prefix = "Invalid arguments, nothing was sent" if not exc.sent else "The API rejected the request"
    return fail(
        f"{prefix}: {detail}. Fix these fields and call again.", code=code, fields=_fields_data(fields)
    )


def _unknown_outcome(exc: errors.TicketsApiError) -> str:
    """The message of an ambiguous failure: the API's words (before the client's hint) quoted, the client's
    hint and what it checked afterwards (`api.recovery`) kept whole, as they say what to do."""
    if exc.status is None:
        return sanitize(exc.message)
    said, hint, checked = exc.message.partition(errors.OUTCOME_UNKNOWN_HINT)
    if not hint:
        return api_words(exc)
    return f"the API answered HTTP {exc.status}: {quoted(said, API_WORDS)}. {hint}{sanitize(checked)}"


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
    if exc.code == "not_applied":  # the client's own words: what it read back (`api.recovery`)
        return fail(f"Not applied: {sanitize(exc.message)}", code="not_applied")
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
            f"The outcome is unknown: {_unknown_outcome(exc)} Do not repeat the call blindly; "
            "search_tickets or list_comments first to see whether it went through.",
            code="outcome_unknown",
        )
    if isinstance(exc, errors.ServerError) and exc.code == "malformed_response":
        return fail(
            f"The Tickets API answered {exc.operation} (HTTP {exc.status}) in a shape this server does not "
            f"read: {sanitize(exc.message)} Try again later; if it persists, its route or answer may have changed: "
            "`tickets-mcp doctor` checks the route table against the API.",
            code="malformed_response",
        )
    if isinstance(exc, errors.ServerError):
        return fail(
            f"The Tickets API failed on {exc.operation} (HTTP {exc.status}) after retries; try again in a minute.",
            code="server_error",
        )
    if isinstance(exc, errors.TransportError):
        return fail(
            f"Could not reach the Tickets API: {sanitize(exc.message)} Try again shortly.", code="transport"
        )
    return fail(f"Tickets API error: {api_words(exc)}", code=_code(exc, "api_error"))
