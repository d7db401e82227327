"""The dry run: a ticket draft judged the way the API judges it (used by dry runs and real creates alike).

What a draft that passes here is promised: the API accepts it, rate limits aside. Checked against the
catalog (cached with a TTL):

- every category is an **active** one (`list_categories(is_only_active=true)`);
- every product exists (top-level or a sub-product);
- every category field belongs to a chosen category, is given once, with at least one value; a field
  without catalog values takes one free-text value; values of a field with catalog values are among them;
- `project_users` access needs IAM projects.

What the vendor's catalog does not describe is checked only where the catalog says it: a field is
required only if it carries ``is_required: true``, single-valued only if its ``type`` is ``select``.
Where a chosen category's fields do not say, `Draft.unchecked` says so plainly instead of guessing.
Possible duplicates among the user's open tickets are a hint, never a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tickets_mcp.api.models import CategoryField
from tickets_mcp.mcp_server.outputs import Problem, TicketBrief, brief, ticket_view
from tickets_mcp.mcp_server.results import shown
from tickets_mcp.mcp_server.state import Caller

_WORD = re.compile(r"\w{3,}", re.UNICODE)
DUPLICATE_SIMILARITY = 0.5


@dataclass
class Draft:
    """The verdict on a draft: what must change, and what the catalog could not tell."""

    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def problem(self, where: str, message: str, allowed: Sequence[str] | None = None) -> None:
        self.problems.append(
            Problem(field=where, message=message, allowed=list(allowed) if allowed else None)
        )


async def _product_keys(state: Caller, wanted: Sequence[str]) -> set[str]:
    """Top-level product keys, plus the sub-products of each until every wanted key is found."""
    top = await state.catalog.products()
    keys = {p.key for p in top}
    for parent in top:
        if all(k in keys for k in wanted):
            break
        keys |= {p.key for p in await state.catalog.products(parent.key)}
    return keys


def _field_values(draft: Draft, i: int, spec: CategoryField, values: list[str]) -> None:
    where = f"category_fields[{i}].values"
    allowed = [v.key for v in spec.values]
    if not values or not all(isinstance(v, str) and v for v in values):
        draft.problem(where, f"field {spec.key!r} needs at least one non-empty value", allowed)
    elif not allowed and len(values) != 1:
        draft.problem(where, f"field {spec.key!r} takes one free-text value")
    elif allowed and (bad := [v for v in values if v not in allowed]):
        draft.problem(
            where, f"value(s) {', '.join(map(shown, bad))} not allowed for field {spec.key!r}", allowed
        )
    elif spec.type == "select" and len(values) != 1:
        draft.problem(where, f"field {spec.key!r} takes exactly one value", allowed)


async def _check_fields(
    state: Caller, draft: Draft, categories: Sequence[str], given: Sequence[Mapping[str, Any]]
) -> None:
    fields: dict[str, CategoryField] = {}
    for category in categories:
        for f in await state.catalog.fields(category):
            fields.setdefault(f.key, f)
    seen: set[str] = set()
    for i, item in enumerate(given):
        key = str(item.get("key"))
        spec = fields.get(key)
        if spec is None:
            draft.problem(
                f"category_fields[{i}].key",
                f"unknown field {shown(key)} for categories {', '.join(categories)}",
                sorted(fields),
            )
        elif key in seen:
            draft.problem(f"category_fields[{i}].key", f"field {key!r} is given twice")
        else:
            seen.add(key)
            _field_values(draft, i, spec, list(item.get("values") or []))
    for key, spec in fields.items():
        if spec.is_required and key not in seen:
            free = "" if spec.values else " (free text)"
            draft.problem(
                "category_fields", f"required field {key!r} is missing{free}", [v.key for v in spec.values]
            )
    silent = sorted(k for k, f in fields.items() if f.is_required is None and k not in seen)
    if silent:
        draft.unchecked.append(
            f"the catalog does not say whether {', '.join(silent)} {'is' if len(silent) == 1 else 'are'} required"
        )
    several = sorted(
        str(item.get("key"))
        for item in given
        if (spec := fields.get(str(item.get("key"))))
        and spec.values
        and spec.type is None
        and len(item.get("values") or []) > 1
    )
    if several:
        draft.unchecked.append(
            f"the catalog does not say whether {', '.join(several)} take(s) several values"
        )


async def check_draft(state: Caller, draft_: Mapping[str, Any]) -> Draft:
    """The verdict on a draft (its problems empty when the API will accept it)."""
    draft = Draft()
    active = {c.key for c in await state.catalog.categories()}
    chosen = []
    for i, key in enumerate(draft_.get("categories") or []):
        if key in active:
            chosen.append(key)
        else:
            draft.problem(f"categories[{i}]", f"unknown or inactive category {shown(key)}", sorted(active))
    wanted = list(draft_.get("products") or [])
    if wanted:
        known = await _product_keys(state, wanted)
        for i, key in enumerate(wanted):
            if key not in known:
                draft.problem(f"products[{i}]", f"unknown product {shown(key)}", sorted(known))
    if chosen:
        await _check_fields(state, draft, chosen, draft_.get("category_fields") or [])
    if draft_.get("access_level") == "project_users" and not draft_.get("keystone_projects"):
        draft.problem("keystone_projects", "access_level project_users needs at least one IAM project id")
    return draft


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


async def possible_duplicates(state: Caller, summary: str) -> list[TicketBrief]:
    """Open tickets whose summary shares most words with this one (Jaccard ≥ 0.5)."""
    words = _words(summary)
    if not words:
        return []
    page = await state.client.search_tickets(is_only_opened=True, items_per_page=100, sort_by="updated_at")
    found = []
    for item in page.items:
        other = _words(item.summary or "")
        if other and len(words & other) / len(words | other) >= DUPLICATE_SIMILARITY:
            found.append(brief(ticket_view(item)))
    return found[:5]
