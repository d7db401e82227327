"""The `catalog` toolset: categories, their fields, products (served from the TTL cache)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import types as t
from tickets_mcp.tools.arguments import CategoryKey
from tickets_mcp.tools.declare import READ, tool
from tickets_mcp.tools.lifespan import state_of
from tickets_mcp.tools.outputs import CatalogList, CategoryFields
from tickets_mcp.tools.render import render_categories, render_category_fields, render_products
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.views import field_view, named


@tool("catalog", READ, title="List categories")
async def list_categories(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """List ticket categories (keys for create_ticket's categories), with descriptions."""
    state = state_of(ctx)
    items = [named(c, state.settings.language) for c in await state.catalog.categories()]
    return ok(render_categories(items), CatalogList(items=items))


@tool("catalog", READ, title="Get category fields")
async def get_category_fields(
    ctx: Context, category: CategoryKey
) -> Annotated[CallToolResult, CategoryFields]:
    """List the fields a category needs in create_ticket's category_fields: required ones and allowed values."""
    state = state_of(ctx)
    fields = [field_view(f, state.settings.language) for f in await state.catalog.fields(category)]
    return ok(render_category_fields(category, fields), CategoryFields(category=category, fields=fields))


@tool("catalog", READ, title="List products")
async def list_products(
    ctx: Context,
    parent: Annotated[t.Key | None, Field(description="Parent product key, for its sub-products.")] = None,
) -> Annotated[CallToolResult, CatalogList]:
    """List products (keys for create_ticket's products); pass parent to list a product's sub-products."""
    state = state_of(ctx)
    items = [named(p, state.settings.language) for p in await state.catalog.products(parent)]
    return ok(render_products(items), CatalogList(items=items))


TOOLS = (list_categories, get_category_fields, list_products)
