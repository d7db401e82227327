"""What the tests that drive the MCP server through an `mcp.Client` share: the text of a result, and a
scripted user answering elicitations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp.types import ElicitRequestParams, ElicitResult


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
