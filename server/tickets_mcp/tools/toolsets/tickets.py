"""The `tickets` toolset: search, count, read, create (with dry run), access, close, reopen, rate."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import types as t
from tickets_mcp.tools.arguments import (
    Before,
    Body,
    CategoryFieldArg,
    Files,
    Number,
    Page,
    Projects,
    VoteComment,
    with_filters,
)
from tickets_mcp.tools.consent import Confirm, ask, not_sent
from tickets_mcp.tools.declare import ADD, CLOSE, READ, REPLACE, tool
from tickets_mcp.tools.drafts import check_draft, mask_secrets, possible_duplicates
from tickets_mcp.tools.lifespan import charge_session, progress_to, state_of
from tickets_mcp.tools.outputs import (
    Count,
    DraftOutcome,
    ListedTicket,
    TicketDetail,
    TicketList,
    WriteOutcome,
)
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


@tool("tickets", ADD, title="Create ticket")
async def create_ticket(
    ctx: Context,
    summary: Annotated[t.Summary, Field(description="Short description of the issue.")],
    categories: Annotated[t.Categories, Field(description="Category keys from list_categories.")],
    comment_body: Annotated[t.Body | None, Field(description="First comment.")] = None,
    category_fields: list[CategoryFieldArg] | None = None,
    products: Annotated[list[t.Key] | None, Field(description="Product keys from list_products.")] = None,
    access_level: t.AccessLevel = "account_users",
    keystone_projects: Projects = None,
    files: Annotated[
        t.NewTicketFiles | None, Field(description="File UUIDs from the attachments API.")
    ] = None,
    secrets: Annotated[
        list[t.SecretId] | None, Field(description="Secret ids to attach to the first comment.")
    ] = None,
    body_values: Annotated[
        dict[str, Any] | None, Field(description="Template variables (pass_to_data_center).")
    ] = None,
    dry_run: Annotated[bool, Field(description="Only check the draft and preview it; send nothing.")] = False,
) -> Annotated[CallToolResult, DraftOutcome]:
    """Open a support ticket. Call with dry_run=true first: it checks categories, required fields, secrets and duplicates."""
    state = state_of(ctx)
    draft: dict[str, Any] = {
        "summary": summary,
        "categories": categories,
        "comment_body": comment_body,
        "category_fields": [f.model_dump() for f in category_fields] if category_fields else None,
        "products": products,
        "access_level": access_level,
        "keystone_projects": keystone_projects,
        "files": files,
        "secrets": secrets,
        "body_values": body_values,
    }
    preview = {k: v for k, v in draft.items() if v is not None}
    for key in ("summary", "comment_body"):
        if key in preview:
            preview[key] = mask_secrets(preview[key])
    with progress_to(ctx):
        problems = await check_draft(state, draft)
        duplicates = await possible_duplicates(state, summary)
    dup_text = "".join(f"\n- possible duplicate: #{d.number} {d.summary}" for d in duplicates)
    if problems or dry_run:
        outcome = "refused" if problems and not dry_run else "dry_run"
        lines = [
            f"- {p.field}: {p.message}" + (f" (allowed: {', '.join(p.allowed[:20])})" if p.allowed else "")
            for p in problems
        ]
        head = (
            "Draft has problems; nothing was sent. Fix them and call again:"
            if problems
            else "Draft is valid; nothing was sent. Call again with dry_run=false to create it."
        )
        out = DraftOutcome(
            outcome=outcome, problems=problems, possible_duplicates=duplicates, preview=preview
        )
        return ok("\n".join([head, *lines]) + dup_text, out)
    with progress_to(ctx):
        result = await state.client.create_ticket(**draft)
    ticket = ticket_view(result.ticket)
    note = " (recovered: it had been created despite an error)" if result.recovered else ""
    note += (
        " (an identical ticket was created moments ago; returning it instead of a duplicate)"
        if result.reused
        else ""
    )
    out = DraftOutcome(
        outcome="created",
        preview=preview,
        ticket=ticket,
        recovered=result.recovered or None,
        reused=result.reused or None,
        possible_duplicates=duplicates,
    )
    return ok(f"Created ticket #{ticket.number}: {ticket.summary}{note}{dup_text}", out)


async def _confirm_access(
    ctx: Context, number: int, access_level: str, keystone_projects: list[str] | None
) -> Any:
    payload = {"access_level": access_level, "keystone_projects": keystone_projects}
    return ask(ctx, f"Change who can see ticket {number}?", payload)


@tool("tickets", REPLACE, title="Change ticket access", consent=True)
async def update_ticket_access(
    ctx: Context,
    number: Number,
    access_level: t.AccessLevel,
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_access)],
    keystone_projects: Projects = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Change who in the account can see a ticket (all_users, account_users, or project_users with IAM projects)."""
    if refused := not_sent(ctx, consent, f"access change of ticket {number}", number=number):
        return refused
    ticket = await state_of(ctx).client.update_ticket(
        number, access_level=access_level, keystone_projects=keystone_projects or []
    )
    view = ticket_view(ticket)
    return ok(
        f"Ticket #{number} access is now {view.access_level}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=view),
    )


async def _confirm_close(ctx: Context, number: int, score: int | None, comment: str | None) -> Any:
    return ask(ctx, f"Close ticket {number}?", {"score": score, "comment": comment})


@tool("tickets", CLOSE, title="Close ticket", consent=True)
async def close_ticket(
    ctx: Context,
    number: Number,
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_close)],
    score: Annotated[t.CloseScore | None, Field(description="Score of the support, 1..5.")] = None,
    comment: VoteComment = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Close a resolved ticket, optionally scoring support 1..5; asks the user first. It can be reopened later."""
    if refused := not_sent(ctx, consent, f"closing ticket {number}", number=number):
        return refused
    with progress_to(ctx):
        ticket = await state_of(ctx).client.close_ticket(number, score=score, comment=comment)
    return ok(
        f"Closed ticket #{number}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=ticket_view(ticket), vote_score=score),
    )


@tool("tickets", ADD, title="Reopen ticket")
async def reopen_ticket(
    ctx: Context, number: Number, body: Body, files: Files = None
) -> Annotated[CallToolResult, WriteOutcome]:
    """Reopen a closed ticket with a comment saying why (the problem came back, the answer was wrong...)."""
    with progress_to(ctx):
        ticket = await state_of(ctx).client.reopen_ticket(number, body=body, files=files)
    return ok(
        f"Reopened ticket #{number}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=ticket_view(ticket)),
    )


async def _confirm_rate(ctx: Context, number: int, score: int, comment: str | None) -> Any:
    return ask(ctx, f"Rate the support in ticket {number}?", {"score": score, "comment": comment})


@tool("tickets", ADD, title="Rate ticket", consent=True)
async def rate_ticket(
    ctx: Context,
    number: Number,
    score: Annotated[t.TicketScore, Field(description="Score, 1..10.")],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_rate)],
    comment: VoteComment = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Rate how useful support was in a ticket (only where the ticket allows voting); asks the user first."""
    if refused := not_sent(ctx, consent, f"rating ticket {number}", number=number):
        return refused
    vote = await state_of(ctx).client.rate_ticket(number, score=score, comment=comment)
    given = vote.score if vote.score is not None else score
    return ok(
        f"Rated ticket #{number}: {given}.",
        WriteOutcome(outcome="done", sent=True, number=number, vote_score=given),
    )


TOOLS = (
    search_tickets,
    count_tickets,
    get_ticket,
    create_ticket,
    update_ticket_access,
    close_ticket,
    reopen_ticket,
    rate_ticket,
)
