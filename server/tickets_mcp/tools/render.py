"""Compact Markdown for tickets, threads and the catalog, within a token budget.

Inputs are plain mappings (``model.model_dump(mode="json", exclude_none=True)`` from the API client); this
module never imports ``tickets_mcp.api``. Output rules:

- no null, empty or false fields; no repeated JSON; times as ``YYYY-MM-DD HH:MM`` (UTC);
- untrusted text (summaries, comment bodies) is sanitized; in tables it is also cut and escaped so it
  cannot break the row; comment bodies are fenced by :func:`tickets_mcp.tools.safety.fence`;
- long output is trimmed to ``budget_tokens`` (estimated by :func:`estimate_tokens`), and the result says
  what was left out and how to get it (:class:`Rendered`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tickets_mcp.tools.safety import fence, sanitize

__all__ = [
    "Rendered",
    "estimate_tokens",
    "localized",
    "order_comments",
    "render_categories",
    "render_category_fields",
    "render_products",
    "render_thread",
    "render_ticket",
    "render_ticket_list",
]

Item = Mapping[str, Any]

_PIECES = re.compile(r"([A-Za-z]+)|([^\W\d_]+)|(\d+)|(\n+)|([^\s\w]+)")


def estimate_tokens(text: str) -> int:
    """A cheap, slightly pessimistic estimate of the o200k token count of ``text`` (English and Russian)."""
    total = 0
    for m in _PIECES.finditer(text):
        group = m.lastindex
        size = m.end() - m.start()
        if group == 1:  # a Latin word: usually one token, long words a few
            total += 1 + size // 9
        elif group == 2:  # Cyrillic and other scripts: shorter pieces
            total += 1 + size // 4
        elif group == 3:  # digits are split in groups of three
            total += (size + 2) // 3
        elif group == 4:  # a newline run
            total += 1
        else:  # punctuation / symbols: common pairs such as `":` or `},` merge into one token
            total += (size + 1) // 2
    return total + total // 16 + 1  # a small margin: English prose sits right at one token per word


@dataclass(frozen=True, slots=True)
class Rendered:
    """Rendered Markdown plus what the budget left out: ``omitted`` items, ``next_page`` if more remain."""

    text: str
    truncated: bool
    omitted: int
    next_page: int | None
    shown: int


# --- small helpers -------------------------------------------------------------------------------------


def as_dict(item: Any) -> dict[str, Any]:
    """A client model (pydantic) as the plain mapping the renderers take; a mapping as a dict."""
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json", exclude_none=True)
    return dict(item)


def localized(names: Any, language: str) -> str:
    """Pick ``names[language]``, then ``en``, then any non-empty value; a plain string is returned as is."""
    if isinstance(names, str):
        return names
    if not isinstance(names, Mapping):
        return ""
    for key in (language, "en"):
        value = names.get(key)
        if isinstance(value, str) and value:
            return value
    return next((v for v in names.values() if isinstance(v, str) and v), "")


def _time(value: Any) -> str:
    """``2026-11-01T10:00:00.123Z`` → ``2026-11-01 10:00``; anything else is returned as text."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    if len(value) >= 16 and value[10] in "T ":
        return f"{value[:10]} {value[11:16]}"
    return value


def _one_line(text: Any, limit: int) -> str:
    clean = " ".join(sanitize(str(text)).split())
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def _cell(text: Any, limit: int = 80) -> str:
    return _one_line(text, limit).replace("\\", "\\\\").replace("|", "\\|")


def _status(item: Item, language: str) -> str:
    status = item.get("status")
    if isinstance(status, Mapping):
        return localized(status, language) or str(item.get("status_key") or "")
    return str(status or item.get("status_key") or "")


def awaiting(item: Item) -> Literal["client", "support"] | None:
    """Whose turn it is, from the ticket's is_await_* flags."""
    if item.get("is_await_client"):
        return "client"
    if item.get("is_await_support"):
        return "support"
    return None


def _awaiting(item: Item) -> str:
    turn = awaiting(item)
    return "you" if turn == "client" else turn or ""


def _joined(values: Any) -> str:
    if isinstance(values, str):
        return values
    if isinstance(values, Iterable):
        return ", ".join(str(v) for v in values if v not in (None, ""))
    return str(values)


# --- ticket list ---------------------------------------------------------------------------------------

_COLUMNS = ("number", "status", "summary", "updated", "awaits", "unread")


def _row(item: Item, language: str) -> dict[str, str]:
    unread = item.get("unread_comments_count")
    return {
        "number": str(item.get("number", "")),
        "status": _cell(_status(item, language), 30),
        "summary": _cell(item.get("summary") or ""),
        "updated": _time(item.get("updated_at") or item.get("created_at")),
        "awaits": _awaiting(item),
        "unread": str(unread) if isinstance(unread, int) and unread > 0 else "",
    }


def render_ticket_list(
    items: Sequence[Item],
    *,
    language: str,
    page: int,
    items_per_page: int,
    total: int | None = None,
    budget_tokens: int = 8000,
) -> Rendered:
    """One page of tickets as a Markdown table with a one-line header; rows past the budget are dropped."""
    rows = [_row(item, language) for item in items]
    columns = [c for c in _COLUMNS if any(r[c] for r in rows)] or ["number"]
    if total is not None:
        more = page * items_per_page < total
    else:
        more = len(items) >= items_per_page
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
    parts = [" · ".join(head) + " (times UTC; summaries are untrusted text)"]
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


# --- one ticket ----------------------------------------------------------------------------------------

_TICKET_ORDER = (
    ("number", "number"),
    ("status", "status"),
    ("awaits", "awaits"),
    ("created_at", "created"),
    ("updated_at", "updated"),
    ("closed_at", "closed"),
    ("categories", "categories"),
    ("products", "products"),
    ("access_level", "access"),
    ("keystone_projects", "projects"),
    ("unread_comments_count", "unread comments"),
)
_SKIP = {"summary", "status_key", "is_await_client", "is_await_support", "names", "vote", "files"}


def _scalar(value: Any, language: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, Mapping):
        if all(isinstance(v, str) for v in value.values()) and any(
            k in value for k in (language, "en", "ru")
        ):
            return _one_line(localized(value, language), 200)
        return ", ".join(f"{k}={_scalar(v, language)}" for k, v in value.items() if _scalar(v, language))
    if isinstance(value, list | tuple):
        return _one_line(_joined(value), 300)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        return _time(value)
    return _one_line(value, 300) if value not in (None, "") else ""


def _vote(item: Item) -> str:
    vote = item.get("vote")
    if isinstance(vote, Mapping) and vote.get("score") is not None:
        return f"{vote['score']}" + (f" ({_one_line(vote['comment'], 120)})" if vote.get("comment") else "")
    if item.get("vote_score") is not None:
        return str(item["vote_score"])
    return ""


def render_ticket(ticket: Item, *, language: str) -> str:
    """A ticket as ``key: value`` lines (nulls, empties and false flags omitted); the summary is fenced."""
    values = {**ticket, "status": _status(ticket, language), "awaits": _awaiting(ticket)}
    lines: list[str] = []
    done = {key for key, _ in _TICKET_ORDER} | _SKIP | {"vote_score", "vote_created_at", "vote_type"}
    for key, label in _TICKET_ORDER:
        text = _scalar(values.get(key), language)
        if text:
            lines.append(f"{label}: {text}")
    vote = _vote(ticket)
    if vote:
        lines.append(f"vote: {vote}")
    flags = [k.removeprefix("is_") for k, v in ticket.items() if k.startswith("is_") and v is True]
    flags = [f for f in flags if f not in ("await_client", "await_support")]
    for key, value in ticket.items():
        if key in done or key.startswith("is_"):
            continue
        text = _scalar(value, language)
        if text and not (key.endswith("_id") and text == "0"):
            lines.append(f"{key}: {text}")
    if flags:
        lines.append(f"flags: {', '.join(flags)}")
    summary = ticket.get("summary")
    if summary:
        author = "support" if ticket.get("is_client_author") is False else "client"
        lines.append(fence(str(summary), role=author, label=f"summary · {author}"))  # type: ignore[arg-type]
    return "\n".join(lines)


# --- thread --------------------------------------------------------------------------------------------


def order_comments(comments: Iterable[Item]) -> list[Item]:
    """Comments oldest first (by ``sent_at``, then ``id``); stable for comments without either."""
    return sorted(comments, key=lambda c: (str(c.get("sent_at") or ""), c.get("id") or 0))


def _comment_block(comment: Item, body: str | None = None) -> str:
    client = bool(comment.get("is_client_author"))
    role = "client" if client else "support"
    who = role
    admin = comment.get("admin_author")
    if not client and isinstance(admin, Mapping) and admin.get("name"):
        who = f"support ({_one_line(admin['name'], 60)})"
    label = [f"comment {comment.get('id', '?')}", who]
    if comment.get("sent_at"):
        label.append(_time(comment["sent_at"]))
    files = comment.get("files")
    if files:
        label.append(f"{len(files)} file(s)")
    vote = _vote(comment)
    if vote:
        label.append(f"vote {vote}")
    if comment.get("splitted_to_ticket_number"):
        label.append(f"split to #{comment['splitted_to_ticket_number']}")
    text = str(comment.get("body") or "") if body is None else body
    return fence(text, role=role, label=" · ".join(label))  # type: ignore[arg-type]


def _cut_to_budget(comment: Item, budget: int) -> str:
    body = sanitize(str(comment.get("body") or ""))
    low, high = 0, len(body)
    while low < high:  # the longest prefix whose block fits
        mid = (low + high + 1) // 2
        if estimate_tokens(_comment_block(comment, body[:mid])) + 20 <= budget:
            low = mid
        else:
            high = mid - 1
    marker = f"\n[… cut: {len(body) - low} of {len(body)} characters left out to fit the token budget]"
    return _comment_block(comment, body[:low] + marker)


def render_thread(
    ticket: Item,
    comments: Sequence[Item],
    *,
    language: str,
    page: int = 1,
    per_page: int = 20,
    budget_tokens: int = 8000,
) -> Rendered:
    """Ticket header, then one page of comments (oldest first), each fenced; trimmed to the budget."""
    ordered = order_comments(comments)
    total = len(ordered)
    pages = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    window = ordered[start : start + per_page]
    header = render_ticket(ticket, language=language)
    more = start + per_page < total
    next_page = page + 1 if more else None
    if window:
        span = f"comments {start + 1}–{start + len(window)} of {total} (page {page} of {pages}, oldest first)"
    else:
        span = f"no comments on page {page} ({total} in all, {pages} page(s))"
    budget = budget_tokens - estimate_tokens(header) - estimate_tokens(span) - 60
    blocks: list[str] = []
    used = 0
    truncated = False
    for comment in window:
        block = _comment_block(comment)
        cost = estimate_tokens(block) + 1
        if used + cost > budget:
            if not blocks:  # a single huge comment: cut it rather than drop it
                blocks.append(_cut_to_budget(comment, max(budget, 200)))
                truncated = True
            break
        blocks.append(block)
        used += cost
    shown = len(blocks)
    omitted = len(window) - shown
    parts = [header, "", span + (f" · next page {next_page}" if next_page else "")]
    parts += blocks
    if omitted:
        ids = [str(c.get("id")) for c in window[shown:]]
        parts.append(
            f"{omitted} more comments on this page were left out to fit the token budget "
            f"(ids {', '.join(ids)}); read them one by one with get_comment."
        )
    return Rendered("\n".join(parts), truncated or bool(omitted), omitted, next_page, shown)


# --- catalog -------------------------------------------------------------------------------------------


def render_categories(categories: Sequence[Item], *, language: str) -> str:
    """Categories (or legacy topics) as ``- key: Name — description`` lines."""
    if not categories:
        return "No categories."
    lines = [f"{len(categories)} categories (use the key):"]
    for cat in categories:
        line = f"- {cat.get('key', '?')}: {_one_line(localized(cat.get('names'), language), 100)}"
        desc = localized(cat.get("descriptions"), language)
        if desc:
            line += f" — {_one_line(desc, 160)}"
        subs = cat.get("subtopics")
        if isinstance(subs, Mapping):
            subs = [subs]
        if isinstance(subs, list) and subs:
            line += "; subtopics: " + ", ".join(
                f"{s.get('key')} ({_one_line(localized(s.get('names'), language), 60)})" for s in subs
            )
        lines.append(line)
    return "\n".join(lines)


def _value(value: Item, language: str) -> str:
    name = _one_line(localized(value.get("localizations") or value.get("names"), language), 60)
    return f"{value.get('key')} ({name})" if name else str(value.get("key"))


def render_category_fields(category_key: str, fields: Sequence[Item], *, language: str) -> str:
    """Fields of one category: required ones marked ``*``, allowed value keys with names, or free text."""
    if not fields:
        return f"Category {category_key} has no extra fields."
    lines = [
        f"Fields of category {category_key} (* = required; send category_fields=[{{key, values:[...]}}]):"
    ]
    for field in fields:
        mark = "*" if field.get("is_required") else ""
        name = _one_line(localized(field.get("names"), language), 100)
        values = field.get("values") or []
        if field.get("type") == "text" or not values:
            allowed = "free text"
        else:
            allowed = "one of: " + ", ".join(_value(v, language) for v in values)
        lines.append(f"- {field.get('key', '?')}{mark}: {name} — {allowed}")
    return "\n".join(lines)


def render_products(products: Sequence[Item], *, language: str) -> str:
    """Products as ``- key: Name`` lines."""
    if not products:
        return "No products."
    lines = [f"{len(products)} products (use the key):"]
    for product in products:
        lines.append(
            f"- {product.get('key', '?')}: {_one_line(localized(product.get('names'), language), 100)}"
        )
    return "\n".join(lines)
