"""The `tickets` toolset: search, count and read tickets; create (with its dry run), change access, close,
reopen and rate them.

Each write is planned first (`writes.py`): the exact body, its texts cleaned and scanned for secrets,
and a refusal when the request cannot succeed. Only then is the user asked, and the planned body sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import InvalidRequest
from tickets_mcp.api import types as t
from tickets_mcp.api.operations import new_ticket_body
from tickets_mcp.mcp_server.arguments import (
    AllowSecrets,
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
from tickets_mcp.mcp_server.declare import ADD, CLOSE, READ, REPLACE, tool
from tickets_mcp.mcp_server.drafts import check_draft, possible_duplicates
from tickets_mcp.mcp_server.markdown import Clock, estimate_tokens, render_ticket, render_ticket_list
from tickets_mcp.mcp_server.outputs import (
    Count,
    DraftOutcome,
    ListedTicket,
    Problem,
    TicketBrief,
    TicketDetail,
    TicketList,
    WriteOutcome,
    brief,
    ticket_view,
)
from tickets_mcp.mcp_server.results import fail, ok
from tickets_mcp.mcp_server.state import caller_of, charge_session, progress_to
from tickets_mcp.mcp_server.threads import Selection, read_latest, read_thread, render_latest, tool_howto
from tickets_mcp.mcp_server.writes import (
    SECRET_ADVICE,
    Confirm,
    Plan,
    Refusal,
    cleaned_note,
    consent_to,
    done,
    masked,
    message_plan,
    not_sent,
    outbound,
    planner,
    vote_plan,
)


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
    state = caller_of(ctx)
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
    count = await caller_of(ctx).client.count_tickets(**filters)
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
    state = caller_of(ctx)
    if not include_comments and page is None and before is None:
        view = ticket_view(await state.client.get_ticket(number))
        return ok(render_ticket(view, Clock.of(view.created_at)), TicketDetail(ticket=view))
    howto = tool_howto("get_ticket", number=number, include_comments=True)
    thread = await read_thread(state, number, Selection(page, before), howto)
    return ok(thread.text, TicketDetail(ticket=thread.ticket, thread=thread.out))


# -- writes ----------------------------------------------------------------------------------------

Consent = ElicitationResult[Confirm]


# -- create ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftPlan(Plan):
    dry_run: bool = False
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    duplicates: list[TicketBrief] = field(default_factory=list)

    @property
    def asks(self) -> bool:
        return not self.dry_run and not self.problems and super().asks


@planner("Create a ticket")
async def _create_plan(
    ctx: Context,
    summary: str,
    categories: list[str],
    comment_body: str | None,
    category_fields: list[CategoryFieldArg] | None,
    products: list[str] | None,
    access_level: str,
    keystone_projects: list[str] | None,
    files: list[Any] | None,
    secrets: list[int] | None,
    body_values: dict[str, Any] | None,
    dry_run: bool,
    allow_secrets: bool,
) -> Plan:
    texts, about = outbound({"summary": summary, "comment_body": comment_body}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action="Create a ticket", **about)
    try:
        body = new_ticket_body(
            **texts,
            categories=categories,
            category_fields=[f.model_dump() for f in category_fields] if category_fields else None,
            products=products,
            access_level=access_level,
            keystone_projects=keystone_projects,
            files=files,
            secrets=secrets,
            body_values=body_values,
        )
    except InvalidRequest as exc:
        return Plan(
            action="Create a ticket", refusal=Refusal(f"Not sent: {exc.message}", "invalid_arguments")
        )
    state = caller_of(ctx)
    with progress_to(ctx):
        verdict = await check_draft(state, body)
        duplicates = await possible_duplicates(state, body["summary"])
    return DraftPlan(
        action=f"Create the ticket {masked(body['summary'])!r}",
        body=body,
        dry_run=dry_run,
        problems=verdict.problems,
        unchecked=verdict.unchecked,
        duplicates=duplicates,
        **about,
    )


def _warnings(plan: DraftPlan) -> list[str]:
    if not plan.secrets or plan.allow_secrets:
        return []
    return [f"it looks like it contains {plan.secrets}: creating it asks the user first. {SECRET_ADVICE}"]


def _draft_text(plan: DraftPlan) -> str:
    lines = [
        f"- {p.field}: {p.message}" + (f" (allowed: {', '.join(p.allowed[:20])})" if p.allowed else "")
        for p in plan.problems
    ]
    if plan.problems:
        head = "Draft has problems; nothing was sent. Fix them and call again:"
    else:
        head = "Draft is valid; nothing was sent. Call again with dry_run=false to create it."
    notes = [f"- warning: {w}" for w in _warnings(plan)]
    notes += [f"- not checked: {u}" for u in plan.unchecked]
    notes += [f"- possible duplicate: #{d.number} {masked(d.summary)}" for d in plan.duplicates]
    return "\n".join([head, *lines, *notes]) + cleaned_note(plan)


_CREATE_CONSENT = consent_to(_create_plan)


@tool("tickets", ADD, title="Create ticket")
async def create_ticket(
    ctx: Context,
    summary: Annotated[t.Summary, Field(description="Short description of the issue.")],
    categories: Annotated[t.Categories, Field(description="Active category keys from list_categories.")],
    plan: Annotated[Plan, Resolve(_create_plan)],
    consent: Annotated[Consent, Resolve(_CREATE_CONSENT)],
    comment_body: Annotated[t.Body | None, Field(description="First comment.")] = None,
    category_fields: list[CategoryFieldArg] | None = None,
    products: Annotated[list[t.Key] | None, Field(description="Product keys from list_products.")] = None,
    access_level: t.AccessLevel = "account_users",
    keystone_projects: Projects = None,
    files: Annotated[
        t.NewTicketFiles | None, Field(description="File UUIDs from the attachments API.")
    ] = None,
    secrets: Annotated[
        list[t.SecretId] | None, Field(description="Secret ids for the first comment.")
    ] = None,
    body_values: Annotated[
        dict[str, Any] | None, Field(description="For the pass_to_data_center template.")
    ] = None,
    dry_run: Annotated[bool, Field(description="Check and preview only; send nothing.")] = False,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, DraftOutcome]:
    """Open a support ticket. Call with dry_run=true first: it checks categories, required fields, secrets and duplicates."""
    if plan.refusal is not None or not isinstance(plan, DraftPlan):
        return not_sent(ctx, plan, consent) or fail("Not sent.", code="refused")
    draft = DraftOutcome(
        outcome="dry_run" if plan.dry_run else "refused",
        problems=plan.problems,
        unchecked=plan.unchecked or None,
        warnings=_warnings(plan) or None,
        possible_duplicates=plan.duplicates,
        preview=masked(plan.body),
        cleaned=plan.cleaned or None,
    )
    if plan.dry_run or plan.problems:
        return ok(_draft_text(plan), draft)
    if refused := not_sent(ctx, plan, consent):
        return refused
    with progress_to(ctx):
        result = await caller_of(ctx).client.create_ticket(**plan.body)
    ticket = ticket_view(result.ticket)
    note = " (found after an error: it had been created)" if result.recovered else ""
    note += (
        " (an identical ticket was created moments ago; it is returned instead of a duplicate)"
        if result.reused
        else ""
    )
    out = draft.model_copy(
        update={
            "outcome": "created",
            "sent": True,
            "ticket": ticket,
            "recovered": result.recovered or None,
            "reused": result.reused or None,
        }
    )
    dup_text = "".join(f"\n- possible duplicate: #{d.number} {masked(d.summary)}" for d in plan.duplicates)
    return ok(
        f"Created ticket #{ticket.number}: {masked(ticket.summary)}{note}{dup_text}" + cleaned_note(plan), out
    )


# -- access ----------------------------------------------------------------------------------------


@planner("Change who can see the ticket")
async def _access_plan(
    ctx: Context, number: int, access_level: str, keystone_projects: list[str] | None
) -> Plan:
    ticket = await caller_of(ctx).client.get_ticket(number)
    projects = keystone_projects if keystone_projects is not None else list(ticket.keystone_projects)
    action = f"Change who can see ticket {number}"
    if access_level == "project_users" and not projects:
        why = "access_level project_users needs keystone_projects, and the ticket has none: pass the IAM project ids."
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "invalid_arguments"))
    if access_level == ticket.access_level and sorted(projects) == sorted(ticket.keystone_projects):
        return Plan(
            action=action,
            refusal=Refusal(
                f"Not sent: ticket {number} already has this access; nothing would change.", "no_change"
            ),
        )
    return Plan(
        action=action, body={"access_level": access_level, "keystone_projects": projects}, always_ask=True
    )


_ACCESS_CONSENT = consent_to(_access_plan)


@tool("tickets", REPLACE, title="Change ticket access", consent=True)
async def update_ticket_access(
    ctx: Context,
    number: Number,
    access_level: t.AccessLevel,
    plan: Annotated[Plan, Resolve(_access_plan)],
    consent: Annotated[Consent, Resolve(_ACCESS_CONSENT)],
    keystone_projects: Annotated[
        t.Projects | None, Field(description="IAM project ids; default: keep the ticket's.")
    ] = None,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Change who in the account can see a ticket (all_users, account_users, or project_users with IAM projects); asks the user first."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    ticket = await caller_of(ctx).client.update_ticket(number, **plan.body)
    view = ticket_view(ticket)
    return done(
        f"Ticket #{number} access is now {view.access_level}.", plan, ticket, number=number, ticket=view
    )


# -- close, reopen, rate ---------------------------------------------------------------------------


@planner("Close the ticket")
async def _close_plan(
    ctx: Context, number: int, score: int | None, comment: str | None, allow_secrets: bool
) -> Plan:
    action = f"Close ticket {number}" + (f" with score {score}" if score is not None else "")
    if comment is not None and score is None:
        why = (
            "comment is the comment on the score: pass a score (1..5) with it, or leave it out and "
            f"add_comment(number={number}, body=...) before closing."
        )
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "invalid_arguments"))
    texts, about = outbound({"comment": comment}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    if ticket_view(await caller_of(ctx).client.get_ticket(number)).closed:
        why = f"ticket {number} is already closed. To continue its conversation: reopen_ticket(number={number}, body=...)."
        return Plan(action=action, refusal=Refusal(f"Not sent: {why}", "ticket_closed"))
    body = {k: v for k, v in {"score": score, **texts}.items() if v is not None}
    return Plan(action=action, body=body, always_ask=True, **about)


_CLOSE_CONSENT = consent_to(_close_plan)


@tool("tickets", CLOSE, title="Close ticket", consent=True)
async def close_ticket(
    ctx: Context,
    number: Number,
    plan: Annotated[Plan, Resolve(_close_plan)],
    consent: Annotated[Consent, Resolve(_CLOSE_CONSENT)],
    score: Annotated[t.CloseScore | None, Field(description="Score of the support, 1..5.")] = None,
    comment: Annotated[t.NonEmpty | None, Field(description="Comment on the score (needs a score).")] = None,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Close a resolved ticket, optionally scoring support 1..5; asks the user first. It can be reopened later."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    with progress_to(ctx):
        ticket = await caller_of(ctx).client.close_ticket(number, **plan.body)
    view = ticket_view(ticket)
    return done(f"Closed ticket #{number}.", plan, ticket, number=number, ticket=view, vote_score=score)


@planner("Reopen the ticket")
async def _reopen_plan(
    ctx: Context, number: int, body: str, files: list[Any] | None, allow_secrets: bool
) -> Plan:
    return await message_plan(
        ctx,
        f"Reopen ticket {number}",
        number,
        {"body": body, "files": files},
        allow_secrets,
        closed=True,
        refusal=(
            f"ticket {number} is not closed, so there is nothing to reopen: add_comment(number={number}, body=...) instead.",
            "ticket_not_closed",
        ),
    )


_REOPEN_CONSENT = consent_to(_reopen_plan)


@tool("tickets", ADD, title="Reopen ticket")
async def reopen_ticket(
    ctx: Context,
    number: Number,
    body: Body,
    plan: Annotated[Plan, Resolve(_reopen_plan)],
    consent: Annotated[Consent, Resolve(_REOPEN_CONSENT)],
    files: Files = None,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Reopen a closed ticket with a comment saying why (the problem came back, the answer was wrong...)."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    with progress_to(ctx):
        ticket = await caller_of(ctx).client.reopen_ticket(
            number, **{k: v for k, v in plan.body.items() if v is not None}
        )
    return done(f"Reopened ticket #{number}.", plan, ticket, number=number, ticket=ticket_view(ticket))


@planner("Rate the support")
async def _rate_plan(ctx: Context, number: int, score: int, comment: str | None, allow_secrets: bool) -> Plan:
    action = f"Rate the support in ticket {number}: {score}"
    texts, about = outbound({"comment": comment}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    ticket = await caller_of(ctx).client.get_ticket(number)
    if ticket.is_can_be_voted is False:
        why = (
            f"already rated ({ticket.vote_score})"
            if ticket.vote_score is not None
            else "the API does not allow it now (no support reply yet?)"
        )
        return Plan(
            action=action,
            refusal=Refusal(f"Not sent: ticket {number} cannot be rated: {why}.", "not_votable"),
        )
    return vote_plan(action, score, texts, about)


_RATE_CONSENT = consent_to(_rate_plan)


@tool("tickets", ADD, title="Rate ticket", consent=True)
async def rate_ticket(
    ctx: Context,
    number: Number,
    score: Annotated[t.TicketScore, Field(description="Score, 1..10.")],
    plan: Annotated[Plan, Resolve(_rate_plan)],
    consent: Annotated[Consent, Resolve(_RATE_CONSENT)],
    comment: VoteComment = None,
    allow_secrets: AllowSecrets = False,
) -> Annotated[CallToolResult, WriteOutcome]:
    """Rate how useful support was in a ticket (only where the ticket allows voting); asks the user first."""
    if refused := not_sent(ctx, plan, consent, number=number):
        return refused
    vote = await caller_of(ctx).client.rate_ticket(number, **plan.body)
    given = vote.score if vote.score is not None else score
    return done(f"Rated ticket #{number}: {given}.", plan, vote, number=number, vote_score=given)


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
