"""How a ticket thread is shown: which comments, how they fit the token budget, how they read, and the
reads that assemble a view (a thread, a comment in parts, the latest comments of many tickets).

**Which comments.** A thread view shows at most `THREAD_PAGE` comments, always oldest first:

- by default, the **latest** ones;
- ``page=k`` counts from the start of the thread (page 1 = the 20 oldest); new comments are added at
  the end, so a page keeps its meaning as the thread grows;
- ``before=<comment id>`` is a cursor: the 20 comments just before that one. It is anchored to a
  comment, not to a position, so it stays exact while new comments arrive. Every view that does not
  start at the first comment says how many earlier ones exist and gives the exact ``before`` to read them.

A window with nothing in it is an empty view, never an error: a page past the end says how many pages
there are and gives the call for the last one; ``before=<the first comment>`` says there is nothing
earlier. A ``before`` that is not a comment of the thread is an invalid argument naming the id.

Every comment's fence label carries its id (for ``get_comment``, ``before=`` and, on support replies,
``rate_comment``). A view asked for with ``opening=True`` (the thread resource and the prompts) also
shows **the opening comment**, the problem as first stated, whenever the window does not include it.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from tickets_mcp.mcp_server.results import api_words
from tickets_mcp.mcp_server.safety import fence, one_line
from tickets_mcp.mcp_server.state import CONCURRENT_READS, Caller
from tickets_mcp.mcp_server.tokens import estimate_tokens, longest_prefix

THREAD_PAGE = 20
MIN_HEAD_TOKENS = 40  # a cut body still shows this much of its head
LABEL_TOKENS = 14  # label, fences and separators of one comment, as budgeted (12 on average)
CUT_MARKER_TOKENS = 40  # the "[cut: ... get_comment(...)]" line of a cut body
FILES_LINE_TOKENS, FILE_TOKENS = 24, 42  # a comment's attachments line, and each UUID on it
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
    opening: CommentView | None = None  # shown apart from `out.comments` (text only; see `view`)


# --- selection and budget -------------------------------------------------------------------------------


def select(comments: Sequence[CommentView], selection: Selection) -> tuple[int, int]:
    """``(start, end)`` indexes of the window, empty (``start == end``) for a page past the end or
    ``before`` the first comment; ValueError if ``before`` is not a comment of the thread."""
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
    low = longest_prefix(rest, budget)
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
            LABEL_TOKENS + files_tokens(c) + min(size, cap) + (CUT_MARKER_TOKENS if size > cap else 0)
            for c, size in chosen
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
    """One comment: a fence whose info string is the role, the id (every comment: for get_comment,
    ``before=`` and rating support replies), the engineer's name when it changes, and the time (the
    date only when it changes)."""
    label = [str(comment.id)]
    if comment.role == "support" and comment.author and comment.author != author:
        label.append(comment.author)
    if comment.sent_at is not None:
        same_day = previous is not None and previous.sent_at is not None
        same_day = same_day and previous.sent_at.date() == comment.sent_at.date()  # type: ignore[union-attr]
        label.append(clock.short(comment.sent_at, date=not same_day))
    if comment.vote_score is not None:
        label.append(f"rated {comment.vote_score:+d}")
    if comment.split_to:
        label.append(f"split to #{comment.split_to}")
    text = fence(comment.body, role=comment.role, label=" ".join(label))
    if comment.files:
        text += f"\n{files_line(comment.files, comment.file_names)}"
    if comment.next_offset is not None and comment.chars is not None:
        text += (
            f"\n[cut: {comment.next_offset:,} of {comment.chars:,} characters shown; read on with "
            f"get_comment(comment_id={comment.id}, offset={comment.next_offset})]"
        )
    return text


def files_line(files: Sequence[str], names: Mapping[str, str] | None = None) -> str:
    """A comment's attachments, under its fence: how many, and the UUIDs get_attachment reads (with the
    names where the API gives them)."""
    names = names or {}
    uuids = ", ".join(
        one_line(f, 60) + (f" ({one_line(names[f], 80)})" if names.get(f) else "") for f in files
    )
    return f"[{_plural(len(files), 'attachment')}: {uuids}; read one with get_attachment(uuid=...)]"


def files_tokens(comment: CommentView) -> int:
    """What `files_line` costs in a thread view (UUIDs are dense)."""
    if not comment.files:
        return 0
    names = sum(estimate_tokens(n) + 2 for n in (comment.file_names or {}).values())
    return FILES_LINE_TOKENS + FILE_TOKENS * len(comment.files) + names


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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _empty(out: ThreadOut, howto: Howto, selection: Selection) -> str | None:
    """The line of a view whose window is empty although the thread is not, or None."""
    if out.comments or out.omitted_ids or not out.total:
        return None
    if selection.before is not None:  # the first comment: nothing is earlier
        return (
            f"No comments before comment {selection.before}: it is the first of "
            f"{_plural(out.total, 'comment')}. The latest: {howto()}."
        )
    if out.page is not None:
        pages = -(-out.total // THREAD_PAGE)
        return (
            f"Page {out.page} is past the end: the thread has {_plural(out.total, 'comment')}, "
            f"{_plural(pages, 'page')} of {THREAD_PAGE}. The last page: {howto(page=pages)}; "
            f"the latest: {howto()}."
        )
    return None


def _span(out: ThreadOut, howto: Howto, selection: Selection, opening: bool) -> str:
    if out.unavailable:
        return out.unavailable
    if not out.total:
        return "No comments yet."
    if (empty := _empty(out, howto, selection)) is not None:
        return empty
    shown = len(out.comments)
    first = out.earlier + 1
    if not out.earlier and not out.later and not out.omitted_ids:
        return f"All {out.total} comments, oldest first:" if out.total > 1 else "The only comment:"
    where = f"Comments {first}–{first + shown - 1} of {out.total}" if shown else f"No comments of {out.total}"
    if out.page is not None:
        where += f" (page {out.page})"
    parts = [where + ", oldest first."]
    if opening and out.earlier == 1:
        parts.append("The one earlier is the opening comment above.")
    elif out.earlier and out.before is not None:
        above = "; the first of them is the opening comment above" if opening else ""
        parts.append(f"{out.earlier} earlier: {howto(before=out.before)}{above}.")
    if out.later:
        nxt = f"{howto(page=out.next_page)}; " if out.next_page else ""
        parts.append(f"{out.later} later: {nxt}the latest: {howto()}.")
    return " ".join(parts)


OPENING_HEAD = "The opening comment:"


def opening_block(comment: CommentView, clock: Clock) -> str:
    """The opening comment, shown apart when the view's window does not include it."""
    return f"{OPENING_HEAD}\n{comment_block(comment, None, clock, None)}"


def render(
    ticket: TicketView,
    out: ThreadOut,
    howto: Howto,
    selection: Selection = Selection(),
    opening: CommentView | None = None,
) -> str:
    clock = Clock.of(ticket.created_at)
    parts = [render_ticket(ticket, clock)]
    if opening is not None:
        parts.append(opening_block(opening, clock))
    parts.append(_span(out, howto, selection, opening is not None))
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
    opening: bool = False,
) -> Thread:
    """The thread view of ``ticket``; ``comments`` is None when the API does not return them (closed).
    With ``opening``, the opening comment is shown too (apart, before the others) when the window does
    not include it, cut to at most a quarter of the budget."""
    if comments is None:
        out = ThreadOut(total=0, unavailable=CLOSED_NOTE)
        return Thread(ticket, out, render(ticket, out, howto, selection))
    ordered = chronological([comment_view(c) for c in comments])
    start, end = select(ordered, selection)
    clock = Clock.of(ticket.created_at)
    room = budget - estimate_tokens(render(ticket, ThreadOut(total=len(ordered)), howto)) - 60

    def arrange(apart: bool) -> tuple[CommentView | None, int, list[CommentView], list[int]]:
        """(the opening comment shown apart, the window's start, the shown, the ids left out)."""
        if not apart:
            return None, start, *fit(ordered[start:end], room)
        first = cut(ordered[0], 0, max(MIN_HEAD_TOKENS, room // 4))
        low = max(start, 1)
        return first, low, *fit(ordered[low:end], room - estimate_tokens(opening_block(first, clock)))

    apart = opening and start < end
    first, low, shown, omitted = arrange(apart and start > 0)
    if apart and first is None and omitted and omitted[0] == ordered[0].id:  # the budget left it out
        first, low, shown, omitted = arrange(True)
    earlier = low + len(omitted)
    page = selection.page if selection.before is None else None
    cursor = shown[0] if shown else (ordered[low] if low < len(ordered) else None)
    out = ThreadOut(
        total=len(ordered),
        comments=shown,
        earlier=earlier,
        later=len(ordered) - end,
        before=cursor.id if earlier and cursor is not None else None,
        page=page,
        next_page=page + 1 if page is not None and end < len(ordered) else None,
        truncated=bool(omitted) or any(c.next_offset is not None for c in shown),
        omitted_ids=omitted or None,
    )
    return Thread(ticket, out, render(ticket, out, howto, selection, first), first)


def is_closed_refusal(exc: InvalidRequest) -> bool:
    """The API refused to return comments because the ticket is closed (it may have closed meanwhile)."""
    return exc.code == "ticket_closed"


# --- reads -------------------------------------------------------------------------------------------

MOST_READS = 100  # comment lists one call reads at most (search_tickets(latest_comments=...), triage)
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


async def read_thread(
    state: Caller, number: int, selection: Selection, howto: Howto, *, opening: bool = False
) -> Thread:
    """The ticket and one view of its thread, within the token budget (``opening``: see `view`)."""
    ticket = ticket_view(await state.client.get_ticket(number))
    comments = await comments_of(state, ticket)
    try:
        return view(
            ticket, comments, selection, budget=state.settings.token_budget, howto=howto, opening=opening
        )
    except ValueError as exc:
        why = f"{exc} (ticket #{number}); pass the id of one of its comments"
        raise invalid_arguments(
            "read_thread", [FieldError("before", f"{why}, or leave `before` out for the latest comments")]
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
#
# One call (a search with latest_comments, the triage prompt) reads the comments of many tickets. Its reads
# are bounded on their own, apart from the session call limit (the call is one call of it): at most
# `MOST_READS` per call, at most `CONCURRENT_READS` at a time per credential (all its calls in this process
# together), and no read starts once what was read no longer fits the token budget. A 429 from the API is
# waited out by the client as for any read.


@dataclass
class Latest:
    """The latest comments of one listed ticket."""

    ticket: TicketView
    out: ThreadOut


def latest_of(comments: Sequence[Comment], count: int, role: str | None) -> ThreadOut:
    """The ``count`` latest comments (of ``role`` if given) of one thread, with the cursor to the earlier ones."""
    ordered = chronological([comment_view(c) for c in comments])
    pool = [c for c in ordered if role is None or c.role == role]
    shown = pool[-count:] if count else []
    if ordered and not shown:
        return ThreadOut(total=len(ordered), unavailable=f"no {role} comment among its {len(ordered)}")
    first = ordered.index(shown[0]) if shown else 0
    return ThreadOut(
        total=len(ordered),
        comments=shown,
        earlier=first,
        later=len(ordered) - 1 - ordered.index(shown[-1]) if shown else 0,
        before=shown[0].id if first else None,
    )


async def _read_one(state: Caller, ticket: TicketView, count: int, role: str | None) -> ThreadOut:
    try:
        raw = await comments_of(state, ticket)
    except TicketsApiError as exc:
        return ThreadOut(total=0, unavailable=f"not read: {api_words(exc)}")
    return ThreadOut(total=0, unavailable=CLOSED) if raw is None else latest_of(raw, count, role)


async def read_latest(
    state: Caller,
    tickets: Sequence[TicketView],
    count: int,
    *,
    role: str | None = None,
    fits: Callable[[Sequence[Latest]], bool] | None = None,
    charge: Callable[[], Awaitable[float | None]] | None = None,
) -> tuple[list[Latest], int]:
    """The ``count`` latest comments (of ``role`` if given) of the first tickets, in their order, and how
    many API reads that took (a closed ticket takes none).

    Reads the first `MOST_READS` tickets at most, `CONCURRENT_READS` at a time per credential. With
    ``fits``, no read starts once the tickets read so far do not fit (``fits(read)`` is False), so at most
    `CONCURRENT_READS` reads go beyond what can be shown; the result is then the tickets read, a prefix of
    ``tickets``. ``charge``, for a fan-out that no tool call counted (a prompt's), counts it once against the
    session call limit; when the limit is reached nothing is read and each ticket says so."""
    todo = list(tickets[:MOST_READS])
    if charge is not None and (wait := await charge()) is not None:
        why = f"not read: the session call limit is reached; retry after {wait:.0f} s"
        return [Latest(t, ThreadOut(total=0, unavailable=why)) for t in todo], 0
    results: list[ThreadOut | None] = [None] * len(todo)
    gate = state.reads
    reads = taken = 0
    full = False

    async def worker() -> None:
        nonlocal reads, taken, full
        while not full and taken < len(todo):
            index, ticket = taken, todo[taken]
            taken += 1
            if ticket.closed:
                results[index] = ThreadOut(total=0, unavailable=CLOSED)
            else:
                async with gate:
                    reads += 1
                    results[index] = await _read_one(state, ticket, count, role)
            done = [Latest(t, out) for t, out in zip(todo, results, strict=True) if out is not None]
            if fits is not None and not fits(done):  # the ones still unread would only add to it
                full = True

    async with anyio.create_task_group() as tg:
        for _ in range(min(CONCURRENT_READS, len(todo))):
            tg.start_soon(worker)
    return [Latest(t, out) for t, out in zip(todo, results, strict=True) if out is not None], reads


def _latest_head(item: Latest, shown: int, before: int | None, howto: Callable[[int], Howto]) -> str:
    number, out = item.ticket.number, item.out
    head = f"#{number} · {shown} latest of {out.total}"
    if before is not None:
        head += f"; earlier: {howto(number)(before=before)}"
    return head + ":"


LEFT_OUT = "left out to fit the token budget; its latest comments: "


def _left_out_cost(item: Latest, howto: Callable[[int], Howto]) -> int:
    """At most the tokens of the line of ``item`` left out (the call with a cursor is the longer one)."""
    call_ = howto(item.ticket.number)(before=item.out.comments[0].id)
    return estimate_tokens(f"#{item.ticket.number} · {LEFT_OUT}{call_}") + 1


def latest_cost(item: Latest, howto: Callable[[int], Howto]) -> int:
    """The fewest tokens ``item`` can be shown in: its line, and each comment cut to its head."""
    out = item.out
    if not out.comments:
        return estimate_tokens(f"#{item.ticket.number} · {out.unavailable or 'no comments'}")
    before = out.comments[0].id if out.earlier else None
    head = _latest_head(item, len(out.comments), before, howto)
    return estimate_tokens(head) + _heads(out.comments) + len(out.comments) + 1  # and the newlines


def _heads(comments: Sequence[CommentView]) -> int:
    """The tokens of ``comments`` each cut to its head, as `fit` counts them."""
    sizes = (estimate_tokens(c.body) for c in comments)
    return sum(
        LABEL_TOKENS + min(size, MIN_HEAD_TOKENS) + (CUT_MARKER_TOKENS if size > MIN_HEAD_TOKENS else 0)
        for size in sizes
    )


def render_latest(latest: Sequence[Latest], budget: int, howto: Callable[[int], Howto]) -> tuple[str, int]:
    """The latest comments of each ticket under one budget; each `Latest.out` is updated in place.

    As many tickets as fit with each comment at least as a head are shown, their longest bodies cut to
    one common size (each with its ``get_comment`` way on); each ticket past them gets one line with the
    call for its latest comments. A ``before`` cursor is always the first comment shown, never one left
    out. Returns the text and how many comments were left out (listed in each ticket's ``omitted_ids``)."""
    full = [latest_cost(item, howto) for item in latest]
    brief = [
        _left_out_cost(item, howto) if item.out.comments else cost
        for item, cost in zip(latest, full, strict=True)
    ]
    room = budget - sum(brief)
    fitting = 0
    while fitting < len(latest) and full[fitting] - brief[fitting] <= room:
        room -= full[fitting] - brief[fitting]
        fitting += 1
    heads = sum(full[i] - _heads(latest[i].out.comments) for i in range(fitting))
    chosen = [c for item in reversed(latest[:fitting]) for c in item.out.comments]  # the last go first
    shown, _ = fit(chosen, budget - sum(brief[fitting:]) - heads)
    by_id = {c.id: c for c in shown}
    clock = Clock()
    parts: list[str] = []
    for item in latest:
        out = item.out
        if out.comments:
            kept = [by_id[c.id] for c in out.comments if c.id in by_id]
            dropped = [c.id for c in out.comments if c.id not in by_id]
            out.earlier += len(dropped)
            out.comments, out.omitted_ids = kept, dropped or None
            out.before = kept[0].id if kept and out.earlier else None
            out.truncated = bool(dropped) or any(c.next_offset is not None for c in kept)
            if not kept:
                out.unavailable = LEFT_OUT + howto(item.ticket.number)()
        if out.unavailable:
            parts.append(f"#{item.ticket.number} · {out.unavailable}")
        elif not out.total:
            parts.append(f"#{item.ticket.number} · no comments")
        else:
            parts.append(_latest_head(item, len(out.comments), out.before, howto))
            parts += comment_blocks(out.comments, clock)
    return "\n".join(parts), sum(len(item.out.omitted_ids or ()) for item in latest)
