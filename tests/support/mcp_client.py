"""What the tests that drive the MCP server through an `mcp.Client` share: the text of a result, a client
over streamable HTTP, and a scripted user answering elicitations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def http_client(url: str, era: str, headers: dict[str, str] | None = None, **options: Any) -> Client:
    """An `mcp.Client` of the server at ``url`` (its /mcp endpoint) over streamable HTTP, in ``era``."""
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode=era, **options)  # type: ignore[arg-type]


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
