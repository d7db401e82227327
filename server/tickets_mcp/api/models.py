"""Pydantic models of the Tickets API v1.2.0 answers (the vendor reference).

Responses are tolerant: every model keeps unknown fields (``extra="allow"``), every field but the
identifier is optional, enum-like values are plain ``str`` (the real ``status`` has undocumented
values; the known ones are `types.TICKET_STATUSES`), and timestamps that do not parse stay strings
instead of failing the whole response. Requests are typed in `operations.py` with `types.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from tickets_mcp.api.types import TICKET_STATUSES

# A timestamp that parses as datetime when it can and stays a string when it cannot.
Timestamp = Annotated[datetime | str | None, Field(union_mode="left_to_right")]
Localized = dict[str, str]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _recovered: bool = PrivateAttr(default=False)

    @property
    def recovered(self) -> bool:
        """True when this object was not the write's own answer: the write failed ambiguously and a
        lookup afterwards showed it went through (`recovery.py`). Never serialized."""
        return self._recovered


R = TypeVar("R", bound=_Response)


def mark_recovered(obj: R) -> R:
    """A copy of ``obj`` marked as found by a lookup after an ambiguous failure (``recovered``)."""
    copy = obj.model_copy(deep=True)
    copy._recovered = True
    return copy


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


def _file_refs(data: Any) -> Any:
    """A comment's ``files`` as UUID strings: the reference shows strings, but objects naming one (``uuid``,
    ``id`` or ``file_uuid``, with ``name``/``filename``) are read too, their names kept in ``file_names``."""
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return data
    uuids: list[str] = []
    names: dict[str, str] = dict(data.get("file_names") or {})
    for item in data["files"]:
        if isinstance(item, dict):
            ref = next((item[k] for k in ("uuid", "id", "file_uuid") if item.get(k) is not None), None)
            name = next((item[k] for k in ("filename", "name") if isinstance(item.get(k), str)), None)
            if ref is None:
                continue  # an entry naming no file: nothing to show or fetch
            if name:
                names[str(ref)] = name
            item = ref
        uuids.append(str(item))
    return {**data, "files": uuids, "file_names": names}


class Comment(_Response):
    id: int
    body: str | None = None
    ticket_number: int | None = None
    files: list[str] = Field(default_factory=list)  # the attachments' UUIDs
    file_names: dict[str, str] = Field(default_factory=dict)  # uuid -> name, where the API gives names
    is_client_author: bool | None = None
    is_client_read: bool | None = None
    sent_at: Timestamp = None
    splitted_at: Timestamp = None
    splitted_to_ticket_number: int | None = None
    vote: Vote | None = None
    client_author_id: str | None = None
    admin_author: AdminAuthor | None = None

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _file_refs(data)


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
    "TICKET_STATUSES",
    "AdminAuthor",
    "Category",
    "CategoryField",
    "CategoryFieldValue",
    "Comment",
    "CreateTicketResult",
    "Product",
    "Subtopic",
    "TicketV1",
    "TicketV1ListItem",
    "TicketV1Page",
    "TicketV2",
    "TicketV2ListItem",
    "TicketV2Page",
    "Topic",
    "Vote",
]
