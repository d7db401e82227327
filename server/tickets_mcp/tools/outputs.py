"""Output models: the structured content (and output schema) of every tool.

They are projections, not copies of the API schemas: only what an agent acts on, with untrusted
text already sanitized. None values are dropped when serialized (see `results.ok`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tickets_mcp.tools.threads import ThreadOut
from tickets_mcp.tools.views import CategoryFieldView, CommentView, NamedItem, TicketBrief, TicketView


class ListedTicket(TicketBrief):
    latest: ThreadOut | None = Field(None, description="Its latest comments, with latest_comments > 0.")


class TicketList(BaseModel):
    items: list[ListedTicket]
    page: int
    items_per_page: int
    truncated: bool = False
    omitted: int = Field(0, description="Items left out of the text to respect the token budget.")
    next_page: int | None = Field(None, description="Call again with this page for more.")
    comment_reads: int | None = Field(
        None, description="API reads made for latest_comments (counted against the session limit)."
    )


class Count(BaseModel):
    count: int


class TicketDetail(BaseModel):
    ticket: TicketView
    thread: ThreadOut | None = None


class CommentList(ThreadOut):
    number: int


class Problem(BaseModel):
    field: str
    message: str
    allowed: list[str] | None = None


class DraftOutcome(BaseModel):
    outcome: Literal["dry_run", "created", "refused", "declined", "cancelled"]
    sent: bool = Field(False, description="Whether anything was sent to the Tickets API.")
    problems: list[Problem] = Field(default_factory=list)
    unchecked: list[str] | None = Field(
        None, description="What the catalog does not say, so was not checked."
    )
    warnings: list[str] | None = Field(
        None, description="Not a problem for the API, but worth the user's attention."
    )
    possible_duplicates: list[TicketBrief] = Field(default_factory=list)
    preview: dict[str, Any] | None = Field(
        None, description="Exactly what would be (or was) sent; a suspected secret masked by its kind."
    )
    cleaned: dict[str, int] | None = Field(
        None, description="Control or invisible characters removed, per field."
    )
    ticket: TicketView | None = None
    recovered: bool | None = Field(
        None, description="Found after an ambiguous failure instead of re-sending."
    )
    reused: bool | None = Field(
        None, description="An identical create in the last minutes; no second ticket."
    )


class WriteOutcome(BaseModel):
    outcome: Literal["done", "declined", "cancelled"]
    sent: bool = Field(description="Whether anything was sent to the Tickets API.")
    number: int | None = None
    comment_id: int | None = None
    ticket: TicketView | None = None
    comment: CommentView | None = None
    vote_score: int | None = None
    cleaned: dict[str, int] | None = Field(
        None, description="Control or invisible characters removed, per field."
    )
    recovered: bool | None = Field(
        None, description="Found after an ambiguous failure instead of re-sending."
    )


class CatalogList(BaseModel):
    items: list[NamedItem]


class CategoryFields(BaseModel):
    category: str
    fields: list[CategoryFieldView]


class LegacyTicketList(BaseModel):
    items: list[TicketBrief]
    page: int
    page_count: int | None = None
    item_count: int | None = None
