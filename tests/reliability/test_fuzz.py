"""Fuzzing every tool with arguments derived from its argument model's JSON schema.

One sandbox, one in-process server and one client serve the whole module (through a blocking
portal, so Hypothesis drives plain functions). `make test` runs 150 valid and 150 invalid calls;
`make fuzz` sets TICKETS_MCP_FUZZ_EXAMPLES=5000 for 10,000.

- Any input: no crash (the client raises on a server exception), no "Internal error", every
  `isError` carries a code, and a result that says nothing was sent has no write in the journal.
- Schema-invalid input: `isError` with code ``invalid_arguments`` naming the broken property, and
  the journal shows that no HTTP request at all was made (valid input may read the catalog).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from support.expected import DEFAULT_TOOLS, LEGACY_TOOLS
from support.fault_matrix import CRASH_MARKERS
from support.mcp_client import text_of
from support.sandbox import make_settings
from support.schema_strategies import has_invalid, invalid_arguments, valid_arguments
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

# The argument models in full: the published schemas leave out the bounds no model trips over (an
# int64 maximum, minLength 1; see declare.compact), which the server still enforces.
FULL = {spec.name: spec.sdk_tool.fn_metadata.arg_model.model_json_schema() for spec in all_tools()}
EXAMPLES = int(os.environ.get("TICKETS_MCP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


@dataclass
class Fuzz:
    sb: SandboxHandle
    portal: BlockingPortal
    client: Client
    schemas: dict[str, dict[str, Any]]
    calls: Counter[str] = field(default_factory=Counter)

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        self.calls[tool] += 1
        return self.portal.call(self.client.call_tool, tool, arguments)


@pytest.fixture(scope="module")
def fuzz() -> Iterator[Fuzz]:
    with run_sandbox(creates_per_minute=10**6, comments_per_minute=10**6) as sb:
        config = make_settings(
            sb,
            toolsets=("all",),
            creates_per_minute=10**6,
            comments_per_minute=10**6,
            catalog_ttl=300,
            poll_interval=3600,
        )
        with start_blocking_portal() as portal:
            client = portal.call(
                lambda: Client(build_server(config), raise_exceptions=True, elicitation_callback=decline)
            )
            with portal.wrap_async_context_manager(client) as connected:
                published = {t.name for t in portal.call(connected.list_tools).tools}
                state = Fuzz(sb, portal, connected, {name: FULL[name] for name in published})
                yield state
                print(f"\nfuzz: {sum(state.calls.values())} calls, by tool {dict(state.calls)}")


def test_every_tool_is_fuzzed(fuzz: Fuzz) -> None:
    assert set(fuzz.schemas) == DEFAULT_TOOLS | LEGACY_TOOLS
    assert all(has_invalid(s) for name, s in fuzz.schemas.items() if s.get("properties"))


@FUZZ
@given(data=st.data())
def test_any_valid_input_never_crashes(fuzz: Fuzz, data: st.DataObject) -> None:
    tool = data.draw(st.sampled_from(sorted(fuzz.schemas)), label="tool")
    arguments = data.draw(valid_arguments(fuzz.schemas[tool]), label="arguments")
    fuzz.sb.clear_journal()
    result = fuzz.call(tool, arguments)
    text = text_of(result)
    if result.is_error:  # a success's text is ticket content, which may say anything
        for marker in CRASH_MARKERS:
            assert marker not in text, text
        assert (result.structured_content or {}).get("code"), text
    if "nothing was sent" in text.lower() or text.startswith("Not sent"):
        writes = fuzz.sb.writes()
        assert not writes, (text, writes)


@FUZZ
@given(data=st.data())
def test_invalid_input_names_the_field_and_sends_nothing(fuzz: Fuzz, data: st.DataObject) -> None:
    names = sorted(n for n, s in fuzz.schemas.items() if s.get("properties"))
    tool = data.draw(st.sampled_from(names), label="tool")
    arguments, prop = data.draw(invalid_arguments(fuzz.schemas[tool]), label="arguments")
    fuzz.sb.clear_journal()
    result = fuzz.call(tool, arguments)
    text = text_of(result)
    assert result.is_error, text
    structured = result.structured_content or {}
    assert structured.get("code") == "invalid_arguments", text
    assert any(f["field"].split(".")[0] == prop for f in structured["fields"]), (prop, structured)
    assert prop in text and "nothing was sent" in text
    assert fuzz.sb.journal() == []
