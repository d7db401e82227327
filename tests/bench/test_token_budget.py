"""P3: the context cost of `tools/list`, counted with o200k_base, is a CI budget.

What is counted. A client hands a model each tool as ``name``, ``description`` and the input JSON
Schema (Anthropic ``input_schema``, OpenAI ``parameters``); ``title``, ``annotations`` and
``outputSchema`` are MCP metadata that hosts use themselves and do not put in the prompt. So the
budget (average <= 150 tokens per tool, none over 450: the targets of P3) applies to ``{"name", "description",
"inputSchema"}`` serialized as compact JSON, which is what the model pays for on every turn. The
whole wire object (with title, annotations and outputSchema) is reported alongside for reference
(`bench/run.py`), not budgeted: a host that forwarded it verbatim would pay several times more.

The server ``instructions`` are paid by every session even when tool definitions are deferred
(tool search), so they have their own small budget.

Everything runs in memory (`mcp.Client` against `build_server`); no network, deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from tickets_mcp.settings import DEFAULT_TOOLSETS, TOOLSETS, Settings

AVERAGE_BUDGET = 150
MAX_BUDGET = 450  # create_ticket, the largest: 399 before it took attachments, 435 with them
INSTRUCTIONS_BUDGET = 120

# bpe_openai loads its ranks with a deprecated importlib.resources call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:bpe_openai.*")


def encoder() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ToolTokens:
    name: str
    model: int  # name + description + inputSchema: the budgeted figure
    wire: int  # the whole Tool object of tools/list (title, annotations, outputSchema too)


async def _listed(toolsets: tuple[str, ...]) -> tuple[list[dict[str, Any]], str]:
    from mcp import Client

    from tickets_mcp.mcp_server.server import build_server

    settings = Settings(
        token=SecretStr("budget-test"), base_url="http://127.0.0.1:9/support", toolsets=toolsets
    )
    async with Client(build_server(settings), mode="legacy") as client:  # type: ignore[arg-type]
        listed = await client.list_tools()
        instructions = client.instructions or ""
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]
    return tools, instructions


def count_tools(toolsets: tuple[str, ...]) -> tuple[list[ToolTokens], int]:
    """Tokens per tool of `tools/list` for these toolsets, and tokens of the server instructions."""
    tools, instructions = anyio.run(_listed, toolsets)
    enc = encoder()
    counted = []
    for tool in tools:
        model = {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "inputSchema": tool["inputSchema"],
        }
        counted.append(
            ToolTokens(tool["name"], len(enc.encode(compact(model))), len(enc.encode(compact(tool))))
        )
    return counted, len(enc.encode(instructions))


@pytest.mark.parametrize("toolsets", [DEFAULT_TOOLSETS, TOOLSETS], ids=["default", "all"])
def test_tools_list_fits_the_token_budget(toolsets: tuple[str, ...]) -> None:
    counted, _ = count_tools(toolsets)
    assert counted, "tools/list is empty"
    average = sum(t.model for t in counted) / len(counted)
    over = {t.name: t.model for t in counted if t.model > MAX_BUDGET}
    table = ", ".join(f"{t.name}={t.model}" for t in sorted(counted, key=lambda t: -t.model))
    assert average <= AVERAGE_BUDGET, f"average {average:.0f} tokens per tool > {AVERAGE_BUDGET}: {table}"
    assert not over, f"tools over {MAX_BUDGET} tokens: {over}; all: {table}"


def test_server_instructions_stay_short() -> None:
    _, instructions = count_tools(DEFAULT_TOOLSETS)
    assert 0 < instructions <= INSTRUCTIONS_BUDGET, f"instructions are {instructions} tokens"
