"""Authentication: ``X-Token`` static tokens and ``X-Auth-Token`` IAM tokens (the vendor's authentication page, W6).

IAM tokens come from a Keystone-style password login at ``POST /identity/v3/auth/tokens`` and
live ``iam_token_ttl x time_scale`` seconds. Every valid token sees the one demo account's tickets. A
static token in the vendor's shape (a random string, ``_``, the account number) counts its rate limits
for that account, so several accounts' limits can be exercised against one sandbox; any other token
counts for the demo account.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickets_mcp.sandbox.config import SandboxConfig
from tickets_mcp.sandbox.errors import ApiError, Problems
from tickets_mcp.sandbox.tickets import iso


def _account_of(token: str) -> str | None:
    """The account number after a static token's last ``_``, if it has that shape."""
    _, sep, tail = token.rpartition("_")
    return tail if sep and tail.isdigit() else None


@dataclass(frozen=True)
class Principal:
    mode: str  # "static" | "iam"
    account_id: str
    author_id: str


class Auth:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._iam: dict[str, float] = {}
        self._lock = threading.Lock()

    def identify(self, headers: Mapping[str, str]) -> Principal | None:
        """The caller, or ``None`` for a missing, unknown or expired token. No side effects."""
        static = headers.get("x-token")
        if static and static in self.config.static_tokens:
            account = _account_of(static) or self.config.account_id
            return Principal("static", account, self.config.account_id)
        iam = headers.get("x-auth-token")
        if iam:
            with self._lock:
                expires = self._iam.get(iam)
            if expires is not None and time.time() < expires:
                return Principal("iam", self.config.account_id, self.config.username)
        return None

    def require(self, headers: Mapping[str, str]) -> Principal:
        principal = self.identify(headers)
        if principal is not None:
            return principal
        if headers.get("x-auth-token") and not headers.get("x-token"):
            raise ApiError("unauthorized", "IAM token is unknown or expired; log in again")
        if headers.get("x-token"):
            raise ApiError("unauthorized", "Unknown X-Token")
        raise ApiError("unauthorized", "Authentication required: send X-Token or X-Auth-Token")

    def login(self, body: Any) -> tuple[str, dict[str, Any]]:
        """Check a Keystone password body; return the new token and the W6 response body."""
        problems = Problems()
        user: Any = None
        if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
            problems.add("auth", "required")
        else:
            identity = body["auth"].get("identity")
            if not isinstance(identity, dict):
                problems.add("auth.identity", "required")
            else:
                methods = identity.get("methods")
                if not isinstance(methods, list) or "password" not in methods:
                    problems.add("auth.identity.methods", "must include 'password'", ["password"])
                password = identity.get("password")
                user = password.get("user") if isinstance(password, dict) else None
                if not isinstance(user, dict):
                    problems.add("auth.identity.password.user", "required")
                    user = None
                else:
                    for key in ("name", "password"):
                        if not isinstance(user.get(key), str) or not user.get(key):
                            problems.add(f"auth.identity.password.user.{key}", "required")
                    domain = user.get("domain")
                    if not isinstance(domain, dict) or not isinstance(domain.get("name"), str):
                        problems.add("auth.identity.password.user.domain.name", "required")
        problems.raise_if_any()
        assert isinstance(user, dict)
        ok = (
            user["name"] == self.config.username
            and secrets.compare_digest(user["password"], self.config.password)
            and str(user["domain"]["name"]) == self.config.account_id
        )
        scope = body["auth"].get("scope")
        if ok and isinstance(scope, dict) and isinstance(scope.get("domain"), dict):
            ok = str(scope["domain"].get("name")) == self.config.account_id
        if not ok:
            raise ApiError("unauthorized", "Invalid credentials")
        now = time.time()
        expires = now + self.config.scaled(self.config.iam_token_ttl)
        token = "gAAAAA" + secrets.token_urlsafe(32)
        with self._lock:
            self._iam = {t: e for t, e in self._iam.items() if e > now}
            self._iam[token] = expires
        return token, {
            "token": {
                "expires_at": iso(expires),
                "issued_at": iso(now),
                "methods": ["password"],
                "user": {"name": self.config.username, "domain": {"name": self.config.account_id}},
            }
        }
