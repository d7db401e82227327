"""The `catalog` toolset: categories, their fields, products (served from the TTL cache)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import types as t
from tickets_mcp.mcp_server.arguments import CategoryKey
from tickets_mcp.mcp_server.declare import READ, tool
from tickets_mcp.mcp_server.markdown import render_categories, render_category_fields, render_products
from tickets_mcp.mcp_server.outputs import CatalogList, CategoryFields, field_view, named
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.state import caller_of

SortBy = Annotated[t.NonEmpty | None, Field(description="Field to sort by; default view_priority.")]


def _sort(sort_by: str | None, sort_by_order: str | None) -> dict[str, str]:
    return {k: v for k, v in {"sort_by": sort_by, "sort_by_order": sort_by_order}.items() if v is not None}


@tool("catalog", READ, title="List categories")
async def list_categories(
    ctx: Context,
    is_only_active: Annotated[bool, Field(description="Only categories a ticket can be created in.")] = True,
    sort_by: SortBy = None,
    sort_by_order: t.SortOrder | None = None,
) -> Annotated[CallToolResult, CatalogList]:
    """List ticket categories (keys for create_ticket's categories), with descriptions."""
    state = caller_of(ctx)
    found = await state.catalog.categories(is_only_active, **_sort(sort_by, sort_by_order))
    items = [named(c, state.settings.language) for c in found]
    return ok(
        render_categories(items, what="categories" if is_only_active else "categories, inactive ones too"),
        CatalogList(items=items),
    )


@tool("catalog", READ, title="Get category fields")
async def get_category_fields(
    ctx: Context, category: CategoryKey
) -> Annotated[CallToolResult, CategoryFields]:
    """List the fields a category needs in create_ticket's category_fields: required ones and allowed values."""
    state = caller_of(ctx)
    fields = [field_view(f, state.settings.language) for f in await state.catalog.fields(category)]
    return ok(render_category_fields(category, fields), CategoryFields(category=category, fields=fields))


@tool("catalog", READ, title="List products")
async def list_products(
    ctx: Context,
    parent: Annotated[t.Key | None, Field(description="Parent product key, for its sub-products.")] = None,
    sort_by: SortBy = None,
    sort_by_order: t.SortOrder | None = None,
) -> Annotated[CallToolResult, CatalogList]:
    """List products (keys for create_ticket's products); pass parent to list a product's sub-products."""
    state = caller_of(ctx)
    items = [
        named(p, state.settings.language)
        for p in await state.catalog.products(parent, **_sort(sort_by, sort_by_order))
    ]
    return ok(render_products(items), CatalogList(items=items))


TOOLS = (list_categories, get_category_fields, list_products)
