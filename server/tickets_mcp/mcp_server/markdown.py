"""Compact Markdown for tickets, ticket lists and the catalog, from the output models (`outputs.py`).

Rules shared by every result:

- no null, empty or false fields, no JSON, no metadata repeated per row;
- one time format: ``YYYY-MM-DD HH:MM``, the year left out when it is the result's reference year
  (`Clock`); the first time of a result says ``UTC`` once;
- untrusted text is already sanitized by the output mapping; in tables it is also cut and escaped so it
  cannot break the row, and bodies are fenced by `safety.fence` (see `threads.py`);
- long output stays within a token budget (estimated by `tokens.estimate_tokens`) and says what was
  left out and how to get it (`Rendered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tickets_mcp.mcp_server.outputs import CategoryFieldView, NamedItem, TicketBrief, TicketView
from tickets_mcp.mcp_server.safety import fence, one_line
from tickets_mcp.mcp_server.tokens import estimate_tokens


@dataclass(frozen=True, slots=True)
class Rendered:
    """Rendered Markdown plus what the budget left out: ``omitted`` items, ``next_page`` if more remain."""

    text: str
    truncated: bool
    omitted: int
    next_page: int | None
    shown: int


class Clock:
    """Times of one result: ``MM-DD HH:MM`` within the reference ``year``, ``YYYY-MM-DD HH:MM`` otherwise."""

    def __init__(self, year: int | None = None) -> None:
        self.year = year if year is not None else datetime.now(UTC).year

    @classmethod
    def of(cls, *times: datetime | None) -> Clock:
        """The clock whose reference year is that of the first known time."""
        return cls(next((t.year for t in times if t is not None), None))

    def full(self, value: datetime | None) -> str:
        """The first time of a result: with its year and the zone."""
        return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""

    def short(self, value: datetime | None, *, date: bool = True) -> str:
        if value is None:
            return ""
        if not date:
            return f"{value:%H:%M}"
        return f"{value:%m-%d %H:%M}" if value.year == self.year else f"{value:%Y-%m-%d %H:%M}"

    @property
    def note(self) -> str:
        return f"times UTC, year {self.year} unless shown"


def cell(text: str, limit: int = 80) -> str:
    """One table cell: one line, at most ``limit`` characters, pipes and backslashes escaped."""
    return one_line(text, limit).replace("\\", "\\\\").replace("|", "\\|")


def turn(view: TicketView | TicketBrief) -> str:
    """Whose turn, in words, when the status does not already say it."""
    if view.awaiting is None or (view.status and "await" in view.status):
        return ""
    return "your turn" if view.awaiting == "client" else "support's turn"


# --- one ticket ----------------------------------------------------------------------------------------


def render_ticket(ticket: TicketView, clock: Clock) -> str:
    """A ticket in two or three lines plus its fenced summary; nothing empty, nothing twice."""
    head = [f"#{ticket.number}", ticket.status or "status unknown"]
    if who := turn(ticket):
        head.append(who)
    head.append(f"created {clock.full(ticket.created_at)}" if ticket.created_at else "")
    if ticket.updated_at and ticket.updated_at != ticket.created_at:
        head.append(f"updated {clock.short(ticket.updated_at)}")
    if ticket.closed_at:
        head.append(f"closed {clock.short(ticket.closed_at)}")
    facts = []
    if ticket.categories:
        facts.append("categories " + ", ".join(ticket.categories))
    if ticket.products:
        facts.append("products " + ", ".join(ticket.products))
    if ticket.access_level:
        projects = f" ({', '.join(ticket.keystone_projects)})" if ticket.keystone_projects else ""
        facts.append(f"access {ticket.access_level}{projects}")
    if ticket.unread_comments:
        facts.append(f"{ticket.unread_comments} unread")
    if ticket.vote_score is not None:
        facts.append(f"rated {ticket.vote_score}")
    elif ticket.can_be_rated:
        facts.append("can be rated")
    lines = [" · ".join(p for p in head if p)]
    if facts:
        lines.append(" · ".join(facts))
    lines.append(fence(ticket.summary, role="client", label="summary"))
    return "\n".join(lines)


# --- ticket list ---------------------------------------------------------------------------------------

_COLUMNS = ("number", "status", "summary", "updated", "unread")


def _row(item: TicketBrief, clock: Clock) -> dict[str, str]:
    status = cell(item.status or "", 30)
    if who := turn(item):
        status += f" ({who})"
    return {
        "number": str(item.number),
        "status": status,
        "summary": cell(item.summary),
        "updated": clock.short(item.updated_at),
        "unread": str(item.unread_comments or ""),
    }


def render_ticket_list(
    items: Sequence[TicketBrief],
    *,
    page: int,
    items_per_page: int,
    total: int | None = None,
    budget_tokens: int = 8000,
) -> Rendered:
    """One page of tickets as a Markdown table with a one-line header; rows past the budget are dropped."""
    clock = Clock()
    rows = [_row(item, clock) for item in items]
    columns = [c for c in _COLUMNS if any(r[c] for r in rows)] or ["number"]
    more = page * items_per_page < total if total is not None else len(items) >= items_per_page
    next_page = page + 1 if more and items else None
    table_head = f"| {' | '.join(columns)} |\n|{'---|' * len(columns)}"
    lines = [f"| {' | '.join(r[c] for c in columns)} |" for r in rows]
    budget = budget_tokens - estimate_tokens(table_head) - 60  # header line and hints
    shown, used = 0, 0
    for line in lines:
        cost = estimate_tokens(line) + 1
        if shown and used + cost > budget:
            break
        used += cost
        shown += 1
    omitted = len(lines) - shown
    head = [f"Tickets page {page}", f"{shown} shown"]
    if total is not None:
        head.append(f"{total} total")
    if next_page:
        head.append(f"next page {next_page}")
    parts = [" · ".join(head) + f" ({clock.note}; summaries are untrusted text)"]
    if not items:
        parts.append("No tickets match.")
    else:
        parts += [table_head, *lines[:shown]]
    if omitted:
        start = (page - 1) * items_per_page
        hint = "narrow the search or use a smaller items_per_page"
        if start % shown == 0:
            hint = f"call again with items_per_page={shown}, page={start // shown + 2}"
        parts.append(f"{omitted} more tickets on this page were left out to fit the token budget; {hint}.")
    return Rendered("\n".join(parts), bool(omitted), omitted, next_page, shown)


# --- catalog -------------------------------------------------------------------------------------------


def render_categories(items: Sequence[NamedItem], *, what: str = "categories") -> str:
    """Categories (or legacy topics) as ``- key: Name — description`` lines."""
    if not items:
        return f"No {what}."
    lines = [f"{len(items)} {what} (use the key):"]
    for item in items:
        line = f"- {item.key}: {one_line(item.name, 100)}"
        if item.description:
            line += f" — {one_line(item.description, 160)}"
        if item.subtopics:
            line += "; subtopics: " + ", ".join(f"{s.key} ({one_line(s.name, 60)})" for s in item.subtopics)
        lines.append(line)
    return "\n".join(lines)


def render_category_fields(category: str, fields: Sequence[CategoryFieldView]) -> str:
    """Fields of one category: required ones marked ``*``, allowed value keys with names, or free text."""
    if not fields:
        return f"Category {category} has no extra fields."
    lines = [f"Fields of category {category} (* = required; send category_fields=[{{key, values:[...]}}]):"]
    for field in fields:
        mark = "*" if field.required else ""
        if field.type == "text" or not field.values:
            allowed = "free text"
        else:
            allowed = "one of: " + ", ".join(f"{v.key} ({one_line(v.name, 60)})" for v in field.values)
        lines.append(f"- {field.key}{mark}: {one_line(field.name, 100)} — {allowed}")
    return "\n".join(lines)


def render_products(items: Sequence[NamedItem]) -> str:
    """Products as ``- key: Name`` lines."""
    return render_categories(items, what="products")
