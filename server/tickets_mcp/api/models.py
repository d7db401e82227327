"""Pydantic models of the Tickets API v1.2.0 (reference §5 and §6).

Requests are strict: the bounds written here are the documented ones, checked before anything is
sent (the v2 create body shows none; see `CreateTicketRequest` for the few applied to it).

Responses are tolerant: every response model keeps unknown fields (``extra="allow"``), every
field but the identifier is optional, enum-like values are plain ``str`` (the real ``status`` has
undocumented values; the known ones are listed in ``TICKET_STATUSES``), and timestamps that do not
parse stay strings instead of failing the whole response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# -- enums (closed sets for requests; responses accept any string) -------------------------------

AccessLevel = Literal["all_users", "account_users", "project_users"]
SortBy = Literal["created_at", "updated_at", "resolved_at", "closed_at"]
LegacySortBy = Literal["created_at", "updated_at", "number", "summary", "status"]
SortOrder = Literal["asc", "desc"]
CommentScore = Literal[1, -1]

ACCESS_LEVELS: tuple[str, ...] = get_args(AccessLevel)
SORT_BY: tuple[str, ...] = get_args(SortBy)
LEGACY_SORT_BY: tuple[str, ...] = get_args(LegacySortBy)
SORT_ORDERS: tuple[str, ...] = get_args(SortOrder)
# Known ticket status values (W8); the real API has more, so responses keep any string.
TICKET_STATUSES: tuple[str, ...] = ("in_progress", "awaiting_client", "closed")

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Number = Annotated[int, Field(ge=1, le=2**63 - 1)]
Body = Annotated[str, Field(min_length=1, max_length=50_000)]
Summary = Annotated[str, Field(min_length=1, max_length=255)]
NonEmpty = Annotated[str, Field(min_length=1)]
Files = Annotated[list[UUID], Field(min_length=1, max_length=10)]
# v1 KeystoneProjects: exactly one item.
OneProject = Annotated[list[NonEmpty], Field(min_length=1, max_length=1)]

# A timestamp that parses as datetime when it can and stays a string when it cannot.
Timestamp = Annotated[datetime | str | None, Field(union_mode="left_to_right")]
Localized = dict[str, str]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body or query: unset optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- requests -----------------------------------------------------------------------------------


class CategoryFieldItem(_Request):
    """`CategoryFieldItemRequestData`: a category field and its chosen value keys."""

    key: NonEmpty
    values: list[str] = Field(default_factory=list)


class CreateTicketRequest(_Request):
    """Body of ``POST /v2/tickets``. The API requires the arrays; the client sends [] for them.

    No bounds are documented for the v2 body: a summary must not be empty, a comment is bounded
    like every other comment (1..50000), at most 10 files go on one comment (reference §3), and at
    least one category is needed to route a ticket.
    """

    summary: NonEmpty
    categories: list[NonEmpty] = Field(min_length=1)
    access_level: AccessLevel = "account_users"
    comment_body: Body | None = None
    category_fields: list[CategoryFieldItem] | None = None
    products: list[NonEmpty] = Field(default_factory=list)
    keystone_projects: list[NonEmpty] = Field(default_factory=list)
    files: list[UUID] = Field(default_factory=list, max_length=10)
    secrets: list[int] = Field(default_factory=list)
    body_values: dict[str, Any] | None = None


class _TicketFilters(_Request):
    q: str | None = None
    is_only_opened: bool | None = None
    is_only_closed: bool | None = None
    is_only_abuse: bool | None = None
    access_levels: list[AccessLevel] | None = None
    keystone_projects: list[NonEmpty] | None = None


class CountTicketsParams(_TicketFilters):
    """Query of ``GET /v2/tickets/count``."""


class SearchTicketsParams(_TicketFilters):
    """Query of ``GET /v2/tickets``."""

    sort_by: SortBy = "created_at"
    sort_by_order: SortOrder = "desc"
    page: int = Field(1, ge=1)
    items_per_page: int = Field(10, ge=1, le=1000)


class UpdateTicketRequest(_Request):
    access_level: AccessLevel
    keystone_projects: list[NonEmpty] = Field(default_factory=list)


class CloseTicketRequest(_Request):
    score: int | None = Field(None, ge=1, le=5)
    comment: NonEmpty | None = None


class ReopenTicketRequest(_Request):
    body: Body
    files: Files | None = None


class RateTicketRequest(_Request):
    # The reference says both "[1..10]" and "two-point scale"; the bounds are what is enforced.
    score: int = Field(ge=1, le=10)
    comment: NonEmpty | None = None


class CreateTicketLegacyRequest(_Request):
    summary: Summary
    comment_body: Body
    files: Files | None = None
    topic_key: NonEmpty | None = None
    notice_id: Int32 | None = None
    access_level: AccessLevel | None = None
    keystone_projects: OneProject | None = None


class ListTicketsLegacyParams(_Request):
    only_opened: bool | None = None
    only_closed: bool | None = None
    q: NonEmpty | None = None
    page: int = Field(1, ge=1, le=2**31 - 1)
    items_per_page: int = Field(10, ge=1, le=1000)
    sort_by: LegacySortBy | None = None
    sort_by_order: SortOrder | None = None
    access_level: AccessLevel | None = None
    keystone_projects: OneProject | None = None


class UpdateTicketLegacyRequest(_Request):
    access_level: AccessLevel | None = None
    keystone_projects: OneProject | None = None


class AddCommentRequest(_Request):
    body: Body
    files: Files | None = None


class RateCommentRequest(_Request):
    score: CommentScore
    comment: NonEmpty | None = None


class ListCategoriesParams(_Request):
    sort_by: NonEmpty = "view_priority"
    sort_by_order: SortOrder = "asc"
    is_only_active: bool = False


class ListProductsParams(_Request):
    parent: NonEmpty | None = None
    sort_by: NonEmpty = "view_priority"
    sort_by_order: SortOrder = "asc"


class TicketRef(_Request):
    number: Number


class CommentRef(_Request):
    comment_id: Number


class CategoryRef(_Request):
    category: NonEmpty


# -- responses ----------------------------------------------------------------------------------


class Vote(_Response):
    comment: str | None = None
    created_at: Timestamp = None
    score: int | None = None


class TicketV2ListItem(_Response):
    """An item of ``GET /v2/tickets``. ``status`` is a plain string (known: ``TICKET_STATUSES``)."""

    number: int
    summary: str | None = None
    status: str | None = None
    access_level: str | None = None
    categories: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    keystone_projects: list[str] = Field(default_factory=list)
    notification_categories: list[str] = Field(default_factory=list)
    created_at: Timestamp = None
    updated_at: Timestamp = None
    is_await_client: bool | None = None
    is_await_support: bool | None = None
    is_can_be_voted: bool | None = None
    is_client_read: bool | None = None
    is_from_mailing: bool | None = None
    notice_id: int | None = None
    unread_comments_count: int | None = None
    vote_created_at: Timestamp = None
    vote_score: int | None = None
    vote_type: str | None = None


class TicketV2(TicketV2ListItem):
    """A v2 ticket (create, get, update)."""

    is_closed_by_system: bool | None = None
    # The reference types it as a string (v1 has an int); accept both.
    split_from_ticket_number: int | str | None = None


class TicketV2Page(_Response):
    items: list[TicketV2ListItem] = Field(default_factory=list)
    items_per_page: int | None = None
    page: int | None = None


class TicketV1ListItem(_Response):
    """A v1 ticket as listed. ``status`` is localized ``{en, ru}``; ``status_key`` is the machine value."""

    number: int
    summary: str | None = None
    status: Localized | str | None = None
    status_key: str | None = None
    access_level: str | None = None
    keystone_projects: list[str] = Field(default_factory=list)
    created_at: Timestamp = None
    updated_at: Timestamp = None
    closed_at: Timestamp = None
    is_client_author: bool | None = None
    is_client_read: bool | None = None
    is_closed: bool | None = None
    is_resolved: bool | None = None
    notice_id: int | None = None
    vote: Vote | None = None


class TicketV1(TicketV1ListItem):
    splitted_from_ticket_number: int | str | None = None


class TicketV1Page(_Response):
    items: list[TicketV1ListItem] = Field(default_factory=list)
    item_count: int | None = None
    items_per_page: int | None = None
    page: int | None = None
    page_count: int | None = None


class AdminAuthor(_Response):
    name: str | None = None


class Comment(_Response):
    id: int
    body: str | None = None
    ticket_number: int | None = None
    files: list[str] = Field(default_factory=list)
    is_client_author: bool | None = None
    is_client_read: bool | None = None
    sent_at: Timestamp = None
    splitted_at: Timestamp = None
    splitted_to_ticket_number: int | None = None
    vote: Vote | None = None
    client_author_id: str | None = None
    admin_author: AdminAuthor | None = None


class Subtopic(_Response):
    key: str
    names: Localized = Field(default_factory=dict)


class Topic(_Response):
    key: str
    names: Localized = Field(default_factory=dict)
    # The reference sample renders one object; a list is accepted too.
    subtopics: Subtopic | list[Subtopic] | None = None


class Category(_Response):
    key: str
    id: int | None = None
    names: Localized = Field(default_factory=dict)
    descriptions: Localized = Field(default_factory=dict)


class CategoryFieldValue(_Response):
    key: str
    localizations: Localized = Field(default_factory=dict)


class CategoryField(_Response):
    """A field of a category (W9 adds ``is_required`` and ``type``; both optional here)."""

    key: str
    names: Localized = Field(default_factory=dict)
    values: list[CategoryFieldValue] = Field(default_factory=list)
    is_required: bool | None = None
    type: str | None = None


class Product(_Response):
    key: str
    id: int | None = None
    names: Localized = Field(default_factory=dict)


class CreateTicketResult(BaseModel):
    """What `TicketsClient.create_ticket` returns.

    ``recovered``: the create failed ambiguously and the ticket was found by a lookup afterwards.
    ``reused``: an identical payload was created by this process within the dedup window, and
    that first ticket is returned instead of a second one.
    """

    model_config = ConfigDict(frozen=True)

    ticket: TicketV2
    recovered: bool = False
    reused: bool = False


__all__ = [
    "ACCESS_LEVELS",
    "LEGACY_SORT_BY",
    "SORT_BY",
    "SORT_ORDERS",
    "TICKET_STATUSES",
    "AccessLevel",
    "AddCommentRequest",
    "AdminAuthor",
    "Category",
    "CategoryField",
    "CategoryFieldItem",
    "CategoryFieldValue",
    "CloseTicketRequest",
    "Comment",
    "CommentScore",
    "CountTicketsParams",
    "CreateTicketLegacyRequest",
    "CreateTicketRequest",
    "CreateTicketResult",
    "LegacySortBy",
    "ListCategoriesParams",
    "ListProductsParams",
    "ListTicketsLegacyParams",
    "Product",
    "RateCommentRequest",
    "RateTicketRequest",
    "ReopenTicketRequest",
    "SearchTicketsParams",
    "SortBy",
    "SortOrder",
    "Subtopic",
    "TicketV1",
    "TicketV1ListItem",
    "TicketV1Page",
    "TicketV2",
    "TicketV2ListItem",
    "TicketV2Page",
    "Topic",
    "UpdateTicketLegacyRequest",
    "UpdateTicketRequest",
    "Vote",
]
