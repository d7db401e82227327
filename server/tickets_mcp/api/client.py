"""`TicketsClient`: one typed async method per operation of the Tickets API v1.2.0.

```python
async with TicketsClient(auth=StaticToken("...")) as client:
    page = await client.search_tickets(q="disk", is_only_opened=True)
    result = await client.create_ticket(summary="Disk is slow", categories=["servers"])
```

- Arguments are validated by the request models (``models.py``) before anything is sent; bad
  input raises `InvalidRequest` with ``status=None``, ``sent=False`` and ``fields``.
- Retries follow `RetryPolicy` (``retry.py``); writes that draw from a rate limit are paced
  per credential by `PacingPolicy` (``pacing.py``); waits report progress (``progress.py``).

Creating tickets is never done twice by the client itself:

- **Identical creates.** A create whose payload (same credential, same fields) equals one that
  succeeded in this process within ``dedup_window`` seconds (default 600) returns that first
  ticket with ``reused=True`` instead of creating a second one; a concurrent identical call
  waits for the first. Set ``dedup_window=0`` to turn it off (e.g. to file the same text twice on
  purpose).
- **Ambiguous creates.** When a create fails so that it may or may not have been applied (5xx,
  timeout, connection dropped after sending, unreadable answer), it is never re-sent. The client
  first searches for a ticket with exactly the same summary (``q=summary``, newest first),
  created within ``recover_window`` seconds (default 300), not created earlier by this process,
  and with the same categories where listed. If there is one, it is returned with
  ``recovered=True``. Otherwise the error is raised with ``outcome_unknown=True`` and a message
  telling the caller to search before retrying.
  The deprecated ``create_ticket_legacy`` is never re-sent either, but has no lookup: it raises
  the outcome-unknown error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx2
from pydantic import BaseModel

from tickets_mcp.api import creating, dedup
from tickets_mcp.api.auth import Auth
from tickets_mcp.api.calls import Caller
from tickets_mcp.api.models import (
    AccessLevel,
    AddCommentRequest,
    Category,
    CategoryField,
    CategoryFieldItem,
    CategoryRef,
    CloseTicketRequest,
    Comment,
    CommentRef,
    CountTicketsParams,
    CreateTicketLegacyRequest,
    CreateTicketRequest,
    CreateTicketResult,
    LegacySortBy,
    ListCategoriesParams,
    ListProductsParams,
    ListTicketsLegacyParams,
    Product,
    RateCommentRequest,
    RateTicketRequest,
    ReopenTicketRequest,
    SearchTicketsParams,
    SortBy,
    SortOrder,
    TicketRef,
    TicketV1,
    TicketV1Page,
    TicketV2,
    TicketV2ListItem,
    TicketV2Page,
    Topic,
    UpdateTicketLegacyRequest,
    UpdateTicketRequest,
    Vote,
)
from tickets_mcp.api.pacing import PacingPolicy
from tickets_mcp.api.progress import end_phase, report
from tickets_mcp.api.retry import RetryPolicy
from tickets_mcp.api.routes import DEFAULT_BASE_URL
from tickets_mcp.api.validation import items_parser as _items
from tickets_mcp.api.validation import keywords as _locals
from tickets_mcp.api.validation import validate as _validate

logger = logging.getLogger("tickets_mcp.api")

M = TypeVar("M", bound=BaseModel)
USER_AGENT = "tickets-mcp/0.1 (+https://github.com/; python httpx2)"
# httpx2 logs every request URL at INFO; keep it quiet unless someone chose a level.
for _name in ("httpx2", "httpcore2"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)


class TicketsClient:
    """Async client of the Tickets API over one pooled ``httpx2.AsyncClient``."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        auth: Auth | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pacing: PacingPolicy | None = None,
        dedup_window: float = 600.0,
        recover_window: float = 300.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.pacing = pacing or PacingPolicy()
        self.dedup_window = dedup_window
        self.recover_window = recover_window
        self.credential = f"{self.base_url}|{auth.identity if auth is not None else 'anonymous'}"
        self._timeout = httpx2.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self._transport = transport
        self._http: httpx2.AsyncClient | None = None
        self._caller: Caller | None = None

    def __repr__(self) -> str:
        return f"TicketsClient(base_url={self.base_url!r}, auth={self.auth!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = self._caller = None

    @property
    def http_client(self) -> httpx2.AsyncClient:
        """The underlying pooled client (an escape hatch, e.g. for an IAM login of its own)."""
        self._connected()
        assert self._http is not None
        return self._http

    def _connected(self) -> Caller:
        """The pooled HTTP client, made on the first call: building its TLS context costs ~20-30 ms,
        which a server would otherwise pay at start-up before it can answer `initialize`."""
        if self._caller is None:
            self._http = httpx2.AsyncClient(
                base_url=self.base_url + "/",
                timeout=self._timeout,
                transport=self._transport,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
            )
            self._caller = Caller(
                self._http, self.auth, credential=self.credential, retry=self.retry, pacing=self.pacing
            )
        return self._caller

    async def _call(self, operation: str, parse: Callable[[Any], Any], **kwargs: Any) -> Any:
        return await self._connected().call(operation, parse, **kwargs)

    # -- tickets (v2) -----------------------------------------------------------------------------

    async def create_ticket(
        self,
        *,
        summary: str,
        categories: list[str],
        access_level: AccessLevel = "account_users",
        comment_body: str | None = None,
        category_fields: list[CategoryFieldItem] | list[dict[str, Any]] | None = None,
        products: list[str] | None = None,
        keystone_projects: list[str] | None = None,
        files: list[str] | None = None,
        secrets: list[int] | None = None,
        body_values: dict[str, Any] | None = None,
    ) -> CreateTicketResult:
        """Create a ticket (never twice; see the module docstring for dedup and recovery)."""
        optional = {"products": products, "keystone_projects": keystone_projects, "files": files}
        request = _validate(
            "create_ticket",
            CreateTicketRequest,
            summary=summary,
            categories=categories,
            access_level=access_level,
            comment_body=comment_body,
            category_fields=category_fields,
            secrets=secrets if secrets is not None else [],
            body_values=body_values,
            **{k: v for k, v in optional.items() if v is not None},
        )
        body = request.wire()
        key = dedup.payload_key(self.credential, "create_ticket", body)
        result, reused = await dedup.run_once(
            key, self.dedup_window, lambda: creating.create(self, request, body)
        )
        if reused:
            logger.info("create_ticket: identical payload within the dedup window, reusing the first")
            return result.model_copy(update={"reused": True, "recovered": False})
        return result

    async def search_tickets(
        self,
        *,
        q: str | None = None,
        is_only_opened: bool | None = None,
        is_only_closed: bool | None = None,
        is_only_abuse: bool | None = None,
        access_levels: list[AccessLevel] | None = None,
        keystone_projects: list[str] | None = None,
        sort_by: SortBy = "created_at",
        sort_by_order: SortOrder = "desc",
        page: int = 1,
        items_per_page: int = 10,
    ) -> TicketV2Page:
        """One page of tickets matching the filters (v2 search)."""
        params = _validate("search_tickets", SearchTicketsParams, **_locals(locals())).wire()
        return await self._call("search_tickets", TicketV2Page.model_validate, params=params)

    async def iter_tickets(
        self,
        *,
        q: str | None = None,
        is_only_opened: bool | None = None,
        is_only_closed: bool | None = None,
        is_only_abuse: bool | None = None,
        access_levels: list[AccessLevel] | None = None,
        keystone_projects: list[str] | None = None,
        sort_by: SortBy = "created_at",
        sort_by_order: SortOrder = "desc",
        items_per_page: int = 100,
    ) -> AsyncIterator[TicketV2ListItem]:
        """Every ticket matching the filters, page after page (progress is reported per page)."""
        filters = _locals(locals())
        _validate("iter_tickets", SearchTicketsParams, **filters)
        page, seen, previous = 1, 0, None
        try:
            while True:
                result = await self.search_tickets(page=page, **filters)
                numbers = [item.number for item in result.items]
                if not numbers or numbers == previous:  # empty, or the server ignores `page`
                    return
                for item in result.items:
                    yield item
                seen += len(numbers)
                await report(page, None, f"fetched page {page} ({seen} tickets so far)")
                if len(numbers) < items_per_page:
                    return
                page, previous = page + 1, numbers
        finally:
            end_phase()

    async def count_tickets(
        self,
        *,
        q: str | None = None,
        is_only_opened: bool | None = None,
        is_only_closed: bool | None = None,
        is_only_abuse: bool | None = None,
        access_levels: list[AccessLevel] | None = None,
        keystone_projects: list[str] | None = None,
    ) -> int:
        """How many tickets match the filters."""
        params = _validate("count_tickets", CountTicketsParams, **_locals(locals())).wire()
        return await self._call("count_tickets", lambda d: int(d["items_count"]), params=params)

    async def get_ticket(self, number: int) -> TicketV2:
        ref = _validate("get_ticket", TicketRef, number=number)
        return await self._call("get_ticket", TicketV2.model_validate, path={"number": ref.number})

    async def update_ticket(
        self, number: int, *, access_level: AccessLevel, keystone_projects: list[str] | None = None
    ) -> TicketV2:
        """Set the access level (and IAM projects, required for ``project_users``)."""
        ref = _validate("update_ticket", TicketRef, number=number)
        extra = {"keystone_projects": keystone_projects} if keystone_projects is not None else {}
        body = _validate("update_ticket", UpdateTicketRequest, access_level=access_level, **extra).wire()
        return await self._call(
            "update_ticket", TicketV2.model_validate, path={"number": ref.number}, json=body
        )

    # -- tickets (v1-style) -----------------------------------------------------------------------

    async def close_ticket(
        self, number: int, *, score: int | None = None, comment: str | None = None
    ) -> TicketV1:
        ref = _validate("close_ticket", TicketRef, number=number)
        body = _validate("close_ticket", CloseTicketRequest, score=score, comment=comment).wire()
        return await self._v1("close_ticket", ref.number, body, TicketV1.model_validate)

    async def reopen_ticket(self, number: int, *, body: str, files: list[str] | None = None) -> TicketV1:
        ref = _validate("reopen_ticket", TicketRef, number=number)
        payload = _validate("reopen_ticket", ReopenTicketRequest, body=body, files=files).wire()
        return await self._v1("reopen_ticket", ref.number, payload, TicketV1.model_validate)

    async def rate_ticket(self, number: int, *, score: int, comment: str | None = None) -> Vote:
        ref = _validate("rate_ticket", TicketRef, number=number)
        body = _validate("rate_ticket", RateTicketRequest, score=score, comment=comment).wire()
        return await self._v1("rate_ticket", ref.number, body, Vote.model_validate)

    async def _v1(self, operation: str, number: int, body: Any, parse: Callable[[Any], M]) -> M:
        return await self._call(operation, parse, path={"ticket_number": number}, json=body)

    # -- tickets (v1, deprecated) -----------------------------------------------------------------

    async def create_ticket_legacy(
        self,
        *,
        summary: str,
        comment_body: str,
        files: list[str] | None = None,
        topic_key: str | None = None,
        notice_id: int | None = None,
        access_level: AccessLevel | None = None,
        keystone_projects: list[str] | None = None,
    ) -> TicketV1:
        """Deprecated v1 create; never re-sent after an ambiguous failure (no lookup)."""
        body = _validate("create_ticket_legacy", CreateTicketLegacyRequest, **_locals(locals())).wire()
        ticket = await self._call("create_ticket_legacy", TicketV1.model_validate, json=body)
        dedup.remember_number(self.credential, ticket.number)
        return ticket

    async def list_tickets_legacy(
        self,
        *,
        only_opened: bool | None = None,
        only_closed: bool | None = None,
        q: str | None = None,
        page: int = 1,
        items_per_page: int = 10,
        sort_by: LegacySortBy | None = None,
        sort_by_order: SortOrder | None = None,
        access_level: AccessLevel | None = None,
        keystone_projects: list[str] | None = None,
    ) -> TicketV1Page:
        params = _validate("list_tickets_legacy", ListTicketsLegacyParams, **_locals(locals())).wire()
        return await self._call("list_tickets_legacy", TicketV1Page.model_validate, params=params)

    async def get_ticket_legacy(self, number: int) -> TicketV1:
        ref = _validate("get_ticket_legacy", TicketRef, number=number)
        return await self._v1("get_ticket_legacy", ref.number, None, TicketV1.model_validate)

    async def update_ticket_legacy(
        self,
        number: int,
        *,
        access_level: AccessLevel | None = None,
        keystone_projects: list[str] | None = None,
    ) -> TicketV1:
        ref = _validate("update_ticket_legacy", TicketRef, number=number)
        body = _validate(
            "update_ticket_legacy",
            UpdateTicketLegacyRequest,
            access_level=access_level,
            keystone_projects=keystone_projects,
        ).wire()
        return await self._v1("update_ticket_legacy", ref.number, body, TicketV1.model_validate)

    # -- comments ---------------------------------------------------------------------------------

    async def add_comment(self, number: int, *, body: str, files: list[str] | None = None) -> Comment:
        """Add a comment to an open ticket (paced: 60 per minute per credential; never re-sent)."""
        ref = _validate("add_comment", TicketRef, number=number)
        payload = _validate("add_comment", AddCommentRequest, body=body, files=files).wire()
        return await self._v1("add_comment", ref.number, payload, Comment.model_validate)

    async def list_comments(self, number: int) -> list[Comment]:
        ref = _validate("list_comments", TicketRef, number=number)
        return await self._v1("list_comments", ref.number, None, _items(Comment))

    async def get_comment(self, comment_id: int) -> Comment:
        ref = _validate("get_comment", CommentRef, comment_id=comment_id)
        return await self._call("get_comment", Comment.model_validate, path={"comment_id": ref.comment_id})

    async def rate_comment(self, comment_id: int, *, score: int, comment: str | None = None) -> Vote:
        """Rate a support reply: ``score`` 1 (useful) or -1 (not useful)."""
        ref = _validate("rate_comment", CommentRef, comment_id=comment_id)
        body = _validate("rate_comment", RateCommentRequest, score=score, comment=comment).wire()
        return await self._call(
            "rate_comment", Vote.model_validate, path={"comment_id": ref.comment_id}, json=body
        )

    # -- catalog ----------------------------------------------------------------------------------

    async def list_topics(self) -> list[Topic]:
        """Deprecated ticket topics (for ``create_ticket_legacy``'s ``topic_key``)."""
        return await self._call("list_topics", _items(Topic))

    async def list_categories(
        self,
        *,
        sort_by: str = "view_priority",
        sort_by_order: SortOrder = "asc",
        is_only_active: bool = False,
    ) -> list[Category]:
        params = _validate("list_categories", ListCategoriesParams, **_locals(locals())).wire()
        return await self._call("list_categories", _items(Category), params=params)

    async def get_category_fields(self, category: str) -> list[CategoryField]:
        ref = _validate("get_category_fields", CategoryRef, category=category)
        return await self._call("get_category_fields", _items(CategoryField), path={"category": ref.category})

    async def list_products(
        self, *, parent: str | None = None, sort_by: str = "view_priority", sort_by_order: SortOrder = "asc"
    ) -> list[Product]:
        params = _validate("list_products", ListProductsParams, **_locals(locals())).wire()
        return await self._call("list_products", _items(Product), params=params)
