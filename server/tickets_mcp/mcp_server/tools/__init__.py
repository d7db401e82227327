"""The tools: one module per toolset, each exporting its tools as the value ``TOOLS``, listed here as data.

A tool's name, toolset, title, kind (the four annotations) and consent are declared once, with
`declare.tool` or `declare.write`. The README's tool table, `manifest.json` and the tests check against
`all_tools()`. Importing this package loads every toolset (deferred to the first `tools/list`).
"""

from __future__ import annotations

from tickets_mcp.mcp_server.declare import ToolSpec
from tickets_mcp.mcp_server.tools import catalog, comments, legacy, tickets
from tickets_mcp.settings import Settings, Toolset

TOOLSETS: dict[Toolset, tuple[ToolSpec, ...]] = {
    "tickets": tickets.TOOLS,
    "comments": comments.TOOLS,
    "catalog": catalog.TOOLS,
    "legacy": legacy.TOOLS,
}


def all_tools() -> list[ToolSpec]:
    """Every declared tool, in a stable order (toolset, then declaration order)."""
    return [spec for specs in TOOLSETS.values() for spec in specs]


def enabled_tools(toolsets: tuple[str, ...], *, read_only: bool) -> list[ToolSpec]:
    """The tools of these toolsets, without the writes in read-only mode (no tool filters)."""
    return [s for s in all_tools() if s.toolset in toolsets and (s.read_only or not read_only)]


# -- the tool filters (--tools, --exclude-tools) ---------------------------------------------------
#
# --tools names exactly the tools to serve. Without --toolsets it picks from every toolset (legacy
# included), so `--tools get_ticket,create_ticket` works without knowing the toolsets; with --toolsets
# (flag or TICKETS_MCP_TOOLSETS) each named tool must be in them. --exclude-tools then removes tools
# from whatever is served. --read-only always wins: a write tool named in --tools is a start-up error
# (exit 2) rather than a warning in a log that stdio clients rarely show. An unknown name is an error too.

TOOLS_FILTER = "--tools / TICKETS_MCP_TOOLS"
EXCLUDE_FILTER = "--exclude-tools / TICKETS_MCP_EXCLUDE_TOOLS"


def filter_problem(settings: Settings) -> str | None:
    """Why the tool filters of ``settings`` cannot be served as asked (one line with the fix), or None."""
    specs = {s.name: s for s in all_tools()}
    for flag, names in ((TOOLS_FILTER, settings.tools), (EXCLUDE_FILTER, settings.exclude_tools)):
        unknown = [n for n in names if n not in specs]
        if unknown:
            return f"unknown tool name(s) in {flag}: {', '.join(unknown)}; valid names: {', '.join(specs)}"
    named = [specs[n] for n in settings.tools]
    writes = [s.name for s in named if not s.read_only]
    if settings.read_only and writes:
        return (
            f"{TOOLS_FILTER} names write tool(s) {', '.join(writes)}, but --read-only serves no write tool: "
            "drop them from --tools, or drop --read-only"
        )
    if "toolsets" in settings.model_fields_set:
        outside = [f"{s.name} ({s.toolset})" for s in named if s.toolset not in settings.toolsets]
        if outside:
            return (
                f"{TOOLS_FILTER} names tool(s) outside the toolsets of --toolsets / TICKETS_MCP_TOOLSETS "
                f"({','.join(settings.toolsets)}): {', '.join(outside)}; add their toolsets, or leave "
                "--toolsets unset (--tools alone picks from every toolset)"
            )
    if (settings.tools or settings.exclude_tools) and not select_tools(settings)[0]:
        return f"the tool filters leave no tool to serve: check {TOOLS_FILTER} and {EXCLUDE_FILTER}"
    return None


def select_tools(settings: Settings) -> tuple[list[ToolSpec], dict[str, str]]:
    """The tools a server with these settings lists and serves, and why each other one is not (the
    text a call of it gets). Filters are applied as `filter_problem` describes; it validates them."""
    served: list[ToolSpec] = []
    disabled: dict[str, str] = {}
    for spec in all_tools():
        why = _why_disabled(spec, settings)
        if why is None:
            served.append(spec)
        else:
            disabled[spec.name] = why
    return served, disabled


def _why_disabled(spec: ToolSpec, settings: Settings) -> str | None:
    if not spec.read_only and settings.read_only:
        return f"{spec.name} is disabled: this server runs in read-only mode (--read-only)."
    if spec.name in settings.exclude_tools:
        return f"{spec.name} is disabled: this server excludes it ({EXCLUDE_FILTER})."
    if settings.tools:
        if spec.name in settings.tools:
            return None
        return (
            f"{spec.name} is disabled: this server serves only the tools named in {TOOLS_FILTER} "
            f"({', '.join(settings.tools)})."
        )
    if spec.toolset not in settings.toolsets:
        return (
            f"{spec.name} is in the '{spec.toolset}' toolset, which is off; "
            f"start the server with --toolsets {spec.toolset} (or all)."
        )
    return None


def _checked() -> None:
    names = [spec.name for spec in all_tools()]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"tools declared twice: {duplicates}"
    for toolset, specs in TOOLSETS.items():
        assert all(spec.toolset == toolset for spec in specs), f"a tool of {toolset} says otherwise"


_checked()
