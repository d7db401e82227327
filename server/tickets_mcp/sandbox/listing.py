"""Ticket list filters and sorting shared by the v2 list, the v2 count and the v1 list (W12, W16)."""

from __future__ import annotations

from typing import Any

from tickets_mcp.sandbox import validate as v
from tickets_mcp.sandbox.errors import Problems
from tickets_mcp.sandbox.state import SandboxState
from tickets_mcp.sandbox.tickets import status_of

Row = tuple[dict[str, Any], list[dict[str, Any]]]


def filtered(state: SandboxState, params: Any, problems: Problems, *, v1: bool) -> list[Row]:
    if v1:
        q = params.get("q")
        if q is not None and q == "":
            problems.add("q", "must be at least 1 character(s)")
        only_opened = v.q_bool(params, "only_opened", problems)
        only_closed = v.q_bool(params, "only_closed", problems)
        only_abuse = None
        level = v.q_enum(params, "access_level", problems, v.ACCESS_LEVELS, None)
        levels = [level] if level else []
        projects = v.q_list(params, "keystone_projects")
        if len(projects) > 1:
            problems.add("keystone_projects", "must have exactly 1 item")
    else:
        q = params.get("q") or None
        only_opened = v.q_bool(params, "is_only_opened", problems)
        only_closed = v.q_bool(params, "is_only_closed", problems)
        only_abuse = v.q_bool(params, "is_only_abuse", problems)
        levels = v.q_list(params, "access_levels")
        for i, level in enumerate(levels):
            if level not in v.ACCESS_LEVELS:
                problems.add(f"access_levels.{i}", "not one of the allowed values", v.ACCESS_LEVELS)
        projects = v.q_list(params, "keystone_projects")
    threads = state.store.comments_by_ticket()
    needle = q.casefold() if q else None
    out = []
    for ticket in state.store.all_tickets():
        comments = threads.get(ticket["number"], [])
        closed = status_of(ticket, comments) == "closed"
        if (only_opened and closed) or (only_closed and not closed):
            continue
        if only_abuse and "abuse" not in ticket["categories"]:
            continue
        if levels and ticket["access_level"] not in levels:
            continue
        if projects and not set(projects) & set(ticket["keystone_projects"]):
            continue
        if (
            needle
            and needle not in ticket["summary"].casefold()
            and not any(needle in c["body"].casefold() for c in comments)
        ):
            continue
        out.append((ticket, comments))
    return out


def sort_rows(rows: list[Row], sort_by: str, order: str) -> list[Row]:
    def value(row: Row) -> Any:
        ticket, comments = row
        if sort_by in ("resolved_at", "closed_at"):
            return ticket.get("closed_at")
        if sort_by == "summary":
            return ticket["summary"].casefold()
        if sort_by == "status":
            return status_of(ticket, comments)
        return ticket[sort_by]

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: (value(r), r[0]["number"]), reverse=order == "desc")
    missing.sort(key=lambda r: r[0]["number"], reverse=order == "desc")
    return present + missing  # tickets without the sort value come last either way
