"""The `catalog` toolset: categories, their fields, products (served from the TTL cache)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.tools.common import app_state
from tickets_mcp.tools.outputs import CatalogList, CategoryFields, CategoryFieldView, FieldValue
from tickets_mcp.tools.registry import declare
from tickets_mcp.tools.render import render_categories, render_category_fields, render_products
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.views import as_dict, localized, named

READ = {"read_only": True, "destructive": False, "idempotent": True}


@declare(toolset="catalog", title="List categories", **READ)
async def list_categories(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """List ticket categories (keys for create_ticket's categories), with descriptions."""
    state = app_state(ctx)
    items = [as_dict(c) for c in await state.catalog.categories()]
    lang = state.settings.language
    return ok(render_categories(items, language=lang), CatalogList(items=[named(c, lang) for c in items]))


@declare(toolset="catalog", title="Get category fields", **READ)
async def get_category_fields(
    ctx: Context, category: Annotated[str, Field(min_length=1, description="Category key.")]
) -> Annotated[CallToolResult, CategoryFields]:
    """List the fields a category needs in create_ticket's category_fields: required ones and allowed values."""
    state = app_state(ctx)
    lang = state.settings.language
    fields = [as_dict(f) for f in await state.catalog.fields(category)]
    views = [
        CategoryFieldView(
            key=str(f["key"]),
            name=localized(f.get("names"), lang) or str(f["key"]),
            required=bool(f.get("is_required")),
            type=f.get("type"),
            values=[
                FieldValue(key=str(v["key"]), name=localized(v.get("localizations"), lang) or str(v["key"]))
                for v in f.get("values") or []
            ]
            or None,
        )
        for f in fields
    ]
    text = render_category_fields(category, fields, language=lang)
    return ok(text, CategoryFields(category=category, fields=views))


@declare(toolset="catalog", title="List products", **READ)
async def list_products(
    ctx: Context,
    parent: Annotated[
        str | None, Field(min_length=1, description="Parent product key, for its sub-products.")
    ] = None,
) -> Annotated[CallToolResult, CatalogList]:
    """List products (keys for create_ticket's products); pass parent to list a product's sub-products."""
    state = app_state(ctx)
    items = [as_dict(p) for p in await state.catalog.products(parent)]
    lang = state.settings.language
    return ok(render_products(items, language=lang), CatalogList(items=[named(p, lang) for p in items]))
