"""The `catalog` toolset: categories, their fields, products (served from the TTL cache)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.tools.common import app_state
from tickets_mcp.tools.outputs import CatalogList, CategoryFields
from tickets_mcp.tools.registry import declare
from tickets_mcp.tools.render import render_categories, render_category_fields, render_products
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.views import field_view, named

READ = {"read_only": True, "destructive": False, "idempotent": True}


@declare(toolset="catalog", title="List categories", **READ)
async def list_categories(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """List ticket categories (keys for create_ticket's categories), with descriptions."""
    state = app_state(ctx)
    items = [named(c, state.settings.language) for c in await state.catalog.categories()]
    return ok(render_categories(items), CatalogList(items=items))


@declare(toolset="catalog", title="Get category fields", **READ)
async def get_category_fields(
    ctx: Context, category: Annotated[str, Field(min_length=1, description="Category key.")]
) -> Annotated[CallToolResult, CategoryFields]:
    """List the fields a category needs in create_ticket's category_fields: required ones and allowed values."""
    state = app_state(ctx)
    fields = [field_view(f, state.settings.language) for f in await state.catalog.fields(category)]
    return ok(render_category_fields(category, fields), CategoryFields(category=category, fields=fields))


@declare(toolset="catalog", title="List products", **READ)
async def list_products(
    ctx: Context,
    parent: Annotated[
        str | None, Field(min_length=1, description="Parent product key, for its sub-products.")
    ] = None,
) -> Annotated[CallToolResult, CatalogList]:
    """List products (keys for create_ticket's products); pass parent to list a product's sub-products."""
    state = app_state(ctx)
    items = [named(p, state.settings.language) for p in await state.catalog.products(parent)]
    return ok(render_products(items), CatalogList(items=items))
