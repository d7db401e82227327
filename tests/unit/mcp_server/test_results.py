"""Unit tests of tool results (`results.py`): `ok`, `fail` and `from_api_error` for each error class."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult
from pydantic import BaseModel

from tickets_mcp.api import errors
from tickets_mcp.mcp_server.declare import subject_of
from tickets_mcp.mcp_server.results import fail, from_api_error, ok, shown


def text(result: CallToolResult) -> str:
    first = result.content[0]
    assert first.type == "text"
    return first.text


def structured(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None
    return result.structured_content


class Out(BaseModel):
    count: int
    note: str | None = None


# --- ok / fail ---------------------------------------------------------------------------------------


def test_ok_is_not_an_error_and_drops_none_fields() -> None:
    result = ok("3 ticket(s) match.", Out(count=3))
    assert not result.is_error
    assert text(result) == "3 ticket(s) match."
    assert structured(result) == {"count": 3}


def test_fail_is_an_error_whose_details_skip_none() -> None:
    result = fail("Nope.", code="x", sent=False, retry_after_seconds=None)
    assert result.is_error
    assert text(result) == "Nope."
    assert structured(result) == {"error": "Nope.", "code": "x", "sent": False}


# --- rate limits -------------------------------------------------------------------------------------


def test_rate_limited_by_the_api_says_when_to_retry_rounded_up() -> None:
    exc = errors.RateLimited("slow down", operation="add_comment", retry_after=2.3)
    result = from_api_error(exc, subject="ticket 7")
    assert result.is_error
    assert structured(result)["code"] == "rate_limited"
    assert structured(result)["retry_after_seconds"] == 3
    assert text(result) == "The Tickets API refused add_comment as rate limited (HTTP 429); retry after 3 s."


def test_a_missing_or_tiny_retry_after_is_said_plainly() -> None:
    result = from_api_error(errors.RateLimited("slow down", operation="get_ticket"))
    assert "retry_after_seconds" not in structured(result)
    assert "retry in a minute" in text(result)
    brief = errors.RateLimited("slow down", operation="get_ticket", retry_after=0.01)
    assert structured(from_api_error(brief))["retry_after_seconds"] == 1  # at least one second


def test_paced_by_this_server_says_nothing_was_sent_and_names_the_action() -> None:
    exc = errors.RateLimited("2 per minute", operation="create_ticket", retry_after=40, sent=False)
    result = from_api_error(exc)
    assert structured(result)["code"] == "paced"
    assert structured(result)["retry_after_seconds"] == 40
    assert text(result).startswith("Not sent: this server held the ticket creation")
    assert "(2 per minute)" in text(result)


def test_shared_state_unavailable_is_not_sent_with_a_wait() -> None:
    exc = errors.SharedStateUnavailable("Redis is down.", retry_after=4.2)
    out = structured(from_api_error(exc))
    assert out == {
        "error": "Redis is down.",
        "code": "shared_state_unavailable",
        "sent": False,
        "retry_after_seconds": 5,
    }


# --- not found, invalid ------------------------------------------------------------------------------


def test_not_found_names_the_subject() -> None:
    result = from_api_error(
        errors.NotFound("gone", operation="get_ticket", status=404), subject="ticket 2401007"
    )
    assert structured(result)["code"] == "not_found"
    assert text(result) == (
        "Not found: ticket 2401007 does not exist or is not visible to this account. "
        "search_tickets finds the numbers of this account's tickets."
    )
    anonymous = from_api_error(errors.NotFound("gone", operation="get_ticket", status=404))
    assert text(anonymous).startswith("Not found: the request does not exist")


def test_invalid_request_lists_field_errors_with_allowed_values() -> None:
    exc = errors.InvalidRequest(
        "bad",
        operation="create_ticket",
        status=400,
        code="validation_error",
        fields=[
            errors.FieldError("categories[0]", "unknown", ["billing", "servers"]),
            errors.FieldError("summary", "too long"),
        ],
    )
    result = from_api_error(exc)
    assert result.is_error
    out = structured(result)
    assert out["code"] == "validation_error"
    assert out["fields"] == [
        {"field": "categories[0]", "reason": "unknown", "allowed": ["billing", "servers"]},
        {"field": "summary", "reason": "too long"},
    ]
    assert text(result) == (
        'The API rejected the request: categories[0]: "unknown" (allowed: billing, servers); summary: "too long". '
        "Fix these fields and call again."
    )


def test_invalid_arguments_rejected_locally_say_nothing_was_sent() -> None:
    exc = errors.invalid_arguments("add_comment", [errors.FieldError("body", "empty")])
    result = from_api_error(exc)
    assert text(result).startswith("Invalid arguments, nothing was sent: body: empty.")
    assert structured(result)["code"] == "validation_error"


def test_a_long_allowed_list_is_cut_at_twenty_with_a_count() -> None:
    allowed = [f"k{i}" for i in range(25)]
    exc = errors.InvalidRequest(
        "bad", operation="x", status=400, fields=[errors.FieldError("f", "no", allowed)]
    )
    result = from_api_error(exc)
    assert "k19 (+5 more)" in text(result) and "k20" not in text(result)
    assert structured(result)["fields"][0]["allowed"] == allowed  # the structured list is whole


def test_invalid_request_without_fields_uses_the_message() -> None:
    exc = errors.InvalidRequest("summary is required", operation="x", status=400)
    result = from_api_error(exc)
    assert "fields" not in structured(result)
    assert "summary is required" in text(result)


def test_ticket_closed_and_not_closed_say_which_tool_to_use() -> None:
    closed = errors.InvalidRequest("closed", operation="add_comment", status=400, code="ticket_closed")
    assert text(from_api_error(closed, subject="ticket 7")) == (
        "Ticket 7 is closed; reopen_ticket first to continue its conversation."
    )
    not_closed = errors.InvalidRequest(
        "open", operation="reopen_ticket", status=400, code="ticket_not_closed"
    )
    result = from_api_error(not_closed, subject="ticket 7")
    assert structured(result)["code"] == "ticket_not_closed" and "add_comment instead" in text(result)


def test_not_votable_names_the_subject() -> None:
    exc = errors.InvalidRequest("already rated", operation="rate_comment", status=400, code="not_votable")
    result = from_api_error(exc, subject="comment 9100001")
    assert text(result) == 'Comment 9100001 cannot be rated now: "already rated"'


def test_not_applied_is_its_own_code() -> None:
    exc = errors.TicketsApiError(
        "the change did not stick", operation="update_ticket", status=200, code="not_applied"
    )
    result = from_api_error(exc)
    assert structured(result)["code"] == "not_applied"
    assert text(result) == "Not applied: the change did not stick"


# --- auth, server, outcome unknown, transport ---------------------------------------------------------


def test_auth_error_points_to_the_credentials() -> None:
    result = from_api_error(errors.AuthError("no", operation="get_ticket", status=401))
    assert structured(result)["code"] == "auth"
    assert "HTTP 401" in text(result) and "SELECTEL_TOKEN" in text(result)


def test_outcome_unknown_says_not_to_repeat_blindly() -> None:
    exc = errors.ServerError(
        "timed out after send.", operation="create_ticket", status=502, outcome_unknown=True
    )
    result = from_api_error(exc)
    assert structured(result)["code"] == "outcome_unknown"
    assert "Do not repeat the call blindly" in text(result)


def test_an_ambiguous_transport_failure_is_outcome_unknown_not_transport() -> None:
    exc = errors.TransportError("read timeout.", operation="add_comment", status=None, outcome_unknown=True)
    assert structured(from_api_error(exc))["code"] == "outcome_unknown"


def test_server_error_names_the_operation_and_status() -> None:
    result = from_api_error(errors.ServerError("boom", operation="search_tickets", status=503))
    assert structured(result)["code"] == "server_error"
    assert "search_tickets (HTTP 503)" in text(result)


def test_transport_not_sent_says_the_api_could_not_be_reached() -> None:
    exc = errors.TransportError("connection refused.", operation="get_ticket", status=None, sent=False)
    result = from_api_error(exc)
    assert result.is_error
    assert structured(result)["code"] == "transport"
    assert text(result) == "Could not reach the Tickets API: connection refused. Try again shortly."


def test_any_other_api_error_keeps_its_code() -> None:
    exc = errors.TicketsApiError("odd", operation="x", status=418, code="teapot")
    assert structured(from_api_error(exc)) == {"error": 'Tickets API error: "odd"', "code": "teapot"}
    plain = errors.TicketsApiError("odd", operation="x", status=418)
    assert structured(from_api_error(plain))["code"] == "api_error"


# --- subjects and shown values ------------------------------------------------------------------------


def test_the_subject_of_a_call_comes_from_its_arguments() -> None:
    assert subject_of({"number": 7, "comment_id": 9}) == "ticket 7"
    assert subject_of({"comment_id": 9}) == "comment 9"
    assert subject_of({"category": "billing"}) == "category 'billing'"
    assert subject_of({"parent": "cloud"}) == "product 'cloud'"
    assert subject_of({"number": None, "body": "x"}) is None


def test_a_shown_value_is_quoted_on_one_line_and_cut() -> None:
    assert shown("a\nb") == '"a b"'
    assert shown("x" * 200) == '"' + "x" * 59 + '…"'  # 60 characters, the last an ellipsis
    assert shown("a\x00b") == '"ab"'
