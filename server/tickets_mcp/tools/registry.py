"""The toolsets and their tools, in one place, as data.

Each toolset module exports its tools as the value ``TOOLS``; a tool's name, toolset, title, kind
(the four annotations) and consent are declared once, with `declare.tool`. The README's tool
table, `manifest.json` and the tests check against `all_tools()`.
"""

from __future__ import annotations

from tickets_mcp.settings import Toolset
from tickets_mcp.tools.declare import ToolSpec
from tickets_mcp.tools.toolsets import catalog, comments, legacy, ticket_writes, tickets

TOOLSETS: dict[Toolset, tuple[ToolSpec, ...]] = {
    "tickets": tickets.TOOLS + ticket_writes.TOOLS,
    "comments": comments.TOOLS,
    "catalog": catalog.TOOLS,
    "legacy": legacy.TOOLS,
}


def all_tools() -> list[ToolSpec]:
    """Every declared tool, in a stable order (toolset, then declaration order)."""
    return [spec for specs in TOOLSETS.values() for spec in specs]


def enabled_tools(toolsets: tuple[str, ...], *, read_only: bool) -> list[ToolSpec]:
    """The tools a server with these settings lists and serves."""
    return [s for s in all_tools() if s.toolset in toolsets and (s.read_only or not read_only)]


def _checked() -> None:
    names = [spec.name for spec in all_tools()]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"tools declared twice: {duplicates}"
    for toolset, specs in TOOLSETS.items():
        assert all(spec.toolset == toolset for spec in specs), f"a tool of {toolset} says otherwise"


_checked()
