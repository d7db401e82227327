"""Every write tells the truth (consent, secrets, hygiene, refusals), in both protocol eras.

The sandbox journal is the truth about what was sent: each case checks it, with a declining and an
accepting user where a question is asked, and that a refused request asks nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from mcp import Client

from support.mcp_client import Elicitor, text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio

SECRET_TEXT = "Login fails. root password: Sup3rS3cret!x, key AKIAIOSFODNN7EXAMPLE"
SECRET_PARTS = ("Sup3rS3cret!x", "AKIAIOSFODNN7EXAMPLE")
ORDINARY_LOG = (
    "2026-11-30T10:00:01Z ERROR request 3f2b8c1e-9a4d-4e7b-8c21-0d9e6f5a4b3c failed\n"
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, exit code 137"
)
PROJECT = "7d3f2c1b9a8e4f6d8c2b1a0e9f8d7c6b"


def posts(sandbox: SandboxHandle, path_end: str = "") -> list[dict[str, Any]]:
    return [e for e in sandbox.writes() if e["path"].endswith(path_end)]


def sent_json(question: str) -> Any:
    """The body a consent question says it will send."""
    return json.loads(question.split("This will be sent to the Selectel Tickets API: ", 1)[1].split("\n")[0])


async def new_ticket(client: Client, **extra: Any) -> int:
    args = {
        "summary": f"e2e writes {uuid.uuid4().hex[:8]}",
        "categories": ["cloud_servers"],
        "category_fields": [{"key": "region", "values": ["ru-9"]}],
        "comment_body": "Ping to the floating IP times out.",
        **extra,
    }
    created = await client.call_tool("create_ticket", args)
    assert not created.is_error, text_of(created)
    return int(created.structured_content["ticket"]["number"])


async def answered_ticket(client: Client, sandbox: SandboxHandle) -> tuple[int, int]:
    """A fresh open ticket with one support reply (so it and the reply can be rated)."""
    number = await new_ticket(client)
    reply = sandbox.support_reply(number, "Please try again now.")
    return number, int(reply["id"])


# -- secrets: every outbound text, declined and accepted -----------------------------------------------

Case = Callable[[Client, SandboxHandle], Awaitable[tuple[str, dict[str, Any], str]]]


async def _comment(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    return "add_comment", {"number": await new_ticket(c), "body": SECRET_TEXT}, "/comments"


async def _summary(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    args = {"summary": SECRET_TEXT, "categories": ["billing"]}
    return (
        "create_ticket",
        {**args, "category_fields": [{"key": "question_type", "values": ["invoice"]}]},
        "/v2/tickets",
    )


async def _first_comment(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    args = {
        "summary": f"secret in body {uuid.uuid4().hex[:6]}",
        "categories": ["dns"],
        "comment_body": SECRET_TEXT,
    }
    return (
        "create_ticket",
        {**args, "category_fields": [{"key": "zone", "values": ["example.com"]}]},
        "/v2/tickets",
    )


async def _reopen(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    number = await new_ticket(c)
    closed = await c.call_tool("close_ticket", {"number": number})
    assert closed.structured_content["sent"] is True
    return "reopen_ticket", {"number": number, "body": SECRET_TEXT}, "/reopen"


async def _close(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    return "close_ticket", {"number": await new_ticket(c), "score": 4, "comment": SECRET_TEXT}, "/close"


async def _rate_ticket(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    number, _ = await answered_ticket(c, sb)
    return "rate_ticket", {"number": number, "score": 8, "comment": SECRET_TEXT}, "/vote"


async def _rate_comment(c: Client, sb: SandboxHandle) -> tuple[str, dict[str, Any], str]:
    _, reply = await answered_ticket(c, sb)
    return "rate_comment", {"comment_id": reply, "score": 1, "comment": SECRET_TEXT}, "/vote"


SECRET_CASES: dict[str, Case] = {
    "add_comment.body": _comment,
    "create_ticket.summary": _summary,
    "create_ticket.comment_body": _first_comment,
    "reopen_ticket.body": _reopen,
    "close_ticket.comment": _close,
    "rate_ticket.comment": _rate_ticket,
    "rate_comment.comment": _rate_comment,
}


@pytest.mark.parametrize("case", sorted(SECRET_CASES))
@pytest.mark.parametrize("answer", ["decline", "accept"])
async def test_a_secret_is_sent_only_when_the_user_agrees(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle, case: str, answer: str
) -> None:
    tool, args, path = await SECRET_CASES[case](client, sandbox)
    where = case.split(".")[1]
    elicitor.questions.clear()
    elicitor.action = answer
    sandbox.clear_journal()
    result = await client.call_tool(tool, args)
    question = elicitor.questions[-1]
    assert "password" in question and "AWS access key" in question and where in question, question
    assert not any(part in question for part in SECRET_PARTS), "the question echoes the secret"
    if answer == "decline":
        assert result.structured_content["sent"] is False and "Not sent" in text_of(result)
        assert posts(sandbox, path) == [] and sandbox.writes() == []
    else:
        assert not result.is_error, text_of(result)
        (sent,) = posts(sandbox, path)
        assert SECRET_TEXT in json.dumps(sent["body"], ensure_ascii=False)  # exactly what was approved
        assert not any(part in text_of(result) for part in SECRET_PARTS)


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_without_elicitation_a_secret_needs_allow_secrets(sandbox: SandboxHandle, era: str) -> None:
    async with Client(build_server(make_settings(sandbox)), mode=era) as c:  # cannot ask the user
        number = await new_ticket(c)
        sandbox.clear_journal()
        refused = await c.call_tool("add_comment", {"number": number, "body": SECRET_TEXT})
        assert refused.is_error and refused.structured_content["code"] == "secret_in_text"
        text = text_of(refused)
        assert "a password and an AWS access key in body" in text and "allow_secrets=true" in text
        assert not any(part in text for part in SECRET_PARTS)
        assert sandbox.writes() == []
        allowed = await c.call_tool(
            "add_comment", {"number": number, "body": SECRET_TEXT, "allow_secrets": True}
        )
        assert not allowed.is_error, text_of(allowed)
        assert [e["body"]["body"] for e in posts(sandbox, "/comments")] == [SECRET_TEXT]


async def test_the_dry_run_names_each_secret_and_where(client: Client, sandbox: SandboxHandle) -> None:
    sandbox.clear_journal()
    result = await client.call_tool(
        "create_ticket",
        {
            "summary": "Payments fail with sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "categories": ["billing"],
            "comment_body": "db password=Hunter22!x",
            "dry_run": True,
        },
    )
    warning = result.structured_content["warnings"][0]
    assert "Stripe key in summary" in warning and "password in comment_body" in warning
    preview = json.dumps(result.structured_content["preview"])
    assert "sk_live_4eC39" not in preview and "Hunter22" not in preview and "[stripe_key]" in preview
    assert sandbox.writes() == []


async def test_ordinary_logs_uuids_and_hashes_ask_nothing(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool("add_comment", {"number": number, "body": ORDINARY_LOG})
    assert not result.is_error and elicitor.questions == []
    assert [e["body"]["body"] for e in posts(sandbox, "/comments")] == [ORDINARY_LOG]


# -- outbound hygiene ---------------------------------------------------------------------------------


async def test_control_and_invisible_characters_are_removed_before_sending(
    client: Client, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    sandbox.clear_journal()
    smuggled = "Disk\x00 is full\x07.\u200b Tags:\U000e0041\U000e0042 end\tok\nline 2"
    result = await client.call_tool("add_comment", {"number": number, "body": smuggled})
    assert not result.is_error, text_of(result)
    (sent,) = posts(sandbox, "/comments")
    assert sent["body"]["body"] == "Disk is full. Tags: end\tok\nline 2"
    assert result.structured_content["cleaned"] == {"body": 5}
    assert "Removed control or invisible characters before sending: 5 from body" in text_of(result)


async def test_a_text_of_only_invisible_characters_is_refused(client: Client, sandbox: SandboxHandle) -> None:
    number = await new_ticket(client)
    sandbox.clear_journal()
    result = await client.call_tool("add_comment", {"number": number, "body": "\u200b\U000e0041\x00"})
    assert result.is_error and "no visible text" in text_of(result)
    assert sandbox.writes() == []


# -- bad input ---------------------------------------------------------------------------------------


async def test_empty_lists_and_nulls_mean_none(client: Client, sandbox: SandboxHandle) -> None:
    sandbox.clear_journal()
    args = {
        "summary": f"empty lists {uuid.uuid4().hex[:6]}",
        "categories": ["billing"],
        "category_fields": [{"key": "question_type", "values": ["invoice"]}],
        "files": [],
        "secrets": [],
        "keystone_projects": None,
        "products": [],
        "body_values": None,
        "comment_body": None,
    }
    result = await client.call_tool("create_ticket", args)
    assert not result.is_error, text_of(result)
    (sent,) = posts(sandbox, "/v2/tickets")
    assert (
        sent["body"]["files"] == []
        and sent["body"]["secrets"] == []
        and sent["body"]["keystone_projects"] == []
    )
    searched = await client.call_tool("search_tickets", {"access_levels": [], "q": None, "page": None})
    assert not searched.is_error, text_of(searched)


async def test_strings_lax_mode_coerces_are_accepted(client: Client) -> None:
    result = await client.call_tool("get_ticket", {"number": "2401006", "include_comments": "false"})
    assert not result.is_error and result.structured_content["ticket"]["number"] == 2401006


async def test_a_bad_value_is_named_quoted_short_and_sent_nowhere(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    bad = "\u202e" + "x" * 500 + "\x00"
    result = await client.call_tool("update_ticket_access", {"number": 2401006, "access_level": bad})
    assert result.is_error and result.structured_content["code"] == "invalid_arguments"
    text = text_of(result)
    assert "access_level" in text and "all_users" in text and "x" * 61 not in text
    assert "\u202e" not in text and "\x00" not in text
    assert sandbox.journal() == []


# -- consent only for what will be sent -------------------------------------------------------------


async def test_closing_a_closed_ticket_asks_nothing_and_points_to_reopen(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    await client.call_tool("close_ticket", {"number": number})
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool("close_ticket", {"number": number, "score": 5})
    assert result.is_error and result.structured_content["code"] == "ticket_closed"
    assert f"reopen_ticket(number={number}" in text_of(result)
    assert elicitor.questions == [] and sandbox.writes() == []


async def test_project_users_without_projects_asks_nothing(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool(
        "update_ticket_access", {"number": number, "access_level": "project_users"}
    )
    assert result.is_error and "keystone_projects" in text_of(result)
    assert elicitor.questions == [] and sandbox.writes() == []


async def test_rating_a_client_comment_asks_nothing(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool("rate_comment", {"comment_id": 9100022, "score": 1})  # the client's own
    assert result.is_error and result.structured_content["code"] == "not_votable"
    assert "only support replies" in text_of(result)
    assert elicitor.questions == [] and sandbox.writes() == []


async def test_a_comment_without_a_score_is_refused_not_dropped(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client)
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool("close_ticket", {"number": number, "comment": "Thanks!"})
    assert result.is_error and "pass a score" in text_of(result) and "add_comment" in text_of(result)
    assert elicitor.questions == [] and sandbox.writes() == []


async def test_access_change_keeps_the_projects_and_shows_the_exact_body(
    client: Client, elicitor: Elicitor, sandbox: SandboxHandle
) -> None:
    number = await new_ticket(client, access_level="project_users", keystone_projects=[PROJECT])
    elicitor.questions.clear()
    sandbox.clear_journal()
    result = await client.call_tool(
        "update_ticket_access", {"number": number, "access_level": "account_users"}
    )
    assert not result.is_error, text_of(result)
    (sent,) = sandbox.writes()
    assert sent["body"] == {"access_level": "account_users", "keystone_projects": [PROJECT]}
    assert sent_json(elicitor.questions[-1]) == sent["body"]
    ticket = await client.call_tool("get_ticket", {"number": number})
    assert ticket.structured_content["ticket"]["keystone_projects"] == [PROJECT]


async def test_the_legacy_update_asks_and_refuses_a_change_to_nothing(
    sandbox: SandboxHandle, elicitor: Elicitor, era: str
) -> None:
    server = build_server(make_settings(sandbox, toolsets=("all",)))
    async with Client(server, mode=era, elicitation_callback=elicitor) as client:  # type: ignore[arg-type]
        number = await new_ticket(client)
        elicitor.questions.clear()
        sandbox.clear_journal()
        same = await client.call_tool(
            "update_ticket_legacy", {"number": number, "access_level": "account_users"}
        )
        assert same.is_error and same.structured_content["code"] == "no_change"
        assert elicitor.questions == [] and sandbox.writes() == []
        elicitor.action = "decline"
        declined = await client.call_tool(
            "update_ticket_legacy", {"number": number, "access_level": "all_users"}
        )
        assert declined.structured_content["sent"] is False and sandbox.writes() == []
        elicitor.action = "accept"
        changed = await client.call_tool(
            "update_ticket_legacy", {"number": number, "access_level": "all_users"}
        )
        assert not changed.is_error, text_of(changed)
        assert len(elicitor.questions) == 2
        assert sent_json(elicitor.questions[-1]) == sandbox.writes()[-1]["body"]
