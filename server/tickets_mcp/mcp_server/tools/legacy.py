"""The `legacy` toolset (off by default): the deprecated v1 operations of the Tickets API."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult

from tickets_mcp.api import types as t
from tickets_mcp.api.operations import LegacySearch, NewLegacyTicket
from tickets_mcp.mcp_server.arguments import AllowSecrets, Number, OneProject, with_fields
from tickets_mcp.mcp_server.declare import ADD, READ, REPLACE, tool
from tickets_mcp.mcp_server.markdown import Clock, render_categories, render_ticket, render_ticket_list
from tickets_mcp.mcp_server.outputs import (
    CatalogList,
    LegacyTicketList,
    TicketDetail,
    WriteOutcome,
    brief,
    named,
    ticket_view,
)
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.state import caller_of, progress_to
from tickets_mcp.mcp_server.writes import (
    Confirm,
    Plan,
    Refusal,
    consent_to,
    done,
    not_sent,
    outbound,
    planner,
)


@tool("legacy", READ, title="List topics (deprecated)")
async def list_topics(ctx: Context) -> Annotated[CallToolResult, CatalogList]:
    """Deprecated: list v1 ticket topics (topic_key for create_ticket_legacy); prefer list_categories."""
    state = caller_of(ctx)
    topics = [named(topic, state.settings.language) for topic in await state.client.list_topics()]
    return ok(render_categories(topics, what="topics"), CatalogList(items=topics))


@planner("Create a ticket (v1)")
async def _legacy_create_plan(ctx: Context, summary: str, comment_body: str, allow_secrets: bool) -> Plan:
    texts, about = outbound({"summary": summary, "comment_body": comment_body}, allow_secrets=allow_secrets)
    return Plan(action="Create a ticket through the v1 API", body=texts, **about)


_LEGACY_CREATE_CONSENT = consent_to(_legacy_create_plan)


@tool("legacy", ADD, title="Create ticket (deprecated)")
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
async def create_ticket_legacy(
    ctx: Context,
    plan: Annotated[Plan, Resolve(_legacy_create_plan)],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_LEGACY_CREATE_CONSENT)],
    allow_secrets: AllowSecrets = False,
    **body: Any,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Deprecated: create a ticket through the v1 API with a topic; prefer create_ticket."""
    if refused := not_sent(ctx, plan, consent):
        return refused
    with progress_to(ctx):
        ticket = await caller_of(ctx).client.create_ticket_legacy(**{**body, **plan.body})
    view = ticket_view(ticket)
    return done(f"Created ticket #{view.number} (v1).", plan, ticket, number=view.number, ticket=view)


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


@planner("Update the ticket (v1)")
async def _update_plan(
    ctx: Context, number: int, access_level: str | None, keystone_projects: list[str] | None
) -> Plan:
    action = f"Change who can see ticket {number} (v1 API)"
    if access_level is None and keystone_projects is None:
        return Plan(
            action=action,
            refusal=Refusal("Not sent: give access_level, keystone_projects or both.", "invalid_arguments"),
        )
    ticket = await caller_of(ctx).client.get_ticket_legacy(number)
    level = access_level or ticket.access_level
    projects = keystone_projects if keystone_projects is not None else list(ticket.keystone_projects)
    if level == ticket.access_level and sorted(projects) == sorted(ticket.keystone_projects):
        return Plan(
            action=action,
            refusal=Refusal(
                f"Not sent: ticket {number} already has this access; nothing would change.", "no_change"
            ),
        )
    if level == "project_users" and not projects:
        why = "access_level project_users needs one IAM project in keystone_projects."
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "invalid_arguments"))
    body = {
        k: v
        for k, v in {"access_level": access_level, "keystone_projects": keystone_projects}.items()
        if v is not None
    }
    return Plan(action=action, body=body, always_ask=True)


_UPDATE_CONSENT = consent_to(_update_plan)


@tool("legacy", REPLACE, title="Update ticket (deprecated)", consent=True)
async def update_ticket_legacy(
    ctx: Context,
    number: Number,
    plan: Annotated[Plan, Resolve(_update_plan)],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_UPDATE_CONSENT)],
    access_level: t.AccessLevel | None = None,
    keystone_projects: OneProject = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Deprecated: change a ticket's access level through the v1 API; asks the user first. Prefer update_ticket_access."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    ticket = await caller_of(ctx).client.update_ticket_legacy(number, **plan.body)
    view = ticket_view(ticket)
    text = f"Ticket #{number} updated (v1): access {view.access_level}."
    return done(text, plan, ticket, number=number, ticket=view)


TOOLS = (list_topics, create_ticket_legacy, list_tickets_legacy, get_ticket_legacy, update_ticket_legacy)
