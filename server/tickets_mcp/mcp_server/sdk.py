"""The one module that touches private names of the `mcp` SDK; everything else uses its public API.

`mcp` 2.3 has no public seam for five things this server does, so they are done here, each with
the private name it needs (`PRIVATE_NAMES`, pinned by ``tests/unit/test_architecture.py`` together with
the SDK version range, so an upgrade that moves one fails there, in one place, with a clear message):

- a `resources/list` that reads the user's open tickets needs the request context
  (`MCPServer._handle_list_resources`; the public `list_resources()` gets none);
- tools are registered on first use, so a server answers `initialize` without building their
  schemas; the streamable-HTTP transport asks for a tool's input schema before any middleware runs
  (`MCPServer._tool_input_schema`), and a tool object built once is added as is
  (`MCPServer._tool_manager`, `ToolManager._tools`);
- handlers of methods `MCPServer` does not route: `resources/subscribe` and `resources/unsubscribe`
  (2025-11-25), `completion/complete` with the request context, `logging/setLevel`
  (`MCPServer._lowlevel_server`);
- what identifies a 2025-11-25 session across its requests: its connection
  (`ServerSession._connection`; each request gets its own `ServerSession`);
- when an HTTP session ends, however it ends (DELETE, idle timeout, crash), so that `sessions.py` frees
  its owner's slot (`StreamableHTTPSessionManager._discard_session`, the one place the manager forgets one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import ListResourcesResult, PaginatedRequestParams, Resource

SDK_VERSIONS = (">=2.3", "<2.4")
PRIVATE_NAMES: dict[str, str] = {
    "mcp.server.mcpserver.server.MCPServer._handle_list_resources": "method",
    "mcp.server.mcpserver.server.MCPServer._tool_input_schema": "method",
    "mcp.server.mcpserver.server.MCPServer._tool_manager": "attribute",
    "mcp.server.mcpserver.server.MCPServer._lowlevel_server": "attribute",
    "mcp.server.mcpserver.tools.tool_manager.ToolManager._tools": "attribute",
    "mcp.server.session.ServerSession._connection": "attribute",
    "mcp.server.streamable_http_manager.StreamableHTTPSessionManager._discard_session": "method",
}

L = TypeVar("L")
ListResources = Callable[[ServerRequestContext[Any]], Awaitable[list[Resource]]]


class SdkServer(MCPServer[L], Generic[L]):
    """`MCPServer` with a context-aware `resources/list` and tools registered on first use."""

    def __init__(self, *, list_resources: ListResources, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._list_resources_with_context = list_resources
        self.prepare_tools: Callable[[], None] = lambda: None  # registers the tools on first use

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[L], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        return ListResourcesResult(resources=await self._list_resources_with_context(ctx))

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        self.prepare_tools()
        return super()._tool_input_schema(name)


def add_tool(server: MCPServer[Any], tool: Tool) -> None:
    """Serve ``tool`` as built (`MCPServer.add_tool` would build its schemas a second time)."""
    server._tool_manager._tools[tool.name] = tool


def add_request_handler(
    server: MCPServer[Any],
    method: str,
    params_type: type[Any],
    handler: Callable[[ServerRequestContext[Any], Any], Awaitable[Any]],
) -> None:
    """Route a JSON-RPC ``method`` that `MCPServer` does not route to ``handler(ctx, params)``."""
    server._lowlevel_server.add_request_handler(method, params_type, handler)


def on_session_end(server: MCPServer[Any], callback: Callable[[str], None]) -> None:
    """Call ``callback(session_id)`` whenever the HTTP session manager discards a session (it may be called
    twice for one session). Call after `streamable_http_app()`, which creates the manager."""
    manager = server.session_manager
    discard = manager._discard_session

    async def discarding(session_id: str, transport: Any) -> None:
        callback(session_id)
        await discard(session_id, transport)

    manager._discard_session = discarding  # type: ignore[method-assign]


def connection_of(ctx: ServerRequestContext[Any]) -> Hashable:
    """What stays the same across the requests of one 2025-11-25 session: its connection."""
    return id(getattr(ctx.session, "_connection", ctx.session))


def on_connection_close(ctx: ServerRequestContext[Any], callback: Callable[[], None]) -> None:
    """Run ``callback`` when the connection of this request closes (its 2025-11-25 session ends). A session
    without such a connection is not registered (its caller cleans up another way)."""
    stack = getattr(getattr(ctx.session, "_connection", None), "exit_stack", None)
    if stack is not None:
        stack.callback(callback)
