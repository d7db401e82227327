"""The three ways to authenticate (the vendor's authentication page).

- `StaticToken` → ``X-Token`` (``SELECTEL_TOKEN``).
- `IamToken` → ``X-Auth-Token`` (``SELECTEL_IAM_TOKEN``), a ready account-scoped IAM token.
- `ServiceUser` → Keystone password login at ``{identity_url}/auth/tokens``; the token comes back
  in ``X-Subject-Token`` and is cached until shortly before its ``expires_at``. Concurrent
  refreshes coalesce into one login. On a 401 the client asks for one fresh login and replays once.

Secrets are `SecretStr` and appear in no repr, log line or error message. ``identity`` is a
short hash that keys the pacing buckets and the dedup cache without revealing anything. A static
token's ``account`` is read from its shape, unverified: it is trusted (for pacing, `pacing.Pacer`) only
once the API has accepted the token (`accepted_by`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import httpx2
from pydantic import SecretStr

from tickets_mcp.api.errors import AuthError, ServerError, TransportError, clip, parse_error_body
from tickets_mcp.api.routes import DEFAULT_IDENTITY_URL, LOGIN_ROUTE

logger = logging.getLogger("tickets_mcp.api")

AuthMode = Literal["static", "iam", "service_user"]
# Keystone tokens live 24 h (the vendor's authentication page); used when the login answer has no expires_at.
DEFAULT_TOKEN_LIFETIME = 24 * 3600.0


def accepted_by(status: int) -> bool:
    """Whether an answer shows that the API took the credential it was sent with: any status below 500 but
    401, 403 and 429 (a 5xx or a 429 may come from in front of the credential check)."""
    return status < 500 and status not in (401, 403, 429)


def _secret(value: str | SecretStr) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(str(value))
    if not secret.get_secret_value():
        raise ValueError("an empty credential was given")
    return secret


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


class _HeaderToken:
    mode: AuthMode
    header: str

    def __init__(self, token: str | SecretStr) -> None:
        self.token = _secret(token)
        self.identity = f"{self.mode}:{_digest(self.mode, self.token.get_secret_value())}"

    async def headers(self, http: httpx2.AsyncClient, *, stale: str | None = None) -> dict[str, str]:
        return {self.header: self.token.get_secret_value()}

    @property
    def can_refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token=SecretStr('**********'))"

    __str__ = __repr__


class StaticToken(_HeaderToken):
    """A static ("Selectel") token, sent as ``X-Token``. It does not expire.

    Its ``account`` is the number after its last ``_`` (the vendor's format: a random string, ``_``, the
    account number), so the tokens of one account share its rate limits; None for another shape."""

    mode: AuthMode = "static"
    header = "X-Token"

    @property
    def account(self) -> str | None:
        _, sep, tail = self.token.get_secret_value().rpartition("_")
        return tail if sep and tail.isdigit() else None


class IamToken(_HeaderToken):
    """An account-scoped IAM token, sent as ``X-Auth-Token``. It expires after 24 h; no refresh. It does not
    show its account, so its rate limits are paced per token."""

    mode: AuthMode = "iam"
    header = "X-Auth-Token"
    account: str | None = None


class ServiceUser:
    """A service user that logs in to Keystone and refreshes its IAM token by itself.

    ``refresh_margin``: the token is renewed this long before it expires (default: 10 % of its
    lifetime, at most 5 minutes).
    """

    mode: AuthMode = "service_user"
    header = "X-Auth-Token"

    def __init__(
        self,
        username: str,
        password: str | SecretStr,
        account_id: str,
        identity_url: str = DEFAULT_IDENTITY_URL,
        *,
        refresh_margin: float | None = None,
    ) -> None:
        if not username or not account_id:
            raise ValueError("username and account_id are required")
        self.username = username
        self.password = _secret(password)
        self.account_id = str(account_id)
        self.identity_url = identity_url.rstrip("/")
        self.refresh_margin = refresh_margin
        self.identity = f"{self.mode}:{_digest(self.identity_url, self.username, self.account_id)}"
        self.logins = 0  # successful or not: how many times we asked Keystone
        self._token: SecretStr | None = None
        self._deadline = 0.0  # monotonic time after which the cached token is not used
        self._lock: anyio.Lock | None = None

    @property
    def can_refresh(self) -> bool:
        return True

    def __repr__(self) -> str:
        return (
            f"ServiceUser(username={self.username!r}, password=SecretStr('**********'), "
            f"account_id={self.account_id!r}, identity_url={self.identity_url!r})"
        )

    __str__ = __repr__

    def _valid(self) -> str | None:
        if self._token is not None and time.monotonic() < self._deadline:
            return self._token.get_secret_value()
        return None

    async def headers(self, http: httpx2.AsyncClient, *, stale: str | None = None) -> dict[str, str]:
        """The auth header; logs in when there is no valid token or the current one is ``stale``."""
        return {self.header: await self.token(http, stale=stale)}

    async def token(self, http: httpx2.AsyncClient, *, stale: str | None = None) -> str:
        current = self._valid()
        if current is not None and current != stale:
            return current
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            current = self._valid()  # someone else may have logged in while we waited
            if current is not None and current != stale:
                return current
            return await self._login(http)

    def invalidate(self) -> None:
        self._token, self._deadline = None, 0.0

    async def _login(self, http: httpx2.AsyncClient) -> str:
        op = LOGIN_ROUTE.name
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "domain": {"name": self.account_id},
                            "password": self.password.get_secret_value(),
                        }
                    },
                },
                "scope": {"domain": {"name": self.account_id}},
            }
        }
        self.logins += 1
        logger.info("logging in to Keystone as service user %r", self.username)
        started = time.monotonic()
        try:
            response = await http.request(
                LOGIN_ROUTE.method, self.identity_url + LOGIN_ROUTE.path, json=body, headers={}
            )
        except httpx2.TransportError as exc:
            raise TransportError(
                f"Keystone login failed on the network ({type(exc).__name__}); check the identity URL "
                "and try again.",
                operation=op,
                status=None,
                sent=not isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout),
            ) from None
        status = response.status_code
        if 400 <= status < 500:
            _, upstream, _ = parse_error_body(_json_or_text(response))
            raise AuthError(
                "Keystone refused the service-user login"
                + (f" ({clip(upstream, 200)})" if upstream else "")
                + ": check the username, password and account id, and that the user has an "
                "account-scoped role.",
                operation=op,
                status=status,
                code="unauthorized" if status == 401 else None,
            )
        if status >= 300:
            raise ServerError(
                f"Keystone login failed with HTTP {status}; try again later.", operation=op, status=status
            )
        token = response.headers.get("x-subject-token")
        if not token:
            raise AuthError(
                "Keystone answered without an X-Subject-Token header; check the identity URL.",
                operation=op,
                status=status,
            )
        lifetime = _lifetime(_json_or_text(response))
        margin = self.refresh_margin if self.refresh_margin is not None else min(300.0, lifetime * 0.1)
        self._token = SecretStr(token)
        self._deadline = started + max(lifetime - margin, 0.0)
        logger.info("service user %r logged in; token valid for %.0f s", self.username, lifetime)
        return token


def _json_or_text(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _lifetime(body: Any) -> float:
    """Seconds the token lives: ``expires_at - issued_at`` (no clock skew), else vs. our clock."""
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, dict):
        return DEFAULT_TOKEN_LIFETIME
    expires = _parse_time(token.get("expires_at"))
    if expires is None:
        return DEFAULT_TOKEN_LIFETIME
    issued = _parse_time(token.get("issued_at"))
    if issued is not None and issued < expires:
        return (expires - issued).total_seconds()
    return max((expires - datetime.now(UTC)).total_seconds(), 0.0)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


Auth = StaticToken | IamToken | ServiceUser
