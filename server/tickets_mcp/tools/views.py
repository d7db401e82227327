"""Project API payloads (dumped client models) onto the output models, sanitizing untrusted text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from tickets_mcp.tools.outputs import CommentView, NamedItem, TicketBrief, TicketView
from tickets_mcp.tools.render import as_dict, awaiting, localized
from tickets_mcp.tools.safety import sanitize


def status_of(ticket: Mapping[str, Any]) -> str | None:
    """v2 tickets carry `status` as a key; v1 tickets carry `status_key` and a localized `status`."""
    key = ticket.get("status_key")
    if key:
        return str(key)
    status = ticket.get("status")
    return status if isinstance(status, str) else localized(status, "en") or None


def brief(item: BaseModel | Mapping[str, Any]) -> TicketBrief:
    t = as_dict(item)
    return TicketBrief(
        number=t["number"],
        summary=sanitize(str(t.get("summary") or "")),
        status=status_of(t),
        awaiting=awaiting(t),
        updated_at=t.get("updated_at"),
        unread_comments=t.get("unread_comments_count") or None,
    )


def ticket_view(ticket: BaseModel | Mapping[str, Any]) -> TicketView:
    t = as_dict(ticket)
    status = status_of(t)
    vote = t.get("vote") if isinstance(t.get("vote"), Mapping) else None
    return TicketView(
        number=t["number"],
        summary=sanitize(str(t.get("summary") or "")),
        status=status,
        awaiting=awaiting(t),
        access_level=t.get("access_level"),
        keystone_projects=t.get("keystone_projects") or None,
        categories=t.get("categories") or None,
        products=t.get("products") or None,
        created_at=t.get("created_at"),
        updated_at=t.get("updated_at"),
        closed=t.get("is_closed", status == "closed" if status else None),
        can_be_rated=t.get("is_can_be_voted"),
        vote_score=t.get("vote_score") or (vote or {}).get("score"),
    )


def comment_view(comment: BaseModel | Mapping[str, Any]) -> CommentView:
    c = as_dict(comment)
    admin = c.get("admin_author") if isinstance(c.get("admin_author"), Mapping) else None
    vote = c.get("vote") if isinstance(c.get("vote"), Mapping) else None
    return CommentView(
        id=c["id"],
        role="client" if c.get("is_client_author") else "support",
        author=sanitize(admin["name"]) if admin and admin.get("name") else None,
        sent_at=c.get("sent_at"),
        body=sanitize(str(c.get("body") or "")),
        files=c.get("files") or None,
        vote_score=(vote or {}).get("score"),
    )


def named(item: BaseModel | Mapping[str, Any], language: str) -> NamedItem:
    d = as_dict(item)
    return NamedItem(
        key=str(d["key"]),
        name=localized(d.get("names"), language) or str(d["key"]),
        description=localized(d.get("descriptions"), language) or None,
        parent=d.get("parent"),
    )
