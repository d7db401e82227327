"""Ticket semantics and response shapes (TicketV2, TicketV1, Comment, Vote).

Status (W8) is derived, never stored: ``closed`` once ``closed_at`` is set; otherwise
``awaiting_client`` when the last comment is from support, else ``in_progress``.

Voting rule (``is_can_be_voted``): the ticket has at least one support comment and no vote yet.
Closing with a ``score`` records that score as the ticket's vote. A comment can be rated only if it
is a support comment that has not been rated.

Closed tickets (W11, the vendor text): "You will not be able to create and get comments on this
ticket"; after a reopen "you can add and get comments ... again". So listing, getting, adding or
rating a comment of a closed ticket is refused with ``ticket_closed``.

Reading state (W14): a new support comment starts unread; nothing the client API does marks it
read (listing and getting comments have no side effects). :meth:`Tickets.mark_read`, behind the
admin endpoint ``POST /_sandbox/tickets/{number}/read``, emulates the user opening the ticket in
the control panel. Unread support comments drive ``is_client_read`` and ``unread_comments_count``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tickets_mcp.sandbox.errors import ApiError
from tickets_mcp.sandbox.store import Store

STATUS_NAMES = {
    "in_progress": {"en": "In progress", "ru": "В работе"},
    "awaiting_client": {"en": "Awaiting your reply", "ru": "Ожидает вашего ответа"},
    "closed": {"en": "Closed", "ru": "Закрыт"},
}
SUPPORT_AGENTS = ("Anna Smirnova", "Dmitry Volkov", "Elena Kuznetsova", "Ivan Petrov")
AUTO_REPLY_TEXT = (
    "Thank you for your message. An engineer is looking into it and will reply here shortly.\n\n"
    "Спасибо за обращение. Инженер уже разбирается и скоро ответит в этом тикете."
)


def iso(ts: float | None) -> str | None:
    """W10: ISO 8601 UTC with ``Z`` and millisecond precision."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def status_of(ticket: dict[str, Any], comments: list[dict[str, Any]]) -> str:
    if ticket.get("closed_at") is not None:
        return "closed"
    if comments and not comments[-1]["is_client_author"]:
        return "awaiting_client"
    return "in_progress"


def can_be_voted(ticket: dict[str, Any], comments: list[dict[str, Any]]) -> bool:
    return ticket.get("vote") is None and any(not c["is_client_author"] for c in comments)


def vote_view(vote: dict[str, Any] | None) -> dict[str, Any] | None:
    if vote is None:
        return None
    return {"comment": vote.get("comment"), "created_at": iso(vote["created_at"]), "score": vote["score"]}


def unread_count(comments: list[dict[str, Any]]) -> int:
    return sum(1 for c in comments if not c["is_client_author"] and not c["is_client_read"])


def ticket_v2(ticket: dict[str, Any], comments: list[dict[str, Any]], *, full: bool = True) -> dict[str, Any]:
    status = status_of(ticket, comments)
    unread = unread_count(comments)
    vote = ticket.get("vote")
    out: dict[str, Any] = {
        "access_level": ticket["access_level"],
        "categories": list(ticket["categories"]),
        "created_at": iso(ticket["created_at"]),
        "is_await_client": status == "awaiting_client",
        "is_await_support": status == "in_progress",
        "is_can_be_voted": can_be_voted(ticket, comments),
        "is_client_read": unread == 0,
        "is_from_mailing": bool(ticket.get("is_from_mailing")),
        "keystone_projects": list(ticket["keystone_projects"]),
        "notice_id": ticket.get("notice_id"),
        "notification_categories": list(ticket.get("notification_categories", [])),
        "number": ticket["number"],
        "products": list(ticket["products"]),
        "status": status,
        "summary": ticket["summary"],
        "unread_comments_count": unread,
        "updated_at": iso(ticket["updated_at"]),
        "vote_created_at": iso(vote["created_at"]) if vote else None,
        "vote_score": vote["score"] if vote else None,
        "vote_type": "plus_minus",
    }
    if full:
        out["is_closed_by_system"] = bool(ticket.get("is_closed_by_system"))
        split = ticket.get("split_from")
        out["split_from_ticket_number"] = None if split is None else str(split)
    return out


def ticket_v1(ticket: dict[str, Any], comments: list[dict[str, Any]], *, full: bool = True) -> dict[str, Any]:
    status = status_of(ticket, comments)
    out: dict[str, Any] = {
        "closed_at": iso(ticket.get("closed_at")),
        "created_at": iso(ticket["created_at"]),
        "is_client_author": bool(ticket.get("is_client_author", True)),
        "is_client_read": unread_count(comments) == 0,
        "is_closed": status == "closed",
        "is_resolved": status == "closed",
        "number": ticket["number"],
        "status": dict(STATUS_NAMES[status]),
        "status_key": status,
        "summary": ticket["summary"],
        "updated_at": iso(ticket["updated_at"]),
        "vote": vote_view(ticket.get("vote")),
        "access_level": ticket["access_level"],
        "keystone_projects": list(ticket["keystone_projects"]),
        "notice_id": ticket.get("notice_id"),
    }
    if full:
        out["splitted_from_ticket_number"] = ticket.get("split_from")
    return out


def comment_view(comment: dict[str, Any]) -> dict[str, Any]:
    admin = comment.get("admin_author_name")
    return {
        "files": list(comment.get("files", [])),
        "body": comment["body"],
        "id": comment["id"],
        "is_client_author": comment["is_client_author"],
        "is_client_read": comment["is_client_read"],
        "sent_at": iso(comment["sent_at"]),
        "splitted_at": None,
        "splitted_to_ticket_number": None,
        "vote": vote_view(comment.get("vote")),
        "ticket_number": comment["ticket_number"],
        "client_author_id": comment.get("client_author_id"),
        "admin_author": None if admin is None else {"name": admin},
    }


class Tickets:
    """The operations that change tickets; all checks happen before the first write."""

    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- reads -------------------------------------------------------------------------------

    def get(self, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ticket = self.store.get_ticket(number)
        if ticket is None:
            raise ApiError("not_found", f"Ticket {number} not found")
        return ticket, self.store.comments_of(number)

    def find_comment(self, comment_id: int) -> dict[str, Any]:
        """A comment whatever its ticket's state (``not_found`` if there is none)."""
        comment = self.store.get_comment(comment_id)
        if comment is None:
            raise ApiError("not_found", f"Comment {comment_id} not found")
        return comment

    def check_readable(self, number: int) -> dict[str, Any]:
        """W11: the comments of a closed ticket cannot be got until it is reopened."""
        ticket, _ = self.get(number)
        if ticket.get("closed_at") is not None:
            raise ApiError(
                "ticket_closed",
                f"Ticket {number} is closed: its comments cannot be read until it is reopened",
            )
        return ticket

    def get_comment(self, comment_id: int) -> dict[str, Any]:
        """Get comment: refused with ``ticket_closed`` while the comment's ticket is closed."""
        comment = self.find_comment(comment_id)
        self.check_readable(comment["ticket_number"])
        return comment

    def list_comments(self, number: int) -> list[dict[str, Any]]:
        """List a thread, oldest first; no side effects (W14), refused on a closed ticket (W11)."""
        with self.store.lock:
            self.check_readable(number)
            return self.store.comments_of(number)

    def mark_read(self, number: int) -> None:
        """W14: the user opened the ticket in the control panel; its support comments are read now.

        Admin-only emulation (any ticket state); ``updated_at`` and everything else stay as they are.
        """
        with self.store.transaction():
            _, comments = self.get(number)
            for comment in comments:
                if not comment["is_client_read"]:
                    comment["is_client_read"] = True
                    self.store.save_comment(comment)

    # -- writes ------------------------------------------------------------------------------

    def create(self, fields: dict[str, Any], first_comment: str | None, files: list[str], author: str) -> int:
        now = self.clock()
        ticket = {
            "number": None,
            "summary": fields["summary"],
            "access_level": fields.get("access_level") or "account_users",
            "keystone_projects": list(fields.get("keystone_projects") or []),
            "categories": list(fields.get("categories") or []),
            "products": list(fields.get("products") or []),
            "category_fields": fields.get("category_fields") or [],
            "body_values": fields.get("body_values"),
            "secrets": list(fields.get("secrets") or []),
            "topic_key": fields.get("topic_key"),
            "notice_id": fields.get("notice_id"),
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "is_client_author": True,
            "is_from_mailing": False,
            "is_closed_by_system": False,
            "vote": None,
            "notification_categories": [],
            "split_from": None,
        }
        with self.store.transaction():
            number = self.store.insert_ticket(ticket)
            if first_comment is not None:
                self._insert_comment(number, first_comment, files, client=True, author=author, now=now)
        return number

    def _insert_comment(
        self, number: int, body: str, files: list[str], *, client: bool, author: str | None, now: float
    ) -> dict[str, Any]:
        comment: dict[str, Any] = {
            "ticket_number": number,
            "body": body,
            "files": list(files),
            "is_client_author": client,
            "is_client_read": client,
            "sent_at": now,
            "vote": None,
            "client_author_id": author if client else None,
            "admin_author_name": None if client else (author or SUPPORT_AGENTS[number % len(SUPPORT_AGENTS)]),
        }
        self.store.insert_comment(comment)
        return comment

    def check_open(self, number: int) -> dict[str, Any]:
        ticket, _ = self.get(number)
        if ticket.get("closed_at") is not None:
            raise ApiError("ticket_closed", f"Ticket {number} is closed; reopen it to add comments")
        return ticket

    def add_comment(
        self, number: int, body: str, files: list[str], *, client: bool, author: str | None
    ) -> dict:
        now = self.clock()
        with self.store.transaction():
            ticket = self.check_open(number)
            comment = self._insert_comment(number, body, files, client=client, author=author, now=now)
            ticket["updated_at"] = now
            self.store.save_ticket(ticket)
        return comment

    def update(self, number: int, access_level: str | None, projects: list[str] | None) -> None:
        with self.store.transaction():
            ticket, _ = self.get(number)
            if access_level is not None:
                ticket["access_level"] = access_level
            if projects is not None:
                ticket["keystone_projects"] = list(projects)
            ticket["updated_at"] = self.clock()
            self.store.save_ticket(ticket)

    def close(self, number: int, score: int | None, comment: str | None) -> None:
        now = self.clock()
        with self.store.transaction():
            ticket, _ = self.get(number)
            if ticket.get("closed_at") is not None:
                raise ApiError("ticket_closed", f"Ticket {number} is already closed")
            ticket["closed_at"] = now
            ticket["updated_at"] = now
            if score is not None and ticket.get("vote") is None:
                ticket["vote"] = {"score": score, "comment": comment, "created_at": now}
            self.store.save_ticket(ticket)

    def reopen(self, number: int, body: str, files: list[str], author: str) -> None:
        now = self.clock()
        with self.store.transaction():
            ticket, _ = self.get(number)
            if ticket.get("closed_at") is None:
                raise ApiError("ticket_not_closed", f"Ticket {number} is not closed")
            ticket["closed_at"] = None
            ticket["is_closed_by_system"] = False
            ticket["updated_at"] = now
            self.store.save_ticket(ticket)
            self._insert_comment(number, body, files, client=True, author=author, now=now)

    def vote_ticket(self, number: int, score: int, comment: str | None) -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction():
            ticket, comments = self.get(number)
            if not can_be_voted(ticket, comments):
                reason = "already rated" if ticket.get("vote") else "no support reply yet"
                raise ApiError("not_votable", f"Ticket {number} cannot be rated: {reason}")
            ticket["vote"] = {"score": score, "comment": comment, "created_at": now}
            self.store.save_ticket(ticket)
        return ticket["vote"]

    def vote_comment(self, comment_id: int, score: int, comment: str | None) -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction():
            target = self.find_comment(comment_id)
            number = target["ticket_number"]
            if self.get(number)[0].get("closed_at") is not None:
                raise ApiError(
                    "ticket_closed",
                    f"Ticket {number} is closed: its comments cannot be rated until it is reopened",
                )
            if target["is_client_author"]:
                raise ApiError(
                    "not_votable", f"Comment {comment_id} is a client comment; only support replies"
                )
            if target.get("vote") is not None:
                raise ApiError("not_votable", f"Comment {comment_id} is already rated")
            target["vote"] = {"score": score, "comment": comment, "created_at": now}
            self.store.save_comment(target)
        return target["vote"]

    def support_reply(self, number: int, body: str, agent: str | None = None) -> dict[str, Any]:
        """A support comment, as if an engineer answered; refused on a closed ticket."""
        return self.add_comment(number, body, [], client=False, author=agent)
