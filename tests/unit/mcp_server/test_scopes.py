"""Unit tests of the OAuth scope gates (`callers.py`): which tools a token lists and may call, which
prompts it sees, and how scopes are read from a token's claims. In process: a fake request context
carrying the SDK's `AuthenticatedUser`, no sockets."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.shared.exceptions import MCPError
from mcp.types import ListPromptsResult, ListToolsResult, Prompt, Tool

from tickets_mcp.mcp_server.callers import (
    READ_SCOPE,
    WRITE_SCOPE,
    granted_scopes,
    listed_tools,
    may_write,
    prompt_gate,
    refused_tool,
)
from tickets_mcp.mcp_server.prompts import load_prompts, register_prompts, unserved_tools
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.settings import Settings

OAUTH = Settings(
    transport="http",
    oauth_issuer="https://issuer.example",
    oauth_jwks_url="https://issuer.example/jwks.json",
    oauth_audience="https://tickets.example/mcp",
)
NO_OAUTH = Settings()
SPECS = {spec.name: spec for spec in all_tools()}
WRITES = {name for name, spec in SPECS.items() if not spec.read_only}
READS = set(SPECS) - WRITES
PROMPTS = load_prompts()
WRITING_PROMPTS = {p.name for p in PROMPTS if p.meta.writes}


def request(*scopes: str, method: str = "tools/list", params: dict[str, Any] | None = None) -> Any:
    """A request context whose HTTP request carries a validated access token with ``scopes``."""
    token = AccessToken(token="t", client_id="agent", scopes=list(scopes), expires_at=None)
    http = SimpleNamespace(scope={"user": AuthenticatedUser(token)})
    return SimpleNamespace(request=http, method=method, params=params)


def anonymous(method: str = "tools/list", params: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(request=None, method=method, params=params)


def tools_list() -> ListToolsResult:
    return ListToolsResult(tools=[Tool(name=name, input_schema={"type": "object"}) for name in SPECS])


def prompts_list() -> ListPromptsResult:
    return ListPromptsResult(prompts=[Prompt(name=p.name) for p in PROMPTS])


def test_the_registry_has_both_reads_and_writes() -> None:  # the other tests mean something
    assert {"create_ticket", "add_comment", "close_ticket"} <= WRITES
    assert {"get_ticket", "search_tickets"} <= READS


# --- may_write ---------------------------------------------------------------------------------------


def test_without_oauth_everyone_may_write() -> None:
    assert may_write(anonymous(), NO_OAUTH)
    assert may_write(request(READ_SCOPE), NO_OAUTH)


def test_with_oauth_only_the_write_scope_may_write() -> None:
    assert may_write(request(WRITE_SCOPE), OAUTH)
    assert may_write(request(READ_SCOPE, WRITE_SCOPE), OAUTH)
    assert not may_write(request(READ_SCOPE), OAUTH)
    assert not may_write(request(), OAUTH)


def test_with_oauth_a_request_without_a_token_may_not_write() -> None:
    assert not may_write(anonymous(), OAUTH)


# --- tools/list and tools/call -------------------------------------------------------------------------


def test_a_read_scope_lists_no_write_tool() -> None:
    listed = listed_tools(request(READ_SCOPE), OAUTH, SPECS, tools_list())
    assert {t.name for t in listed.tools} == READS


def test_a_write_scope_lists_every_tool() -> None:
    result = tools_list()
    assert listed_tools(request(WRITE_SCOPE), OAUTH, SPECS, result) is result


def test_a_dict_tools_list_is_filtered_too() -> None:
    result = {"tools": [{"name": "get_ticket"}, {"name": "close_ticket"}], "nextCursor": None}
    listed = listed_tools(request(READ_SCOPE), OAUTH, SPECS, result)
    assert listed == {"tools": [{"name": "get_ticket"}], "nextCursor": None}


def test_a_write_call_with_a_read_scope_is_refused_naming_the_scope() -> None:
    refusal = refused_tool(request(READ_SCOPE), OAUTH, SPECS["close_ticket"])
    assert refusal is not None and refusal.is_error
    out = refusal.structured_content or {}
    assert out["code"] == "insufficient_scope" and out["required_scope"] == WRITE_SCOPE
    message = out["error"]
    assert message.startswith("close_ticket changes tickets, which needs the OAuth scope tickets:write")
    assert "this access token has tickets:read" in message and "Nothing was sent" in message


def test_a_write_call_with_no_scopes_says_none_are_held() -> None:
    refusal = refused_tool(request(), OAUTH, SPECS["add_comment"])
    assert refusal is not None
    assert "this access token has none" in (refusal.structured_content or {})["error"]


def test_every_write_tool_is_refused_to_a_read_scope() -> None:
    refused = {name for name in SPECS if refused_tool(request(READ_SCOPE), OAUTH, SPECS[name]) is not None}
    assert refused == WRITES


def test_reads_unknown_tools_and_write_scopes_are_not_refused() -> None:
    assert refused_tool(request(READ_SCOPE), OAUTH, SPECS["get_ticket"]) is None
    assert refused_tool(request(READ_SCOPE), OAUTH, None) is None  # unknown: the SDK answers it
    assert refused_tool(request(WRITE_SCOPE), OAUTH, SPECS["close_ticket"]) is None
    assert refused_tool(anonymous(), NO_OAUTH, SPECS["close_ticket"]) is None


# --- scopes from claims --------------------------------------------------------------------------------


def test_the_write_scope_implies_the_read_scope() -> None:
    assert granted_scopes({"scope": WRITE_SCOPE}) == [WRITE_SCOPE, READ_SCOPE]


def test_scopes_come_from_scope_and_scp_once_each() -> None:
    claims = {"scope": "openid tickets:read", "scp": ["tickets:read", 7, "profile"]}
    assert granted_scopes(claims) == ["openid", READ_SCOPE, "profile"]
    assert granted_scopes({"scp": "tickets:read extra"}) == [READ_SCOPE, "extra"]
    assert granted_scopes({}) == []


# --- prompts -------------------------------------------------------------------------------------------


def _next(result: Any) -> Any:
    async def call_next(ctx: Any) -> Any:
        return result

    return call_next


def test_every_prompt_that_names_a_write_tool_is_flagged_as_leading_to_writes() -> None:
    for prompt in PROMPTS:  # else the gate below would serve it to a read-only token
        named = {tool for tool in WRITES if re.search(rf"\b{tool}\b", prompt.template)}
        assert prompt.meta.writes == bool(named), (prompt.name, named)


@pytest.mark.anyio
async def test_a_read_scope_does_not_list_the_prompts_that_lead_to_writes() -> None:
    assert WRITING_PROMPTS == {"draft_ticket", "reply_to_support"}
    gate = prompt_gate(WRITING_PROMPTS, OAUTH)
    listed = await gate(request(READ_SCOPE, method="prompts/list"), _next(prompts_list()))
    assert {p.name for p in listed.prompts} == {p.name for p in PROMPTS} - WRITING_PROMPTS


@pytest.mark.anyio
async def test_a_write_scope_lists_every_prompt() -> None:
    gate = prompt_gate(WRITING_PROMPTS, OAUTH)
    result = prompts_list()
    assert await gate(request(WRITE_SCOPE, method="prompts/list"), _next(result)) is result


@pytest.mark.anyio
async def test_a_read_scope_getting_a_writing_prompt_is_refused() -> None:
    gate = prompt_gate(WRITING_PROMPTS, OAUTH)
    ctx = request(READ_SCOPE, method="prompts/get", params={"name": "draft_ticket"})
    with pytest.raises(MCPError, match=r"prompt draft_ticket leads to writes.*tickets:write"):
        await gate(ctx, _next("rendered"))


@pytest.mark.anyio
async def test_a_read_scope_gets_a_reading_prompt_and_other_methods_pass() -> None:
    gate = prompt_gate(WRITING_PROMPTS, OAUTH)
    ctx = request(READ_SCOPE, method="prompts/get", params={"name": "summarize_thread"})
    assert await gate(ctx, _next("rendered")) == "rendered"
    assert await gate(request(READ_SCOPE, method="tools/list"), _next("untouched")) == "untouched"


class PromptServer:
    """What `register_prompts` uses of the SDK server: ``add_prompt`` and ``middleware``."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.middleware: list[Any] = []

    def add_prompt(self, prompt: Any) -> None:
        self.prompts.append(prompt.name)


def served_prompts(**options: Any) -> set[str]:
    server = PromptServer()
    register_prompts(server, PROMPTS, language="en", **options)  # type: ignore[arg-type]
    return set(server.prompts)


def test_every_prompt_is_served_by_default() -> None:
    assert served_prompts() == {p.name for p in PROMPTS}


def test_read_only_mode_serves_no_prompt_that_leads_to_a_write() -> None:
    assert served_prompts(read_only=True) == {p.name for p in PROMPTS} - WRITING_PROMPTS


def test_a_prompt_that_calls_a_tool_not_served_is_hidden() -> None:
    unserved = unserved_tools(Settings(exclude_tools="create_ticket,get_ticket"))
    assert {"create_ticket", "get_ticket"} <= unserved
    served = served_prompts(unserved=unserved)
    assert "draft_ticket" not in served  # tells the model to call create_ticket
    assert "triage_open_tickets" not in served  # tells it to call get_ticket
    assert {"reply_to_support", "summarize_thread"} <= served


def test_without_tool_filters_no_tool_is_unserved() -> None:
    assert unserved_tools(Settings()) == frozenset()
