"""The `tickets` toolset: search, count and read tickets; create (with its dry run), change access, close,
reopen and rate them.

Each write is planned first (`writes.py`): the exact body, its texts cleaned and scanned for secrets,
and a refusal when the request cannot succeed. Only then is the user asked, and the planned body sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from tickets_mcp.api import InvalidRequest
from tickets_mcp.api import types as t
from tickets_mcp.api.models import CreateTicketResult, TicketV1, TicketV2, Vote
from tickets_mcp.api.operations import new_ticket_body
from tickets_mcp.mcp_server.arguments import (
    AllowSecrets,
    Attachments,
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
from tickets_mcp.mcp_server.attachments import NotAttachable
from tickets_mcp.mcp_server.declare import ADD, CLOSE, READ, REPLACE, tool
from tickets_mcp.mcp_server.drafts import check_draft, possible_duplicates
from tickets_mcp.mcp_server.journal import KEEP, ChangeList, changes_markdown
from tickets_mcp.mcp_server.markdown import (
    Clock,
    Rendered,
    estimate_tokens,
    render_ticket,
    render_ticket_list,
)
from tickets_mcp.mcp_server.outputs import (
    AttachedOutcome,
    Count,
    DraftOutcome,
    ListedTicket,
    Problem,
    TicketBrief,
    TicketDetail,
    TicketList,
    TicketView,
    brief,
    ticket_view,
)
from tickets_mcp.mcp_server.results import ok
from tickets_mcp.mcp_server.safety import quoted
from tickets_mcp.mcp_server.state import caller_of, progress_to, writer_of
from tickets_mcp.mcp_server.threads import (
    MOST_READS,
    Latest,
    Selection,
    call,
    latest_cost,
    read_latest,
    read_thread,
    render_latest,
    tool_howto,
)
from tickets_mcp.mcp_server.writes import (
    SECRET_ADVICE,
    Plan,
    Report,
    access_plan,
    attachments_of,
    cleaned_note,
    masked,
    message_plan,
    outbound,
    refused,
    scan_also,
    vote_plan,
    with_attachments,
    write,
)

# -- search ----------------------------------------------------------------------------------------

SEARCH_LINES = 80  # the "Latest comments (...)" line and the continuation line, as budgeted


def aligned(count: int, start: int) -> int:
    """The largest page size up to ``count`` that has a page starting at ``start``: the next page at that
    size starts right after the tickets shown, so the continuation is exact."""
    return next(size for size in range(count, 0, -1) if start % size == 0)


def fitting(latest: Sequence[Latest], cost: Callable[[Sequence[Latest]], int], budget: int) -> int:
    """How many of the first tickets fit the budget with their latest comments (at least their heads)."""
    low, high = 0, len(latest)
    while low < high:
        mid = (low + high + 1) // 2
        if cost(latest[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


@tool("tickets", READ, title="Search tickets")
@with_filters
async def search_tickets(
    ctx: Context,
    sort_by: t.SortBy = "created_at",
    sort_by_order: t.SortOrder = "desc",
    page: t.Page = 1,
    items_per_page: t.ItemsPerPage = 10,
    latest_comments: Annotated[
        int, Field(ge=0, le=5, description="Also show each ticket's N latest comments."), t.NotBoolean
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

    def table(part: Sequence[TicketView]) -> Rendered:
        items = [brief(v) for v in part]
        return render_ticket_list(items, page=page, items_per_page=items_per_page, budget_tokens=budget)

    rendered = table(views)
    count, reads, why = rendered.shown, None, "to fit the token budget"
    latest: list[Latest] = []
    howto = lambda n: tool_howto("list_comments", number=n)  # noqa: E731
    if latest_comments and views:

        def cost(items: Sequence[Latest]) -> int:
            rows = estimate_tokens(table([i.ticket for i in items]).text)
            return rows + SEARCH_LINES + sum(latest_cost(i, howto) for i in items)

        with progress_to(ctx):
            latest, reads = await read_latest(
                state, views[:count], latest_comments, fits=lambda items: cost(items) <= budget
            )
        count = max(1, fitting(latest, cost, budget))
        if count == MOST_READS:
            why = f"(one search reads the latest comments of at most {MOST_READS} tickets)"
    start, cut = (page - 1) * items_per_page, count < len(views)
    if cut:  # the rest of the page comes next, at a page size that continues exactly here
        count = aligned(count, start)
        rendered = table(views[:count])
    text, more = rendered.text, ""
    if cut:
        asked = {k: v for k, v in filters.items() if v is not None}
        if sort_by != "created_at":
            asked["sort_by"] = sort_by
        if sort_by_order != "desc":
            asked["sort_by_order"] = sort_by_order
        follow = call(
            "search_tickets",
            **asked,
            latest_comments=latest_comments or None,
            items_per_page=count,
            page=start // count + 2,
        )
        left = len(views) - count
        more = f"\n{left} more tickets of this page were left out {why}; they come next: {follow}."
    listed = [ListedTicket(**brief(v).model_dump()) for v in views[:count]]
    if latest:
        room = budget - estimate_tokens(text + more) - SEARCH_LINES // 4
        comments, _ = render_latest(latest[:count], room, howto)
        text += f"\nLatest comments ({reads} comment reads):\n{comments}"
        for item, one in zip(listed, latest, strict=False):
            item.latest = one.out
    truncated = cut or rendered.truncated or any(i.latest is not None and i.latest.truncated for i in listed)
    out = TicketList(
        items=listed,
        page=page,
        items_per_page=items_per_page,
        truncated=truncated,
        omitted=len(views) - count,
        next_page=start // count + 2 if cut else (page + 1 if len(views) >= items_per_page else None),
        next_items_per_page=count if cut else None,
        comment_reads=reads,
    )
    return ok(text + more, out)


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


# -- create ----------------------------------------------------------------------------------------


DUPLICATE_SUMMARY = 80  # characters of a possible duplicate's summary: as in the search_tickets table


def duplicate_line(ticket: TicketBrief) -> str:
    """A possible duplicate in a hint: another ticket of the account, maybe a colleague's, so its summary
    is untrusted text: on one line, quoted (`safety.quoted`), secrets masked."""
    return f"- possible duplicate: #{ticket.number} {quoted(masked(ticket.summary), DUPLICATE_SUMMARY)}"


@dataclass(frozen=True)
class DraftPlan(Plan):
    """A create: sent only when it is not a dry run and the catalog check found no problem."""

    dry_run: bool = False
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    duplicates: list[TicketBrief] = field(default_factory=list)

    @property
    def asks(self) -> bool:
        return not self.dry_run and not self.problems and super().asks

    @property
    def warnings(self) -> list[str]:
        if not self.secrets or self.allow_secrets:
            return []
        return [f"it looks like it contains {self.secrets}: creating it asks the user first. {SECRET_ADVICE}"]

    def outcome(self) -> DraftOutcome:
        return DraftOutcome(
            outcome="dry_run" if self.dry_run else "refused",
            problems=self.problems,
            unchecked=self.unchecked or None,
            warnings=self.warnings or None,
            possible_duplicates=self.duplicates,
            preview=masked(self.body),
            cleaned=self.cleaned or None,
            attachments=self.attachments.outs() if self.attachments is not None else None,
        )

    def preview(self) -> CallToolResult | None:
        if not (self.dry_run or self.problems):
            return None
        lines = [
            f"- {p.field}: {p.message}" + (f" (allowed: {', '.join(p.allowed[:20])})" if p.allowed else "")
            for p in self.problems
        ]
        if self.dry_run and self.problems:
            head = "Draft has problems; nothing was sent. Fix them and call again:"
        elif self.problems:  # a create that was not done: an error, with what to fix
            head = (
                "Not sent: the draft has problems the API would refuse. Fix them and call create_ticket "
                "again (dry_run=true checks without sending):"
            )
        else:
            head = "Draft is valid; nothing was sent. Call again with dry_run=false to create it."
        notes = [f"- warning: {w}" for w in self.warnings]
        notes += [f"- not checked: {u}" for u in self.unchecked]
        notes += [duplicate_line(d) for d in self.duplicates]
        if self.attachments is not None:
            notes += [f"{a.line()} checked; uploaded when it is created" for a in self.attachments.items]
        result = ok("\n".join([head, *lines, *notes]) + cleaned_note(self), self.outcome())
        if self.dry_run:
            return result  # a dry run's verdict is a normal result, problems or not
        structured = {**(result.structured_content or {}), "code": "draft_invalid"}
        return result.model_copy(update={"is_error": True, "structured_content": structured})

    def finished(self, answer: Any) -> CallToolResult:
        result: CreateTicketResult = answer
        ticket = ticket_view(result.ticket)
        note = " (found after an error: it had been created)" if result.recovered else ""
        note += (
            " (an identical ticket was created moments ago; it is returned instead of a duplicate)"
            if result.reused
            else ""
        )
        out = self.outcome().model_copy(
            update={
                "outcome": "created",
                "sent": True,
                "ticket": ticket,
                "recovered": result.recovered or None,
                "reused": result.reused or None,
            }
        )
        dups = "".join(f"\n{duplicate_line(d)}" for d in self.duplicates)
        return ok(
            f"Created ticket #{ticket.number}: {masked(ticket.summary)}{note}{dups}" + cleaned_note(self), out
        )


@write("tickets", ADD, title="Create ticket", out=DraftOutcome)
async def create_ticket(
    ctx: Context,
    summary: Annotated[t.Summary, Field(description="Short description of the issue.")],
    categories: Annotated[t.Categories, Field(description="Active category keys from list_categories.")],
    comment_body: Annotated[t.Body | None, Field(description="First comment.")] = None,
    category_fields: list[CategoryFieldArg] | None = None,
    products: Annotated[list[t.Key] | None, Field(description="Product keys from list_products.")] = None,
    access_level: t.AccessLevel = "account_users",
    keystone_projects: Projects = None,
    files: Annotated[
        t.NewTicketFiles | None, Field(description="File UUIDs from the attachments API.")
    ] = None,
    attachments: Attachments = None,
    secrets: Annotated[
        list[t.SecretId] | None, Field(description="Secret ids for the first comment.")
    ] = None,
    body_values: Annotated[
        dict[str, Any] | None, Field(description="For the pass_to_data_center template.")
    ] = None,
    dry_run: Annotated[bool, Field(description="Preview only; send nothing.")] = False,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Open a support ticket. Call with dry_run=true first: it checks categories, required fields, secrets and duplicates (keys are trimmed)."""
    texts, about = outbound({"summary": summary, "comment_body": comment_body}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action="Create a ticket", **about)
    try:
        about = with_attachments(about, await attachments_of(ctx, attachments, files))
    except NotAttachable as exc:
        return refused("Create a ticket", exc.message, exc.code)
    structured = {f"category_fields[{i}]": "\n".join(f.values) for i, f in enumerate(category_fields or [])}
    if body_values:
        structured["body_values"] = json.dumps(body_values, ensure_ascii=False)
    about = scan_also(about, structured)
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
        return refused("Create a ticket", exc.message, "invalid_arguments")
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
        send=lambda client, sent: client.create_ticket(**sent),
        **about,
    )


# -- access ----------------------------------------------------------------------------------------


def access_changed(number: int, v1: bool = False) -> Report:
    """What the result of an access change says."""

    def report(ticket: TicketV1 | TicketV2) -> tuple[str, dict[str, Any]]:
        view = ticket_view(ticket)
        text = (
            f"Ticket #{number} updated (v1): access {view.access_level}."
            if v1
            else (f"Ticket #{number} access is now {view.access_level}.")
        )
        return text, {"number": number, "ticket": view}

    return report


@write("tickets", REPLACE, title="Change ticket access", consent=True)
async def update_ticket_access(
    ctx: Context,
    number: Number,
    access_level: t.AccessLevel,
    keystone_projects: Annotated[
        t.Projects | None, Field(description="IAM project ids; default: keep the ticket's.")
    ] = None,
) -> Plan:
    """Change who in the account can see a ticket (all_users, account_users, or project_users with IAM projects); asks the user first."""
    plan = await access_plan(ctx, number, access_level, keystone_projects, v1=False)
    return plan.then(lambda client, body: client.update_ticket(number, **body), access_changed(number))


# -- close, reopen, rate ---------------------------------------------------------------------------


@write("tickets", CLOSE, title="Close ticket", consent=True)
async def close_ticket(
    ctx: Context,
    number: Number,
    score: Annotated[t.CloseScore | None, Field(description="Score of the support, 1..5.")] = None,
    comment: Annotated[t.NonEmpty | None, Field(description="Comment on the score (needs a score).")] = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Close a resolved ticket, optionally scoring support 1..5; asks the user first. It can be reopened later."""
    action = f"Close ticket {number}" + (f" with score {score}" if score is not None else "")
    if comment is not None and score is None:
        why = (
            "comment is the comment on the score: pass a score (1..5) with it, or leave it out and "
            f"add_comment(number={number}, body=...) before closing."
        )
        return refused(action, why, "invalid_arguments")
    texts, about = outbound({"comment": comment}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    if ticket_view(await caller_of(ctx).client.get_ticket(number)).closed:
        why = f"ticket {number} is already closed. To continue its conversation: reopen_ticket(number={number}, body=...)."
        return refused(action, why, "ticket_closed")
    body = {k: v for k, v in {"score": score, **texts}.items() if v is not None}

    def closed(ticket: TicketV1) -> tuple[str, dict[str, Any]]:
        return f"Closed ticket #{number}.", {
            "number": number,
            "ticket": ticket_view(ticket),
            "vote_score": score,
        }

    return Plan(action=action, body=body, always_ask=True, **about).then(
        lambda client, sent: client.close_ticket(number, **sent), closed
    )


@write("tickets", ADD, title="Reopen ticket", out=AttachedOutcome)
async def reopen_ticket(
    ctx: Context,
    number: Number,
    body: Body,
    files: Files = None,
    attachments: Attachments = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Reopen a closed ticket with a comment saying why (the problem came back, the answer was wrong...)."""
    plan = await message_plan(ctx, number, body, files, allow_secrets, reopen=True, attachments=attachments)

    def reopened(ticket: TicketV1) -> tuple[str, dict[str, Any]]:
        return f"Reopened ticket #{number}.", {"number": number, "ticket": ticket_view(ticket)}

    return plan.then(lambda client, sent: client.reopen_ticket(number, **sent), reopened)


@write("tickets", ADD, title="Rate ticket", consent=True)
async def rate_ticket(
    ctx: Context,
    number: Number,
    score: Annotated[t.TicketScore, Field(description="Score, 1..10.")],
    comment: VoteComment = None,
    allow_secrets: AllowSecrets = False,
) -> Plan:
    """Rate how useful support was in a ticket (only where the ticket allows voting); asks the user first."""
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
        return refused(action, f"ticket {number} cannot be rated: {why}.", "not_votable")

    def rated(vote: Vote) -> tuple[str, dict[str, Any]]:
        given = vote.score if vote.score is not None else score
        return f"Rated ticket #{number}: {given}.", {"number": number, "vote_score": given}

    return vote_plan(action, score, texts, about).then(
        lambda client, sent: client.rate_ticket(number, **sent), rated
    )


# -- what changed ----------------------------------------------------------------------------------


@tool("tickets", READ, title="List changes", open_world=False)
async def list_changes(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=KEEP, description="How many, latest first.")] = 20,
) -> Annotated[CallToolResult, ChangeList]:
    """List this session's writes, latest first: outcome, what changed, and the call that undoes it where the API has one."""
    items = await caller_of(ctx).changes.latest(writer_of(ctx).session, limit)
    return ok(changes_markdown(items), ChangeList(items=items, count=len(items)))


TOOLS = (
    search_tickets,
    count_tickets,
    get_ticket,
    create_ticket,
    update_ticket_access,
    close_ticket,
    reopen_ticket,
    rate_ticket,
    list_changes,
)
