"""Ticket threads: which comments to show, how to fit them in the token budget, and how they read.

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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from tickets_mcp.api import InvalidRequest
from tickets_mcp.api.models import Comment
from tickets_mcp.tools.render import Clock, estimate_tokens, render_ticket
from tickets_mcp.tools.safety import fence
from tickets_mcp.tools.views import CommentView, TicketView, chronological, comment_view

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


class ThreadOut(BaseModel):
    """One view of a thread, the same in the text and in the structured content."""

    total: int = Field(description="Comments in the whole thread.")
    comments: list[CommentView] = Field(default_factory=list, description="Shown comments, oldest first.")
    earlier: int = Field(0, description="Comments before the first shown one.")
    later: int = Field(0, description="Comments after the last shown one.")
    before: int | None = Field(None, description="Cursor for the earlier comments: pass it as `before`.")
    page: int | None = None
    next_page: int | None = None
    truncated: bool = Field(False, description="A body was cut or a comment left out to fit the budget.")
    omitted_ids: list[int] | None = Field(None, description="Comments left out to fit the token budget.")
    unavailable: str | None = Field(None, description="Why no comments can be shown.")


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
