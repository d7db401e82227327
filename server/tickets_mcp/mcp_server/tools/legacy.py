"""The `legacy` toolset (off by default): the deprecated v1 operations of the Tickets API."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from tickets_mcp.api import types as t
from tickets_mcp.api.models import TicketV1
from tickets_mcp.api.operations import LegacySearch, NewLegacyTicket
from tickets_mcp.mcp_server.arguments import AllowSecrets, Number, OneProject, with_fields
from tickets_mcp.mcp_server.declare import ADD, READ, REPLACE, tool
from tickets_mcp.mcp_server.markdown import Clock, render_categories, render_ticket, render_ticket_list
from tickets_mcp.mcp_server.outputs import (
    CatalogList,
    LegacyTicketList,
    TicketDetail,
    brief,
    named,
    ticket_view,
)
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.state import caller_of
from tickets_mcp.mcp_server.tools.tickets import access_changed
from tickets_mcp.mcp_server.writes import Plan, access_plan, outbound, write


@tool("legacy", READ, title="List topics (deprecated)")
async def list_topics(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """Deprecated: list v1 ticket topics (topic_key for create_ticket_legacy); prefer list_categories."""
    state = caller_of(ctx)
    topics = [named(topic, state.settings.language) for topic in await state.client.list_topics()]
    return ok(render_categories(topics, what="topics"), CatalogList(items=topics))


@write("legacy", ADD, title="Create ticket (deprecated)")
@with_fields(
    NewLegacyTicket,
    {
        "summary": "",
        "comment_body": "",
        "files": "1..10 file UUIDs from the attachments API.",
        "topic_key": "Topic key from list_topics.",
        "notice_id": "",
        "access_level": "",
        "keystone_projects": "Exactly one IAM project id (project_users).",
    },
)
async def create_ticket_legacy(ctx: Context, allow_secrets: AllowSecrets = False, **given: Any) -> Plan:
    """Deprecated: create a ticket through the v1 API with a topic; prefer create_ticket."""
    texts, about = outbound(
        {"summary": given["summary"], "comment_body": given["comment_body"]}, allow_secrets=allow_secrets
    )
    body = {**{k: v for k, v in given.items() if v is not None}, **texts}

    def created(ticket: TicketV1) -> tuple[str, dict[str, Any]]:
        view = ticket_view(ticket)
        return f"Created ticket #{view.number} (v1).", {"number": view.number, "ticket": view}

    return Plan(action="Create a ticket through the v1 API", body=body, **about).then(
        lambda client, sent: client.create_ticket_legacy(**sent), created
    )


@tool("legacy", READ, title="List tickets (deprecated)")
@with_fields(
    LegacySearch,
    {
        "only_opened": "",
        "only_closed": "",
        "q": "",
        "page": "",
        "items_per_page": "",
        "sort_by": "",
        "sort_by_order": "",
        "access_level": "",
        "keystone_projects": "Exactly one IAM project id (project_users).",
    },
)
async def list_tickets_legacy(ctx: Context, **query: Any) -> Annotated[CallToolResult, LegacyTicketList]:
    """Deprecated: list tickets through the v1 API (with page counts); prefer search_tickets."""
    state = caller_of(ctx)
    page, items_per_page = query.get("page") or 1, query.get("items_per_page") or 10
    result = await state.client.list_tickets_legacy(**query)
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


@tool("legacy", READ, title="Get ticket (deprecated)")
async def get_ticket_legacy(ctx: Context, number: Number) -> Annotated[CallToolResult, TicketDetail]:
    """Deprecated: read a ticket through the v1 API; prefer get_ticket."""
    view = ticket_view(await caller_of(ctx).client.get_ticket_legacy(number))
    return ok(render_ticket(view, Clock.of(view.created_at)), TicketDetail(ticket=view))


@write("legacy", REPLACE, title="Update ticket (deprecated)", consent=True)
async def update_ticket_legacy(
    ctx: Context,
    number: Number,
    access_level: t.AccessLevel | None = None,
    keystone_projects: OneProject = None,
) -> Plan:
    """Deprecated: change a ticket's access level through the v1 API; asks the user first. Prefer update_ticket_access."""
    plan = await access_plan(ctx, number, access_level, keystone_projects, v1=True)
    return plan.then(
        lambda client, body: client.update_ticket_legacy(number, **body), access_changed(number, v1=True)
    )


TOOLS = (list_topics, create_ticket_legacy, list_tickets_legacy, get_ticket_legacy, update_ticket_legacy)
