"""Streamable HTTP: loopback by default, Host/Origin checks always on, a bearer token or OAuth, /healthz.

The SDK turns DNS-rebinding protection on only for loopback binds and leaves it off otherwise, so
the transport security settings are always passed explicitly here.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tickets_mcp.tools.credentials import MissingCredential, request_auth

if TYPE_CHECKING:
    from tickets_mcp.settings import Settings
    from tickets_mcp.tools.server import TicketsServer

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
PUBLIC_PATHS = ("/healthz",)


def transport_security(settings: Settings) -> Any:
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = {f"{settings.host}:*", settings.host, *(f"{h}:*" for h in LOOPBACK), *LOOPBACK}
    origins = {f"http://{h}:*" for h in LOOPBACK} | set(settings.allowed_origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


class BearerGuard:
    """Require `Authorization: Bearer <TICKETS_MCP_HTTP_TOKEN>` on every path but /healthz."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in PUBLIC_PATHS:
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                response = JSONResponse(
                    {
                        "error": "unauthorized",
                        "message": "send Authorization: Bearer <TICKETS_MCP_HTTP_TOKEN>",
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CredentialGuard:
    """With per-request credentials: refuse (401) a request that carries no Selectel credential, before the
    MCP layer sees it; the message names the headers. /healthz and /.well-known/ stay open.

    With OAuth it runs after the SDK's authentication: a request without a valid access token passes on,
    so that the SDK answers it with the 401 that points the client to the authorization server; one with
    a valid token but no Selectel credential gets 403 (a 401 would send an OAuth client to sign in again)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")  # set by the OAuth layer only
        if (
            scope["type"] == "http"
            and scope.get("path") not in PUBLIC_PATHS
            and not str(scope.get("path")).startswith("/.well-known/")
            and (user is None or user.is_authenticated)
        ):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            try:
                request_auth(headers)
            except MissingCredential as exc:
                status = 401 if user is None else 403  # with OAuth: authenticated, yet no Selectel credential
                response = JSONResponse(
                    {"error": "missing_credential", "message": str(exc)}, status_code=status
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_http_app(server: TicketsServer, settings: Settings) -> ASGIApp:
    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Any) -> Response:
        return JSONResponse({"status": "ok"})

    app = server.streamable_http_app(
        stateless_http=settings.stateless,
        json_response=settings.json_response,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    if settings.oauth_enabled:  # the SDK checks the access tokens; the metadata and the guard are ours
        from starlette.middleware import Middleware

        from tickets_mcp.oauth import serve_metadata

        serve_metadata(app, settings)
        if settings.credentials == "per-request":
            app.user_middleware.append(Middleware(CredentialGuard))  # inside, after authentication
        return app
    guarded: ASGIApp = CredentialGuard(app) if settings.credentials == "per-request" else app
    if settings.http_token is not None:
        return BearerGuard(guarded, settings.http_token.get_secret_value())
    return guarded


def run_http(server: TicketsServer, settings: Settings) -> None:
    import uvicorn

    app = build_http_app(server, settings)
    uvicorn.run(  # log_config=None: uvicorn's records go through our handler (redacted; text or JSON)
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
