"""Helpers shared by the suites that drive the MCP server against a sandbox (e2e, security, reliability)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp.types import ElicitRequestParams, ElicitResult
from pydantic import SecretStr

from tickets_mcp.sandbox import SandboxHandle
from tickets_mcp.settings import Settings


def make_settings(sb: SandboxHandle, **overrides: Any) -> Settings:
    """A server pointed at `sb` with generous limits, so tests don't pace or limit each other."""
    values: dict[str, Any] = {
        "token": SecretStr(sb.token),
        "base_url": sb.base_url,
        "identity_url": sb.identity_url,
        "creates_per_minute": 10_000,
        "comments_per_minute": 10_000,
        "calls_per_minute": 0,
        "catalog_ttl": 0,
        "dedup_window": 0,
        "poll_interval": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


@dataclass
class Elicitor:
    """The user at the other end of an elicitation: answers with `action`, records the questions."""

    action: str = "accept"
    confirm: bool = True
    questions: list[str] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": self.confirm})
        return ElicitResult(action=self.action)  # type: ignore[arg-type]
