"""The tools only the MCP App's views call (`visibility: ["app"]`; `apps.py` serves and gates them).

`draft_catalog` gives the draft form what it shows in one call: the active categories with their
descriptions, the top-level products, and on request one category's fields and one product's
sub-products. It follows `create_ticket`: served, listed and allowed exactly when that tool is.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from tickets_mcp.api import types as t
from tickets_mcp.mcp_server.apps import DRAFT, AppTool
from tickets_mcp.mcp_server.declare import READ, tool
from tickets_mcp.mcp_server.outputs import CategoryFieldView, NamedItem, field_view, named
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.state import caller_of


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


APP_TOOLS = (AppTool(draft_catalog, DRAFT, follows="create_ticket"),)
