"""Who is calling, and what they may do: every gate between a request and a tool.

- **The HTTP gate** (`transport_security`, `BearerGuard`): Host and Origin are always checked (the SDK
  turns DNS-rebinding protection on only for loopback binds, so it is passed explicitly); with
  ``TICKETS_MCP_HTTP_TOKEN`` every path but ``/healthz`` needs ``Authorization: Bearer <token>``.
- **OAuth 2.1 resource server** (`JwksTokenVerifier`, `server_options`, `serve_metadata`): the MCP
  endpoint takes JWT access tokens of one issuer. The SDK's bearer middleware answers a request without
  a valid token with 401 and ``WWW-Authenticate: Bearer ..., resource_metadata="<url>"``; the RFC 9728
  metadata is ours, because it lists both scopes and is served at ``/.well-known/oauth-protected-resource``
  plus the MCP path as well as where the audience URL points.
- **Per-request credentials** (`request_auth`, `CredentialGuard`, ``--credentials per-request``): each
  HTTP request carries its user's own Selectel credential, ``X-Selectel-Token`` (a static token, sent
  upstream as ``X-Token``) or ``X-Selectel-Auth-Token`` (an IAM token, sent as ``X-Auth-Token``); a
  request with neither is refused before the MCP layer sees it.
- **Scopes** (`may_write`, `listed_tools`, `refused_tool`, `prompt_gate`): ``tickets:read`` gives the
  read tools; ``tickets:write`` (which includes reading) adds the writes. For a token without
  ``tickets:write`` a write tool is left out of `tools/list` and refused at call time with an `isError`
  result naming the scope, and a prompt that leads to a write (``writes = true``) is hidden and refused.
  ``--read-only`` and the toolsets still apply on top. Without OAuth, scopes change nothing.

A caller's **identity** is the hash of the credential its calls are made with (``auth.identity``): the
server's own, or the one a request carries. It keys every piece of per-caller state (`state.py`).

An access token is valid when its signature verifies with a key of the issuer's JWKS (an asymmetric
algorithm; never ``none`` or HMAC), ``iss`` is the issuer, ``aud`` holds the audience (this server's
resource URL), and ``exp`` has not passed (``LEEWAY`` seconds of clock skew allowed). Scopes come from
``scope`` (space-separated) or ``scp`` (a list). Keys are fetched on first use, not at start-up, cached for
``JWKS_LIFESPAN`` seconds and fetched again when a token names an unknown ``kid`` (at most once per
``REFRESH_COOLDOWN`` seconds, so random key ids cannot make this server hammer the issuer). Logs never
carry a token or its claims.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tickets_mcp.api import IamToken, StaticToken
from tickets_mcp.mcp_server.results import fail

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.types import CallToolResult
    from starlette.applications import Starlette

    from tickets_mcp.mcp_server.declare import ToolSpec
    from tickets_mcp.settings import Settings

log = logging.getLogger("tickets_mcp.mcp_server")

# --- per-request credentials ---------------------------------------------------------------------

STATIC_HEADER = "x-selectel-token"
IAM_HEADER = "x-selectel-auth-token"
HEADERS = ("X-Selectel-Token", "X-Selectel-Auth-Token")


class MissingCredential(ValueError):
    """A request without exactly one of the credential headers."""


def request_auth(headers: Mapping[str, str]) -> StaticToken | IamToken:
    """The credential a request carries (header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    static, iam = lowered.get(STATIC_HEADER, "").strip(), lowered.get(IAM_HEADER, "").strip()
    if bool(static) == bool(iam):
        raise MissingCredential(missing_message())
    return StaticToken(static) if static else IamToken(iam)


def missing_message() -> str:
    return (
        "this server takes each user's own Selectel credential: send exactly one of "
        "X-Selectel-Token: <static token> or X-Selectel-Auth-Token: <IAM token> with every request"
    )


# --- the HTTP gate ---------------------------------------------------------------------------------

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


# --- OAuth ----------------------------------------------------------------------------------------

READ_SCOPE = "tickets:read"
WRITE_SCOPE = "tickets:write"
SCOPES = (READ_SCOPE, WRITE_SCOPE)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30  # seconds of clock skew allowed on exp, nbf and iat
JWKS_TIMEOUT = 5.0
JWKS_LIFESPAN = 300.0
REFRESH_COOLDOWN = 30.0
METADATA_PREFIX = "/.well-known/oauth-protected-resource"
MCP_PATH = "/mcp"


def granted_scopes(claims: dict[str, Any]) -> list[str]:
    """The scopes of a token's claims (``scope``: space-separated; ``scp``: a list or a string), with
    ``tickets:read`` added when ``tickets:write`` is there (writing includes reading)."""
    found: list[str] = []
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            found += value.split()
        elif isinstance(value, list | tuple):
            found += [item for item in value if isinstance(item, str)]
    if WRITE_SCOPE in found and READ_SCOPE not in found:
        found.append(READ_SCOPE)
    return list(dict.fromkeys(found))


class JwksTokenVerifier:
    """The SDK's `TokenVerifier` for JWT access tokens signed with a key of the issuer's JWKS."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        audience: str,
        timeout: float = JWKS_TIMEOUT,
        lifespan: float = JWKS_LIFESPAN,
        cooldown: float = REFRESH_COOLDOWN,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.audience = audience
        self._options = (timeout, lifespan, cooldown)
        self._jwks: Any = None  # jwt.PyJWKClient, made on first use (PyJWT and cryptography load then)
        self._accepted: list[str] | None = None

    def _keys(self) -> Any:
        if self._jwks is None:
            from jwt import PyJWKClient

            timeout, lifespan, cooldown = self._options
            self._jwks = PyJWKClient(
                self.jwks_url,
                cache_jwk_set=True,
                timeout=timeout,
                lifespan=lifespan,
                cooldown_duration=cooldown,
            )
        return self._jwks

    def _cached_key(self, kid: object) -> Any:
        """The signing key of ``kid`` from the fresh cached key set, or None: then it is fetched in a worker
        thread (PyJWT fetches with blocking I/O). Most tokens take this path, without a thread hop."""
        cache = getattr(self._jwks, "jwk_set_cache", None)
        keys = cache.get() if cache is not None else None  # None when empty or expired
        for key in getattr(keys, "keys", None) or ():
            if key.key_id == kid and key.public_key_use in ("sig", None):
                return key
        return None

    def _audiences(self) -> list[str]:
        """The configured audience, and its form as the metadata publishes it (a URL may gain a slash)."""
        if self._accepted is None:
            from pydantic import AnyHttpUrl

            self._accepted = list(dict.fromkeys([self.audience, str(AnyHttpUrl(self.audience))]))
        return self._accepted

    async def verify_token(self, token: str) -> AccessToken | None:
        import anyio
        import jwt
        from mcp.server.auth.provider import AccessToken

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            log.info("OAuth: refused a bearer token that is not a JWT")
            return None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            log.info(
                "OAuth: refused an access token signed with %.20r (allowed: %s)", alg, ", ".join(ALGORITHMS)
            )
            return None
        try:
            key = self._cached_key(header.get("kid"))
            if key is None:
                key = await anyio.to_thread.run_sync(self._keys().get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning(
                "OAuth: the issuer's keys could not be fetched from %s (%s)", self.jwks_url, _reason(exc)
            )
            return None
        except jwt.PyJWKClientError as exc:  # no key of that kid, or a key set without signing keys
            log.info("OAuth: refused an access token: %s", _reason(exc))
            return None
        except Exception as exc:  # a key set that is not one (bad JSON, bad keys): the issuer's problem
            log.warning("OAuth: the key set at %s is not usable (%s)", self.jwks_url, _reason(exc))
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self._audiences(),
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.info("OAuth: refused an access token: %s", _reason(exc))
            return None
        scopes = granted_scopes(claims)
        subject = claims.get("sub")
        client = claims.get("client_id") or claims.get("azp") or subject or "unknown"
        return AccessToken(
            token=token,
            client_id=str(client),
            scopes=scopes,
            expires_at=int(claims["exp"]) + LEEWAY,  # the SDK checks expiry again, without a leeway
            resource=self.audience,
            subject=str(subject) if subject is not None else None,
            claims={"iss": claims.get("iss")},
        )


def _reason(exc: Exception) -> str:
    """Why a token was refused, without its content: PyJWT's messages name the failed check; only the
    first line is kept and cut short, so nothing of the token can ride along."""
    text = (str(exc).splitlines() or [""])[0][:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def auth_settings(settings: Settings) -> AuthSettings:
    from mcp.server.auth.settings import AuthSettings

    return AuthSettings(
        issuer_url=settings.oauth_issuer,
        resource_server_url=settings.oauth_audience,
        required_scopes=[READ_SCOPE],
        validate_token_resource=True,
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """The `MCPServer` arguments of OAuth resource-server mode; none when it is off."""
    if not settings.oauth_enabled:
        return {}
    verifier = JwksTokenVerifier(
        issuer=str(settings.oauth_issuer),
        jwks_url=str(settings.oauth_jwks_url),
        audience=str(settings.oauth_audience),
    )
    return {"auth": auth_settings(settings), "token_verifier": verifier}


def metadata_paths(audience: str) -> list[str]:
    """Where the RFC 9728 metadata is served: the well-known prefix plus the audience URL's path (what the
    SDK's 401 points to), and plus the local MCP path when that differs (a proxy that rewrites the path)."""
    from mcp.server.auth.routes import build_resource_metadata_url
    from pydantic import AnyHttpUrl

    pointed = urlsplit(str(build_resource_metadata_url(AnyHttpUrl(audience)))).path
    return list(dict.fromkeys([pointed, METADATA_PREFIX + MCP_PATH]))


def serve_metadata(app: Starlette, settings: Settings) -> None:
    """Serve the protected-resource metadata with both scopes, in place of the SDK's route (which lists
    only the required scope)."""
    from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
    from mcp.server.auth.routes import cors_middleware
    from mcp.shared.auth import ProtectedResourceMetadata
    from starlette.routing import Route

    auth = auth_settings(settings)
    metadata = ProtectedResourceMetadata(
        resource=auth.resource_server_url,
        authorization_servers=[auth.issuer_url],
        scopes_supported=list(SCOPES),
        resource_name="tickets-mcp (Selectel support tickets)",
    )
    endpoint = cors_middleware(ProtectedResourceMetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    paths = metadata_paths(str(auth.resource_server_url))
    ours = [Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"]) for path in paths]
    rest = [r for r in app.router.routes if not str(getattr(r, "path", "")).startswith(METADATA_PREFIX)]
    app.router.routes[:] = [*ours, *rest]


# --- scopes ---------------------------------------------------------------------------------------


def access_token(ctx: ServerRequestContext[Any]) -> AccessToken | None:
    """The validated access token of the HTTP request that carried this message, if any."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    request = getattr(ctx, "request", None)
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    token = getattr(user, "access_token", None)
    return token if token is not None else get_access_token()


def may_write(ctx: ServerRequestContext[Any], settings: Settings) -> bool:
    """Whether this request may use the write tools; with OAuth on and no token (never on HTTP), no."""
    if not settings.oauth_enabled:
        return True
    token = access_token(ctx)
    return token is not None and WRITE_SCOPE in token.scopes


def _without(result: HandlerResult, key: str, hidden: set[str]) -> HandlerResult:
    """``result`` (a list result, as a model or a dict) without the items named in ``hidden``."""
    if isinstance(result, dict):
        return {**result, key: [i for i in result.get(key, []) if i.get("name") not in hidden]}
    if result is not None and hasattr(result, key):
        return result.model_copy(update={key: [i for i in getattr(result, key) if i.name not in hidden]})
    return result


def listed_tools(
    ctx: ServerRequestContext[Any], settings: Settings, enabled: Mapping[str, ToolSpec], result: HandlerResult
) -> HandlerResult:
    """`tools/list` as this request's token allows: without ``tickets:write``, the read tools only."""
    if may_write(ctx, settings):
        return result
    return _without(result, "tools", {name for name, spec in enabled.items() if not spec.read_only})


def refused_tool(
    ctx: ServerRequestContext[Any], settings: Settings, spec: ToolSpec | None
) -> CallToolResult | None:
    """The refusal of a write tool called with a token without ``tickets:write``; None when allowed."""
    if spec is None or spec.read_only or may_write(ctx, settings):
        return None
    token = access_token(ctx)
    held = ", ".join(token.scopes) if token is not None and token.scopes else "none"
    return fail(
        f"{spec.name} changes tickets, which needs the OAuth scope {WRITE_SCOPE}; this access token has "
        f"{held}. Nothing was sent. Use the read tools, or sign in again asking the authorization server "
        f"for the scope {WRITE_SCOPE}.",
        code="insufficient_scope",
        required_scope=WRITE_SCOPE,
    )


def prompt_gate(writing: set[str], settings: Settings) -> Any:
    """A middleware that hides and refuses the prompts named in ``writing`` (they lead to writes) from a
    token without ``tickets:write``."""

    async def gate(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("prompts/list", "prompts/get") or may_write(ctx, settings):
            return await call_next(ctx)
        if ctx.method == "prompts/list":
            return _without(await call_next(ctx), "prompts", writing)
        name = str((ctx.params or {}).get("name"))
        if name in writing:
            from mcp.shared.exceptions import MCPError
            from mcp_types.jsonrpc import INVALID_PARAMS

            raise MCPError(
                INVALID_PARAMS,
                f"prompt {name} leads to writes, which need the OAuth scope {WRITE_SCOPE}; "
                "this access token does not have it",
            )
        return await call_next(ctx)

    return gate
