"""OAuth 2.1 resource-server mode: the MCP endpoint takes JWT access tokens of one issuer.

Built on the SDK's auth support: `JwksTokenVerifier` is its `TokenVerifier`, and `server_options` the
`MCPServer(auth=..., token_verifier=...)` arguments, so the SDK's bearer middleware answers a request
without a valid token with 401 and ``WWW-Authenticate: Bearer ..., resource_metadata="<url>"``, and
serves the RFC 9728 metadata. Two things are ours (`serve_metadata`): the metadata lists both scopes
(the SDK would list only the required one), and it is served at ``/.well-known/oauth-protected-resource``
plus the MCP path as well as at the path the audience URL gives.

A token is valid when its signature verifies with a key of the issuer's JWKS (an asymmetric algorithm;
never ``none`` or HMAC), ``iss`` is the issuer, ``aud`` holds the audience (this server's resource URL),
and ``exp`` has not passed (``LEEWAY`` seconds of clock skew allowed). Scopes come from ``scope`` (a
space-separated string) or ``scp`` (a list). ``tickets:read`` is required (else 403
``insufficient_scope``); ``tickets:write`` implies it. What a scope allows per call is in
`tools/scopes.py`.

Keys are fetched on first use, not at start-up, with a timeout; the key set is cached for
``JWKS_LIFESPAN`` seconds and fetched again when a token names an unknown ``kid`` (at most once per
``REFRESH_COOLDOWN`` seconds, so random key ids cannot make this server hammer the issuer). An
unreachable JWKS makes the token invalid with a logged warning. Logs never carry a token or its claims.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from starlette.applications import Starlette

    from tickets_mcp.settings import Settings

log = logging.getLogger("tickets_mcp.oauth")

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
        self._options = {"timeout": timeout, "lifespan": lifespan, "cooldown_duration": cooldown}
        self._jwks: Any = None  # jwt.PyJWKClient, made on first use (PyJWT and cryptography load then)
        self._accepted: list[str] | None = None

    def _keys(self) -> Any:
        if self._jwks is None:
            from jwt import PyJWKClient

            self._jwks = PyJWKClient(self.jwks_url, cache_jwk_set=True, **self._options)
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
