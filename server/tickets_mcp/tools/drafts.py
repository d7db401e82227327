"""Checks that make a ticket draft right the first time (used by dry runs and real creates alike).

- categories and products exist in the catalog (cached with a TTL);
- category fields: required ones present, keys known, values among the allowed values;
- `project_users` needs keystone_projects;
- no secret pasted into the summary or the first comment (use the API's `secrets` instead);
- possible duplicates among the user's open tickets (a hint, not a refusal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tickets_mcp.api.models import CategoryField
from tickets_mcp.tools.lifespan import AppState
from tickets_mcp.tools.outputs import Problem
from tickets_mcp.tools.safety import find_secrets
from tickets_mcp.tools.views import TicketBrief, brief, ticket_view

_WORD = re.compile(r"\w{3,}", re.UNICODE)
DUPLICATE_SIMILARITY = 0.5


async def _product_keys(state: AppState, wanted: Sequence[str]) -> set[str]:
    """Top-level product keys, plus the sub-products of each until every wanted key is found."""
    top = await state.catalog.products()
    keys = {p.key for p in top}
    for parent in top:
        if all(k in keys for k in wanted):
            break
        keys |= {p.key for p in await state.catalog.products(parent.key)}
    return keys


async def _field_problems(
    state: AppState, categories: Sequence[str], given: Sequence[Mapping[str, Any]]
) -> list[Problem]:
    problems: list[Problem] = []
    fields: dict[str, CategoryField] = {}
    for category in categories:
        for f in await state.catalog.fields(category):
            fields[f.key] = f
    given_keys = {str(item.get("key")) for item in given}
    for i, item in enumerate(given):
        key = str(item.get("key"))
        spec = fields.get(key)
        if spec is None:
            problems.append(
                Problem(
                    field=f"category_fields[{i}].key",
                    message=f"unknown field {key!r} for categories {', '.join(categories)}",
                    allowed=sorted(fields) or None,
                )
            )
            continue
        allowed = [v.key for v in spec.values]
        values = [str(v) for v in item.get("values") or []]
        if not values:
            problems.append(
                Problem(field=f"category_fields[{i}].values", message=f"field {key!r} has no value")
            )
        bad = [v for v in values if allowed and v not in allowed]
        if bad:
            problems.append(
                Problem(
                    field=f"category_fields[{i}].values",
                    message=f"value(s) {', '.join(map(repr, bad))} not allowed for field {key!r}",
                    allowed=allowed,
                )
            )
    for key, spec in fields.items():
        if spec.is_required and key not in given_keys:
            allowed = [v.key for v in spec.values]
            problems.append(
                Problem(
                    field="category_fields",
                    message=f"required field {key!r} is missing"
                    + (" (free text)" if not allowed else "; pick one of the allowed values"),
                    allowed=allowed or None,
                )
            )
    return problems


def secret_problems(summary: str, comment_body: str | None) -> list[Problem]:
    problems = []
    for name, text in (("summary", summary), ("comment_body", comment_body or "")):
        for finding in find_secrets(text):
            problems.append(
                Problem(
                    field=name,
                    message=(
                        f"looks like a secret ({finding.kind}: {finding.hint}). Remove it from the text; "
                        "share credentials only through the API's secrets mechanism (pass secret IDs in `secrets`)."
                    ),
                )
            )
    return problems


def mask_secrets(text: str | None) -> str | None:
    """The text with every suspected secret replaced, so previews never echo a pasted key."""
    if not text:
        return text
    for finding in sorted(find_secrets(text), key=lambda f: f.start, reverse=True):
        text = f"{text[: finding.start]}[{finding.kind} removed]{text[finding.end :]}"
    return text


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


async def possible_duplicates(state: AppState, summary: str) -> list[TicketBrief]:
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


async def check_draft(state: AppState, draft: Mapping[str, Any]) -> list[Problem]:
    """Every problem with a draft, or [] when it can be sent as is."""
    problems: list[Problem] = []
    known = {c.key for c in await state.catalog.categories()}
    valid_categories = []
    for i, key in enumerate(draft.get("categories") or []):
        if key in known:
            valid_categories.append(key)
        else:
            problems.append(
                Problem(field=f"categories[{i}]", message=f"unknown category {key!r}", allowed=sorted(known))
            )
    wanted = list(draft.get("products") or [])
    if wanted:
        product_keys = await _product_keys(state, wanted)
        for i, key in enumerate(wanted):
            if key not in product_keys:
                problems.append(
                    Problem(
                        field=f"products[{i}]",
                        message=f"unknown product {key!r}",
                        allowed=sorted(product_keys),
                    )
                )
    if valid_categories:
        problems += await _field_problems(state, valid_categories, draft.get("category_fields") or [])
    if draft.get("access_level") == "project_users" and not draft.get("keystone_projects"):
        problems.append(
            Problem(
                field="keystone_projects",
                message="access_level project_users needs at least one IAM project id",
            )
        )
    problems += secret_problems(str(draft.get("summary") or ""), draft.get("comment_body"))
    return problems
