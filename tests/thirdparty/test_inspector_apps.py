"""The pinned MCP Inspector CLI's `--app-info` probe (2.12.0) against `tickets-mcp --sandbox` over stdio:
it finds each view on the tool that opens it when it advertises Apps, and none otherwise."""

from __future__ import annotations

import json
import subprocess

import pytest

from support.cli import TICKETS_MCP
from support.node_tools import require_tool, run_tool

pytestmark = pytest.mark.thirdparty


def app_info(tool: str, *flags: str) -> tuple[int, dict[str, object]]:
    inspector = require_tool("mcp-inspector")
    proc: subprocess.CompletedProcess[str] = run_tool(
        [inspector, "--cli", TICKETS_MCP, "--sandbox", *flags, "--app-info", "--method", "tools/call",
         "--tool-name", tool]
    )  # fmt: skip
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("tool", "uri"),
    [
        ("create_ticket", "ui://tickets/draft"),
        ("get_ticket", "ui://tickets/thread"),
        ("list_comments", "ui://tickets/thread"),
    ],
)
def test_the_inspector_finds_each_view_with_the_empty_csp(tool: str, uri: str) -> None:
    rc, info = app_info(tool, "--advertise-apps")
    assert rc == 0, info
    assert info == {"hasApp": True, "toolName": tool, "resourceUri": uri, "csp": {}, "prefersBorder": True,
                    "resourceMimeType": "text/html;profile=mcp-app"}  # fmt: skip


@pytest.mark.parametrize(
    "flags", [(), ("--no-apps", "--advertise-apps")], ids=["client-without-apps", "no-apps"]
)
def test_no_app_without_apps_on_both_sides(flags: tuple[str, ...]) -> None:
    rc, info = app_info("get_ticket", *flags)
    assert rc == 2 and info == {"hasApp": False, "toolName": "get_ticket"}
