"""End-to-end fixtures: the real sandbox on loopback, the real server, a real `mcp.Client`.

`client` is parametrized over both protocol eras: `auto` lands on 2026-07-28 (no handshake),
`legacy` forces the 2025-11-25 initialize handshake that most clients still use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from pydantic import SecretStr

from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings
from tickets_mcp.tools.app import build_server

ERAS = ["auto", "legacy"]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """One sandbox for the e2e session; generous write limits so tests don't pace each other."""
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


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
        "poll_interval": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


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


@pytest.fixture
def elicitor() -> Elicitor:
    return Elicitor()


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def client(sandbox: SandboxHandle, era: str, elicitor: Elicitor) -> AsyncIterator[Client]:
    server = build_server(make_settings(sandbox))
    async with Client(server, raise_exceptions=True, mode=era, elicitation_callback=elicitor) as c:  # type: ignore[arg-type]
        yield c


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
