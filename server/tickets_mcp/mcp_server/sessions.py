"""Stateful HTTP sessions (the 2025-11-25 handshake era) bound to the caller that opened them, and a bound
on how many sessions one caller holds.

The SDK binds a session to the OAuth principal that opened it, and to nothing else: with per-request
credentials, anyone who learnt a session id could post on it, read its GET stream (the owner's
notifications), answer its consent questions and end it. `SessionBinding` binds each session to its
**owner**: the hash of the per-request credential (``auth.identity``) and, with OAuth, the principal of
the access token (client, issuer, subject). A request on a session with another owner is answered exactly
as the SDK answers an unknown session (404 ``Session not found``), so a foreign session id is not even
confirmed to exist.

**Sessions per caller**: a credential and an OAuth subject each hold at most ``sessions_per_caller``
sessions at once (``TICKETS_MCP_SESSIONS_PER_CALLER``); the next one is refused with 429 and a JSON-RPC
error that says the limit, the setting and how to free a slot. A session frees its slot when it ends (its
DELETE, the idle timeout, a crash: the SDK tells `SessionOwners.forget`). With the server's own
credential and no OAuth every caller is the same one, so nothing is bound or counted.

The 2026-07-28 era has no sessions (each request carries what it needs), so its requests pass untouched.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.types import INVALID_REQUEST, ErrorData, JSONRPCError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tickets_mcp.mcp_server.callers import MCP_PATH, MissingCredential, request_auth

log = logging.getLogger("tickets_mcp.mcp_server")

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
LIMIT_SETTING = "TICKETS_MCP_SESSIONS_PER_CALLER"
SESSION_LIMIT_CODE = -32000  # JSON-RPC "server error" range: a limit of this server, not a bad request


@dataclass(frozen=True)
class Owner:
    """Who opened a session: the per-request credential's identity and the OAuth principal, each when
    the deployment has it. Two requests belong to the same session owner only if both match."""

    credential: str | None = None
    principal: tuple[str, str | None, str | None] | None = None  # (client_id, issuer, subject)

    def counted(self) -> tuple[str, ...]:
        """The callers this owner's sessions count against: its credential, and its OAuth subject."""
        keys = []
        if self.credential is not None:
            keys.append(f"credential {self.credential}")
        if self.principal is not None:
            client, issuer, subject = self.principal
            keys.append(f"oauth {issuer or ''} {subject if subject is not None else 'client:' + client}")
        return tuple(keys)


class SessionOwners:
    """Session id → owner, and how many sessions each caller holds (open ones and ones being opened).

    Bounded by the SDK's own session table: an entry is dropped when the SDK discards its session."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._owners: dict[str, Owner] = {}
        self._held: Counter[str] = Counter()
        self._warned: set[str] = set()  # sessions already reported as probed by another caller

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, session_id: str) -> Owner | None:
        return self._owners.get(session_id)

    def full(self, owner: Owner) -> str | None:
        """The caller of ``owner`` that holds its limit already, if any."""
        return next((key for key in owner.counted() if self._held[key] >= self.limit), None)

    def reserve(self, owner: Owner) -> None:
        self._held.update(owner.counted())

    def release(self, owner: Owner) -> None:
        self._held.subtract(owner.counted())
        for key in owner.counted():
            if self._held[key] <= 0:
                del self._held[key]

    def opened(self, session_id: str, owner: Owner) -> None:
        """A reserved slot became the open session ``session_id``."""
        self._owners[session_id] = owner

    def forget(self, session_id: str) -> None:
        """The SDK discarded ``session_id`` (DELETE, idle timeout, crash, shutdown): free its slot.
        Called more than once for one session sometimes; only the first call counts."""
        owner = self._owners.pop(session_id, None)
        self._warned.discard(session_id)
        if owner is not None:
            self.release(owner)

    def first_probe(self, session_id: str) -> bool:
        """True the first time another caller is refused ``session_id`` (one warning per session)."""
        if session_id in self._warned:
            return False
        self._warned.add(session_id)
        return True


def short(session_id: str) -> str:
    """What the logs say of a session id: a prefix that tells sessions apart and cannot be used."""
    return session_id[:8] + "…"


def not_found() -> Response:
    """Byte for byte what the SDK answers for an unknown session (`streamable_http_manager`)."""
    body = JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message="Session not found")
    )
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=404,
        media_type="application/json",
    )


def limit_reached(caller: str, limit: int, idle_timeout: float | None) -> Response:
    who = "OAuth subject" if caller.startswith("oauth ") else "credential"
    wait = (
        f"wait for the idle timeout ({idle_timeout / 60:g} minutes without a request) to close them"
        if idle_timeout
        else "end them"
    )
    message = (
        f"Too many open sessions: this {who} already holds {limit}, the most one caller may hold "
        f"({LIMIT_SETTING}={limit}). End sessions you no longer use (DELETE /mcp with their "
        f"Mcp-Session-Id header), or {wait}; then initialize again."
    )
    body = JSONRPCError(
        jsonrpc="2.0",
        id=None,
        error=ErrorData(
            code=SESSION_LIMIT_CODE,
            message=message,
            data={"limit": limit, "setting": LIMIT_SETTING, "idle_timeout_seconds": idle_timeout},
        ),
    )
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=429,
        media_type="application/json",
    )


class SessionBinding:
    """ASGI middleware around the MCP app (inside the OAuth layer, after `CredentialGuard`): records the
    owner of each session the SDK opens (the ``mcp-session-id`` of the answer to a request that had
    none), refuses other owners on it, and refuses a caller's session beyond its limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        owners: SessionOwners,
        per_request: bool,
        oauth: bool,
        idle_timeout: float | None,
    ) -> None:
        self.app = app
        self.owners = owners
        self.per_request = per_request
        self.oauth = oauth
        self.idle_timeout = idle_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = self._owner_of(scope) if scope["type"] == "http" and scope.get("path") == MCP_PATH else None
        if owner is None:  # not a session request, or one the layers around or the SDK refuse anyway
            await self.app(scope, receive, send)
            return
        session_id = _header(scope, SESSION_HEADER)
        if session_id is not None:
            bound = self.owners.owner(session_id)
            if bound is not None and bound != owner:
                if self.owners.first_probe(session_id):
                    log.warning(
                        "refused a request on session %s: another caller opened it (answered as unknown)",
                        short(session_id),
                    )
                await not_found()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self._open(owner, scope, receive, send)

    async def _open(self, owner: Owner, scope: Scope, receive: Receive, send: Send) -> None:
        """A request without a session id: the SDK opens a session for it (kept if it answers < 400)."""
        caller = self.owners.full(owner)
        if caller is not None:
            log.info(
                "refused a new session: a caller holds %d already (%s)", self.owners.limit, LIMIT_SETTING
            )
            await limit_reached(caller, self.owners.limit, self.idle_timeout)(scope, receive, send)
            return
        self.owners.reserve(owner)  # before the SDK runs: concurrent openings count too
        kept = False

        async def watch(message: Message) -> None:
            nonlocal kept
            if message["type"] == "http.response.start" and not kept and message["status"] < 400:
                opened = dict(message.get("headers") or []).get(SESSION_HEADER)
                if opened:
                    self.owners.opened(opened.decode("latin-1"), owner)
                    kept = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not kept:
                self.owners.release(owner)

    def _owner_of(self, scope: Scope) -> Owner | None:
        version = _header(scope, VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            return None  # 2026-07-28 and later: no session
        principal = None
        if self.oauth:
            user: Any = scope.get("user")
            if not isinstance(user, AuthenticatedUser):
                return None  # the SDK answers 401
            context = authorization_context(user)
            principal = (context["client_id"], context["issuer"], context["subject"])
        credential = None
        if self.per_request:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            try:
                credential = request_auth(headers).identity
            except MissingCredential:
                return None  # `CredentialGuard` refuses it
        return Owner(credential, principal)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None
