"""Tool filters (--tools, --exclude-tools) through a real MCP client in both eras: what `tools/list` shows,
what a call of a filtered tool answers, how they combine with --toolsets and --read-only, the prompts
that name a filtered tool, and the start-up errors of the real command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mcp import Client, StdioServerParameters

from support.cli import run
from support.mcp_client import text_of
from support.sandbox import make_settings
from support.servers import clean_env
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
ALL_NAMES = [spec.name for spec in all_tools()]


async def listing(c: Client) -> tuple[set[str], set[str]]:
    tools = {t.name for t in (await c.list_tools()).tools}
    prompts = {p.name for p in (await c.list_prompts()).prompts}
    return tools, prompts


async def test_tools_serves_exactly_the_named_tools(sandbox: SandboxHandle, era: str) -> None:
    server = build_server(make_settings(sandbox, tools="get_ticket,search_tickets"))
    sandbox.clear_journal()
    async with Client(server, mode=era) as c:
        tools, prompts = await listing(c)
        assert tools == {"get_ticket", "search_tickets"}
        found = await c.call_tool("get_ticket", {"number": 2401007})
        assert not found.is_error and found.structured_content["ticket"]["number"] == 2401007
        refused = await c.call_tool("list_products", {})
        write = await c.call_tool("add_comment", {"number": 2401006, "body": "must not be sent"})
    assert refused.is_error and refused.structured_content["code"] == "tool_disabled"
    assert "--tools / TICKETS_MCP_TOOLS" in text_of(refused) and "get_ticket, search_tickets" in text_of(
        refused
    )
    assert write.is_error and "--tools" in text_of(write)
    assert not sandbox.writes()
    # The prompts that tell the model to call a tool it does not have are not served.
    assert prompts == {"summarize_thread", "triage_open_tickets"}


async def test_exclude_tools_removes_them_and_a_call_names_the_filter(
    sandbox: SandboxHandle, era: str
) -> None:
    server = build_server(make_settings(sandbox, exclude_tools=("add_comment", "close_ticket")))
    sandbox.clear_journal()
    async with Client(server, mode=era) as c:
        tools, prompts = await listing(c)
        refused = await c.call_tool("add_comment", {"number": 2401006, "body": "must not be sent"})
    default = {s.name for s in all_tools() if s.toolset != "legacy"}
    assert tools == default - {"add_comment", "close_ticket"}
    assert refused.is_error and refused.structured_content["code"] == "tool_disabled"
    assert "excludes it (--exclude-tools / TICKETS_MCP_EXCLUDE_TOOLS)" in text_of(refused)
    assert not sandbox.writes()
    assert "reply_to_support" not in prompts and "draft_ticket" in prompts  # add_comment is gone


async def test_filters_combine_with_read_only_and_toolsets(sandbox: SandboxHandle, era: str) -> None:
    server = build_server(make_settings(sandbox, read_only=True, toolsets="all", exclude_tools="list_topics"))
    async with Client(server, mode=era) as c:
        tools, _ = await listing(c)
        write = await c.call_tool("create_ticket", {"summary": "x", "categories": ["billing"]})
        excluded = await c.call_tool("list_topics", {})
    assert tools == {s.name for s in all_tools() if s.read_only} - {"list_topics"}
    assert write.is_error and "read-only mode (--read-only)" in text_of(write)  # read-only names itself
    assert excluded.is_error and "--exclude-tools" in text_of(excluded)

    # --tools without --toolsets picks from every toolset, legacy included ...
    server = build_server(make_settings(sandbox, tools="get_ticket_legacy,list_categories"))
    async with Client(server, mode=era) as c:
        assert (await listing(c))[0] == {"get_ticket_legacy", "list_categories"}
        legacy = await c.call_tool("get_ticket_legacy", {"number": 2401007})
    assert not legacy.is_error
    # ... and with --toolsets, within them; --exclude-tools applies last.
    settings = make_settings(
        sandbox, toolsets="catalog,legacy", tools="list_topics,list_products", exclude_tools="list_products"
    )
    server = build_server(settings)
    async with Client(server, mode=era) as c:
        assert (await listing(c))[0] == {"list_topics"}


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--tools", "get_ticket,nope"], {}, "unknown tool name(s) in --tools / TICKETS_MCP_TOOLS: nope"),
        ([], {"TICKETS_MCP_EXCLUDE_TOOLS": "nope"}, "in --exclude-tools / TICKETS_MCP_EXCLUDE_TOOLS: nope"),
        (
            ["--read-only", "--tools", "get_ticket,create_ticket"],
            {},
            "names write tool(s) create_ticket, but --read-only serves no write tool",
        ),
        (
            ["--tools", "get_ticket"],
            {"TICKETS_MCP_TOOLSETS": "catalog"},
            "outside the toolsets of --toolsets / TICKETS_MCP_TOOLSETS (catalog): get_ticket (tickets)",
        ),
        (["--tools", "list_topics", "--exclude-tools", "list_topics"], {}, "leave no tool to serve"),
    ],
)
def test_bad_filters_stop_start_up_with_exit_2(args: list[str], env: dict[str, str], expected: str) -> None:
    proc = run("--sandbox", *args, **env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("tickets-mcp: invalid configuration: ") and expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    if "unknown" in expected:
        assert "valid names: " + ", ".join(ALL_NAMES) in proc.stderr


def test_doctor_refuses_an_unknown_tool_name_too() -> None:
    proc = run("--sandbox", "doctor", TICKETS_MCP_TOOLS="get_tiket")
    assert proc.returncode == 2 and "get_tiket" in proc.stderr and "get_ticket" in proc.stderr


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_environment_form_through_the_real_command(mode: str) -> None:
    env = clean_env(
        TICKETS_MCP_TOOLS="get_ticket, search_tickets", TICKETS_MCP_EXCLUDE_TOOLS="search_tickets"
    )
    params = StdioServerParameters(command=sys.executable, args=["-m", "tickets_mcp", "--sandbox"], env=env)
    async with Client(params, mode=mode) as c:
        tools, _ = await listing(c)
        refused = await c.call_tool("search_tickets", {})
    assert tools == {"get_ticket"}
    assert refused.is_error and "TICKETS_MCP_EXCLUDE_TOOLS" in text_of(refused)


def test_no_filter_means_no_registry_import_at_start_up() -> None:
    """Cold start: without filters the CLI does not load the tool registry before serving."""
    code = (
        "import sys; from tickets_mcp.cli import build_parser, load_settings; "
        "load_settings(build_parser().parse_args(['--sandbox'])); "
        "print('tickets_mcp.mcp_server.tools' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env())
    assert proc.stdout.strip() == "False", proc.stderr
