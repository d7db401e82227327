"""`TicketsClient`: the operations of `operations.py` over one pooled HTTP client.

```python
async with TicketsClient(auth=StaticToken("...")) as client:
    page = await client.search_tickets(q="disk", is_only_opened=True)
    result = await client.create_ticket(summary="Disk is slow", categories=["servers"])
```

- Arguments are validated against the operation's declaration before anything is sent; bad input
  raises `InvalidRequest` with ``status=None``, ``sent=False`` and ``fields``.
- Retries follow `RetryPolicy` (``retry.py``); writes that draw from a rate limit are paced per
  credential (`pacing.Pacer`); waits report progress (``progress.py``).
- What several calls must agree on lives in the `RateWindows` (pacing) and the `Dedup` (writes done
  once) the client is given, or its own in-process ones: never in module globals. Clients handed the
  same objects share them; objects kept in Redis are shared by server replicas.

Creating tickets is never done twice by the client itself:

- **Identical creates.** A create whose payload (same credential, same fields) equals one that
  succeeded within ``dedup_window`` seconds (default 600) returns that first ticket with
  ``reused=True`` instead of creating a second one; a concurrent identical call waits for the first.
  Set ``dedup_window=0`` to turn it off (e.g. to file the same text twice on purpose).
- **Ambiguous creates.** When a create fails so that it may or may not have been applied (5xx,
  timeout, connection dropped after sending, unreadable answer), it is never re-sent: the client
  looks for the ticket first (`recovery.py`) and returns it with ``recovered=True``.

Attachments go through the vendor's separate Ticket attachments API, at ``files_url`` (by default next to
the Tickets API: `routes.files_url_from`): ``list_file_extensions``, ``upload_file`` and ``download_file``.
An upload is a write: paced in its own bucket (20 per minute per account), never re-sent after an
ambiguous failure, and an identical file (same name and bytes) uploaded within ``dedup_window`` returns
the first UUID with ``reused=True``. It cannot be read back (the API lists no files), so an ambiguous
failure stays ``outcome_unknown``.

The other non-idempotent writes (``add_comment``, ``close_ticket``, ``reopen_ticket``,
``rate_ticket``, ``rate_comment``) are settled the same way after an ambiguous failure: the client
reads the thread, the ticket or the comment, and returns what the write would have returned,
marked ``recovered`` (True), or raises the error with ``code="not_applied"`` and
``outcome_unknown=False`` when the read shows it did not happen (calling again is safe). It keeps
``outcome_unknown=True`` only when the read fails too, or when the request timed out and may still
be applied; the message then says what was checked and what to check by hand. A comment counts
as found when a client comment of the thread has the same body, was sent at most
``clock_tolerance`` seconds (default 120) before the request started, and is not one this
identity's clients added before (their ids are kept in ``dedup``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, Self, Unpack
from uuid import UUID

import anyio
import httpx2

from tickets_mcp.api import recovery
from tickets_mcp.api.auth import Auth, accepted_by
from tickets_mcp.api.dedup import Dedup, MemoryDedup, payload_key
from tickets_mcp.api.errors import (
    OUTCOME_UNKNOWN_HINT,
    AuthError,
    FieldError,
    SharedStateUnavailable,
    TicketsApiError,
    invalid_arguments,
)
from tickets_mcp.api.files import (
    MAX_FILE_BYTES,
    DownloadedFile,
    UploadedFile,
    content_type_of,
    filename_of,
)
from tickets_mcp.api.models import (
    Comment,
    CreateTicketResult,
    TicketV1,
    TicketV2ListItem,
    Vote,
    mark_recovered,
)
from tickets_mcp.api.operations import (
    ROUTES,
    NewLegacyTicket,
    NewTicket,
    Operations,
    TicketSearch,
    new_ticket_body,
)
from tickets_mcp.api.pacing import Pacer, PacingPolicy
from tickets_mcp.api.progress import end_phase, report
from tickets_mcp.api.retry import RetryPolicy
from tickets_mcp.api.routes import DEFAULT_BASE_URL, PATH_STATUS, Request, Route, files_url_from
from tickets_mcp.api.sending import Caller
from tickets_mcp.api.types import (
    Body,
    CloseScore,
    CommentId,
    CommentScore,
    FileId,
    FileName,
    Files,
    NonEmpty,
    TicketNumber,
    TicketScore,
)
from tickets_mcp.api.windows import MemoryWindows, RateWindows

COMMENT_DEDUP = 60.0  # seconds an identical comment returns the first (a retry), at most dedup_window
UPLOAD_UNKNOWN_HINT = (
    "The file may or may not have been stored, and an upload cannot be checked afterwards (the Attachments "
    "API has no route that lists files). Uploading it again is safe (a stored copy nobody attaches changes "
    "nothing) but counts against the 20 uploads per minute."
)
STATIC_TOKEN_HINT = (
    "The Attachments API documents only the static token (X-Token): this API may need a static token; "
    "set SELECTEL_TOKEN for attachments."
)

logger = logging.getLogger("tickets_mcp.api")

USER_AGENT = "tickets-mcp/0.1 (+https://github.com/; python httpx2)"
# httpx2 logs every request URL at INFO; keep it quiet unless someone chose a level.
for _name in ("httpx2", "httpcore2"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client of this process verifies the API with (httpx2's defaults), built once:
    building them costs tens of milliseconds, which each new caller's client would otherwise pay."""
    return httpx2.create_ssl_context()


class TicketsClient(Operations):
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
        windows: RateWindows | None = None,
        dedup: Dedup | None = None,
        dedup_window: float = 600.0,
        recover_window: float = 300.0,
        clock_tolerance: float = 120.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        files_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The Ticket attachments API: a base URL of its own, next to the Tickets API unless given.
        self.files_url = (files_url or "").strip().rstrip("/") or files_url_from(self.base_url)
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.pacing = pacing or PacingPolicy()
        self.windows = MemoryWindows() if windows is None else windows
        self.dedup = MemoryDedup() if dedup is None else dedup
        self.dedup_window = dedup_window
        self.recover_window = recover_window
        self.clock_tolerance = clock_tolerance
        # Who calls: the credential's hash per API. It keys the dedup and the writes remembered.
        self.identity = f"{self.base_url}|{auth.identity if auth is not None else 'anonymous'}"
        # Not an identity: the API's rate limits are per account, so tokens that show theirs share its pacing
        # once the API has accepted them (a token's account is only what it claims: `pacing.py`).
        account = getattr(auth, "account_id", None) or getattr(auth, "account", None)
        self.account_key = f"{self.base_url}|account:{account}" if account else None
        # The API has taken this credential: an answer to a request made with it that is not 401, 403, 429 or
        # a 5xx (`auth.accepted_by`). The server's pool protects such callers; pacing trusts their account.
        self.accepted = False
        self._timeout = httpx2.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self._transport = transport
        self._http: httpx2.AsyncClient | None = None
        self._caller: Caller | None = None
        self._in_flight = 0  # requests being sent or answered now
        self._closing = False  # aclose() was called: the HTTP client closes whenever no request is in flight

    def __repr__(self) -> str:
        return f"TicketsClient(base_url={self.base_url!r}, files_url={self.files_url!r}, auth={self.auth!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled HTTP client, at once or, while requests are in flight, when the last one ends: a
        request is never cut off (its write's outcome would be unknown). A call made afterwards still works,
        over a connection closed again when it ends."""
        self._closing = True
        if not self._in_flight:
            await self._disconnect()

    async def _disconnect(self) -> None:
        http, self._http, self._caller = self._http, None, None  # a call from now on gets a client of its own
        if http is not None:
            await http.aclose()

    def _http_closed(self) -> bool:
        """Whether the HTTP client was closed under us (through `http_client`): the next call opens one."""
        return self._http is not None and self._http.is_closed

    @property
    def busy(self) -> bool:
        """Whether a request is in flight (being sent, or waiting for its answer)."""
        return self._in_flight > 0

    def _answered(self, status: int) -> None:
        if not self.accepted and accepted_by(status):
            self.accepted = True

    @property
    def http_client(self) -> httpx2.AsyncClient:
        """The underlying pooled client (an escape hatch, e.g. for an IAM login of its own)."""
        self._connected()
        assert self._http is not None
        return self._http

    def _connected(self) -> Caller:
        """The pooled HTTP client, made on the first call (and again if it was closed under us): building the
        TLS context is a measurable cost a server would otherwise pay at start-up before it can answer
        `initialize`."""
        if self._caller is None or self._http_closed():
            self._http = httpx2.AsyncClient(
                base_url=self.base_url + "/",
                timeout=self._timeout,
                transport=self._transport,
                verify=tls_context(),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
            )
            pacer = Pacer(
                self.pacing,
                self.windows,
                self.identity,
                account=self.account_key,
                accepted=lambda: self.accepted,
            )
            self._caller = Caller(
                self._http,
                self.auth,
                retry=self.retry,
                pacer=pacer,
                on_answer=self._answered,
                urls={"files": self.files_url},
            )
        return self._caller

    async def _send(self, route: Route, request: Request, parse: Callable[[Any], Any]) -> Any:
        self._in_flight += 1
        try:
            return await self._connected().call(route, request, parse)
        finally:
            self._in_flight -= 1
            if self._closing and not self._in_flight:
                with anyio.CancelScope(shield=True):
                    await self._disconnect()

    # -- what some operations need around them ------------------------------------------------------

    async def create_ticket(self, **fields: Unpack[NewTicket]) -> CreateTicketResult:
        """Create a ticket, never twice (see the module docstring for dedup and recovery)."""
        body = new_ticket_body(**fields)
        key = payload_key(self.identity, "create_ticket", body)

        async def create() -> dict[str, Any]:
            result = await recovery.create(self, body)
            return result.model_dump(mode="json")

        async def settle() -> dict[str, Any] | None:  # a replica died creating it: did it go through?
            found = await recovery.recover(self, body, datetime.now(UTC))
            return (
                None
                if found is None
                else CreateTicketResult(ticket=found, recovered=True).model_dump(mode="json")
            )

        try:
            data, reused = await self.dedup.run_once(key, self.dedup_window, create, settle)
        except SharedStateUnavailable as exc:  # the replicas' dedup (Redis) is out of reach: nothing sent
            exc.operation = "create_ticket"
            raise
        result = CreateTicketResult.model_validate(data)
        if reused:
            logger.info("create_ticket: identical payload within the dedup window, reusing the first")
            return result.model_copy(update={"reused": True, "recovered": False})
        return result

    async def add_comment(self, number: TicketNumber, *, body: Body, files: Files | None = None) -> Comment:
        """Add a comment, never twice: an identical comment to the same ticket within `COMMENT_DEDUP`
        seconds (an agent's retry, on this replica or another) returns the first, or waits for it while it
        is being added; after an ambiguous failure, or when the replica adding it died, look for it in the
        thread. ``dedup_window=0`` turns this off (the same words twice on purpose)."""
        send = partial(super().add_comment, number, body=body, files=files)
        key = payload_key(self.identity, "add_comment", {"number": number, "body": body, "files": files})

        async def add() -> dict[str, Any]:
            comment = await recovery.add_comment(self, send, number, body)
            return {"comment": comment.model_dump(mode="json"), "recovered": comment.recovered}

        async def settle() -> dict[str, Any] | None:  # a replica died adding it: did it go through?
            found = await recovery.find_comment(self, number, body, datetime.now(UTC))
            return None if found is None else {"comment": found.model_dump(mode="json"), "recovered": True}

        try:
            window = min(self.dedup_window, COMMENT_DEDUP)
            data, reused = await self.dedup.run_once(key, window, add, settle)
        except SharedStateUnavailable as exc:
            exc.operation = "add_comment"
            raise
        comment = Comment.model_validate(data["comment"])
        return mark_recovered(comment) if reused or data["recovered"] else comment

    async def close_ticket(
        self, number: TicketNumber, *, score: CloseScore | None = None, comment: NonEmpty | None = None
    ) -> TicketV1:
        """Close a ticket, never twice; after an ambiguous failure, read it to see whether it closed."""
        send = partial(super().close_ticket, number, score=score, comment=comment)
        return await recovery.close_ticket(self, send, number)

    async def reopen_ticket(
        self, number: TicketNumber, *, body: Body, files: Files | None = None
    ) -> TicketV1:
        """Reopen a ticket, never twice; after an ambiguous failure, read it to see whether it is open."""
        send = partial(super().reopen_ticket, number, body=body, files=files)
        return await recovery.reopen_ticket(self, send, number)

    async def rate_ticket(
        self, number: TicketNumber, *, score: TicketScore, comment: NonEmpty | None = None
    ) -> Vote:
        """Rate a ticket, never twice; after an ambiguous failure, read its vote."""
        send = partial(super().rate_ticket, number, score=score, comment=comment)
        return await recovery.rate_ticket(self, send, number, score, comment)

    async def rate_comment(
        self, comment_id: CommentId, *, score: CommentScore, comment: NonEmpty | None = None
    ) -> Vote:
        """Rate a support reply, never twice; after an ambiguous failure, read its vote."""
        send = partial(super().rate_comment, comment_id, score=score, comment=comment)
        return await recovery.rate_comment(self, send, comment_id, score)

    async def create_ticket_legacy(self, **fields: Unpack[NewLegacyTicket]) -> TicketV1:
        """Deprecated v1 create; never re-sent after an ambiguous failure (no lookup)."""
        ticket = await self._create_ticket_legacy(**fields)
        await self.dedup.remember_number(self.identity, ticket.number)
        return ticket

    # -- attachments (the Ticket attachments API) ----------------------------------------------------

    async def list_file_extensions(self) -> list[str]:
        """The extensions the Attachments API accepts for upload: lower-case, without the dot."""
        try:
            return await super().list_file_extensions()
        except TicketsApiError as exc:
            raise self._files_error(exc, ROUTES["list_file_extensions"]) from None

    async def upload_file(
        self, filename: FileName, content: bytes, *, content_type: str | None = None
    ) -> UploadedFile:
        """Upload one file (at most 20 MB: checked before sending) and return its UUID, to pass as ``files``
        to a create, reopen or comment. Paced at 20 per minute per account; never re-sent after an
        ambiguous failure (``outcome_unknown``: it cannot be read back). The same name and bytes uploaded
        within ``dedup_window`` seconds return the first UUID, ``reused=True``, and nothing is sent."""
        if not isinstance(filename, str) or not filename.strip():
            raise invalid_arguments("upload_file", [FieldError("filename", "must be a non-empty file name")])
        if len(content) > MAX_FILE_BYTES:
            reason = f"{len(content)} bytes: at most {MAX_FILE_BYTES} (20 MB) per file"
            raise invalid_arguments("upload_file", [FieldError("content", reason)])
        sha256 = hashlib.sha256(content).hexdigest()
        kind = content_type or content_type_of(filename)
        key = payload_key(self.identity, "upload_file", {"filename": filename, "sha256": sha256})

        async def upload() -> dict[str, Any]:
            try:
                uuid = await self._upload_file(file=(filename, content, kind))
            except TicketsApiError as exc:
                raise self._files_error(exc, ROUTES["upload_file"]) from None
            done = UploadedFile(uuid=uuid, filename=filename, size=len(content), sha256=sha256)
            return done.model_dump(mode="json")

        try:
            data, reused = await self.dedup.run_once(key, self.dedup_window, upload)
        except SharedStateUnavailable as exc:  # the replicas' dedup (Redis) is out of reach: nothing sent
            exc.operation = "upload_file"
            raise
        uploaded = UploadedFile.model_validate(data)
        if reused:
            logger.info("upload_file: identical file within the dedup window, reusing its UUID")
            return uploaded.model_copy(update={"reused": True})
        return uploaded

    async def download_file(self, uuid: str | FileId) -> DownloadedFile:
        """One attachment by its UUID: its bytes, and its name and content type when the API sends them. A
        value that is not a UUID raises `InvalidRequest` before anything is sent."""
        try:
            response = await self._download_file(uuid)  # type: ignore[arg-type]  # validated to a UUID there
        except TicketsApiError as exc:
            raise self._files_error(exc, ROUTES["download_file"], str(uuid)) from None
        return DownloadedFile(
            uuid=str(UUID(str(uuid).strip())),
            filename=filename_of(response.headers.get("content-disposition")),
            content_type=response.headers.get("content-type"),
            content=response.content,
        )

    def _files_error(self, exc: TicketsApiError, route: Route, uuid: str | None = None) -> TicketsApiError:
        """``exc`` told for the Attachments API: which route-table entry a 404/405 points at, that an IAM
        token may not do, and that an upload of unknown outcome cannot be checked."""
        entry = (
            f"the route-table entry {route.name} ({route.method} {route.path}, path "
            f"{PATH_STATUS[route.path_status]}; tickets_mcp/api/operations.py) of the Attachments API at "
            f"{self.files_url}"
        )
        if exc.status == 404 and uuid is not None:
            exc.message = (
                f"HTTP 404 for file {uuid}: no such file for this account, or {entry} is wrong (a path "
                "inferred, not documented). Check the UUID (from upload_file or a comment's files)."
            )
        elif exc.status in (404, 405):
            exc.code = "route_not_found"
            wrong = "path" if exc.status == 404 else "method"
            exc.message = (
                f"HTTP {exc.status}: the {wrong} of {entry} is probably wrong; if the Attachments API "
                "lives elsewhere, set SELECTEL_FILES_URL."
            )
        elif isinstance(exc, AuthError) and getattr(self.auth, "mode", None) in ("iam", "service_user"):
            exc.message += " " + STATIC_TOKEN_HINT
        if exc.outcome_unknown and route.name == "upload_file":
            if OUTCOME_UNKNOWN_HINT in exc.message:
                exc.message = exc.message.replace(OUTCOME_UNKNOWN_HINT, UPLOAD_UNKNOWN_HINT)
            else:
                exc.message += " " + UPLOAD_UNKNOWN_HINT
        return exc

    async def iter_tickets(self, **query: Unpack[TicketSearch]) -> AsyncIterator[TicketV2ListItem]:
        """Every ticket matching the filters, page after page (progress is reported per page)."""
        per_page = query["items_per_page"] = query.get("items_per_page") or 100
        page, seen, previous = 1, 0, None
        try:
            while True:
                query["page"] = page  # ``query`` is this call's own kwargs dict
                result = await self.search_tickets(**query)
                numbers = [item.number for item in result.items]
                if not numbers or numbers == previous:  # empty, or the server ignores `page`
                    return
                for item in result.items:
                    yield item
                seen += len(numbers)
                await report(page, None, f"fetched page {page} ({seen} tickets so far)")
                if len(numbers) < per_page:
                    return
                page, previous = page + 1, numbers
        finally:
            end_phase()
