"""The `tickets` toolset: search, count, read, create (with dry run), access, close, reopen, rate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.tools.common import (
    AccessLevel,
    Body,
    CategoryFieldArg,
    Files,
    KeystoneProjects,
    Number,
    SortOrder,
    VoteComment,
    app_state,
    progress_to,
    read_thread,
)
from tickets_mcp.tools.consent import Confirm, ask, not_sent
from tickets_mcp.tools.drafts import check_draft, mask_secrets, possible_duplicates
from tickets_mcp.tools.outputs import Count, DraftOutcome, TicketDetail, TicketList, WriteOutcome
from tickets_mcp.tools.registry import declare
from tickets_mcp.tools.render import render_ticket, render_ticket_list
from tickets_mcp.tools.results import ok
from tickets_mcp.tools.views import as_dict, brief, comment_view, ticket_view

READ = {"read_only": True, "destructive": False, "idempotent": True}

Q = Annotated[str | None, Field(min_length=1, description="Text search in summaries and comments.")]
SortBy = Literal["created_at", "updated_at", "resolved_at", "closed_at"]


@declare(toolset="tickets", title="Search tickets", **READ)
async def search_tickets(
    ctx: Context,
    q: Q = None,
    is_only_opened: bool | None = None,
    is_only_closed: bool | None = None,
    is_only_abuse: bool | None = None,
    access_levels: list[AccessLevel] | None = None,
    keystone_projects: list[str] | None = None,
    sort_by: SortBy = "created_at",
    sort_by_order: SortOrder = "desc",
    page: Annotated[int, Field(ge=1)] = 1,
    items_per_page: Annotated[int, Field(ge=1, le=1000)] = 10,
) -> Annotated[CallToolResult, TicketList]:
    """Find tickets by text, state, access level or IAM project; returns one page as a compact table."""
    state = app_state(ctx)
    with progress_to(ctx):
        result = await state.client.search_tickets(
            q=q,
            is_only_opened=is_only_opened,
            is_only_closed=is_only_closed,
            is_only_abuse=is_only_abuse,
            access_levels=access_levels,
            keystone_projects=keystone_projects,
            sort_by=sort_by,
            sort_by_order=sort_by_order,
            page=page,
            items_per_page=items_per_page,
        )
    items = [as_dict(i) for i in result.items]
    rendered = render_ticket_list(
        items,
        language=state.settings.language,
        page=page,
        items_per_page=items_per_page,
        budget_tokens=state.settings.token_budget,
    )
    full_page = len(items) >= items_per_page
    out = TicketList(
        items=[brief(i) for i in items[: rendered.shown]],
        page=page,
        items_per_page=items_per_page,
        truncated=rendered.truncated,
        omitted=rendered.omitted,
        next_page=page + 1 if full_page else None,
    )
    return ok(rendered.text, out)


@declare(toolset="tickets", title="Count tickets", **READ)
async def count_tickets(
    ctx: Context,
    q: Q = None,
    is_only_opened: bool | None = None,
    is_only_closed: bool | None = None,
    is_only_abuse: bool | None = None,
    access_levels: list[AccessLevel] | None = None,
    keystone_projects: list[str] | None = None,
) -> Annotated[CallToolResult, Count]:
    """Count tickets matching the same filters as search_tickets, without fetching them."""
    count = await app_state(ctx).client.count_tickets(
        q=q,
        is_only_opened=is_only_opened,
        is_only_closed=is_only_closed,
        is_only_abuse=is_only_abuse,
        access_levels=access_levels,
        keystone_projects=keystone_projects,
    )
    return ok(f"{count} ticket(s) match.", Count(count=count))


@declare(toolset="tickets", title="Get ticket", **READ)
async def get_ticket(
    ctx: Context,
    number: Number,
    include_comments: Annotated[bool, Field(description="Also return the thread, oldest first.")] = False,
    comments_page: Annotated[int, Field(ge=1, description="Page of the thread (20 comments each).")] = 1,
) -> Annotated[CallToolResult, TicketDetail]:
    """Read one ticket; with include_comments=true also its thread, paged and fenced as untrusted text."""
    state = app_state(ctx)
    if not include_comments:
        ticket = as_dict(await state.client.get_ticket(number))
        text = render_ticket(ticket, language=state.settings.language)
        return ok(text, TicketDetail(ticket=ticket_view(ticket)))
    thread = await read_thread(state, number, comments_page)
    out = TicketDetail(
        ticket=ticket_view(thread.ticket),
        comments=[comment_view(c) for c in thread.comments],
        comments_total=thread.total,
        page=comments_page,
        truncated=thread.rendered.truncated,
        next_page=thread.rendered.next_page,
    )
    return ok(thread.rendered.text, out)


@declare(toolset="tickets", title="Create ticket", read_only=False, destructive=False, idempotent=False)
async def create_ticket(
    ctx: Context,
    summary: Annotated[str, Field(min_length=1, description="Short description of the issue.")],
    categories: Annotated[list[str], Field(min_length=1, description="Category keys from list_categories.")],
    comment_body: Annotated[
        str | None, Field(min_length=1, max_length=50000, description="First comment.")
    ] = None,
    category_fields: list[CategoryFieldArg] | None = None,
    products: Annotated[list[str] | None, Field(description="Product keys from list_products.")] = None,
    access_level: AccessLevel = "account_users",
    keystone_projects: KeystoneProjects = None,
    files: Files = None,
    secrets: Annotated[
        list[int] | None, Field(description="Secret ids to attach to the first comment.")
    ] = None,
    body_values: Annotated[
        dict[str, Any] | None, Field(description="Template variables (pass_to_data_center).")
    ] = None,
    dry_run: Annotated[bool, Field(description="Only check the draft and preview it; send nothing.")] = False,
) -> Annotated[CallToolResult, DraftOutcome]:
    """Open a support ticket. Call with dry_run=true first: it checks categories, required fields, secrets and duplicates."""
    state = app_state(ctx)
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


@declare(
    toolset="tickets",
    title="Change ticket access",
    read_only=False,
    destructive=True,
    idempotent=True,
    consent=True,
)
async def update_ticket_access(
    ctx: Context,
    number: Number,
    access_level: AccessLevel,
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_access)],
    keystone_projects: KeystoneProjects = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Change who in the account can see a ticket (all_users, account_users, or project_users with IAM projects)."""
    if refused := not_sent(ctx, consent, f"access change of ticket {number}", number=number):
        return refused
    ticket = await app_state(ctx).client.update_ticket(
        number, access_level=access_level, keystone_projects=keystone_projects or []
    )
    view = ticket_view(ticket)
    return ok(
        f"Ticket #{number} access is now {view.access_level}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=view),
    )


async def _confirm_close(ctx: Context, number: int, score: int | None, comment: str | None) -> Any:
    return ask(ctx, f"Close ticket {number}?", {"score": score, "comment": comment})


@declare(
    toolset="tickets", title="Close ticket", read_only=False, destructive=True, idempotent=False, consent=True
)
async def close_ticket(
    ctx: Context,
    number: Number,
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_close)],
    score: Annotated[int | None, Field(ge=1, le=5, description="Score of the support, 1..5.")] = None,
    comment: VoteComment = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Close a resolved ticket, optionally scoring support 1..5; asks the user first. It can be reopened later."""
    if refused := not_sent(ctx, consent, f"closing ticket {number}", number=number):
        return refused
    with progress_to(ctx):
        ticket = await app_state(ctx).client.close_ticket(number, score=score, comment=comment)
    return ok(
        f"Closed ticket #{number}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=ticket_view(ticket), vote_score=score),
    )


@declare(toolset="tickets", title="Reopen ticket", read_only=False, destructive=False, idempotent=False)
async def reopen_ticket(
    ctx: Context, number: Number, body: Body, files: Files = None
) -> Annotated[CallToolResult, WriteOutcome]:
    """Reopen a closed ticket with a comment saying why (the problem came back, the answer was wrong...)."""
    with progress_to(ctx):
        ticket = await app_state(ctx).client.reopen_ticket(number, body=body, files=files)
    return ok(
        f"Reopened ticket #{number}.",
        WriteOutcome(outcome="done", sent=True, number=number, ticket=ticket_view(ticket)),
    )


async def _confirm_rate(ctx: Context, number: int, score: int, comment: str | None) -> Any:
    return ask(ctx, f"Rate the support in ticket {number}?", {"score": score, "comment": comment})


@declare(
    toolset="tickets", title="Rate ticket", read_only=False, destructive=False, idempotent=False, consent=True
)
async def rate_ticket(
    ctx: Context,
    number: Number,
    score: Annotated[int, Field(ge=1, le=10, description="Score, 1..10.")],
    consent: Annotated[ElicitationResult[Confirm], Resolve(_confirm_rate)],
    comment: VoteComment = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Rate how useful support was in a ticket (only where the ticket allows voting); asks the user first."""
    if refused := not_sent(ctx, consent, f"rating ticket {number}", number=number):
        return refused
    vote = as_dict(await app_state(ctx).client.rate_ticket(number, score=score, comment=comment))
    return ok(
        f"Rated ticket #{number}: {vote.get('score', score)}.",
        WriteOutcome(outcome="done", sent=True, number=number, vote_score=vote.get("score", score)),
    )
