"""The tools only the MCP App's views call (`visibility: ["app"]`; `apps.py` serves and gates them).

`draft_catalog` gives the draft form what it shows in one call: the active categories with their
descriptions, the top-level products, and on request one category's fields and one product's
sub-products. It follows `create_ticket`: served, listed and allowed exactly when that tool is.

`thread_actions` tells the thread view which of its writes (reply, rate) this caller may make, before a
click: computed with the gates of `tools/list` and `tools/call` (read-only mode and the tool filters,
`select_tools`; the OAuth scopes, `refused_tool`). The tools' own results stay as they are.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from tickets_mcp.api import types as t
from tickets_mcp.mcp_server.apps import DRAFT, THREAD, AppTool
from tickets_mcp.mcp_server.callers import refused_tool
from tickets_mcp.mcp_server.declare import READ, tool
from tickets_mcp.mcp_server.outputs import CategoryFieldView, NamedItem, field_view, named
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.state import caller_of
from tickets_mcp.mcp_server.tools import select_tools


class DraftCatalog(BaseModel):
    categories: list[NamedItem]
    products: list[NamedItem]
    category: str | None = None
    fields: list[CategoryFieldView] | None = Field(None, description="The fields of `category`.")
    product: str | None = None
    sub_products: list[NamedItem] | None = Field(None, description="The sub-products of `product`.")


@tool("tickets", READ, title="Draft form catalog")
async def draft_catalog(
    ctx: Context,
    category: Annotated[t.Key | None, Field(description="A category key: also its fields.")] = None,
    product: Annotated[t.Key | None, Field(description="A product key: also its sub-products.")] = None,
) -> Annotated[CallToolResult, DraftCatalog]:
    """The draft form's catalog: active categories, products, and one category's fields or one product's sub-products."""
    state = caller_of(ctx)
    language = state.settings.language
    out = DraftCatalog(
        categories=[named(c, language) for c in await state.catalog.categories()],
        products=[named(p, language) for p in await state.catalog.products()],
    )
    if category is not None:
        out.category = category
        out.fields = [field_view(f, language) for f in await state.catalog.fields(category)]
    if product is not None:
        out.product = product
        out.sub_products = [named(p, language) for p in await state.catalog.products(product)]
    text = f"{len(out.categories)} categories, {len(out.products)} products" + (
        f"; {len(out.fields or [])} fields of {category}" if category else ""
    )
    return ok(text + ".", out)


THREAD_WRITES = ("add_comment", "rate_comment")  # the thread view's reply box and rating buttons


class ThreadActions(BaseModel):
    allowed: list[str] = Field(description="The thread view's write tools this caller may call.")
    refused: dict[str, str] = Field(
        description="The others, each with why: read_only, tool_disabled or insufficient_scope."
    )


@tool("tickets", READ, title="Thread view actions")
async def thread_actions(ctx: Context) -> Annotated[CallToolResult, ThreadActions]:
    """Which of the thread view's writes (add_comment, rate_comment) this caller may call."""
    settings = caller_of(ctx).settings
    served, _ = select_tools(settings)  # what the server serves: read-only mode, the tool filters
    specs = {s.name: s for s in served}
    out = ThreadActions(allowed=[], refused={})
    for name in THREAD_WRITES:
        if name not in specs:
            out.refused[name] = "read_only" if settings.read_only else "tool_disabled"
        elif refused_tool(ctx.request_context, settings, specs[name]) is not None:
            out.refused[name] = "insufficient_scope"  # a token without tickets:write
        else:
            out.allowed.append(name)
    text = ", ".join(out.allowed) + " may be called" if out.allowed else "No write may be called"
    if out.refused:
        text += "; refused: " + ", ".join(f"{n} ({why})" for n, why in out.refused.items())
    return ok(text + ".", out)


APP_TOOLS = (
    AppTool(draft_catalog, DRAFT, follows=("create_ticket",)),
    AppTool(thread_actions, THREAD, follows=("get_ticket", "list_comments")),
)
