"""The `legacy` toolset (off by default): the deprecated v1 operations of the Tickets API."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.tools.common import AccessLevel, Files, Number, SortOrder, app_state, progress_to
from tickets_mcp.tools.outputs import CatalogList, LegacyTicketList, TicketDetail, WriteOutcome
from tickets_mcp.tools.registry import declare
from tickets_mcp.tools.render import Clock, render_categories, render_ticket, render_ticket_list
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.views import brief, named, ticket_view

READ = {"toolset": "legacy", "read_only": True, "destructive": False, "idempotent": True}
OneProject = Annotated[
    list[str] | None,
    Field(min_length=1, max_length=1, description="Exactly one IAM project id (project_users)."),
]


@declare(title="List topics (deprecated)", **READ)
async def list_topics(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """Deprecated: list v1 ticket topics (topic_key for create_ticket_legacy); prefer list_categories."""
    state = app_state(ctx)
    topics = [named(t, state.settings.language) for t in await state.client.list_topics()]
    return ok(render_categories(topics, what="topics"), CatalogList(items=topics))


@declare(
    toolset="legacy", title="Create ticket (deprecated)", read_only=False, destructive=False, idempotent=False
)
async def create_ticket_legacy(
    ctx: Context,
    summary: Annotated[str, Field(min_length=1, max_length=255)],
    comment_body: Annotated[str, Field(min_length=1, max_length=50000)],
    files: Files = None,
    topic_key: Annotated[str | None, Field(min_length=1)] = None,
    notice_id: int | None = None,
    access_level: AccessLevel | None = None,
    keystone_projects: OneProject = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Deprecated: create a ticket through the v1 API with a topic; prefer create_ticket."""
    with progress_to(ctx):
        ticket = await app_state(ctx).client.create_ticket_legacy(
            summary=summary,
            comment_body=comment_body,
            files=files,
            topic_key=topic_key,
            notice_id=notice_id,
            access_level=access_level,
            keystone_projects=keystone_projects,
        )
    view = ticket_view(ticket)
    return ok(
        f"Created ticket #{view.number} (v1).",
        WriteOutcome(outcome="done", sent=True, number=view.number, ticket=view),
    )


@declare(title="List tickets (deprecated)", **READ)
async def list_tickets_legacy(
    ctx: Context,
    only_opened: bool | None = None,
    only_closed: bool | None = None,
    q: Annotated[str | None, Field(min_length=1)] = None,
    page: Annotated[int, Field(ge=1)] = 1,
    items_per_page: Annotated[int, Field(ge=1, le=1000)] = 10,
    sort_by: Literal["created_at", "updated_at", "number", "summary", "status"] | None = None,
    sort_by_order: SortOrder | None = None,
    access_level: AccessLevel | None = None,
    keystone_projects: OneProject = None,
) -> Annotated[CallToolResult, LegacyTicketList]:
    """Deprecated: list tickets through the v1 API (with page counts); prefer search_tickets."""
    state = app_state(ctx)
    result = await state.client.list_tickets_legacy(
        only_opened=only_opened,
        only_closed=only_closed,
        q=q,
        page=page,
        items_per_page=items_per_page,
        sort_by=sort_by,
        sort_by_order=sort_by_order,
        access_level=access_level,
        keystone_projects=keystone_projects,
    )
    items = [brief(ticket_view(i)) for i in result.items]
    rendered = render_ticket_list(
        items,
        page=page,
        items_per_page=items_per_page,
        total=result.item_count,
        budget_tokens=state.settings.token_budget,
    )
    out = LegacyTicketList(
        items=items[: rendered.shown],
        page=page,
        page_count=result.page_count,
        item_count=result.item_count,
    )
    return ok(rendered.text, out)


@declare(title="Get ticket (deprecated)", **READ)
async def get_ticket_legacy(ctx: Context, number: Number) -> Annotated[CallToolResult, TicketDetail]:
    """Deprecated: read a ticket through the v1 API; prefer get_ticket."""
    view = ticket_view(await app_state(ctx).client.get_ticket_legacy(number))
    return ok(render_ticket(view, Clock.of(view.created_at)), TicketDetail(ticket=view))


@declare(
    toolset="legacy", title="Update ticket (deprecated)", read_only=False, destructive=True, idempotent=True
)
async def update_ticket_legacy(
    ctx: Context,
    number: Number,
    access_level: AccessLevel | None = None,
    keystone_projects: OneProject = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Deprecated: change a ticket's access level through the v1 API; prefer update_ticket_access."""
    ticket = await app_state(ctx).client.update_ticket_legacy(
        number, access_level=access_level, keystone_projects=keystone_projects
    )
    view = ticket_view(ticket)
    return ok(
        f"Ticket #{number} updated (v1).", WriteOutcome(outcome="done", sent=True, number=number, ticket=view)
    )
