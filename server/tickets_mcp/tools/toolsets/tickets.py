"""The `tickets` toolset, reads: search (with the latest comments), count, read one ticket or its thread."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import types as t
from tickets_mcp.tools.arguments import Before, Number, Page, with_filters
from tickets_mcp.tools.declare import READ, tool
from tickets_mcp.tools.lifespan import charge_session, progress_to, state_of
from tickets_mcp.tools.outputs import Count, ListedTicket, TicketDetail, TicketList
from tickets_mcp.tools.reading import read_latest, read_thread, render_latest, tool_howto
from tickets_mcp.tools.render import Clock, estimate_tokens, render_ticket, render_ticket_list
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.threads import Selection
from tickets_mcp.tools.views import brief, ticket_view


@tool("tickets", READ, title="Search tickets")
@with_filters
async def search_tickets(
    ctx: Context,
    sort_by: t.SortBy = "created_at",
    sort_by_order: t.SortOrder = "desc",
    page: t.Page = 1,
    items_per_page: t.ItemsPerPage = 10,
    latest_comments: Annotated[
        int, Field(ge=0, le=5, description="Also show each ticket's N latest comments.")
    ] = 0,
    **filters: Any,
) -> Annotated[CallToolResult, TicketList]:
    """Find tickets by text, state, access level or IAM project; returns one page as a compact table."""
    state = state_of(ctx)
    budget = state.settings.token_budget
    with progress_to(ctx):
        result = await state.client.search_tickets(
            **filters, sort_by=sort_by, sort_by_order=sort_by_order, page=page, items_per_page=items_per_page
        )
    views = [ticket_view(i) for i in result.items]
    rendered = render_ticket_list(
        [brief(v) for v in views], page=page, items_per_page=items_per_page, budget_tokens=budget
    )
    shown = views[: rendered.shown]
    listed = [ListedTicket(**brief(v).model_dump()) for v in shown]
    text, reads = rendered.text, None
    if latest_comments and shown:
        with progress_to(ctx):
            latest, reads = await read_latest(state, shown, latest_comments, charge=charge_session(ctx))
        howto = lambda n: tool_howto("list_comments", number=n)  # noqa: E731
        comments, _ = render_latest(latest, budget - estimate_tokens(text), howto)
        text += f"\nLatest comments ({reads} comment reads, counted against the session call limit):\n"
        text += comments
        for item, one in zip(listed, latest, strict=True):
            item.latest = one.out
    out = TicketList(
        items=listed,
        page=page,
        items_per_page=items_per_page,
        truncated=rendered.truncated or any(i.latest is not None and i.latest.truncated for i in listed),
        omitted=rendered.omitted,
        next_page=page + 1 if len(views) >= items_per_page else None,
        comment_reads=reads,
    )
    return ok(text, out)


@tool("tickets", READ, title="Count tickets")
@with_filters
async def count_tickets(ctx: Context, **filters: Any) -> Annotated[CallToolResult, Count]:
    """Count tickets matching the same filters as search_tickets, without fetching them."""
    count = await state_of(ctx).client.count_tickets(**filters)
    return ok(f"{count} ticket(s) match.", Count(count=count))


@tool("tickets", READ, title="Get ticket")
async def get_ticket(
    ctx: Context,
    number: Number,
    include_comments: Annotated[
        bool, Field(description="Also return the thread: the latest comments.")
    ] = False,
    page: Page = None,
    before: Before = None,
) -> Annotated[CallToolResult, TicketDetail]:
    """Read one ticket; with include_comments=true also its latest comments, fenced as untrusted text."""
    state = state_of(ctx)
    if not include_comments and page is None and before is None:
        view = ticket_view(await state.client.get_ticket(number))
        return ok(render_ticket(view, Clock.of(view.created_at)), TicketDetail(ticket=view))
    howto = tool_howto("get_ticket", number=number, include_comments=True)
    thread = await read_thread(state, number, Selection(page, before), howto)
    return ok(thread.text, TicketDetail(ticket=thread.ticket, thread=thread.out))


TOOLS = (search_tickets, count_tickets, get_ticket)
