"""Sandbox configuration: one dataclass, every duration in seconds before the time scale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# The Attachments API's allow-list (W19): text, logs and configs, images, PDF, archives; never executables.
FILE_EXTENSIONS = (
    "txt", "log", "csv", "json", "xml", "yaml", "yml", "conf", "cfg", "ini", "md",
    "png", "jpg", "jpeg", "gif", "bmp", "webp",
    "pdf",
    "zip", "gz", "tgz", "tar", "bz2", "xz", "7z", "rar",
)  # fmt: skip

DEMO_TOKEN = "sandbox-demo-token"
DEMO_USERNAME = "demo-user"
DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNT_ID = "123456"


@dataclass
class SandboxConfig:
    """How a sandbox instance behaves.

    ``time_scale`` multiplies every sandbox duration: the 60 s rate-limit window, the IAM token
    lifetime and the auto-reply delay (``2 / 60`` compresses the minute to 2 s). Fault delays
    (``timeout`` faults) are given in real seconds and are not scaled.
    """

    host: str = "127.0.0.1"
    port: int = 0
    db_path: str | None = None
    time_scale: float = 1.0
    static_tokens: tuple[str, ...] = (DEMO_TOKEN,)
    username: str = DEMO_USERNAME
    password: str = DEMO_PASSWORD
    account_id: str = DEMO_ACCOUNT_ID
    iam_token_ttl: float = 86400.0
    creates_per_minute: int = 2
    comments_per_minute: int = 60
    uploads_per_minute: int = 20
    max_file_bytes: int = 20_000_000  # "20 MB" (the vendor's limit), read as 10^6 bytes (W19)
    file_extensions: tuple[str, ...] = FILE_EXTENSIONS
    # How the Attachments API's answers look (W18): "wrapped" (the default), "strings" or "objects": the other
    # shapes a client must tolerate, for the contract tests.
    files_shape: Literal["wrapped", "strings", "objects"] = "wrapped"
    # Whether the Attachments API takes an IAM token (X-Auth-Token) too; unknown for the real one (W17).
    files_accept_iam: bool = True
    retry_after_format: Literal["delta", "date"] = "delta"
    auto_reply_after: float | None = None
    seed: bool = True
    faults: Any = None
    # Routes of the API served under another path, to test that `tickets-mcp doctor` flags a wrong one:
    # {"/path" (every method) or "GET /path" (one method), as in handlers.ROUTES: the path to serve it at}.
    moved_routes: dict[str, str] = field(default_factory=dict)

    def scaled(self, seconds: float) -> float:
        """A sandbox duration in real seconds."""
        return seconds * self.time_scale

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.retry_after_format not in ("delta", "date"):
            raise ValueError("retry_after_format must be 'delta' or 'date'")
        if self.files_shape not in ("wrapped", "strings", "objects"):
            raise ValueError("files_shape must be 'wrapped', 'strings' or 'objects'")
        if isinstance(self.static_tokens, str):
            self.static_tokens = (self.static_tokens,)
        else:
            self.static_tokens = tuple(self.static_tokens)
