"""One validated Settings object: flags override environment, environment overrides defaults.

Every setting has one environment variable; the CLI maps its flags onto the same field names
(see `cli.py`), so the README's configuration table is this class.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tickets_mcp.api.routes import DEFAULT_BASE_URL, DEFAULT_IDENTITY_URL

Toolset = Literal["tickets", "comments", "catalog", "legacy"]
TOOLSETS: tuple[Toolset, ...] = get_args(Toolset)
DEFAULT_TOOLSETS: tuple[Toolset, ...] = ("tickets", "comments", "catalog")

AuthMode = Literal["static", "iam", "service_user", "sandbox", "none"]

# A comma list in the environment ("a,b"): NoDecode hands the raw text to the field's validator instead
# of parsing it as JSON, which pydantic-settings does by default for a tuple.
T = TypeVar("T")
Names = Annotated[tuple[T, ...], NoDecode]


def _split(value: object) -> tuple[str, ...]:
    """A comma list (or a sequence) of names."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Configuration of tickets-mcp. Secrets are SecretStr: they never print."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    # Credentials (any one mode) and endpoints.
    token: SecretStr | None = Field(None, validation_alias=_env("token", "SELECTEL_TOKEN"))
    iam_token: SecretStr | None = Field(None, validation_alias=_env("iam_token", "SELECTEL_IAM_TOKEN"))
    username: str | None = Field(None, validation_alias=_env("username", "SELECTEL_USERNAME"))
    password: SecretStr | None = Field(None, validation_alias=_env("password", "SELECTEL_PASSWORD"))
    account_id: str | None = Field(None, validation_alias=_env("account_id", "SELECTEL_ACCOUNT_ID"))
    base_url: str = Field(DEFAULT_BASE_URL, validation_alias=_env("base_url", "SELECTEL_TICKETS_URL"))
    identity_url: str = Field(
        DEFAULT_IDENTITY_URL, validation_alias=_env("identity_url", "SELECTEL_IDENTITY_URL")
    )
    # The Ticket attachments API; None: next to base_url (`…/support` -> `…/files`, `files_url_from`).
    files_url: str | None = Field(None, validation_alias=_env("files_url", "SELECTEL_FILES_URL"))

    # Modes.
    sandbox: bool = Field(False, validation_alias=_env("sandbox", "TICKETS_MCP_SANDBOX"))
    read_only: bool = Field(False, validation_alias=_env("read_only", "TICKETS_MCP_READ_ONLY"))
    toolsets: Names[Toolset] = Field(
        DEFAULT_TOOLSETS, validation_alias=_env("toolsets", "TICKETS_MCP_TOOLSETS")
    )
    language: Literal["en", "ru"] = Field("en", validation_alias=_env("language", "TICKETS_MCP_LANGUAGE"))
    require_consent: bool = Field(
        False, validation_alias=_env("require_consent", "TICKETS_MCP_REQUIRE_CONSENT")
    )
    # MCP Apps: the draft form and the thread view for hosts that render them (off: `--no-apps`).
    apps: bool = Field(True, validation_alias=_env("apps", "TICKETS_MCP_APPS"))

    # Transport.
    transport: Literal["stdio", "http"] = Field(
        "stdio", validation_alias=_env("transport", "TICKETS_MCP_TRANSPORT")
    )
    host: str = Field("127.0.0.1", validation_alias=_env("host", "TICKETS_MCP_HOST"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=_env("port", "TICKETS_MCP_PORT"))
    stateless: bool = Field(False, validation_alias=_env("stateless", "TICKETS_MCP_STATELESS"))
    json_response: bool = Field(False, validation_alias=_env("json_response", "TICKETS_MCP_JSON_RESPONSE"))
    http_token: SecretStr | None = Field(None, validation_alias=_env("http_token", "TICKETS_MCP_HTTP_TOKEN"))
    allowed_origins: Names[str] = Field(
        (), validation_alias=_env("allowed_origins", "TICKETS_MCP_ALLOWED_ORIGINS")
    )
    # The Host values a balancer or proxy may pass (``tickets.example.com``, ``tickets.example.com:*``);
    # loopback and the bind host are always allowed.
    allowed_hosts: Names[str] = Field((), validation_alias=_env("allowed_hosts", "TICKETS_MCP_ALLOWED_HOSTS"))
    credentials: Literal["server", "per-request"] = Field(
        "server", validation_alias=_env("credentials", "TICKETS_MCP_CREDENTIALS")
    )
    behind_auth_proxy: bool = Field(
        False, validation_alias=_env("behind_auth_proxy", "TICKETS_MCP_BEHIND_AUTH_PROXY")
    )

    # OAuth 2.1 resource server (the MCP endpoint validates JWT access tokens).
    oauth_issuer: str | None = Field(None, validation_alias=_env("oauth_issuer", "TICKETS_MCP_OAUTH_ISSUER"))
    oauth_jwks_url: str | None = Field(
        None, validation_alias=_env("oauth_jwks_url", "TICKETS_MCP_OAUTH_JWKS_URL")
    )
    oauth_audience: str | None = Field(
        None, validation_alias=_env("oauth_audience", "TICKETS_MCP_OAUTH_AUDIENCE")
    )

    # Replicas: shared state and sealed request state.
    redis_url: SecretStr | None = Field(None, validation_alias=_env("redis_url", "TICKETS_MCP_REDIS_URL"))
    state_key: SecretStr | None = Field(None, validation_alias=_env("state_key", "TICKETS_MCP_STATE_KEY"))

    # Tool filters.
    tools: Names[str] = Field((), validation_alias=_env("tools", "TICKETS_MCP_TOOLS"))
    exclude_tools: Names[str] = Field((), validation_alias=_env("exclude_tools", "TICKETS_MCP_EXCLUDE_TOOLS"))

    # Limits and budgets.
    token_budget: int = Field(
        8000, ge=500, le=100_000, validation_alias=_env("token_budget", "TICKETS_MCP_TOKEN_BUDGET")
    )
    catalog_ttl: float = Field(300.0, ge=0, validation_alias=_env("catalog_ttl", "TICKETS_MCP_CATALOG_TTL"))
    # Attachments: the directories a `path` may be read from (none: no path is read), and the largest
    # image or file get_attachment returns inline.
    file_roots: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("file_roots", "TICKETS_MCP_FILE_ROOTS")
    )
    attachment_inline_bytes: int = Field(
        1_048_576,
        ge=0,
        validation_alias=_env("attachment_inline_bytes", "TICKETS_MCP_ATTACHMENT_INLINE_BYTES"),
    )
    poll_interval: float = Field(
        60.0, gt=0, validation_alias=_env("poll_interval", "TICKETS_MCP_POLL_INTERVAL")
    )
    # Team mode: what one session and one caller (a credential, or an OAuth subject) may hold at once.
    sessions_per_caller: int = Field(
        20, ge=1, validation_alias=_env("sessions_per_caller", "TICKETS_MCP_SESSIONS_PER_CALLER")
    )
    subscriptions_per_session: int = Field(
        50, ge=0, validation_alias=_env("subscriptions_per_session", "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION")
    )
    subscriptions_per_caller: int = Field(
        50, ge=0, validation_alias=_env("subscriptions_per_caller", "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER")
    )
    calls_per_minute: int = Field(
        120, ge=0, validation_alias=_env("calls_per_minute", "TICKETS_MCP_CALLS_PER_MINUTE")
    )
    creates_per_minute: int = Field(
        2, ge=1, validation_alias=_env("creates_per_minute", "TICKETS_MCP_CREATES_PER_MINUTE")
    )
    comments_per_minute: int = Field(
        60, ge=1, validation_alias=_env("comments_per_minute", "TICKETS_MCP_COMMENTS_PER_MINUTE")
    )
    rate_window: float = Field(60.0, gt=0, validation_alias=_env("rate_window", "TICKETS_MCP_RATE_WINDOW"))
    retry_budget: float = Field(30.0, ge=0, validation_alias=_env("retry_budget", "TICKETS_MCP_RETRY_BUDGET"))
    dedup_window: float = Field(
        600.0, ge=0, validation_alias=_env("dedup_window", "TICKETS_MCP_DEDUP_WINDOW")
    )
    connect_timeout: float = Field(
        5.0, gt=0, validation_alias=_env("connect_timeout", "TICKETS_MCP_CONNECT_TIMEOUT")
    )
    read_timeout: float = Field(30.0, gt=0, validation_alias=_env("read_timeout", "TICKETS_MCP_READ_TIMEOUT"))
    # HTTP: seconds from SIGTERM for the requests under way to finish (mcp_server/shutdown.py).
    shutdown_grace: float = Field(
        20.0, ge=0, le=3600, validation_alias=_env("shutdown_grace", "TICKETS_MCP_SHUTDOWN_GRACE")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", validation_alias=_env("log_level", "TICKETS_MCP_LOG_LEVEL")
    )
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=_env("log_format", "TICKETS_MCP_LOG_FORMAT")
    )
    # Where each write's audit line goes: a file path, "stderr" or "otlp" (mcp_server/audit.py).
    audit_log: str | None = Field(None, validation_alias=_env("audit_log", "TICKETS_MCP_AUDIT_LOG"))
    audit_required: bool = Field(False, validation_alias=_env("audit_required", "TICKETS_MCP_AUDIT_REQUIRED"))

    @field_validator("allowed_origins", "allowed_hosts", "tools", "exclude_tools", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _split(value) if isinstance(value, str) else value

    @field_validator("file_roots", mode="before")
    @classmethod
    def _file_roots(cls, value: object) -> object:
        """Existing directories, symlinks resolved (a path is checked against where it really is)."""
        import os

        parts = value.split(os.pathsep) if isinstance(value, str) else value
        roots: list[str] = []
        for part in parts if isinstance(parts, list | tuple) else ():
            raw = os.path.expanduser(str(part).strip())
            if not raw:
                continue
            real = os.path.realpath(raw)
            if not os.path.isdir(real):
                raise ValueError(
                    f"TICKETS_MCP_FILE_ROOTS names {raw!r}, which is not a directory; give existing "
                    f"directories separated by {os.pathsep!r}"
                )
            roots.append(real)
        return tuple(roots)

    @field_validator("toolsets", mode="before")
    @classmethod
    def _known_toolsets(cls, value: object) -> object:
        names = _split(value)
        if "all" in names:
            return TOOLSETS
        unknown = [name for name in names if name not in TOOLSETS]
        if unknown:
            raise ValueError(
                f"unknown toolset(s) {', '.join(unknown)}; choose from {', '.join(TOOLSETS)} or all"
            )
        return tuple(name for name in TOOLSETS if name in names)

    @field_validator("state_key")
    @classmethod
    def _state_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = _split(value.get_secret_value())
        if not keys or any(len(key) < 32 for key in keys) or len(set(keys)) != len(keys):
            raise ValueError(
                "TICKETS_MCP_STATE_KEY takes one or more distinct comma-separated keys of at least 32 "
                "characters each (the first seals); make one with: "
                'python -c "import secrets; print(secrets.token_hex(32))"'
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        """A Redis URL the client can use, and the client installed (found, not imported: cold start)."""
        if value is None or not value.get_secret_value().strip():
            return None
        if urlsplit(value.get_secret_value().strip()).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                "TICKETS_MCP_REDIS_URL must start with redis://, rediss:// (TLS) or unix://, "
                "e.g. redis://redis.internal:6379/0"
            )
        import importlib.util

        if importlib.util.find_spec("redis") is None:
            raise ValueError(
                "TICKETS_MCP_REDIS_URL is set but the Redis client is not installed: "
                "pip install 'tickets-mcp[redis]'"
            )
        return SecretStr(value.get_secret_value().strip())

    def state_keys(self) -> list[str]:
        """The request-state keys, the sealing one first (empty: a per-process key)."""
        return list(_split(self.state_key.get_secret_value())) if self.state_key is not None else []

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _service_user_complete(self) -> Settings:
        given = [self.username is not None, self.password is not None, self.account_id is not None]
        if any(given) and not all(given):
            raise ValueError(
                "a service user needs all of SELECTEL_USERNAME, SELECTEL_PASSWORD and SELECTEL_ACCOUNT_ID"
            )
        return self

    @model_validator(mode="after")
    def _per_request_needs_http(self) -> Settings:
        if self.credentials == "per-request" and self.transport != "http":
            raise ValueError(
                "--credentials per-request takes each user's Selectel credential from HTTP request headers: "
                "it needs --transport http"
            )
        return self

    @model_validator(mode="after")
    def _oauth_complete(self) -> Settings:
        given = {
            "TICKETS_MCP_OAUTH_ISSUER": self.oauth_issuer,
            "TICKETS_MCP_OAUTH_JWKS_URL": self.oauth_jwks_url,
            "TICKETS_MCP_OAUTH_AUDIENCE": self.oauth_audience,
        }
        missing = [name for name, value in given.items() if not value]
        if len(missing) == len(given):
            return self
        if missing:
            raise ValueError(
                "OAuth resource-server mode needs all three of TICKETS_MCP_OAUTH_ISSUER, "
                "TICKETS_MCP_OAUTH_JWKS_URL and TICKETS_MCP_OAUTH_AUDIENCE (--oauth-issuer, --oauth-jwks-url, "
                f"--oauth-audience); missing: {', '.join(missing)}"
            )
        if self.transport != "http":
            raise ValueError("OAuth protects the MCP HTTP endpoint: it needs --transport http")
        if self.http_token is not None:
            raise ValueError(
                "TICKETS_MCP_HTTP_TOKEN and OAuth are two gates for the same endpoint: use one (unset "
                "TICKETS_MCP_HTTP_TOKEN for OAuth, or the TICKETS_MCP_OAUTH_* settings for the static token)"
            )
        for name, value in given.items():
            problem = _url_problem(str(value), https_off_loopback=name == "TICKETS_MCP_OAUTH_JWKS_URL")
            if problem:
                raise ValueError(f"{name} must be {problem}, got {value!r}")
        return self

    @property
    def oauth_enabled(self) -> bool:
        """OAuth resource-server mode: the MCP endpoint takes JWT access tokens of the configured issuer."""
        return bool(self.oauth_issuer and self.oauth_jwks_url and self.oauth_audience)

    @property
    def auth_mode(self) -> AuthMode:
        """Which credential is used; the first configured wins (sandbox, static, IAM, service user)."""
        if self.sandbox:
            return "sandbox"
        if self.token is not None:
            return "static"
        if self.iam_token is not None:
            return "iam"
        if self.username is not None:
            return "service_user"
        return "none"

    def secrets(self) -> list[str]:
        """Every secret value, for the redacting log filter."""
        values = [self.token, self.iam_token, self.password, self.http_token, self.redis_url]
        plain = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        return plain + self.state_keys()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` reaches only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _url_problem(url: str, *, https_off_loopback: bool) -> str | None:
    """What is wrong with ``url`` as an OAuth URL, or None. Keys fetched over plain HTTP could be swapped on
    the way, so ``https_off_loopback`` allows ``http`` only for a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http(s) URL"
    if https_off_loopback and parts.scheme == "http" and not is_loopback(parts.hostname):
        return "an https URL (http only on loopback)"
    return None


def exposure_problem(settings: Settings) -> str | None:
    """Why serving HTTP with these settings would hand the user's tickets to anyone on the network, or
    None. A non-loopback bind needs a gate (``TICKETS_MCP_HTTP_TOKEN`` or OAuth) or the explicit opt-out
    for a deployment behind an authenticating proxy (``--behind-auth-proxy``)."""
    if settings.transport != "http" or is_loopback(settings.host) or settings.http_token is not None:
        return None
    if settings.oauth_enabled or settings.behind_auth_proxy:
        return None
    return (
        f"HTTP would listen on {settings.host} with no auth gate: anyone who can reach port {settings.port} "
        "could act with these Selectel credentials. Set TICKETS_MCP_HTTP_TOKEN (clients then send "
        "Authorization: Bearer <token>) or the three TICKETS_MCP_OAUTH_* settings (OAuth access tokens), "
        "or bind 127.0.0.1 (--host 127.0.0.1), or, only behind a proxy that authenticates every request, "
        "pass --behind-auth-proxy."
    )
