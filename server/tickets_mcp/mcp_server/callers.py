"""Who is calling, and what they may do: every gate between a request and a tool.

- **The HTTP gate** (`transport_security`, `BearerGuard`): Host and Origin are always checked (the SDK
  turns DNS-rebinding protection on only for loopback binds, so it is passed explicitly); loopback, the
  bind host and ``TICKETS_MCP_ALLOWED_HOSTS`` (`allowed_host`) are the Hosts taken; with
  ``TICKETS_MCP_HTTP_TOKEN`` every path but ``/healthz`` needs ``Authorization: Bearer <token>``.
- **OAuth 2.1 resource server** (`JwksTokenVerifier`, `IssuerKeys`, `KeysUnavailableGuard`,
  `server_options`, `serve_metadata`): the MCP
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
``JWKS_LIFESPAN`` seconds and fetched again when a token names an unknown ``kid`` (`IssuerKeys`). Fetches
are at most one per ``REFRESH_COOLDOWN`` seconds, failed ones included, so neither random key ids nor an
issuer that fails can make this server hammer it; concurrent requests wait for the one fetch in flight,
which takes at most ``JWKS_TIMEOUT`` seconds. While the keys a token needs cannot be had, the request is
answered 503 with ``Retry-After`` (`KeysUnavailableGuard`), not 401: the token may be valid, and a 401
would send the client to sign in again for nothing. Logs never carry a token or its claims.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tickets_mcp.api import IamToken, StaticToken
from tickets_mcp.mcp_server.results import fail

if TYPE_CHECKING:
    import anyio
    import httpx2
    from jwt import PyJWK, PyJWKSet
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
    """The Host and Origin values the MCP endpoint takes (421 / 403 for others): loopback and the bind
    host, on any port; each entry of ``allowed_hosts`` (`allowed_host`); each of ``allowed_origins``."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = {f"{settings.host}:*", settings.host, *(f"{h}:*" for h in LOOPBACK), *LOOPBACK}
    origins = {f"http://{h}:*" for h in LOOPBACK} | set(settings.allowed_origins)
    for entry in settings.allowed_hosts:
        more_hosts, more_origins = allowed_host(entry)
        hosts |= more_hosts
        origins |= more_origins
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


def allowed_host(entry: str) -> tuple[set[str], set[str]]:
    """The Host and Origin values one ``TICKETS_MCP_ALLOWED_HOSTS`` entry allows. A name alone
    (``tickets.example.com``) is that name with or without any port; ``name:8443`` or ``name:*`` is just
    that. The same name over HTTPS is an allowed origin too (``https://tickets.example.com``, with the
    entry's port), as a page served by that host is the server's own; any other origin needs
    ``TICKETS_MCP_ALLOWED_ORIGINS``."""
    entry = entry.strip().lower()
    if not entry:
        return set(), set()
    if ":" not in entry.rpartition("]")[2]:  # no port ("[::1]" is a name, "[::1]:8443" has one)
        return {entry, f"{entry}:*"}, {f"https://{entry}", f"https://{entry}:*"}
    return {entry}, {f"https://{entry}"}


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
JWKS_TIMEOUT = 3.0  # seconds for a whole fetch: requests wait for it
JWKS_LIFESPAN = 300.0
REFRESH_COOLDOWN = 30.0  # between two fetches, whether the last one worked or not
WARN_EVERY = 300.0  # while fetches keep failing, the warning is repeated this often, not at each try
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


class KeysUnavailable(Exception):
    """The issuer's keys a token needs cannot be had now (its JWKS failed, timed out, or is no key set).
    Raised through the SDK's authentication so that `KeysUnavailableGuard` answers 503, not 401."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = max(1, math.ceil(retry_after))
        self.reason = reason


class IssuerKeys:
    """The issuer's signing keys (its JWKS), fetched over HTTP without blocking the event loop:

    - on first use, again once ``lifespan`` s have passed, and for a ``kid`` the set does not hold;
    - never twice within ``cooldown`` s, whether the last fetch worked or failed: a token whose key is not
      in the set then waits for the next try (401 if the last fetch worked, `KeysUnavailable` if it failed);
    - one fetch at a time: concurrent requests wait for the fetch in flight, which takes at most
      ``timeout`` s and is not cancelled with the request that started it;
    - while fetches fail, the last set that worked is still used, for at most one more lifespan.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        lifespan: float,
        cooldown: float,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout, self.lifespan, self.cooldown = timeout, lifespan, cooldown
        self._transport = transport  # tests: an httpx2.MockTransport
        self._clock = clock
        self._set: PyJWKSet | None = None
        self._loaded_at = -math.inf  # when the set was fetched
        self._tried_at = -math.inf  # when the last fetch ended, however it ended
        self._failure: str | None = None  # why the last fetch failed; None when it worked
        self._failing_since: float | None = None
        self._warned_at = -math.inf
        self._inflight: anyio.Event | None = None

    def cached(self, kid: object) -> PyJWK | None:
        """The signing key ``kid`` of the set in hand while it is fresh (most tokens: no fetch, no wait)."""
        return self._find(kid, self.lifespan)

    async def signing_key(self, kid: object) -> PyJWK:
        """The signing key of ``kid``, fetching the set if needed and allowed; `jwt.PyJWKClientError` when
        the issuer does not have it, `KeysUnavailable` when that cannot be known now."""
        import jwt

        if self._inflight is not None:
            await self._inflight.wait()
        elif self.cached(kid) is None and self._clock() - self._tried_at >= self.cooldown:
            await self._refresh()
        # While fetches fail, the last set that worked still serves, for one more lifespan.
        key = self._find(kid, self.lifespan * (2 if self._failure is not None else 1))
        if key is not None:
            return key
        if self._failure is not None:
            raise KeysUnavailable(self.cooldown - (self._clock() - self._tried_at), self._failure)
        raise jwt.PyJWKClientError(f'Unable to find a signing key that matches: "{str(kid)[:40]}"')

    def _find(self, kid: object, within: float) -> PyJWK | None:
        if self._set is None or kid is None or self._clock() - self._loaded_at >= within:
            return None
        return next((k for k in self._set.keys if k.key_id == kid), None)

    async def _refresh(self) -> None:
        import anyio

        done = self._inflight = anyio.Event()
        try:
            with anyio.CancelScope(shield=True):  # it serves every request waiting for it
                await self._fetch()
        finally:
            self._inflight = None
            done.set()

    async def _fetch(self) -> None:
        import anyio
        import httpx2
        import jwt

        try:
            with anyio.fail_after(self.timeout):
                async with httpx2.AsyncClient(
                    timeout=self.timeout, transport=self._transport, follow_redirects=True
                ) as http:
                    response = await http.get(self.url, headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the answer is not a JSON object")
            keys = jwt.PyJWKSet.from_dict(document)
            keys.keys = [k for k in keys.keys if k.public_key_use in ("sig", None) and k.key_id]
            if not keys.keys:
                raise ValueError("the key set holds no signing key with a kid")
        except TimeoutError:
            self._failed(f"no answer within {self.timeout:g} s")
        except Exception as exc:  # any failure of the issuer's: an error status, the network, not a key set
            self._failed(_reason(exc))
        else:
            self._loaded(keys)
        finally:
            self._tried_at = self._clock()

    def _loaded(self, keys: PyJWKSet) -> None:
        now = self._clock()
        if self._failing_since is not None:
            log.info(
                "OAuth: the issuer's keys were fetched from %s again, after %.0f s of failures",
                self.url,
                now - self._failing_since,
            )
        self._set, self._loaded_at = keys, now
        self._failure = self._failing_since = None

    def _failed(self, reason: str) -> None:
        now = self._clock()
        self._failure = reason
        if self._failing_since is None:
            self._failing_since = self._warned_at = now
            log.warning(
                "OAuth: the issuer's keys could not be fetched from %s (%s); tokens that need them are "
                "answered 503 until a fetch works (the next try in %.0f s at the earliest)",
                self.url,
                reason,
                self.cooldown,
            )
        elif now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "OAuth: the issuer's keys still cannot be fetched from %s (%s), for %.0f s now",
                self.url,
                reason,
                now - self._failing_since,
            )
        else:
            log.debug("OAuth: the issuer's keys could not be fetched again (%s)", reason)


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
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.audience = audience
        self.keys = IssuerKeys(
            jwks_url, timeout=timeout, lifespan=lifespan, cooldown=cooldown, transport=transport, clock=clock
        )
        self._accepted: list[str] | None = None

    def _audiences(self) -> list[str]:
        """The configured audience, and its form as the metadata publishes it (a URL may gain a slash)."""
        if self._accepted is None:
            from pydantic import AnyHttpUrl

            self._accepted = list(dict.fromkeys([self.audience, str(AnyHttpUrl(self.audience))]))
        return self._accepted

    async def verify_token(self, token: str) -> AccessToken | None:
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
        kid = header.get("kid")
        try:  # KeysUnavailable goes on up: 503, not 401
            key = self.keys.cached(kid) or await self.keys.signing_key(kid)
        except jwt.PyJWKClientError as exc:  # the issuer's key set (fetched lately) has no such kid
            log.info("OAuth: refused an access token: %s", _reason(exc))
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


class KeysUnavailableGuard:
    """Answer 503 with ``Retry-After`` while the issuer's keys cannot be had (`KeysUnavailable` raised
    through the SDK's authentication, which would otherwise make it a 500). It sits just outside that
    middleware, so only a request whose token needs the missing keys gets it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except KeysUnavailable as exc:
            if scope["type"] != "http" or started:
                raise
            response = JSONResponse(
                {
                    "error": "temporarily_unavailable",
                    "error_description": (
                        "the authorization server's signing keys (its JWKS) cannot be fetched now, so the "
                        f"access token cannot be checked; retry after {exc.retry_after} s"
                    ),
                    "retry_after_seconds": exc.retry_after,
                },
                status_code=503,
                headers={"Retry-After": str(exc.retry_after)},
            )
            await response(scope, receive, send)


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
