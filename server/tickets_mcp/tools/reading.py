"""Reads that assemble a view from several API calls: a thread, a comment in parts, latest comments.

Nothing here writes: listing or reading comments changes nothing the user can see.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from tickets_mcp.api import InvalidRequest, TicketsApiError
from tickets_mcp.api.errors import FieldError, invalid_arguments
from tickets_mcp.api.models import Comment
from tickets_mcp.tools import threads
from tickets_mcp.tools.lifespan import UserState
from tickets_mcp.tools.render import Clock, estimate_tokens
from tickets_mcp.tools.safety import fence
from tickets_mcp.tools.threads import Howto, Selection, Thread, ThreadOut
from tickets_mcp.tools.views import CommentView, TicketView, chronological, comment_view, ticket_view

CONCURRENT_READS = 4  # comment lists read at once for search_tickets(latest_comments=...)
CLOSED = "closed: the Tickets API does not return its comments"


def call(name: str, **args: object) -> str:
    """``name(k=v, ...)`` as an agent would write the call; None arguments are left out."""
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items() if v is not None)
    return f"{name}({shown})"


def tool_howto(name: str, **fixed: object) -> Howto:
    return lambda **more: call(name, **fixed, **more)


def resource_howto(number: int) -> Howto:
    def uri(page: int | None = None, before: int | None = None) -> str:
        query = f"?before={before}" if before is not None else f"?page={page}" if page is not None else ""
        return f"tickets://{number}{query}"

    return uri


async def comments_of(state: UserState, ticket: TicketView) -> list[Comment] | None:
    """The thread of ``ticket``, or None when the API does not return it because the ticket is closed."""
    if ticket.closed:
        return None
    try:
        return await state.client.list_comments(ticket.number)
    except InvalidRequest as exc:
        if threads.is_closed_refusal(exc):
            return None
        raise


async def read_thread(state: UserState, number: int, selection: Selection, howto: Howto) -> Thread:
    """The ticket and one view of its thread, within the token budget."""
    ticket = ticket_view(await state.client.get_ticket(number))
    comments = await comments_of(state, ticket)
    try:
        return threads.view(ticket, comments, selection, budget=state.settings.token_budget, howto=howto)
    except ValueError as exc:
        raise invalid_arguments(
            "read_thread", [FieldError("before", f"{exc}; leave `before` out for the latest comments")]
        ) from None


# --- one comment in parts -------------------------------------------------------------------------------


class CommentPart(CommentView):
    """A comment, or the part of its body from `offset` that fits the token budget."""

    ticket_number: int | None = None
    offset: int = 0


def comment_part(comment: Comment, offset: int, budget: int) -> tuple[str, CommentPart]:
    """The text and structured content of ``get_comment``: one part of the body, never a second full copy."""
    whole = comment_view(comment)
    if offset > len(whole.body):
        raise invalid_arguments(
            "get_comment",
            [FieldError("offset", f"the body has {len(whole.body)} characters; use an offset below that")],
        )
    part = threads.cut(whole, offset, max(budget - 80, threads.MIN_HEAD_TOKENS))
    clock = Clock.of(part.sent_at)
    who = part.role + (f" {part.author}" if part.author else "")
    head = [f"Comment {part.id}"]
    if comment.ticket_number:
        head.append(f"ticket #{comment.ticket_number}")
    head += [who, clock.full(part.sent_at)]
    lines = [" · ".join(h for h in head if h)]
    if part.chars is not None:
        end = offset + len(part.body)
        span = f"Characters {offset:,}–{end:,} of {part.chars:,}"
        way = (
            f"read on with get_comment(comment_id={part.id}, offset={part.next_offset})"
            if part.next_offset is not None
            else "this is the end"
        )
        lines.append(f"{span}; {way}.")
    lines.append(fence(part.body, role=part.role, label=""))
    out = CommentPart(**part.model_dump(), ticket_number=comment.ticket_number, offset=offset)
    return "\n".join(lines), out


# --- latest comments of many tickets -------------------------------------------------------------------


@dataclass
class Latest:
    """The latest comments of one listed ticket."""

    ticket: TicketView
    out: ThreadOut


async def read_latest(
    state: UserState,
    tickets: Sequence[TicketView],
    count: int,
    *,
    charge: Callable[[], Awaitable[float | None]],
    role: str | None = None,
) -> tuple[list[Latest], int]:
    """The ``count`` latest comments (of ``role`` if given) of each ticket, read at most
    `CONCURRENT_READS` at a time, and how many API reads that took. ``charge()`` counts each read
    against the session call limit and returns the seconds to wait when the limit is reached (that
    ticket's comments are then not read)."""
    results: dict[int, ThreadOut] = {}
    gate = anyio.CapacityLimiter(CONCURRENT_READS)
    reads = 0

    async def one(ticket: TicketView) -> None:
        nonlocal reads
        if ticket.closed:
            results[ticket.number] = ThreadOut(total=0, unavailable=CLOSED)
            return
        wait = await charge()
        if wait is not None:
            results[ticket.number] = ThreadOut(
                total=0, unavailable=f"not read: the session call limit is reached; retry after {wait:.0f} s"
            )
            return
        reads += 1
        async with gate:
            try:
                raw = await comments_of(state, ticket)
            except TicketsApiError as exc:
                results[ticket.number] = ThreadOut(total=0, unavailable=f"not read: {exc.message}")
                return
        if raw is None:
            results[ticket.number] = ThreadOut(total=0, unavailable=CLOSED)
            return
        ordered = chronological([comment_view(c) for c in raw])
        pool = [c for c in ordered if role is None or c.role == role]
        shown = pool[-count:] if count else []
        earlier = ordered.index(shown[0]) if shown else len(ordered)
        results[ticket.number] = ThreadOut(
            total=len(ordered),
            comments=shown,
            earlier=earlier,
            before=shown[0].id if shown and earlier else None,
        )

    async with anyio.create_task_group() as tg:
        for ticket in tickets:
            tg.start_soon(one, ticket)
    return [Latest(t, results[t.number]) for t in tickets], reads


def render_latest(latest: Sequence[Latest], budget: int, howto: Callable[[int], Howto]) -> tuple[str, int]:
    """The latest comments of each ticket under one budget (the last tickets' oldest comments go first).

    Returns the text and how many comments were left out; each `Latest.out` is updated in place."""
    flat = [c for item in reversed(latest) for c in item.out.comments]
    heads = sum(
        estimate_tokens(f"#{item.ticket.number} · 5 latest of 100; earlier: ") + 30 for item in latest
    )
    shown, omitted = threads.fit(flat, budget - heads)
    by_id = {c.id: c for c in shown}
    clock = Clock()
    parts: list[str] = []
    for item in latest:
        out = item.out
        kept = [by_id[c.id] for c in out.comments if c.id in by_id]
        dropped = [c.id for c in out.comments if c.id not in by_id]
        out.comments, out.omitted_ids = kept, dropped or None
        out.truncated = bool(dropped) or any(c.next_offset is not None for c in kept)
        if kept and out.earlier + len(dropped):
            out.earlier += len(dropped)
            out.before = kept[0].id
        if out.unavailable:
            parts.append(f"#{item.ticket.number} · {out.unavailable}")
            continue
        if not out.total:
            parts.append(f"#{item.ticket.number} · no comments")
            continue
        head = f"#{item.ticket.number} · {len(kept)} latest of {out.total}"
        if out.earlier and out.before is not None:
            head += f"; earlier: {howto(item.ticket.number)(before=out.before)}"
        parts.append(head + ":")
        parts += threads.comment_blocks(kept, clock)
    return "\n".join(parts), len(omitted)
