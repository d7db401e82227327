"""The `comments` toolset: add, list (paged), get and rate comments."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import InvalidRequest
from tickets_mcp.api import types as t
from tickets_mcp.api.models import Comment, Vote
from tickets_mcp.mcp_server.arguments import (
    AllowSecrets,
    AttachmentArg,
    Attachments,
    Before,
    Body,
    CommentId,
    Files,
    Number,
    Page,
    VoteComment,
)
from tickets_mcp.mcp_server.attachments import NotAttachable, read_attachment
from tickets_mcp.mcp_server.declare import ADD, READ, tool
from tickets_mcp.mcp_server.outputs import AttachedOutcome, AttachmentFile, CommentList, comment_view
from tickets_mcp.mcp_server.results import fail, ok
from tickets_mcp.mcp_server.safety import one_line
from tickets_mcp.mcp_server.state import caller_of
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
    Plan,
    attachments_of,
    message_plan,
    outbound,
    refused,
    vote_plan,
    with_attachments,
    write,
)


@write("comments", ADD, title="Add comment", out=AttachedOutcome)
async def add_comment(
    ctx: Context,
    number: Number,
    body: Body,
    files: Files = None,
    attachments: Attachments = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Post a comment to an open ticket as the client (closed tickets need reopen_ticket first)."""
    plan = await message_plan(ctx, number, body, files, allow_secrets, reopen=False, attachments=attachments)

    def added(comment: Comment) -> tuple[str, dict[str, Any]]:
        view = comment_view(comment)
        text = f"Comment {view.id} added to ticket #{number}."
        return text, {"number": number, "comment_id": view.id, "comment": view}

    return plan.then(lambda client, body: client.add_comment(number, **body), added)


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
    offset: Annotated[
        int, Field(ge=0, description="Start of the part of a long body to read."), t.NotBoolean
    ] = 0,
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


@write("comments", ADD, title="Rate comment", consent=True)
async def rate_comment(
    ctx: Context,
    comment_id: CommentId,
    score: Annotated[t.CommentScore, Field(description="1 = helpful, -1 = not helpful.")],
    comment: VoteComment = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Mark a support comment as helpful (1) or not (-1); asks the user first."""
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
        return refused(action, f"comment {comment_id} is in a closed ticket: {CLOSED_NOTE}", "ticket_closed")
    if target.is_client_author:
        why = f"comment {comment_id} was written by the client; only support replies can be rated."
        return refused(action, why, "not_votable")
    if target.vote is not None and target.vote.score is not None:
        return refused(
            action, f"comment {comment_id} is already rated ({target.vote.score:+d}).", "not_votable"
        )

    def rated(vote: Vote) -> tuple[str, dict[str, Any]]:
        given = vote.score if vote.score is not None else score
        return f"Rated comment {comment_id}: {given}.", {"comment_id": comment_id, "vote_score": given}

    return vote_plan(action, score, texts, about).then(
        lambda client, body: client.rate_comment(comment_id, **body), rated
    )


@write("comments", ADD, title="Upload file", out=AttachedOutcome)
async def upload_file(
    ctx: Context,
    filename: Annotated[str | None, Field(description="With text or content_base64.")] = None,
    text: str | None = None,
    content_base64: str | None = None,
    path: Annotated[str | None, Field(description="Under TICKETS_MCP_FILE_ROOTS; stdio only.")] = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Upload one file now (20 MB at most; with files, 10 per comment), to attach later by its UUID in files."""
    entry = AttachmentArg(path=path, filename=filename, content_base64=content_base64, text=text)
    try:
        attached = await attachments_of(ctx, [entry], None)
    except NotAttachable as exc:
        return refused("Upload a file", exc.message, exc.code)
    assert attached is not None
    item = attached.items[0]
    about = with_attachments({"allow_secrets": allow_secrets}, replace(attached, standalone=True))

    async def nothing_more(client: Any, body: dict[str, Any]) -> list[str]:
        return list(body["files"])  # the upload is the whole write

    def uploaded(uuids: list[str]) -> tuple[str, dict[str, Any]]:
        return (
            f"Uploaded {item.filename} ({uuids[0]}): attach it with files=[{uuids[0]!r}] on add_comment, "
            "reopen_ticket or create_ticket.",
            {},
        )

    return Plan(action=f"Upload the file {one_line(item.filename, 120)}", **about).then(
        nothing_more, uploaded
    )


@tool("comments", READ, title="Get attachment")
async def get_attachment(
    ctx: Context,
    uuid: Annotated[t.FileId, Field(description="From a comment's files.")],
    offset: Annotated[int, Field(ge=0, description="Start of the text part to read."), t.NotBoolean] = 0,
) -> Annotated[CallToolResult, AttachmentFile]:
    """Read one attachment: text fenced as untrusted (a long one in parts, from offset), an image as an image, other files as a blob."""
    return await read_attachment(caller_of(ctx), str(uuid), offset)


TOOLS = (add_comment, list_comments, get_comment, rate_comment, upload_file, get_attachment)
