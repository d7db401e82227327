"""What a demanding assistant trips on at the edges of drafting and writing, through a real MCP client in
both protocol eras; the sandbox journal says what was and was not sent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult

from support.mcp_client import Elicitor, text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio

DRAFT = {
    "categories": ["cloud_servers"],
    "category_fields": [{"key": "region", "values": ["ru-9"]}],
    "comment_body": "Ping to the floating IP times out.",
}


def creates(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sandbox.writes() if str(e["path"]).endswith("/v2/tickets")]


async def new_ticket(client: Client) -> int:
    created = await client.call_tool("create_ticket", {"summary": f"edge {uuid.uuid4().hex[:8]}", **DRAFT})
    assert not created.is_error, text_of(created)
    return int(created.structured_content["ticket"]["number"])


# -- drafting -----------------------------------------------------------------------------------------


async def test_stray_spaces_around_keys_are_trimmed_before_checking_and_sending(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    spaced = {
        "summary": f"spaces {uuid.uuid4().hex[:8]}",
        "categories": [" cloud_servers "],
        "category_fields": [{"key": "region ", "values": [" ru-9"]}],
        "comment_body": "x",
    }
    dry = await client.call_tool("create_ticket", {**spaced, "dry_run": True})
    assert not dry.is_error and dry.structured_content["problems"] == [], text_of(dry)
    made = await client.call_tool("create_ticket", spaced)
    assert not made.is_error, text_of(made)
    (sent,) = creates(sandbox)
    assert sent["body"]["categories"] == ["cloud_servers"]
    assert sent["body"]["category_fields"] == [{"key": "region", "values": ["ru-9"]}]


async def test_an_empty_object_means_none_so_a_retry_with_it_is_the_same_ticket(
    sandbox: SandboxHandle, era: str
) -> None:
    server = build_server(make_settings(sandbox, dedup_window=60))  # the e2e default turns dedup off
    async with Client(server, mode=era) as c:  # type: ignore[arg-type]
        sandbox.clear_journal()
        draft = {"summary": f"retry {uuid.uuid4().hex[:8]}", **DRAFT}
        first = await c.call_tool("create_ticket", draft)
        again = await c.call_tool(
            "create_ticket", {**draft, "body_values": {}, "products": [], "files": None}
        )
    assert not first.is_error and not again.is_error, text_of(again)
    assert first.structured_content["ticket"]["number"] == again.structured_content["ticket"]["number"]
    assert len(creates(sandbox)) == 1


async def test_a_refused_create_is_an_error_with_the_code_and_the_next_call(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    result = await client.call_tool(
        "create_ticket", {"summary": "No region", "categories": ["cloud_servers"]}
    )
    assert result.is_error and result.structured_content["code"] == "draft_invalid"
    assert "create_ticket" in text_of(result) and "dry_run=true" in text_of(result)
    dry = await client.call_tool(
        "create_ticket", {"summary": "No region", "categories": ["cloud_servers"], "dry_run": True}
    )
    assert not dry.is_error and dry.structured_content["outcome"] == "dry_run"  # a verdict, not an error
    assert sandbox.writes() == []


async def test_unknown_arguments_are_ignored_and_named_in_the_result(
    client: Client, sandbox: SandboxHandle
) -> None:
    result = await client.call_tool(
        "create_ticket", {"summary": "x", **DRAFT, "priority": "high", "dry_run": True, "assignee": "me"}
    )
    assert not result.is_error, text_of(result)
    assert "Ignored argument(s) this tool does not take: assignee, priority." in text_of(result)
    assert result.structured_content["ignored_arguments"] == ["assignee", "priority"]
    plain = await client.call_tool("count_tickets", {})
    assert "Ignored" not in text_of(plain) and "ignored_arguments" not in plain.structured_content


# -- writes -------------------------------------------------------------------------------------------


async def test_a_doomed_reopen_or_comment_is_never_sent_and_names_the_next_call(
    client: Client, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    sandbox.clear_journal()
    reopen = await client.call_tool("reopen_ticket", {"number": number, "body": "It is back."})
    assert reopen.is_error and reopen.structured_content["code"] == "ticket_not_closed"
    assert f"add_comment(number={number}" in text_of(reopen)
    closed = await client.call_tool("close_ticket", {"number": number})
    assert not closed.is_error, text_of(closed)
    sandbox.clear_journal()
    comment = await client.call_tool("add_comment", {"number": number, "body": "One more thing."})
    assert comment.is_error and comment.structured_content["code"] == "ticket_closed"
    assert f"reopen_ticket(number={number}" in text_of(comment)
    assert sandbox.writes() == []


async def test_a_malformed_consent_answer_says_what_was_wrong_and_sends_nothing(
    sandbox: SandboxHandle, era: str
) -> None:
    async def answer(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": "maybe"})

    async with Client(build_server(make_settings(sandbox)), mode=era, elicitation_callback=answer) as c:  # type: ignore[arg-type]
        number = await new_ticket(c)
        sandbox.clear_journal()
        result = await c.call_tool("close_ticket", {"number": number})
    text = text_of(result)
    assert result.is_error and result.structured_content["code"] == "consent_malformed"
    assert '{"confirm": true}' in text and "Resolver" not in text and "tickets_mcp" not in text
    assert sandbox.writes() == []


async def test_the_consent_question_shows_exactly_the_body_sent(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    elicitor.questions.clear()
    sandbox.clear_journal()
    body = "db password=Hunter22!x"  # a secret, so the user is asked
    result = await client.call_tool("add_comment", {"number": number, "body": body})
    assert not result.is_error, text_of(result)
    (question,) = elicitor.questions
    shown = json.loads(question.split("Tickets API: ", 1)[1].split("\n", 1)[0])
    (sent,) = [e for e in sandbox.writes() if str(e["path"]).endswith("/comments")]
    assert set(shown) == set(sent["body"]) == {"body"}  # no "files": null that is not sent


async def test_a_secret_in_a_category_field_value_asks_first(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    elicitor.action = "decline"
    sandbox.clear_journal()
    draft = {
        "summary": f"field secret {uuid.uuid4().hex[:8]}",
        "categories": ["cloud_servers"],
        "category_fields": [
            {"key": "region", "values": ["ru-9"]},
            {"key": "server_id", "values": ["password=Hunter22!x"]},
        ],
    }
    result = await client.call_tool("create_ticket", draft)
    assert result.structured_content["sent"] is False, text_of(result)
    (question,) = elicitor.questions
    assert "password in category_fields[1]" in question and "Hunter22" not in question
    assert creates(sandbox) == []


# -- errors -------------------------------------------------------------------------------------------


async def test_a_ticket_not_found_names_the_next_step(client: Client) -> None:
    result = await client.call_tool("get_ticket", {"number": 999999999})
    assert result.is_error and result.structured_content["code"] == "not_found"
    assert "ticket 999999999" in text_of(result) and "search_tickets" in text_of(result)


async def test_an_unreadable_answer_says_what_was_wrong_and_points_at_doctor(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.set_faults({"sequence": ["malformed"] * 10, "methods": ["GET"], "path_prefix": "/v2/tickets/"})
    try:
        result = await client.call_tool("get_ticket", {"number": 2401006})
    finally:
        sandbox.set_faults(None)
    text = text_of(result)
    assert result.is_error and result.structured_content["code"] == "malformed_response"
    assert "not JSON" in text and "tickets-mcp doctor" in text and "after retries" not in text
