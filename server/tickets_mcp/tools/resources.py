"""Resources: ticket threads, the catalog, the user's open tickets, completions, prompt data.

- `tickets://{number}` (and `?page=N`): the whole thread as compact Markdown, paged;
- `catalog://categories`, `catalog://categories/{key}/fields`, `catalog://products`,
  `catalog://products/{parent}`;
- `resources/list` shows the static catalog resources and the user's open tickets (at most 50);
- completions for ticket numbers, category keys and product keys;
- subscriptions to threads (see `watch.py`).

Static resources of `MCPServer` get no request context, so the two static catalog resources and
the dynamic list are served by `TicketsServer` overrides that call into this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import (
    CompleteRequestParams,
    CompleteResult,
    Completion,
    PromptReference,
    Resource,
    ResourceTemplateReference,
)

from tickets_mcp.api import NotFound, TicketsApiError
from tickets_mcp.tools.common import read_thread
from tickets_mcp.tools.render import (
    as_dict,
    render_categories,
    render_category_fields,
    render_products,
    render_ticket_list,
)
from tickets_mcp.tools.safety import sanitize
from tickets_mcp.tools.state import AppState
from tickets_mcp.tools.watch import install_subscriptions

if TYPE_CHECKING:
    from tickets_mcp.tools.app import TicketsServer

MARKDOWN = "text/markdown"
OPEN_TICKETS_LISTED = 50
COMPLETION_LIMIT = 100


async def _categories_md(state: AppState) -> str:
    return render_categories(
        [as_dict(c) for c in await state.catalog.categories()], language=state.settings.language
    )


async def products_markdown(state: AppState, parent: str | None = None) -> str:
    items = [as_dict(p) for p in await state.catalog.products(parent)]
    return render_products(items, language=state.settings.language)


async def fields_markdown(state: AppState, key: str) -> str:
    fields = [as_dict(f) for f in await state.catalog.fields(key)]
    return render_category_fields(key, fields, language=state.settings.language)


@dataclass(frozen=True)
class StaticResource:
    uri: str
    name: str
    title: str
    description: str
    read: Callable[[AppState], Awaitable[str]]


STATIC_RESOURCES = {
    r.uri: r
    for r in (
        StaticResource(
            "catalog://categories",
            "categories",
            "Ticket categories",
            "Category keys, names and descriptions for create_ticket.",
            _categories_md,
        ),
        StaticResource(
            "catalog://products",
            "products",
            "Products",
            "Top-level product keys for create_ticket; sub-products at catalog://products/{parent}.",
            products_markdown,
        ),
    )
}


async def read_static(uri: str, state: AppState) -> str | None:
    resource = STATIC_RESOURCES.get(uri)
    if resource is None:
        return None
    return await _guard(uri, resource.read(state))


async def list_resources(state: AppState) -> list[Resource]:
    """The static catalog resources and the user's open tickets (bounded)."""
    listed = [
        Resource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=MARKDOWN)
        for r in STATIC_RESOURCES.values()
    ]
    try:
        page = await state.client.search_tickets(
            is_only_opened=True, items_per_page=OPEN_TICKETS_LISTED, sort_by="updated_at"
        )
    except TicketsApiError:
        return listed
    for item in page.items:
        t = as_dict(item)
        listed.append(
            Resource(
                uri=f"tickets://{t['number']}",
                name=f"ticket-{t['number']}",
                title=f"#{t['number']} {sanitize(str(t.get('summary') or ''))[:80]}",
                mime_type=MARKDOWN,
            )
        )
    return listed


async def _guard(uri: str, pending: Awaitable[str]) -> str:
    """Turn API errors into resource errors with a message the agent can act on."""
    try:
        return await pending
    except NotFound as exc:
        raise ResourceNotFoundError(f"{uri} not found: {exc.message}") from exc
    except TicketsApiError as exc:
        raise ResourceError(f"Could not read {uri}: {exc.message}") from exc


def _state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


async def thread_markdown(state: AppState, number: int, page: int = 1) -> str:
    return (await read_thread(state, number, page)).rendered.text


async def _ticket_numbers(state: AppState, prefix: str) -> list[str]:
    page = await state.client.search_tickets(items_per_page=COMPLETION_LIMIT, sort_by="updated_at")
    return [str(n) for n in (as_dict(i)["number"] for i in page.items) if str(n).startswith(prefix)]


async def _category_keys(state: AppState, prefix: str) -> list[str]:
    return [
        k for k in (str(as_dict(c)["key"]) for c in await state.catalog.categories()) if k.startswith(prefix)
    ]


async def _product_keys(state: AppState, prefix: str) -> list[str]:
    return [
        k for k in (str(as_dict(p)["key"]) for p in await state.catalog.products()) if k.startswith(prefix)
    ]


COMPLETERS: dict[str, Callable[[AppState, str], Awaitable[list[str]]]] = {
    "number": _ticket_numbers,
    "key": _category_keys,
    "category": _category_keys,
    "parent": _product_keys,
}


def register_resources(mcp: TicketsServer) -> None:
    @mcp.resource(
        "tickets://{number}{?page}",
        name="ticket-thread",
        title="Ticket thread",
        description="A ticket and its comments as compact Markdown, 20 comments a page (?page=N).",
        mime_type=MARKDOWN,
    )
    async def ticket_thread(number: str, ctx: Context, page: str = "1") -> str:
        if not number.isdigit() or not page.isdigit() or int(page) < 1:
            raise ResourceNotFoundError(
                f"tickets://{number}: the ticket number and page must be positive integers"
            )
        return await _guard(f"tickets://{number}", thread_markdown(_state(ctx), int(number), int(page)))

    @mcp.resource(
        "catalog://categories/{key}/fields",
        name="category-fields",
        title="Category fields",
        description="Fields of a category for create_ticket: required ones and allowed values.",
        mime_type=MARKDOWN,
    )
    async def category_fields(key: str, ctx: Context) -> str:
        return await _guard(f"catalog://categories/{key}/fields", fields_markdown(_state(ctx), key))

    @mcp.resource(
        "catalog://products/{parent}",
        name="sub-products",
        title="Sub-products",
        description="Sub-products of a product.",
        mime_type=MARKDOWN,
    )
    async def sub_products(parent: str, ctx: Context) -> str:
        return await _guard(f"catalog://products/{parent}", products_markdown(_state(ctx), parent))

    async def complete(ctx: ServerRequestContext[AppState], params: CompleteRequestParams) -> CompleteResult:
        ref = params.ref
        completer = COMPLETERS.get(params.argument.name)
        if completer is None or not isinstance(ref, PromptReference | ResourceTemplateReference):
            return CompleteResult(completion=Completion(values=[]))
        try:
            values = await completer(ctx.lifespan_context, params.argument.value)
        except TicketsApiError:
            values = []
        return CompleteResult(
            completion=Completion(
                values=values[:COMPLETION_LIMIT], total=len(values), has_more=len(values) > 100
            )
        )

    mcp._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)
    install_subscriptions(mcp)


class PromptDataProvider:
    """The data prompts embed, read through the same client and cache as the tools."""

    def __init__(self, state: AppState) -> None:
        self._state = state

    @classmethod
    def from_context(cls, ctx: Context) -> PromptDataProvider:
        return cls(_state(ctx))

    async def catalog_markdown(self, language: str) -> str:
        state = self._state
        categories = [as_dict(c) for c in await state.catalog.categories()]
        parts = [render_categories(categories, language=language)]
        for c in categories:
            fields = [as_dict(f) for f in await state.catalog.fields(str(c["key"]))]
            if fields:
                parts.append(render_category_fields(str(c["key"]), fields, language=language))
        return "\n\n".join(parts)

    async def thread(self, number: int) -> tuple[str, str]:
        return f"tickets://{number}", await thread_markdown(self._state, number)

    async def awaiting_client_markdown(self) -> str:
        state = self._state
        items = [
            as_dict(i)
            for i in (
                await state.client.search_tickets(
                    is_only_opened=True, items_per_page=100, sort_by="updated_at"
                )
            ).items
        ]
        waiting = [i for i in items if i.get("is_await_client")]
        return render_ticket_list(
            waiting,
            language=state.settings.language,
            page=1,
            items_per_page=100,
            budget_tokens=state.settings.token_budget,
        ).text
