"""Resources: ticket threads, the catalog, the user's open tickets, completions, prompt data.

- `tickets://session/changes`: this session's writes, latest first, with the way back (`journal.py`);
- `tickets://{number}` (and `?before=<comment id>`, `?page=N`): the ticket and its latest comments
  (with the opening comment when it is not among them); a page past the end is an empty view;
- `catalog://categories`, `catalog://categories/{key}/fields`, `catalog://products`,
  `catalog://products/{parent}`;
- `resources/list` shows the static catalog resources and the user's open tickets (at most 50);
- completions for ticket numbers, category keys and product keys;
- subscriptions to threads, bounded per session and per caller (see `subscriptions.py`).

Static resources of `MCPServer` get no request context, so the two static catalog resources and
the dynamic list are served by server hooks (`server.TicketsServer`, `sdk.SdkServer`) that call
into this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
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
from tickets_mcp.mcp_server.journal import Change, changes_markdown
from tickets_mcp.mcp_server.results import api_words
from tickets_mcp.mcp_server.safety import one_line
from tickets_mcp.mcp_server.sdk import add_request_handler
from tickets_mcp.mcp_server.state import Caller, caller_of, session_key, writer_of
from tickets_mcp.mcp_server.subscriptions import install_subscriptions

if TYPE_CHECKING:  # the thread renderers are imported on first use: not at cold start
    from tickets_mcp.mcp_server.threads import Selection

MARKDOWN = "text/markdown"
OPEN_TICKETS_LISTED = 50
COMPLETION_LIMIT = 100


async def _categories_md(state: Caller) -> str:
    from tickets_mcp.mcp_server.markdown import render_categories
    from tickets_mcp.mcp_server.outputs import named

    return render_categories([named(c, state.settings.language) for c in await state.catalog.categories()])


async def products_markdown(state: Caller, parent: str | None = None) -> str:
    from tickets_mcp.mcp_server.markdown import render_products
    from tickets_mcp.mcp_server.outputs import named

    return render_products([named(p, state.settings.language) for p in await state.catalog.products(parent)])


async def fields_markdown(state: Caller, key: str) -> str:
    from tickets_mcp.mcp_server.markdown import render_category_fields
    from tickets_mcp.mcp_server.outputs import field_view

    fields = [field_view(f, state.settings.language) for f in await state.catalog.fields(key)]
    return render_category_fields(key, fields)


@dataclass(frozen=True)
class StaticResource:
    uri: str
    name: str
    title: str
    description: str
    read: Callable[[Caller], Awaitable[str]]


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


CHANGES = Resource(
    uri="tickets://session/changes",
    name="session-changes",
    title="What changed in this session",
    description="This session's writes, latest first, with the call that undoes each where the API has one.",
    mime_type=MARKDOWN,
)


async def read_static(uri: str, ctx: ServerRequestContext[Any]) -> str | None:
    if uri == CHANGES.uri:  # the session's own: read with its caller's session key
        records = caller_of(ctx).changes.latest(writer_of(ctx).session)
        return await _guard(uri, _markdown(records))
    resource = STATIC_RESOURCES.get(uri)
    if resource is None:
        return None
    return await _guard(uri, resource.read(caller_of(ctx)))


async def _markdown(records: Awaitable[list[Change]]) -> str:
    return changes_markdown(await records)


async def list_resources(state: Caller) -> list[Resource]:
    """The static catalog resources and the user's open tickets (bounded)."""
    listed = [
        Resource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=MARKDOWN)
        for r in STATIC_RESOURCES.values()
    ] + [CHANGES]
    try:
        page = await state.client.search_tickets(
            is_only_opened=True, items_per_page=OPEN_TICKETS_LISTED, sort_by="updated_at"
        )
    except TicketsApiError:
        return listed
    for item in page.items:
        listed.append(
            Resource(
                uri=f"tickets://{item.number}",
                name=f"ticket-{item.number}",
                title=f"#{item.number} {one_line(item.summary or '', 80)}",
                mime_type=MARKDOWN,
            )
        )
    return listed


async def _guard(uri: str, pending: Awaitable[str]) -> str:
    """Turn API errors into resource errors with a message the agent can act on."""
    try:
        return await pending
    except NotFound as exc:
        raise ResourceNotFoundError(f"{uri} not found: {api_words(exc)}") from exc
    except TicketsApiError as exc:
        raise ResourceError(f"Could not read {uri}: {api_words(exc)}") from exc


async def thread_markdown(state: Caller, number: int, selection: Selection) -> str:
    """The thread view; the latest one (no ``page``, no ``before``) also shows the opening comment when
    it is not among the latest."""
    from tickets_mcp.mcp_server.threads import Selection, read_thread, resource_howto

    latest = selection == Selection()
    return (await read_thread(state, number, selection, resource_howto(number), opening=latest)).text


async def _ticket_numbers(state: Caller, prefix: str) -> list[str]:
    page = await state.client.search_tickets(items_per_page=COMPLETION_LIMIT, sort_by="updated_at")
    return [str(i.number) for i in page.items if str(i.number).startswith(prefix)]


async def _category_keys(state: Caller, prefix: str) -> list[str]:
    return [c.key for c in await state.catalog.categories() if c.key.startswith(prefix)]


async def _product_keys(state: Caller, prefix: str) -> list[str]:
    return [p.key for p in await state.catalog.products() if p.key.startswith(prefix)]


COMPLETERS: dict[str, Callable[[Caller, str], Awaitable[list[str]]]] = {
    "number": _ticket_numbers,
    "key": _category_keys,
    "category": _category_keys,
    "parent": _product_keys,
}


def register_resources(mcp: MCPServer[Any]) -> None:
    @mcp.resource(
        "tickets://{number}{?page,before}",
        name="ticket-thread",
        title="Ticket thread",
        description="A ticket and its latest comments as compact Markdown; ?before=<comment id> for "
        "earlier ones, ?page=N to count 20-comment pages from the oldest.",
        mime_type=MARKDOWN,
    )
    async def ticket_thread(number: str, ctx: Context, page: str = "", before: str = "") -> str:
        values = [number, page or "1", before or "1"]
        if not all(v.isdigit() and int(v) >= 1 for v in values):
            raise ResourceNotFoundError(
                f"tickets://{number}: the ticket number, page and before must be positive integers"
            )
        from tickets_mcp.mcp_server.threads import Selection

        selection = Selection(page=int(page) if page else None, before=int(before) if before else None)
        return await _guard(f"tickets://{number}", thread_markdown(caller_of(ctx), int(number), selection))

    @mcp.resource(
        "catalog://categories/{key}/fields",
        name="category-fields",
        title="Category fields",
        description="Fields of a category for create_ticket: required ones and allowed values.",
        mime_type=MARKDOWN,
    )
    async def category_fields(key: str, ctx: Context) -> str:
        return await _guard(f"catalog://categories/{key}/fields", fields_markdown(caller_of(ctx), key))

    @mcp.resource(
        "catalog://products/{parent}", name="sub-products", title="Sub-products", mime_type=MARKDOWN
    )
    async def sub_products(parent: str, ctx: Context) -> str:
        """Sub-products of a product."""
        return await _guard(f"catalog://products/{parent}", products_markdown(caller_of(ctx), parent))

    async def complete(ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
        ref = params.ref
        completer = COMPLETERS.get(params.argument.name)
        if completer is None or not isinstance(ref, PromptReference | ResourceTemplateReference):
            return CompleteResult(completion=Completion(values=[]))
        try:
            values = await completer(caller_of(ctx), params.argument.value)
        except TicketsApiError:
            values = []
        return CompleteResult(
            completion=Completion(
                values=values[:COMPLETION_LIMIT], total=len(values), has_more=len(values) > 100
            )
        )

    add_request_handler(mcp, "completion/complete", CompleteRequestParams, complete)
    install_subscriptions(mcp, session_key)  # a subscribe counts against the session's call limit
