"""After an ambiguous write failure, find out whether it went through (the wrappers: ``client.py``).

A non-idempotent write (create, comment, close, reopen, votes) is never re-sent (``sending.py``).
When one fails so that it may or may not have been applied (``TicketsApiError.outcome_unknown``: a
5xx after sending, a dropped connection, a timeout, an unreadable answer), the client reads what
the write would have changed before it answers:

- **went through**: the object the operation would have returned, marked ``recovered``
  (`models.mark_recovered`; ``CreateTicketResult.recovered`` for creates);
- **not applied**: the read worked, shows nothing, and the server had finished with the request
  (it answered, or dropped the connection while answering): the same error class with
  ``outcome_unknown=False`` and ``code="not_applied"``: calling again is safe;
- **still unknown**: the read failed, or the server may still apply it later (a client timeout, a
  gateway's 504, or a connection closed on this side before the answer, ``TransportError.unfinished``):
  the error keeps ``outcome_unknown=True`` and its message says what was checked and what to check by
  hand.

Comments are matched by body, by time (``sent_at`` no earlier than ``clock_tolerance`` seconds
before the request started) and by id: the ids of the comments this identity's clients added
are kept in ``dedup`` (``remember_number`` under the key ``f"{identity}|comments"``), so
an identical comment added earlier is never taken for the new one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, Unpack

import httpx2

from tickets_mcp.api.dedup import Dedup
from tickets_mcp.api.errors import TicketsApiError, TransportError
from tickets_mcp.api.models import (
    Comment,
    CreateTicketResult,
    TicketV1,
    TicketV2,
    TicketV2Page,
    Vote,
    mark_recovered,
)
from tickets_mcp.api.operations import NewTicket, TicketSearch

logger = logging.getLogger("tickets_mcp.api")

NOT_APPLIED = "not_applied"
T = TypeVar("T", TicketV1, TicketV2, Comment, Vote)  # what a write returns
R = TypeVar("R")


class Client(Protocol):
    """What the writes and their lookups need of `TicketsClient`."""

    identity: str
    recover_window: float
    clock_tolerance: float
    dedup: Dedup

    async def _create_ticket(self, **body: Unpack[NewTicket]) -> TicketV2: ...
    async def search_tickets(self, **query: Unpack[TicketSearch]) -> TicketV2Page: ...
    async def get_ticket(self, number: int) -> TicketV2: ...
    async def get_ticket_legacy(self, number: int) -> TicketV1: ...
    async def list_comments(self, number: int) -> list[Comment]: ...
    async def get_comment(self, comment_id: int) -> Comment: ...


@dataclass(frozen=True)
class Check(Generic[R]):
    """How to tell whether one ambiguous write went through, and how to say what was seen."""

    operation: str
    look: Callable[[], Awaitable[R | None]]  # the result if it went through, None if it did not
    subject: str  # "the thread of ticket 7"
    missing: str  # "has no such comment"
    result: str  # "it was not added"
    by_hand: str  # "read the thread of ticket 7 (list_comments) and look for this comment"


async def write(send: Callable[[], Awaitable[T]], check: Callable[[datetime], Check[T]]) -> T:
    """Send once; after an ambiguous failure, the result found by ``check`` (marked recovered) or an
    error that says what the check showed."""
    started = datetime.now(UTC)
    try:
        return await send()
    except TicketsApiError as exc:
        if not exc.outcome_unknown:
            raise
        failure = exc
    return mark_recovered(await settle(failure, check(started)))


async def settle(exc: TicketsApiError, check: Check[R]) -> R:
    """The result of the write that failed with ``exc``, if ``check`` finds it; else raise."""
    op, cause, pending = check.operation, _cause(exc), _still_running(exc)
    logger.warning("%s: outcome unknown (%s); checking whether it went through", op, cause)
    try:
        found = await check.look()
    except TicketsApiError as lookup:
        logger.warning("%s: the check after the ambiguous failure failed too (%s)", op, _brief(lookup))
        exc.message += (
            f" Checking afterwards failed too ({_brief(lookup)}): {check.by_hand} before calling {op} "
            "again, or it may be applied twice."
        )
        raise exc from None
    if found is not None:
        logger.info("%s: it went through after all (found by a check after the failure)", op)
        return found
    if pending is not None:
        logger.warning("%s: not applied yet, but %s: it may still be applied", op, pending)
        exc.message += (
            f" Checked just now: {check.subject} {check.missing}; but {pending}, so the API may still "
            f"apply it: {check.by_hand} again in a minute before calling {op} again, or it may be "
            "applied twice."
        )
        raise exc from None
    logger.info("%s: checked after the failure: not applied", op)
    raise type(exc)(
        f"{cause}, but {check.subject}, read just now, {check.missing}: {check.result}. Calling {op} "
        "again is safe; try again if it is still wanted.",
        operation=exc.operation,
        status=exc.status,
        code=NOT_APPLIED,
        sent=exc.sent,
        outcome_unknown=False,
    ) from None


def _timed_out(exc: TicketsApiError) -> bool:
    return isinstance(exc, TransportError) and (
        isinstance(exc.__context__, httpx2.TimeoutException) or "Timeout" in exc.message
    )


def _closed_here(exc: TicketsApiError) -> bool:
    return isinstance(exc, TransportError) and exc.unfinished


def _cause(exc: TicketsApiError) -> str:
    if exc.code == "malformed_response":
        return "The answer could not be read"
    if isinstance(exc, TransportError):
        if _closed_here(exc):
            return "The connection was closed on this side after sending"
        return (
            "The answer timed out after sending"
            if _timed_out(exc)
            else "The connection dropped after sending"
        )
    return f"The API answered HTTP {exc.status}" if exc.status else "The request failed after sending"


def _still_running(exc: TicketsApiError) -> str | None:
    """Why the server may still be applying the request (it did not finish answering), or None."""
    if _timed_out(exc):
        return "the request timed out"
    if _closed_here(exc):
        return "the connection was closed on this side before the API answered"
    if exc.status == 504:
        return "a gateway timed out (HTTP 504)"
    return None


def _brief(exc: TicketsApiError) -> str:
    parts = [f"HTTP {exc.status}" if exc.status is not None else type(exc).__name__]
    if exc.code and exc.code != NOT_APPLIED:
        parts.append(exc.code)
    return ", ".join(parts)


def _utc(value: datetime | str | None) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- the writes ------------------------------------------------------------------------------------


def comments_key(client: Client) -> str:
    """The `Dedup.remember_number` key of the comment ids this identity's clients added."""
    return f"{client.identity}|comments"


async def add_comment(
    client: Client, send: Callable[[], Awaitable[Comment]], number: int, body: str
) -> Comment:
    """Add a comment once; after an ambiguous failure, look for it in the thread."""

    def check(started: datetime) -> Check[Comment]:
        return Check(
            "add_comment",
            lambda: find_comment(client, number, body, started),
            f"the thread of ticket {number}",
            "has no such comment",
            "it was not added",
            f"read the thread of ticket {number} (list_comments) and look for this comment",
        )

    comment = await write(send, check)
    await client.dedup.remember_number(comments_key(client), comment.id)
    return comment


async def find_comment(client: Client, number: int, body: str, started: datetime) -> Comment | None:
    """The client comment with this body sent since the request started, not one added before."""
    thread = await client.list_comments(number)
    known = await client.dedup.known_numbers(comments_key(client))
    cutoff = started - timedelta(seconds=client.clock_tolerance)
    wanted = _text(body)
    for comment in thread:  # oldest first: the earliest match is ours
        if comment.is_client_author is False or comment.id in known or _text(comment.body) != wanted:
            continue
        sent = _utc(comment.sent_at)
        if sent is not None and sent < cutoff:
            continue
        logger.info(
            "add_comment: found comment %s in ticket %s after the ambiguous failure", comment.id, number
        )
        return comment
    return None


def _text(body: str | None) -> str:
    """A body as compared: line endings and surrounding whitespace a server may normalize do not count."""
    return (body or "").replace("\r\n", "\n").strip()


def _is_closed(ticket: TicketV1) -> bool:
    if ticket.is_closed is not None:
        return ticket.is_closed
    return ticket.status_key == "closed" or ticket.closed_at is not None


async def close_ticket(client: Client, send: Callable[[], Awaitable[TicketV1]], number: int) -> TicketV1:
    """Close once; after an ambiguous failure, read the ticket: closed means it went through."""
    return await _set_closed(client, send, number, closed=True)


async def reopen_ticket(client: Client, send: Callable[[], Awaitable[TicketV1]], number: int) -> TicketV1:
    """Reopen once; after an ambiguous failure, read the ticket: open means it went through."""
    return await _set_closed(client, send, number, closed=False)


async def _set_closed(
    client: Client, send: Callable[[], Awaitable[TicketV1]], number: int, *, closed: bool
) -> TicketV1:
    async def look() -> TicketV1 | None:
        ticket = await client.get_ticket_legacy(number)
        return ticket if _is_closed(ticket) == closed else None

    operation, now, verb, state = (
        ("close_ticket", "is still open", "closed", "closed")
        if closed
        else ("reopen_ticket", "is still closed", "reopened", "open again")
    )
    return await write(
        send,
        lambda _: Check(
            operation,
            look,
            f"ticket {number}",
            now,
            f"it was not {verb}",
            f"read ticket {number} (get_ticket) to see whether it is {state}",
        ),
    )


async def rate_ticket(
    client: Client, send: Callable[[], Awaitable[Vote]], number: int, score: int, comment: str | None
) -> Vote:
    """Rate once; after an ambiguous failure, read the ticket: its ``vote_score`` is the score."""

    async def look() -> Vote | None:
        ticket = await client.get_ticket(number)
        if ticket.vote_score != score:
            return None
        return Vote(score=score, comment=comment, created_at=ticket.vote_created_at)

    return await write(
        send,
        lambda _: Check(
            "rate_ticket",
            look,
            f"ticket {number}",
            f"has no vote of {score}",
            "the vote was not recorded",
            f"read ticket {number} (get_ticket) and look at its vote_score",
        ),
    )


async def rate_comment(
    client: Client, send: Callable[[], Awaitable[Vote]], comment_id: int, score: int
) -> Vote:
    """Rate once; after an ambiguous failure, read the comment: its vote has the score."""

    async def look() -> Vote | None:
        target = await client.get_comment(comment_id)
        return target.vote if target.vote is not None and target.vote.score == score else None

    return await write(
        send,
        lambda _: Check(
            "rate_comment",
            look,
            f"comment {comment_id}",
            f"has no vote of {score}",
            "the vote was not recorded",
            f"read comment {comment_id} (get_comment) and look at its vote",
        ),
    )


async def create(client: Client, body: dict[str, Any]) -> CreateTicketResult:
    """Send the create once; after an ambiguous failure, look for the ticket before giving up."""

    async def send() -> TicketV2:
        return await client._create_ticket(**body)

    ticket = await write(
        send,
        lambda started: Check(
            "create_ticket",
            lambda: recover(client, body, started),
            "the ticket list",
            "has no new ticket with this summary",
            "it was not created",
            "search for it by its summary (search_tickets)",
        ),
    )
    await client.dedup.remember_number(client.identity, ticket.number)
    return CreateTicketResult(ticket=ticket, recovered=ticket.recovered)


async def recover(client: Client, body: dict[str, Any], started: datetime) -> TicketV2 | None:
    """The ticket an ambiguous create may have made, if a search (newest first) finds exactly that."""
    summary, categories = body["summary"], set(body["categories"])
    page = await client.search_tickets(
        q=summary, items_per_page=20, sort_by="created_at", sort_by_order="desc"
    )
    cutoff = started - timedelta(seconds=client.recover_window)
    known = await client.dedup.known_numbers(client.identity)
    for item in page.items:
        if item.summary != summary or item.number in known:
            continue
        created = _utc(item.created_at)
        if created is not None and created < cutoff:
            continue
        if item.categories and set(item.categories) != categories:
            continue
        logger.info("create_ticket: found ticket %s after the ambiguous failure", item.number)
        try:
            return await client.get_ticket(item.number)
        except TicketsApiError:
            return TicketV2.model_validate(item.model_dump())
    return None
