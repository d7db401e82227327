"""Per-request OAuth scopes (OAuth resource-server mode): what an access token lets its caller do.

``tickets:read`` gives the read tools; ``tickets:write`` (which includes reading) adds the writes. For a
token without ``tickets:write`` a write tool is left out of `tools/list` and refused at call time with an
`isError` result that names the missing scope; a prompt that leads to a write (``writes = true``) is
left out of `prompts/list` and refused by `prompts/get`, as `--read-only` leaves it out. A token without
``tickets:read`` never gets here (the HTTP layer answers 403 ``insufficient_scope``, see `oauth.py`).
`--read-only` and the toolsets still apply on top. Without OAuth nothing here changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from tickets_mcp.oauth import WRITE_SCOPE
from tickets_mcp.settings import Settings
from tickets_mcp.tools.results import fail

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken
    from mcp.types import CallToolResult

    from tickets_mcp.tools.declare import ToolSpec
    from tickets_mcp.tools.prompt_files import PromptSpec


def access_token(ctx: ServerRequestContext[Any]) -> AccessToken | None:
    """The validated access token of the HTTP request that carried this message, if any."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    request = getattr(ctx, "request", None)
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    token = getattr(user, "access_token", None)
    return token if token is not None else get_access_token()


def may_write(ctx: ServerRequestContext[Any], settings: Settings) -> bool:
    """Whether this request may use the write tools; with OAuth on and no token (never on HTTP), no."""
    if not settings.oauth_enabled:
        return True
    token = access_token(ctx)
    return token is not None and WRITE_SCOPE in token.scopes


def _without(result: HandlerResult, key: str, hidden: set[str]) -> HandlerResult:
    """``result`` (a list result, as a model or a dict) without the items named in ``hidden``."""
    if isinstance(result, dict):
        return {**result, key: [i for i in result.get(key, []) if i.get("name") not in hidden]}
    if result is not None and hasattr(result, key):
        return result.model_copy(update={key: [i for i in getattr(result, key) if i.name not in hidden]})
    return result


def listed_tools(
    ctx: ServerRequestContext[Any], settings: Settings, enabled: Mapping[str, ToolSpec], result: HandlerResult
) -> HandlerResult:
    """`tools/list` as this request's token allows: without ``tickets:write``, the read tools only."""
    if may_write(ctx, settings):
        return result
    return _without(result, "tools", {name for name, spec in enabled.items() if not spec.read_only})


def refused_tool(
    ctx: ServerRequestContext[Any], settings: Settings, spec: ToolSpec | None
) -> CallToolResult | None:
    """The refusal of a write tool called with a token without ``tickets:write``; None when allowed."""
    if spec is None or spec.read_only or may_write(ctx, settings):
        return None
    token = access_token(ctx)
    held = ", ".join(token.scopes) if token is not None and token.scopes else "none"
    return fail(
        f"{spec.name} changes tickets, which needs the OAuth scope {WRITE_SCOPE}; this access token has "
        f"{held}. Nothing was sent. Use the read tools, or sign in again asking the authorization server "
        f"for the scope {WRITE_SCOPE}.",
        code="insufficient_scope",
        required_scope=WRITE_SCOPE,
    )


def prompt_gate(specs: list[PromptSpec], settings: Settings) -> Any:
    """A middleware that hides and refuses the prompts leading to writes from a token without
    ``tickets:write``."""
    writing = {spec.name for spec in specs if spec.meta.writes}

    async def gate(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("prompts/list", "prompts/get") or may_write(ctx, settings):
            return await call_next(ctx)
        if ctx.method == "prompts/list":
            return _without(await call_next(ctx), "prompts", writing)
        name = str((ctx.params or {}).get("name"))
        if name in writing:
            from mcp.shared.exceptions import MCPError
            from mcp_types.jsonrpc import INVALID_PARAMS

            raise MCPError(
                INVALID_PARAMS,
                f"prompt {name} leads to writes, which need the OAuth scope {WRITE_SCOPE}; "
                "this access token does not have it",
            )
        return await call_next(ctx)

    return gate
