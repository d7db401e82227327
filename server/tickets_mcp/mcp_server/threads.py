"""How a ticket thread is shown: which comments, how they fit the token budget, how they read, and the
reads that assemble a view (a thread, a comment in parts, the latest comments of many tickets).

**Which comments.** A thread view shows at most `THREAD_PAGE` comments, always oldest first:

- by default, the **latest** ones;
- ``page=k`` counts from the start of the thread (page 1 = the 20 oldest); new comments are added at
  the end, so a page keeps its meaning as the thread grows;
- ``before=<comment id>`` is a cursor: the 20 comments just before that one. It is anchored to a
  comment, not to a position, so it stays exact while new comments arrive. Every view that does not
  start at the first comment says how many earlier ones exist and gives the exact ``before`` to read them.

**The budget.** A long comment never hides the others: when the bodies do not fit, the longest are
cut to the same size (water-filling), each showing its head, how much was left out and the exact
``get_comment(comment_id, offset)`` that reads on. Only when even the heads do not fit are the oldest
comments of the view left out, and their ids listed. The text and the structured content always
carry the same cut bodies, the same left-out ids and the same way on.

**Closed tickets.** The Tickets API does not return the comments of a closed ticket; the view shows
the ticket and says so, without an error.

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
from tickets_mcp.mcp_server.markdown import Clock, render_ticket
from tickets_mcp.mcp_server.outputs import (
    CommentPart,
    CommentView,
    ThreadOut,
    TicketView,
    chronological,
    comment_view,
    ticket_view,
)
from tickets_mcp.mcp_server.safety import fence
from tickets_mcp.mcp_server.state import Caller
from tickets_mcp.mcp_server.tokens import estimate_tokens

THREAD_PAGE = 20
MIN_HEAD_TOKENS = 40  # a cut body still shows this much of its head
LABEL_TOKENS = 14  # label, fences and separators of one comment, as budgeted (12 on average)
CUT_MARKER_TOKENS = 40  # the "[cut: ... get_comment(...)]" line of a cut body
CLOSED_NOTE = (
    "The Tickets API does not return the comments of a closed ticket; they can be read again only if "
    "the ticket is reopened."
)

# How the agent asks for another view: given the arguments, the exact call (tool or resource URI).
Howto = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which comments of a thread: the latest (default), a page from the start, or those before a comment."""

    page: int | None = None
    before: int | None = None


@dataclass(frozen=True, slots=True)
class Thread:
    ticket: TicketView
    out: ThreadOut
    text: str


# --- selection and budget -------------------------------------------------------------------------------


def select(comments: Sequence[CommentView], selection: Selection) -> tuple[int, int]:
    """``(start, end)`` indexes of the window; ValueError if ``before`` is not a comment of the thread."""
    total = len(comments)
    if selection.before is not None:
        index = next((i for i, c in enumerate(comments) if c.id == selection.before), None)
        if index is None:
            raise ValueError(f"comment {selection.before} is not in this thread")
        return max(0, index - THREAD_PAGE), index
    if selection.page is not None:
        start = min((selection.page - 1) * THREAD_PAGE, total)
        return start, min(start + THREAD_PAGE, total)
    return max(0, total - THREAD_PAGE), total


def cut(comment: CommentView, offset: int, budget: int) -> CommentView:
    """The part of ``comment.body`` from ``offset`` that fits ``budget`` tokens (all of it if it fits)."""
    body = comment.body
    rest = body[offset:]
    if offset == 0 and estimate_tokens(rest) <= budget:
        return comment
    low, high = 0, len(rest)
    while low < high:  # the longest prefix within the budget
        mid = (low + high + 1) // 2
        if estimate_tokens(rest[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    if low < len(rest):  # end at a line or word break when one is near
        edge = max(rest.rfind("\n", 0, low), rest.rfind(" ", 0, low))
        if edge > low * 0.85:
            low = edge + 1
    end = offset + low
    return comment.model_copy(
        update={"body": rest[:low], "chars": len(body), "next_offset": end if end < len(body) else None}
    )


def fit(comments: Sequence[CommentView], budget: int) -> tuple[list[CommentView], list[int]]:
    """Fit the comments in ``budget`` tokens: cut the longest bodies to one common size; if the heads alone
    do not fit, leave out comments from the start. Returns (shown, ids left out)."""
    items = [(c, estimate_tokens(c.body)) for c in comments]

    def cost(cap: int, chosen: Sequence[tuple[CommentView, int]]) -> int:
        """Tokens of the comments with every body capped at ``cap`` (a cut one also pays its marker)."""
        return sum(
            LABEL_TOKENS + min(size, cap) + (CUT_MARKER_TOKENS if size > cap else 0) for _, size in chosen
        )

    omitted: list[int] = []
    while items and cost(MIN_HEAD_TOKENS, items) > budget:
        omitted.append(items.pop(0)[0].id)
    longest = max((size for _, size in items), default=0)
    if cost(longest, items) <= budget:
        return [c for c, _ in items], omitted
    low, high = MIN_HEAD_TOKENS, longest
    while low < high:  # the largest common cap that fits
        mid = (low + high + 1) // 2
        if cost(mid, items) <= budget:
            low = mid
        else:
            high = mid - 1
    return [cut(c, 0, low) if size > low else c for c, size in items], omitted


# --- text -----------------------------------------------------------------------------------------------


def comment_block(
    comment: CommentView, previous: CommentView | None, clock: Clock, author: str | None
) -> str:
    """One comment: a fence whose info string is the role, the id (support replies, which can be rated),
    the engineer's name when it changes, and the time (the date only when it changes)."""
    label: list[str] = []
    if comment.role == "support":
        label.append(str(comment.id))
        if comment.author and comment.author != author:
            label.append(comment.author)
    if comment.sent_at is not None:
        same_day = previous is not None and previous.sent_at is not None
        same_day = same_day and previous.sent_at.date() == comment.sent_at.date()  # type: ignore[union-attr]
        label.append(clock.short(comment.sent_at, date=not same_day))
    if comment.files:
        label.append(f"+{len(comment.files)} file(s)")
    if comment.vote_score is not None:
        label.append(f"rated {comment.vote_score:+d}")
    if comment.split_to:
        label.append(f"split to #{comment.split_to}")
    text = fence(comment.body, role=comment.role, label=" ".join(label))
    if comment.next_offset is not None and comment.chars is not None:
        text += (
            f"\n[cut: {comment.next_offset:,} of {comment.chars:,} characters shown; read on with "
            f"get_comment(comment_id={comment.id}, offset={comment.next_offset})]"
        )
    return text


def comment_blocks(comments: Sequence[CommentView], clock: Clock) -> list[str]:
    blocks: list[str] = []
    previous: CommentView | None = None
    author: str | None = None
    for comment in comments:
        blocks.append(comment_block(comment, previous, clock, author))
        previous = comment
        if comment.role == "support" and comment.author:
            author = comment.author
    return blocks


def _span(out: ThreadOut, howto: Howto) -> str:
    if out.unavailable:
        return out.unavailable
    if not out.total:
        return "No comments yet."
    shown = len(out.comments)
    first = out.earlier + 1
    if not out.earlier and not out.later and not out.omitted_ids:
        return f"All {out.total} comments, oldest first:" if out.total > 1 else "The only comment:"
    where = f"Comments {first}–{first + shown - 1} of {out.total}" if shown else f"No comments of {out.total}"
    if out.page is not None:
        where += f" (page {out.page})"
    parts = [where + ", oldest first."]
    if out.earlier and out.before is not None:
        parts.append(f"{out.earlier} earlier: {howto(before=out.before)}.")
    if out.later:
        nxt = f"{howto(page=out.next_page)}; " if out.next_page else ""
        parts.append(f"{out.later} later: {nxt}the latest: {howto()}.")
    return " ".join(parts)


def render(ticket: TicketView, out: ThreadOut, howto: Howto) -> str:
    clock = Clock.of(ticket.created_at)
    parts = [render_ticket(ticket, clock), _span(out, howto)]
    if out.omitted_ids:
        ids = ", ".join(map(str, out.omitted_ids))
        parts.append(f"(Left out to fit the token budget: comments {ids}; they are among the earlier ones.)")
    parts += comment_blocks(out.comments, clock)
    return "\n".join(parts)


# --- a thread view ---------------------------------------------------------------------------------------


def view(
    ticket: TicketView,
    comments: Sequence[Comment] | None,
    selection: Selection,
    *,
    budget: int,
    howto: Howto,
) -> Thread:
    """The thread view of ``ticket``; ``comments`` is None when the API does not return them (closed)."""
    if comments is None:
        out = ThreadOut(total=0, unavailable=CLOSED_NOTE)
        return Thread(ticket, out, render(ticket, out, howto))
    ordered = chronological([comment_view(c) for c in comments])
    start, end = select(ordered, selection)
    header = estimate_tokens(render(ticket, ThreadOut(total=len(ordered)), howto))
    shown, omitted = fit(ordered[start:end], budget - header - 60)
    earlier = start + len(omitted)
    page = selection.page if selection.before is None else None
    out = ThreadOut(
        total=len(ordered),
        comments=shown,
        earlier=earlier,
        later=len(ordered) - end,
        before=shown[0].id if earlier and shown else (ordered[start].id if earlier else None),
        page=page,
        next_page=page + 1 if page is not None and end < len(ordered) else None,
        truncated=bool(omitted) or any(c.next_offset is not None for c in shown),
        omitted_ids=omitted or None,
    )
    return Thread(ticket, out, render(ticket, out, howto))


def is_closed_refusal(exc: InvalidRequest) -> bool:
    """The API refused to return comments because the ticket is closed (it may have closed meanwhile)."""
    return exc.code == "ticket_closed"


# --- reads -------------------------------------------------------------------------------------------

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


async def comments_of(state: Caller, ticket: TicketView) -> list[Comment] | None:
    """The thread of ``ticket``, or None when the API does not return it because the ticket is closed."""
    if ticket.closed:
        return None
    try:
        return await state.client.list_comments(ticket.number)
    except InvalidRequest as exc:
        if is_closed_refusal(exc):
            return None
        raise


async def read_thread(state: Caller, number: int, selection: Selection, howto: Howto) -> Thread:
    """The ticket and one view of its thread, within the token budget."""
    ticket = ticket_view(await state.client.get_ticket(number))
    comments = await comments_of(state, ticket)
    try:
        return view(ticket, comments, selection, budget=state.settings.token_budget, howto=howto)
    except ValueError as exc:
        raise invalid_arguments(
            "read_thread", [FieldError("before", f"{exc}; leave `before` out for the latest comments")]
        ) from None


# --- one comment in parts -------------------------------------------------------------------------------


def comment_part(comment: Comment, offset: int, budget: int) -> tuple[str, CommentPart]:
    """The text and structured content of ``get_comment``: one part of the body, never a second full copy."""
    whole = comment_view(comment)
    if offset > len(whole.body):
        raise invalid_arguments(
            "get_comment",
            [FieldError("offset", f"the body has {len(whole.body)} characters; use an offset below that")],
        )
    part = cut(whole, offset, max(budget - 80, MIN_HEAD_TOKENS))
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
    state: Caller,
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
    shown, omitted = fit(flat, budget - heads)
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
        parts += comment_blocks(kept, clock)
    return "\n".join(parts), len(omitted)
