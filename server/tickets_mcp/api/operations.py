"""The operations of the Tickets API v1.2.0, each declared once (the vendor reference; docs/architecture.md lists the facts relied on).

Every method below is the whole declaration of one operation (see `routes.py`): the decorator is
its route, the signature its request (typed with `types.py`, validated before sending), the return
annotation its response (`models.py`). Only ``POST /v2/tickets`` was seen in the vendor's spec;
``GET /tickets`` and ``GET /tickets/{number}/comments`` in working third-party code; every other
path is inferred, so a wrong one is a one-line fix here.

The last three operations belong to the Ticket attachments API (``api="files"``), which lives at its own
base URL (`routes.files_url_from`, or ``SELECTEL_FILES_URL``): its extensions route was seen in the
vendor's text; the upload and the download are inferred (docs/wire-decisions.md, W17..W20).

- ``idempotent``: safe to re-send after an ambiguous failure (timeout, 5xx, dropped connection).
  GETs and the "set a field" updates are; creates, comments, close, reopen and votes are not.
- ``bucket``: the documented rate limit the operation draws from (the vendor's rate-limit page): ``create``
  (2 per minute, shared by the v1 and v2 creates), ``comment`` (60 per minute) or ``upload`` (20 per minute).

`TicketsClient` (`client.py`) inherits these methods and adds the request loop, plus what some
operations need around them: create dedup and recovery, and ``iter_tickets``.
"""

from __future__ import annotations

from typing import Any, NotRequired, Unpack

from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from tickets_mcp.api.files import FileExtensions, UploadAnswer
from tickets_mcp.api.models import (
    Category,
    CategoryField,
    Comment,
    Product,
    TicketV1,
    TicketV1Page,
    TicketV2,
    TicketV2Page,
    Topic,
    Vote,
)
from tickets_mcp.api.routes import Request, Route, operation, routes_of
from tickets_mcp.api.types import (
    AccessLevel,
    Body,
    Categories,
    CategoryFieldValue,
    CloseScore,
    CommentId,
    CommentScore,
    FileId,
    FilePart,
    Files,
    Int32,
    ItemsPerPage,
    Key,
    LegacySortBy,
    LegacySummary,
    NewTicketFiles,
    NonEmpty,
    OneProject,
    Page,
    Projects,
    Query,
    SecretId,
    SortBy,
    SortOrder,
    Summary,
    TicketFilters,
    TicketNumber,
    TicketScore,
)


class NewTicket(TypedDict):
    """Body of ``POST /v2/tickets``. The API requires its arrays; the client sends [] for those not given."""

    summary: Summary
    categories: Categories
    access_level: NotRequired[AccessLevel]
    comment_body: NotRequired[Body]
    category_fields: NotRequired[list[CategoryFieldValue]]
    products: NotRequired[list[Key]]
    keystone_projects: NotRequired[Projects]
    files: NotRequired[NewTicketFiles]
    secrets: NotRequired[list[SecretId]]
    body_values: NotRequired[dict[str, Any]]


# The arrays the v2 create requires: sent empty when not given.
NEW_TICKET_DEFAULTS: dict[str, Any] = {
    "access_level": "account_users",
    "products": [],
    "keystone_projects": [],
    "files": [],
    "secrets": [],
}


def new_ticket_body(**fields: Any) -> dict[str, Any]:
    """The exact JSON body ``create_ticket`` sends for these fields (None means not given): validated,
    with the required arrays filled in. Raises `InvalidRequest` like the call would."""
    given = {**NEW_TICKET_DEFAULTS, **{k: v for k, v in fields.items() if v is not None}}
    request: Request = Operations._create_ticket.prepare((), given)  # type: ignore[attr-defined]
    return request.body or {}


class TicketSearch(TicketFilters, total=False):
    page: Page
    items_per_page: ItemsPerPage
    sort_by: SortBy
    sort_by_order: SortOrder


class NewLegacyTicket(TypedDict):
    summary: LegacySummary
    comment_body: Body
    files: NotRequired[Files]
    topic_key: NotRequired[NonEmpty]
    notice_id: NotRequired[Int32]
    access_level: NotRequired[AccessLevel]
    keystone_projects: NotRequired[OneProject]


class LegacySearch(TypedDict, total=False):
    only_opened: bool
    only_closed: bool
    q: Query
    page: Page
    items_per_page: ItemsPerPage
    sort_by: LegacySortBy
    sort_by_order: SortOrder
    access_level: AccessLevel
    keystone_projects: OneProject


class Operations:
    """One method per operation of the Tickets API; `TicketsClient` sends them. The bodies are empty
    on purpose: `operation` replaces each with a call of ``_send`` (mypy's empty-body is off here)."""

    async def _send(self, route: Route, request: Request, parse: Any) -> Any:
        raise NotImplementedError  # `TicketsClient` sends

    # -- tickets (v2) ----------------------------------------------------------------------------

    @operation("POST", "/v2/tickets", idempotent=False, bucket="create", status="seen", name="create_ticket")
    async def _create_ticket(self, **body: Unpack[NewTicket]) -> TicketV2:
        """Creates ticket with provided data (`TicketsClient.create_ticket` adds dedup and recovery)."""

    @operation("GET", "/v2/tickets", idempotent=True)
    async def search_tickets(self, **query: Unpack[TicketSearch]) -> TicketV2Page:
        """One page of tickets matching the filters (v2 search)."""

    @operation("GET", "/v2/tickets/count", idempotent=True, unwrap="items_count")
    async def count_tickets(self, **filters: Unpack[TicketFilters]) -> int:
        """How many tickets match the filters."""

    @operation("GET", "/v2/tickets/{number}", idempotent=True)
    async def get_ticket(self, number: TicketNumber) -> TicketV2:
        """Returns ticket by its number."""

    @operation("PATCH", "/v2/tickets/{number}", idempotent=True)
    async def update_ticket(
        self, number: TicketNumber, *, access_level: AccessLevel, keystone_projects: Projects
    ) -> TicketV2:
        """Sets the access level and the IAM projects (both required; [] for none)."""

    # -- tickets (v1-style, current) -------------------------------------------------------------

    @operation("POST", "/tickets/{number}/close", idempotent=False)
    async def close_ticket(
        self, number: TicketNumber, *, score: CloseScore | None = None, comment: NonEmpty | None = None
    ) -> TicketV1:
        """Closes the ticket; its comments can then not be added or read until it is reopened."""

    @operation("POST", "/tickets/{number}/reopen", idempotent=False)
    async def reopen_ticket(
        self, number: TicketNumber, *, body: Body, files: Files | None = None
    ) -> TicketV1:
        """Reopens a closed ticket with a comment."""

    @operation("POST", "/tickets/{number}/vote", idempotent=False)
    async def rate_ticket(
        self, number: TicketNumber, *, score: TicketScore, comment: NonEmpty | None = None
    ) -> Vote:
        """Rates how useful communication with support in a ticket was."""

    # -- tickets (v1, deprecated) ----------------------------------------------------------------

    @operation(
        "POST", "/tickets", idempotent=False, bucket="create", deprecated=True, name="create_ticket_legacy"
    )
    async def _create_ticket_legacy(self, **body: Unpack[NewLegacyTicket]) -> TicketV1:
        """Deprecated v1 create (with a topic)."""

    @operation("GET", "/tickets", idempotent=True, status="code", deprecated=True)
    async def list_tickets_legacy(self, **query: Unpack[LegacySearch]) -> TicketV1Page:
        """Deprecated v1 list, with page counts."""

    @operation("GET", "/tickets/{number}", idempotent=True, deprecated=True)
    async def get_ticket_legacy(self, number: TicketNumber) -> TicketV1:
        """Deprecated v1 read of one ticket."""

    @operation("PATCH", "/tickets/{number}", idempotent=True, deprecated=True)
    async def update_ticket_legacy(
        self,
        number: TicketNumber,
        *,
        access_level: AccessLevel | None = None,
        keystone_projects: OneProject | None = None,
    ) -> TicketV1:
        """Deprecated v1 update of the access level."""

    # -- comments --------------------------------------------------------------------------------

    @operation("POST", "/tickets/{number}/comments", idempotent=False, bucket="comment")
    async def add_comment(self, number: TicketNumber, *, body: Body, files: Files | None = None) -> Comment:
        """Adds a comment to an open ticket (paced: 60 per minute per credential; never re-sent)."""

    @operation("GET", "/tickets/{number}/comments", idempotent=True, status="code")
    async def list_comments(self, number: TicketNumber) -> list[Comment]:
        """The whole thread of an open ticket."""

    @operation("GET", "/comments/{comment_id}", idempotent=True)
    async def get_comment(self, comment_id: CommentId) -> Comment:
        """One comment by its id."""

    @operation("POST", "/comments/{comment_id}/vote", idempotent=False)
    async def rate_comment(
        self, comment_id: CommentId, *, score: CommentScore, comment: NonEmpty | None = None
    ) -> Vote:
        """Rates a support reply: 1 useful, -1 not."""

    # -- catalog ---------------------------------------------------------------------------------

    @operation("GET", "/topics", idempotent=True, deprecated=True)
    async def list_topics(self) -> list[Topic]:
        """Deprecated ticket topics (for the v1 create's topic_key)."""

    @operation("GET", "/v2/categories", idempotent=True)
    async def list_categories(
        self,
        *,
        sort_by: NonEmpty = "view_priority",
        sort_by_order: SortOrder = "asc",
        is_only_active: bool = False,
    ) -> list[Category]:
        """Ticket categories."""

    @operation("GET", "/v2/categories/{category}/fields", idempotent=True)
    async def get_category_fields(self, category: Key) -> list[CategoryField]:
        """The fields of a category, with their allowed values."""

    @operation("GET", "/v2/products", idempotent=True)
    async def list_products(
        self,
        *,
        parent: Key | None = None,
        sort_by: NonEmpty = "view_priority",
        sort_by_order: SortOrder = "asc",
    ) -> list[Product]:
        """Products (top level, or the sub-products of ``parent``)."""

    # -- attachments (the Ticket attachments API, at its own base URL) ---------------------------

    @operation("GET", "/public/files/extensions", idempotent=True, status="seen", api="files")
    async def list_file_extensions(self) -> FileExtensions:
        """The attachment extensions the API accepts: lower-case, without the dot."""

    @operation(
        "POST", "/public/files", idempotent=False, bucket="upload", api="files", form=True, name="upload_file"
    )
    async def _upload_file(self, *, file: FilePart) -> UploadAnswer:
        """Stores one file (one multipart ``file`` part) and answers its UUID (`TicketsClient.upload_file`
        adds the size check and dedup). Never re-sent after an ambiguous failure."""

    @operation(
        "GET", "/public/files/{uuid}", idempotent=True, api="files", answer="bytes", name="download_file"
    )
    async def _download_file(self, uuid: FileId) -> Any:
        """One file: the HTTP response, whose body is the file (`TicketsClient.download_file` reads it)."""


ROUTES: dict[str, Route] = routes_of(Operations)
