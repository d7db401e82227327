"""The `comments` toolset: add, list (paged), get and rate comments."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import InvalidRequest
from tickets_mcp.api import types as t
from tickets_mcp.mcp_server.arguments import (
    AllowSecrets,
    Before,
    Body,
    CommentId,
    Files,
    Number,
    Page,
    VoteComment,
)
from tickets_mcp.mcp_server.declare import ADD, READ, tool
from tickets_mcp.mcp_server.outputs import CommentList, WriteOutcome, comment_view
from tickets_mcp.mcp_server.results import fail, ok
from tickets_mcp.mcp_server.state import caller_of, progress_to
from tickets_mcp.mcp_server.threads import (
    CLOSED_NOTE,
    CommentPart,
    Selection,
    comment_part,
    is_closed_refusal,
    read_thread,
    tool_howto,
)
from tickets_mcp.mcp_server.writes import (
    Confirm,
    Plan,
    Refusal,
    consent_to,
    done,
    message_plan,
    not_sent,
    outbound,
    planner,
    vote_plan,
)


@planner("Add a comment")
async def _comment_plan(
    ctx: Context, number: int, body: str, files: list[Any] | None, allow_secrets: bool
) -> Plan:
    return await message_plan(
        ctx,
        f"Add a comment to ticket {number}",
        number,
        {"body": body, "files": files},
        allow_secrets,
        closed=False,
        refusal=(
            f"ticket {number} is closed: reopen_ticket(number={number}, body=...) to continue its conversation.",
            "ticket_closed",
        ),
    )


_COMMENT_CONSENT = consent_to(_comment_plan)


@tool("comments", ADD, title="Add comment")
async def add_comment(
    ctx: Context,
    number: Number,
    body: Body,
    plan: Annotated[Plan, Resolve(_comment_plan)],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_COMMENT_CONSENT)],
    files: Files = None,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Post a comment to an open ticket as the client (closed tickets need reopen_ticket first)."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    with progress_to(ctx):
        comment = await caller_of(ctx).client.add_comment(
            number, **{k: v for k, v in plan.body.items() if v is not None}
        )
    view = comment_view(comment)
    text = f"Comment {view.id} added to ticket #{number}."
    return done(text, plan, comment, number=number, comment_id=view.id, comment=view)


@tool("comments", READ, title="List comments")
async def list_comments(
    ctx: Context, number: Number, page: Page = None, before: Before = None
) -> Annotated[CallToolResult, CommentList]:
    """Read a ticket's thread: the latest comments by default, oldest first; bodies are fenced as untrusted text."""
    howto = tool_howto("list_comments", number=number)
    thread = await read_thread(caller_of(ctx), number, Selection(page, before), howto)
    return ok(thread.text, CommentList(number=number, **thread.out.model_dump()))


@tool("comments", READ, title="Get comment")
async def get_comment(
    ctx: Context,
    comment_id: CommentId,
    offset: Annotated[int, Field(ge=0, description="Start of the part of a long body to read.")] = 0,
) -> Annotated[CallToolResult, CommentPart]:
    """Read one comment by id (a long one in parts, from offset); the body is fenced as untrusted text."""
    state = caller_of(ctx)
    try:
        comment = await state.client.get_comment(comment_id)
    except InvalidRequest as exc:
        if not is_closed_refusal(exc):
            raise
        return fail(
            f"Comment {comment_id} is in a closed ticket: {CLOSED_NOTE}",
            code="ticket_closed",
            comment_id=comment_id,
        )
    text, part = comment_part(comment, offset, state.settings.token_budget)
    return ok(text, part)


@planner("Rate the comment")
async def _vote_plan(
    ctx: Context, comment_id: int, score: int, comment: str | None, allow_secrets: bool
) -> Plan:
    verb = "helpful" if score == 1 else "not helpful"
    action = f"Mark support comment {comment_id} as {verb}"
    texts, about = outbound({"comment": comment}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    try:
        target = await caller_of(ctx).client.get_comment(comment_id)
    except InvalidRequest as exc:
        if not is_closed_refusal(exc):
            raise
        return Plan(
            action=action,
            refusal=Refusal(
                f"Not sent: comment {comment_id} is in a closed ticket: {CLOSED_NOTE}", "ticket_closed"
            ),
        )
    if target.is_client_author:
        why = f"comment {comment_id} was written by the client; only support replies can be rated."
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "not_votable"))
    if target.vote is not None and target.vote.score is not None:
        why = f"comment {comment_id} is already rated ({target.vote.score:+d})."
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "not_votable"))
    return vote_plan(action, score, texts, about)


_VOTE_CONSENT = consent_to(_vote_plan)


@tool("comments", ADD, title="Rate comment", consent=True)
async def rate_comment(
    ctx: Context,
    comment_id: CommentId,
    score: Annotated[t.CommentScore, Field(description="1 = helpful, -1 = not helpful.")],
    plan: Annotated[Plan, Resolve(_vote_plan)],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_VOTE_CONSENT)],
    comment: VoteComment = None,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Mark a support comment as helpful (1) or not (-1); asks the user first."""
    if refused := not_sent(ctx, plan, consent, comment_id=comment_id):
        return refused
    vote = await caller_of(ctx).client.rate_comment(comment_id, **plan.body)
    given = vote.score if vote.score is not None else score
    return done(f"Rated comment {comment_id}: {given}.", plan, vote, comment_id=comment_id, vote_score=given)


TOOLS = (add_comment, list_comments, get_comment, rate_comment)
