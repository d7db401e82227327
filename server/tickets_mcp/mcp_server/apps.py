"""MCP Apps (the extension `io.modelcontextprotocol/ui`): two views, and the tools that open them.

- `ui://tickets/draft` is the ticket draft as a form; `create_ticket` opens it.
- `ui://tickets/thread` is a ticket's thread as a view; `get_ticket` and `list_comments` open it.

The views are single HTML files in `views/`, read when a host first asks for one (not at start-up).
The app is an addition, never a substitute: the tools' text and structured results are the same with
or without it, and only a client that negotiated the extension sees `_meta.ui` or the app-only helper
tools (`app_tools.py`), so a host without apps sees exactly what it would without this module. An
app-only tool follows the model tools it serves (`AppTool.follows`): it is served, listed and allowed
exactly when one of them is, so read-only mode, the tool filters and the OAuth scopes apply unchanged.
`--no-apps` / `TICKETS_MCP_APPS=off` turns all of it off (no extension, no views, no helpers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, client_supports_apps
from mcp.server.mcpserver.resources import FunctionResource

from tickets_mcp.mcp_server.results import fail

if TYPE_CHECKING:
    from mcp.server.context import HandlerResult, ServerRequestContext
    from mcp.types import CallToolResult

    from tickets_mcp.mcp_server.declare import ToolSpec

DRAFT = "ui://tickets/draft"
THREAD = "ui://tickets/thread"

# The model tools whose results a view shows.
OPENS: dict[str, str] = {"create_ticket": DRAFT, "get_ticket": THREAD, "list_comments": THREAD}

VIEWS: dict[str, tuple[str, str, str]] = {  # uri: (file, title, description)
    DRAFT: ("draft.html", "Ticket draft", "A form for create_ticket: fields, live dry run, Create."),
    THREAD: ("thread.html", "Ticket thread", "A ticket's comments, latest first, with rating and reply."),
}


BRIDGE = "/*BRIDGE*/"  # where a view's script takes the bridge (views/bridge.js, shared by both)
THEME = "/*THEME*/"  # where a view's style takes the host's theme variables (views/theme.css, shared by both)


@functools.cache
def view_html(file: str) -> str:
    """A view's HTML, read from the package on first use, with the theme and the bridge inlined: one file,
    no fetch."""
    views = files("tickets_mcp.mcp_server") / "views"
    html = (views / file).read_text(encoding="utf-8")
    html = html.replace(THEME, (views / "theme.css").read_text(encoding="utf-8"), 1)
    return html.replace(BRIDGE, (views / "bridge.js").read_text(encoding="utf-8"), 1)


def extension() -> Apps:
    """The Apps extension with the two views. The declared CSP is the empty default: a view loads
    nothing and connects nowhere; all its data comes through the host's `tools/call`."""
    apps = Apps()
    for uri, (file, title, description) in VIEWS.items():
        apps.add_resource(
            FunctionResource(
                uri=uri,
                name=file.removesuffix(".html"),
                title=title,
                description=description,
                mime_type=APP_MIME_TYPE,
                meta={"ui": {"csp": {}, "prefersBorder": True}},
                fn=functools.partial(view_html, file),
            )
        )
    return apps


@dataclass(frozen=True)
class AppTool:
    """A tool only a view calls (`visibility: ["app"]`), served exactly when a tool it follows is."""

    spec: ToolSpec
    view: str
    follows: tuple[str, ...]


class AppGate:
    """What `ToolGate` asks about the app: which helpers to serve, what a `tools/list` shows this
    client, and whether an app-only tool may be called."""

    def __init__(self) -> None:
        self.helpers: dict[str, AppTool] = {}
        self.served: set[str] = set()

    def serve(self, served: list[ToolSpec], helpers: Sequence[AppTool]) -> list[ToolSpec]:
        """Of ``helpers`` (`app_tools.APP_TOOLS`), the ones to serve beside ``served``, the model tools
        the settings enable."""
        self.served = {s.name for s in served}
        self.helpers = {t.spec.name: t for t in helpers if self.served.intersection(t.follows)}
        return [t.spec for t in self.helpers.values()]

    def listed(self, ctx: ServerRequestContext[Any], result: HandlerResult) -> HandlerResult:
        """`tools/list` for this client: with `_meta.ui` and the helpers when it negotiated apps, else
        without the helpers (and so exactly as without apps)."""
        apps = client_supports_apps(ctx)
        shown = {_name(t) for t in _items(result)}

        def keep(item: Any) -> bool:
            helper = self.helpers.get(_name(item))
            return helper is None or (apps and bool(shown.intersection(helper.follows)))

        items = []
        for item in filter(keep, _items(result)):
            name = _name(item)
            ui: dict[str, Any] | None = None
            if name in self.helpers:
                ui = {"resourceUri": self.helpers[name].view, "visibility": ["app"]}
            elif apps and name in OPENS:
                ui = {"resourceUri": OPENS[name]}
            items.append(item if ui is None else _with_ui(item, ui))
        if isinstance(result, dict):
            return {**result, "tools": items}
        if result is None or not hasattr(result, "tools"):
            return result
        return result.model_copy(update={"tools": items})

    def refused(
        self,
        ctx: ServerRequestContext[Any],
        name: str,
        refusal: Callable[[str], CallToolResult | None],
    ) -> CallToolResult | None:
        """Why this call of an app-only tool is refused (None: allowed, or not an app-only tool).
        ``refusal(tool)`` is the refusal of a model tool for this caller, e.g. for its OAuth scopes: the
        helper is refused when every tool it follows that is served is."""
        helper = self.helpers.get(name)
        if helper is None:
            return None
        if not client_supports_apps(ctx):
            return fail(
                f"{name} is a tool of this server's MCP App ({helper.view}); only a host that renders "
                f"MCP Apps ({EXTENSION_ID}) calls it. Use {' or '.join(helper.follows)} instead.",
                code="tool_disabled",
            )
        refusals = [refusal(f) for f in helper.follows if f in self.served]
        return None if any(r is None for r in refusals) else refusals[0]


def _items(result: Any) -> list[Any]:
    if isinstance(result, dict):
        return list(result.get("tools", []))
    return list(getattr(result, "tools", None) or [])


def _name(item: Any) -> str:
    return str(item.get("name") if isinstance(item, dict) else item.name)


def _with_ui(item: Any, ui: dict[str, Any]) -> Any:
    if isinstance(item, dict):
        return {**item, "_meta": {**(item.get("_meta") or {}), "ui": ui}}
    return item.model_copy(update={"meta": {**(item.meta or {}), "ui": ui}})
