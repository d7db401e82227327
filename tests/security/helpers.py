"""Settings for a server pointed at a sandbox, as the e2e tests build them (generous limits)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tickets_mcp.sandbox import SandboxHandle
from tickets_mcp.settings import Settings


def make_settings(sb: SandboxHandle, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": SecretStr(sb.token),
        "base_url": sb.base_url,
        "identity_url": sb.identity_url,
        "creates_per_minute": 10_000,
        "comments_per_minute": 10_000,
        "calls_per_minute": 0,
        "catalog_ttl": 0,
        "dedup_window": 0,
        "poll_interval": 60,
    }
    values.update(overrides)
    return Settings(**values)


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
