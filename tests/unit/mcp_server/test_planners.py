"""Unit tests of the write planners (`writes.py` and the write tools): what a plan holds before anything
is asked or sent. In process: a fake API client behind a real `ServerState`, no sockets."""

from __future__ import annotations

import typing
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.mcpserver import AcceptedElicitation

from tickets_mcp.api import InvalidRequest, NotFound, RateLimited, TicketsApiError
from tickets_mcp.api.models import Comment, TicketV1, TicketV2
from tickets_mcp.mcp_server.declare import ToolSpec
from tickets_mcp.mcp_server.state import Caller, CatalogCache, ServerState, writer_of
from tickets_mcp.mcp_server.subscriptions import IdentityBus
from tickets_mcp.mcp_server.tools import comments, legacy, tickets
from tickets_mcp.mcp_server.writes import NotAsked, Plan, not_sent, question, refused
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
OPEN = {"number": 7, "status": "in_progress", "access_level": "account_users", "keystone_projects": []}
CLOSED = {**OPEN, "status": "closed"}


class FakeClient:
    """The reads a planner makes, answered from dicts; a read of something unknown raises NotFound."""

    identity = "static:fake"  # the credential's hash, as a write's record names its caller

    def __init__(
        self,
        tickets: dict[int, dict[str, Any]] | None = None,
        legacy: dict[int, dict[str, Any]] | None = None,
        comments: dict[int, dict[str, Any]] | None = None,
        error: TicketsApiError | None = None,
    ) -> None:
        self.tickets = tickets or {}
        self.legacy = legacy or {}
        self.comments = comments or {}
        self.error = error
        self.reads: list[tuple[str, int]] = []

    def _read(self, op: str, table: dict[int, dict[str, Any]], key: int) -> dict[str, Any]:
        self.reads.append((op, key))
        if self.error is not None:
            raise self.error
        if key not in table:
            raise NotFound("no such thing", operation=op, status=404)
        return table[key]

    async def get_ticket(self, number: int) -> TicketV2:
        return TicketV2.model_validate(self._read("get_ticket", self.tickets, number))

    async def get_ticket_legacy(self, number: int) -> TicketV1:
        return TicketV1.model_validate(self._read("get_ticket_legacy", self.legacy, number))

    async def get_comment(self, comment_id: int) -> Comment:
        return Comment.model_validate(self._read("get_comment", self.comments, comment_id))


def context(client: FakeClient) -> SimpleNamespace:
    """A request context whose lifespan value is a real ServerState serving ``client`` as its own caller."""
    state = ServerState(Settings(), IdentityBus())
    state.own = Caller(state, "server", lambda: client, CatalogCache(lambda: client, 300.0))
    return SimpleNamespace(
        lifespan_context=state, protocol_version="2026-07-28", meta={}
    )  # a sessionless call


def planner(spec: ToolSpec) -> Callable[..., Any]:
    """The resolver that plans ``spec`` (what the SDK runs before the tool body)."""
    hint = typing.get_type_hints(spec.handler, include_extras=True)["plan"]
    return hint.__metadata__[0].fn


async def plan_of(spec: ToolSpec, client: FakeClient, **arguments: Any) -> Plan:
    plan = await planner(spec)(ctx=context(client), **arguments)
    assert isinstance(plan, Plan)
    return plan


def code(plan: Plan) -> str | None:
    return plan.refusal.code if plan.refusal is not None else None


# --- outbound texts --------------------------------------------------------------------------------


async def test_control_and_invisible_characters_are_removed_and_counted() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(comments.add_comment, client, number=7, body="he\x00llo\u200b world\x07")
    assert plan.refusal is None
    assert plan.body == {"body": "hello world"}  # no "files": null, which would not be sent
    assert plan.cleaned == {"body": 3}
    clean = await plan_of(comments.add_comment, client, number=7, body="plain text")
    assert clean.cleaned == {} and clean.secrets is None and not clean.asks


async def test_a_text_with_nothing_visible_is_refused_as_invalid_arguments() -> None:
    client = FakeClient()
    plan = await plan_of(comments.add_comment, client, number=7, body="\u200b\x00\u2060")
    assert code(plan) == "invalid_arguments"
    assert plan.refusal is not None and "body has no visible text" in plan.refusal.message
    assert plan.send is None and not plan.asks
    assert client.reads == []  # nothing read for a refusal decided from the arguments


async def test_an_invisible_close_comment_is_refused_before_reading_the_ticket() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(tickets.close_ticket, client, number=7, score=5, comment="\ufeff")
    assert code(plan) == "invalid_arguments"
    assert plan.refusal is not None and "comment has no visible text" in plan.refusal.message
    assert client.reads == []


# --- secrets ---------------------------------------------------------------------------------------


async def test_a_secret_is_named_and_makes_the_plan_ask() -> None:
    plan = await plan_of(comments.add_comment, FakeClient(tickets={7: OPEN}), number=7, body=f"key {AWS_KEY}")
    assert plan.secrets == "an AWS access key in body"
    assert AWS_KEY not in plan.secrets
    assert plan.asks and plan.refusal is None


async def test_a_secret_split_by_an_invisible_character_is_found_after_cleaning() -> None:
    plan = await plan_of(
        comments.add_comment,
        FakeClient(tickets={7: OPEN}),
        number=7,
        body=f"{AWS_KEY[:4]}\u200b{AWS_KEY[4:]}",
    )
    assert plan.body["body"] == AWS_KEY and plan.cleaned == {"body": 1}
    assert plan.secrets == "an AWS access key in body" and plan.asks


async def test_allow_secrets_means_it_does_not_ask_but_the_ticket_is_still_checked() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(comments.add_comment, client, number=7, body=f"key {AWS_KEY}", allow_secrets=True)
    assert plan.secrets is not None and plan.allow_secrets
    assert not plan.asks
    assert client.reads == [("get_ticket", 7)]  # checked whether or not the user is asked
    assert plan.body["body"] == f"key {AWS_KEY}"  # the body itself is sent unmasked


async def test_a_secret_in_a_comment_on_a_closed_ticket_is_refused_as_ticket_closed() -> None:
    client = FakeClient(tickets={7: CLOSED})
    plan = await plan_of(comments.add_comment, client, number=7, body=f"key {AWS_KEY}")
    assert code(plan) == "ticket_closed"
    assert not plan.asks
    assert client.reads == [("get_ticket", 7)]


async def test_a_secret_in_a_reopening_of_an_open_ticket_is_refused_as_not_closed() -> None:
    plan = await plan_of(tickets.reopen_ticket, FakeClient(tickets={7: OPEN}), number=7, body=f"{AWS_KEY}")
    assert code(plan) == "ticket_not_closed"


async def test_a_vote_comment_with_a_secret_is_named_by_its_field() -> None:
    client = FakeClient(tickets={7: {**OPEN, "is_can_be_voted": True}})
    plan = await plan_of(tickets.rate_ticket, client, number=7, score=9, comment=f"token {AWS_KEY}")
    assert plan.secrets == "an AWS access key in comment"
    assert plan.body == {"score": 9, "comment": f"token {AWS_KEY}"}
    assert plan.always_ask and plan.asks


# --- the consent question --------------------------------------------------------------------------


async def test_question_shows_the_exact_body_with_secrets_masked_by_kind() -> None:
    plan = await plan_of(
        comments.add_comment, FakeClient(tickets={7: OPEN}), number=7, body=f"my key is {AWS_KEY}, ok?"
    )
    text = question(plan)
    assert AWS_KEY not in text
    assert text == (
        "Add a comment to ticket 7?\n"
        'This will be sent to the Selectel Tickets API: {"body": "my key is [aws_access_key], ok?"}\n'
        "Warning: it looks like it contains an AWS access key in body (masked above). Send it anyway?"
    )


async def test_question_has_no_warning_once_secrets_are_allowed() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(
        tickets.close_ticket, client, number=7, score=4, comment=f"{AWS_KEY}", allow_secrets=True
    )
    text = question(plan)
    assert "Warning" not in text and AWS_KEY not in text
    assert text.startswith("Close ticket 7 with score 4?\n")
    assert '{"score": 4, "comment": "[aws_access_key]"}' in text


# --- close -----------------------------------------------------------------------------------------


async def test_closing_a_closed_ticket_is_refused_as_ticket_closed() -> None:
    plan = await plan_of(tickets.close_ticket, FakeClient(tickets={7: CLOSED}), number=7)
    assert code(plan) == "ticket_closed"
    assert plan.refusal is not None and "reopen_ticket(number=7" in plan.refusal.message
    assert plan.send is None and not plan.asks


async def test_the_tool_body_of_a_refused_plan_sends_nothing_and_says_so() -> None:
    client = FakeClient(tickets={7: CLOSED})  # it has no close_ticket: a send would raise
    ctx = context(client)
    plan = await planner(tickets.close_ticket)(ctx=ctx, number=7)
    consent = AcceptedElicitation[Any].model_construct(data=NotAsked(can_ask=True))  # as the SDK wraps it
    result = await tickets.close_ticket.handler(ctx=ctx, number=7, plan=plan, consent=consent)
    assert result.is_error
    out = result.structured_content or {}
    assert (out["code"], out["sent"], out["number"]) == ("ticket_closed", False, 7)
    (record,) = await ctx.lifespan_context.changes.latest(writer_of(ctx).session)  # its record is made
    assert (record.tool, record.outcome, record.code, record.number) == (
        "close_ticket",
        "refused",
        "ticket_closed",
        7,
    )


async def test_a_close_comment_without_a_score_is_refused_without_reading() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(tickets.close_ticket, client, number=7, comment="thanks")
    assert code(plan) == "invalid_arguments"
    assert plan.refusal is not None and "pass a score" in plan.refusal.message
    assert client.reads == []


async def test_closing_an_open_ticket_always_asks_with_the_given_fields_only() -> None:
    plan = await plan_of(tickets.close_ticket, FakeClient(tickets={7: OPEN}), number=7, score=5, comment="ok")
    assert plan.refusal is None and plan.always_ask and plan.asks
    assert plan.body == {"score": 5, "comment": "ok"}
    assert plan.send is not None and plan.report is not None
    bare = await plan_of(tickets.close_ticket, FakeClient(tickets={7: OPEN}), number=7)
    assert bare.body == {} and bare.action == "Close ticket 7"


# --- access ----------------------------------------------------------------------------------------


async def test_an_access_change_that_changes_nothing_is_no_change() -> None:
    client = FakeClient(
        tickets={7: {**OPEN, "access_level": "project_users", "keystone_projects": ["b", "a"]}}
    )
    plan = await plan_of(
        tickets.update_ticket_access,
        client,
        number=7,
        access_level="project_users",
        keystone_projects=["a", "b"],
    )
    assert code(plan) == "no_change"


async def test_project_users_without_projects_is_invalid_arguments() -> None:
    plan = await plan_of(
        tickets.update_ticket_access, FakeClient(tickets={7: OPEN}), number=7, access_level="project_users"
    )
    assert code(plan) == "invalid_arguments"
    assert plan.refusal is not None and "keystone_projects" in plan.refusal.message


async def test_project_users_keeps_the_tickets_projects_when_none_are_given() -> None:
    client = FakeClient(tickets={7: {**OPEN, "keystone_projects": ["p1"]}})
    plan = await plan_of(tickets.update_ticket_access, client, number=7, access_level="project_users")
    assert plan.refusal is None
    assert plan.body == {"access_level": "project_users", "keystone_projects": ["p1"]}


async def test_the_v2_access_body_carries_both_fields() -> None:
    client = FakeClient(tickets={7: OPEN})
    plan = await plan_of(tickets.update_ticket_access, client, number=7, access_level="all_users")
    assert plan.body == {"access_level": "all_users", "keystone_projects": []}
    assert plan.always_ask and plan.asks
    assert client.reads == [("get_ticket", 7)]


async def test_the_v1_access_body_carries_only_what_was_given() -> None:
    client = FakeClient(legacy={7: OPEN})
    plan = await plan_of(legacy.update_ticket_legacy, client, number=7, access_level="all_users")
    assert plan.body == {"access_level": "all_users"}
    assert plan.action == "Change who can see ticket 7 (v1 API)"
    assert client.reads == [("get_ticket_legacy", 7)]
    projects = await plan_of(
        legacy.update_ticket_legacy, FakeClient(legacy={7: OPEN}), number=7, keystone_projects=["p1"]
    )
    assert projects.body == {"keystone_projects": ["p1"]}


async def test_a_v1_access_change_with_neither_field_is_refused_without_reading() -> None:
    client = FakeClient(legacy={7: OPEN})
    plan = await plan_of(legacy.update_ticket_legacy, client, number=7)
    assert code(plan) == "invalid_arguments"
    assert plan.refusal is not None and "access_level, keystone_projects or both" in plan.refusal.message
    assert client.reads == []


# --- votes -----------------------------------------------------------------------------------------


async def test_rating_a_client_authored_comment_is_not_votable() -> None:
    client = FakeClient(comments={91: {"id": 91, "is_client_author": True}})
    plan = await plan_of(comments.rate_comment, client, comment_id=91, score=1)
    assert code(plan) == "not_votable"
    assert plan.refusal is not None and "written by the client" in plan.refusal.message


async def test_rating_an_already_rated_comment_is_not_votable_with_its_score() -> None:
    client = FakeClient(comments={91: {"id": 91, "is_client_author": False, "vote": {"score": -1}}})
    plan = await plan_of(comments.rate_comment, client, comment_id=91, score=1)
    assert code(plan) == "not_votable"
    assert plan.refusal is not None and "(-1)" in plan.refusal.message


async def test_rating_a_support_comment_asks_with_the_score() -> None:
    client = FakeClient(comments={91: {"id": 91, "is_client_author": False}})
    plan = await plan_of(comments.rate_comment, client, comment_id=91, score=-1)
    assert plan.refusal is None and plan.asks
    assert plan.body == {"score": -1}
    assert plan.action == "Mark support comment 91 as not helpful"


async def test_rating_a_comment_in_a_closed_ticket_is_ticket_closed() -> None:
    closed = InvalidRequest("closed", operation="get_comment", status=400, code="ticket_closed")
    plan = await plan_of(comments.rate_comment, FakeClient(error=closed), comment_id=91, score=1)
    assert code(plan) == "ticket_closed"


async def test_rating_a_ticket_already_rated_is_not_votable() -> None:
    client = FakeClient(tickets={7: {**OPEN, "is_can_be_voted": False, "vote_score": 8}})
    plan = await plan_of(tickets.rate_ticket, client, number=7, score=9)
    assert code(plan) == "not_votable"
    assert plan.refusal is not None and "already rated (8)" in plan.refusal.message


# --- API errors in a planner's read ----------------------------------------------------------------


async def test_an_api_error_in_a_planners_read_becomes_a_refusal_naming_the_subject() -> None:
    plan = await plan_of(tickets.close_ticket, FakeClient(), number=404404)  # get_ticket raises NotFound
    assert code(plan) == "not_found"
    assert plan.refusal is not None and "ticket 404404" in plan.refusal.message
    assert plan.send is None and not plan.asks


async def test_an_api_error_on_a_comment_read_names_the_comment() -> None:
    error = InvalidRequest("bad", operation="get_comment", status=400, code="validation_error")
    plan = await plan_of(comments.rate_comment, FakeClient(error=error), comment_id=55, score=1)
    assert code(plan) == "validation_error"
    assert plan.refusal is not None and plan.refusal.message.startswith("The API rejected the request")


async def test_a_planners_failed_read_keeps_the_errors_structured_details() -> None:
    error = RateLimited("slow down", operation="get_ticket", status=429, retry_after=5)
    plan = await plan_of(tickets.close_ticket, FakeClient(error=error), number=7)
    assert code(plan) == "rate_limited" and plan.refusal is not None
    assert plan.refusal.details.get("retry_after_seconds") == 5
    result = not_sent(
        SimpleNamespace(), plan, AcceptedElicitation[Any].model_construct(data=NotAsked(True)), number=7
    )
    assert result is not None and result.is_error
    assert (
        result.structured_content["retry_after_seconds"] == 5 and result.structured_content["sent"] is False
    )


# --- Plan ------------------------------------------------------------------------------------------


async def test_then_keeps_a_refusal_as_it_is_and_completes_any_other_plan() -> None:
    plan = refused("Close ticket 1", "no.", "ticket_closed")

    async def send(client: Any, body: dict[str, Any]) -> None:
        raise AssertionError("a refusal is never sent")

    kept = plan.then(send, lambda answer: ("", {}))
    assert kept is plan
    assert kept.send is None and kept.report is None
    assert kept.refusal is not None and kept.refusal.message == "Not sent: no."
    accepted = Plan(action="x", body={"a": 1}).then(send, lambda answer: ("done", {}))
    assert accepted.send is send and accepted.report is not None and accepted.body == {"a": 1}


async def test_a_legacy_create_carries_the_cleaned_texts_and_the_given_fields() -> None:
    plan = await plan_of(
        legacy.create_ticket_legacy,
        FakeClient(),
        summary="Disk\x00 full",
        comment_body="It is full",
        topic_key="servers",
    )
    assert plan.refusal is None and not plan.asks
    assert plan.body == {"summary": "Disk full", "comment_body": "It is full", "topic_key": "servers"}
    assert plan.cleaned == {"summary": 1}
