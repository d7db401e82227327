"""The `comments` toolset: add, list (paged), get and rate comments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.tools.common import (
    Body,
    CommentId,
    Files,
    Number,
    VoteComment,
    app_state,
    progress_to,
    read_thread,
)
from tickets_mcp.tools.consent import Confirm, ask, not_sent
from tickets_mcp.tools.outputs import CommentList, CommentView, WriteOutcome
from tickets_mcp.tools.registry import declare
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.safety import fence
from tickets_mcp.tools.views import as_dict, comment_view


@declare(toolset="comments", title="Add comment", read_only=False, destructive=False, idempotent=False)
async def add_comment(
    ctx: Context, number: Number, body: Body, files: Files = None
) -> Annotated[CallToolResult, WriteOutcome]:
    """Post a comment to an open ticket as the client (closed tickets need reopen_ticket first)."""
    with progress_to(ctx):
        comment = await app_state(ctx).client.add_comment(number, body=body, files=files)
    view = comment_view(comment)
    return ok(
        f"Comment {view.id} added to ticket #{number}.",
        WriteOutcome(outcome="done", sent=True, number=number, comment_id=view.id, comment=view),
    )


@declare(toolset="comments", title="List comments", read_only=True, destructive=False, idempotent=True)
async def list_comments(
    ctx: Context,
    number: Number,
    page: Annotated[int, Field(ge=1, description="Page of the thread, 20 comments each, oldest first.")] = 1,
) -> Annotated[CallToolResult, CommentList]:
    """Read a ticket's thread, oldest first and paged; bodies are fenced as untrusted text."""
    thread = await read_thread(app_state(ctx), number, page)
    out = CommentList(
        number=number,
        comments=[comment_view(c) for c in thread.comments],
        comments_total=thread.total,
        page=page,
        truncated=thread.rendered.truncated,
        next_page=thread.rendered.next_page,
    )
    return ok(thread.rendered.text, out)


@declare(toolset="comments", title="Get comment", read_only=True, destructive=False, idempotent=True)
async def get_comment(ctx: Context, comment_id: CommentId) -> Annotated[CallToolResult, CommentView]:
    """Read one comment by id; the body is fenced as untrusted text."""
    view = comment_view(await app_state(ctx).client.get_comment(comment_id))
    label = f"comment {view.id} · {view.role}" + (f" · {view.sent_at}" if view.sent_at else "")
    return ok(fence(view.body, role=view.role, label=label), view)


async def _confirm_vote(ctx: Context, comment_id: int, score: int, comment: str | None) -> Any:
    verb = "helpful" if score == 1 else "not helpful"
    return ask(ctx, f"Mark support comment {comment_id} as {verb}?", {"score": score, "comment": comment})


@declare(
    toolset="comments",
    title="Rate comment",
    read_only=False,
    destructive=False,
    idempotent=False,
    consent=True,
)
async def rate_comment(
    ctx: Context,
    comment_id: CommentId,
    score: Annotated[Literal[1, -1], Field(description="1 = helpful, -1 = not helpful.")],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_vote)],
    comment: VoteComment = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Mark a support comment as helpful (1) or not (-1); asks the user first."""
    if refused := not_sent(ctx, consent, f"rating comment {comment_id}", comment_id=comment_id):
        return refused
    vote = as_dict(await app_state(ctx).client.rate_comment(comment_id, score=score, comment=comment))
    return ok(
        f"Rated comment {comment_id}: {vote.get('score', score)}.",
        WriteOutcome(outcome="done", sent=True, comment_id=comment_id, vote_score=vote.get("score", score)),
    )
