"""The operations of the vendor reference, mounted under ``/support``."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tickets_mcp.sandbox import validate as v
from tickets_mcp.sandbox.auth import Principal
from tickets_mcp.sandbox.errors import ApiError, Problems
from tickets_mcp.sandbox.files import check_files
from tickets_mcp.sandbox.listing import filtered, sort_rows
from tickets_mcp.sandbox.state import SandboxState
from tickets_mcp.sandbox.tickets import comment_view, ticket_v1, ticket_v2, vote_view

Handler = Callable[[Request, SandboxState, Principal], Awaitable[Any]]
UPDATE = ["PATCH", "PUT"]


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def read_json(request: Request, *, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if default is not None:
            return default
        problems = Problems()
        problems.add("$", "request body is required")
        problems.raise_if_any()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            "validation_error",
            f"Request body is not valid JSON: {exc}",
            fields=[{"field": "$", "reason": "invalid JSON"}],
        ) from exc


def authed(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        state = _state(request)
        principal = state.auth.require(request.headers)
        result = await handler(request, state, principal)
        return result if isinstance(result, JSONResponse) else JSONResponse(result)

    return endpoint


def _number(request: Request, name: str) -> int:
    return int(request.path_params[name])


# -- listing ------------------------------------------------------------------------------------


async def list_v2(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    params = request.query_params
    page = v.q_int(params, "page", problems, 1, 1, None)
    per_page = v.q_int(params, "items_per_page", problems, 10, 1, 1000)
    sort_by = v.q_enum(params, "sort_by", problems, v.V2_SORT_BY, "created_at") or "created_at"
    order = v.q_enum(params, "sort_by_order", problems, v.SORT_ORDERS, "desc") or "desc"
    rows = filtered(state, params, problems, v1=False)
    problems.raise_if_any()
    rows = sort_rows(rows, sort_by, order)[(page - 1) * per_page : page * per_page]
    return {"items": [ticket_v2(t, c, full=False) for t, c in rows], "items_per_page": per_page, "page": page}


async def count_v2(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    rows = filtered(state, request.query_params, problems, v1=False)
    problems.raise_if_any()
    return {"items_count": len(rows)}


async def list_v1(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    params = request.query_params
    page = v.q_int(params, "page", problems, 1, 1, None)
    per_page = v.q_int(params, "items_per_page", problems, 10, 1, 1000)
    sort_by = v.q_enum(params, "sort_by", problems, v.V1_SORT_BY, "created_at") or "created_at"
    order = v.q_enum(params, "sort_by_order", problems, v.SORT_ORDERS, "desc") or "desc"
    rows = filtered(state, params, problems, v1=True)
    problems.raise_if_any()
    total = len(rows)
    rows = sort_rows(rows, sort_by, order)[(page - 1) * per_page : page * per_page]
    return {
        "item_count": total,
        "items": [ticket_v1(t, c, full=False) for t, c in rows],
        "items_per_page": per_page,
        "page": page,
        "page_count": math.ceil(total / per_page),
    }


# -- single tickets -----------------------------------------------------------------------------


async def get_v2(request: Request, state: SandboxState, principal: Principal) -> Any:
    return ticket_v2(*state.tickets.get(_number(request, "number")))


async def get_v1(request: Request, state: SandboxState, principal: Principal) -> Any:
    return ticket_v1(*state.tickets.get(_number(request, "ticket_number")))


def _categories(state: SandboxState, keys: list[str] | None, problems: Problems) -> list[dict[str, Any]]:
    catalog = {c["key"]: c for c in state.store.catalog("category")}
    active = sorted(k for k, c in catalog.items() if c.get("is_active", True))
    chosen = []
    for i, key in enumerate(keys or []):
        category = catalog.get(key)
        if category is None or not category.get("is_active", True):
            problems.add(f"categories.{i}", "unknown or inactive category", active)
        else:
            chosen.append(category)
    return chosen


async def create_v2(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    body = v.check_object(await read_json(request), problems)
    level = v.enum(body, "access_level", problems, v.ACCESS_LEVELS, required=True)
    categories = v.string_list(body, "categories", problems, required=True, lo=1)
    files = v.files(body, problems, required=True, lo=0)
    check_files(state, principal, files, problems)
    projects = v.string_list(body, "keystone_projects", problems, required=True)
    products = v.string_list(body, "products", problems, required=True)
    summary = v.text(body, "summary", problems, required=True)
    comment = v.text(body, "comment_body", problems, required=False, hi=v.BODY_MAX)
    secrets = body.get("secrets", v.MISSING)
    if secrets is v.MISSING:
        problems.add("secrets", "required")
    elif not isinstance(secrets, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in secrets
    ):
        problems.add("secrets", "must be an array of integers")
    if body.get("body_values") is not None and not isinstance(body["body_values"], dict):
        problems.add("body_values", "must be an object or null")
    v.projects_for(level, projects, problems)
    chosen = _categories(state, categories, problems)
    known_products = {p["key"] for p in state.store.catalog("product")}
    for i, key in enumerate(products or []):
        if key not in known_products:
            problems.add(f"products.{i}", "unknown product", sorted(known_products))
    fields = v.category_fields(body.get("category_fields"), chosen, problems) if chosen else []
    problems.raise_if_any()
    state.limiter.check(principal.account_id, "create")
    data = {**body, "summary": summary, "access_level": level, "category_fields": fields}
    number = state.tickets.create(data, comment, files, principal.author_id)
    state.limiter.record(principal.account_id, "create")
    state.schedule_auto_reply(number)
    return ticket_v2(*state.tickets.get(number))


async def create_v1(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    body = v.check_object(await read_json(request), problems)
    files = v.files(body, problems, required=False, lo=1)
    check_files(state, principal, files, problems)
    comment = v.text(body, "comment_body", problems, required=True, hi=v.BODY_MAX)
    summary = v.text(body, "summary", problems, required=True, hi=v.SUMMARY_MAX)
    topic = v.text(body, "topic_key", problems, required=False)
    v.integer(body, "notice_id", problems, required=False)
    level = v.enum(body, "access_level", problems, v.ACCESS_LEVELS, required=False)
    projects = v.string_list(body, "keystone_projects", problems, required=False, lo=1, hi=1, nullable=True)
    v.projects_for(level, projects, problems)
    if topic:
        topics = state.store.catalog("topic")
        keys = [t["key"] for t in topics] + [t["subtopics"]["key"] for t in topics if t.get("subtopics")]
        if topic not in keys:
            problems.add("topic_key", "unknown topic", sorted(set(keys)))
    problems.raise_if_any()
    state.limiter.check(principal.account_id, "create")
    data = {
        **body,
        "summary": summary,
        "access_level": level or "account_users",
        "categories": [],
        "products": [],
    }
    number = state.tickets.create(data, comment, files, principal.author_id)
    state.limiter.record(principal.account_id, "create")
    state.schedule_auto_reply(number)
    return ticket_v1(*state.tickets.get(number))


async def update_v2(request: Request, state: SandboxState, principal: Principal) -> Any:
    number = _number(request, "number")
    state.tickets.get(number)
    problems = Problems()
    body = v.check_object(await read_json(request), problems)
    level = v.enum(body, "access_level", problems, v.ACCESS_LEVELS, required=True)
    projects = v.string_list(body, "keystone_projects", problems, required=True)
    v.projects_for(level, projects, problems)
    problems.raise_if_any()
    state.tickets.update(number, level, projects)
    return ticket_v2(*state.tickets.get(number))


async def update_v1(request: Request, state: SandboxState, principal: Principal) -> Any:
    number = _number(request, "ticket_number")
    ticket, _ = state.tickets.get(number)
    problems = Problems()
    body = v.check_object(await read_json(request, default={}), problems)
    level = v.enum(body, "access_level", problems, v.ACCESS_LEVELS, required=False)
    projects = v.string_list(body, "keystone_projects", problems, required=False, lo=1, hi=1, nullable=True)
    effective = level or ticket["access_level"]
    v.projects_for(effective, projects if projects is not None else ticket["keystone_projects"], problems)
    problems.raise_if_any()
    state.tickets.update(number, level, projects)
    return ticket_v1(*state.tickets.get(number))


# -- lifecycle, votes, comments -----------------------------------------------------------------


async def _score_and_comment(
    request: Request, state: SandboxState, *, required: bool, hi: int
) -> tuple[int, int | None, str | None]:
    """The ticket number, and the ``score`` (1..hi) and ``comment`` of a close or vote body."""
    number = _number(request, "ticket_number")
    state.tickets.get(number)
    problems = Problems()
    body = v.check_object(await read_json(request, default={}), problems)
    comment = v.text(body, "comment", problems, required=False)
    score = v.integer(body, "score", problems, required=required, lo=1, hi=hi)
    problems.raise_if_any()
    return number, score, comment


async def close(request: Request, state: SandboxState, principal: Principal) -> Any:
    number, score, comment = await _score_and_comment(request, state, required=False, hi=5)
    state.tickets.close(number, score, comment)
    return ticket_v1(*state.tickets.get(number))


async def reopen(request: Request, state: SandboxState, principal: Principal) -> Any:
    number = _number(request, "ticket_number")
    state.tickets.get(number)
    problems = Problems()
    body = v.check_object(await read_json(request, default={}), problems)
    files = v.files(body, problems, required=False, lo=1)
    check_files(state, principal, files, problems)
    text = v.text(body, "body", problems, required=True, hi=v.BODY_MAX)
    problems.raise_if_any()
    assert text is not None
    state.tickets.reopen(number, text, files, principal.author_id)
    state.schedule_auto_reply(number)
    return ticket_v1(*state.tickets.get(number))


async def vote_ticket(request: Request, state: SandboxState, principal: Principal) -> Any:
    number, score, comment = await _score_and_comment(request, state, required=True, hi=10)
    assert score is not None
    return vote_view(state.tickets.vote_ticket(number, score, comment))


async def add_comment(request: Request, state: SandboxState, principal: Principal) -> Any:
    number = _number(request, "ticket_number")
    state.tickets.get(number)
    problems = Problems()
    body = v.check_object(await read_json(request, default={}), problems)
    files = v.files(body, problems, required=False, lo=1)
    check_files(state, principal, files, problems)
    text = v.text(body, "body", problems, required=True, hi=v.BODY_MAX)
    problems.raise_if_any()
    assert text is not None
    state.tickets.check_open(number)
    state.limiter.check(principal.account_id, "comment")
    comment = state.tickets.add_comment(number, text, files, client=True, author=principal.author_id)
    state.limiter.record(principal.account_id, "comment")
    state.schedule_auto_reply(number)
    return comment_view(comment)


async def list_comments(request: Request, state: SandboxState, principal: Principal) -> Any:
    comments = state.tickets.list_comments(_number(request, "ticket_number"))
    return {"items": [comment_view(c) for c in comments]}


async def get_comment(request: Request, state: SandboxState, principal: Principal) -> Any:
    return comment_view(state.tickets.get_comment(_number(request, "comment_id")))


async def vote_comment(request: Request, state: SandboxState, principal: Principal) -> Any:
    comment_id = _number(request, "comment_id")
    state.tickets.find_comment(comment_id)  # 404 first; a closed ticket is refused after validation
    problems = Problems()
    body = v.check_object(await read_json(request, default={}), problems)
    comment = v.text(body, "comment", problems, required=False)
    score = v.integer(body, "score", problems, required=True, allowed=[1, -1])
    problems.raise_if_any()
    assert score is not None
    return vote_view(state.tickets.vote_comment(comment_id, score, comment))


# -- catalog ------------------------------------------------------------------------------------


def _catalog_sort(request: Request, items: list[dict[str, Any]], problems: Problems) -> list[dict[str, Any]]:
    sort_by = v.q_enum(request.query_params, "sort_by", problems, v.CATALOG_SORT_BY, "view_priority")
    order = v.q_enum(request.query_params, "sort_by_order", problems, v.SORT_ORDERS, "asc")
    problems.raise_if_any()
    return sorted(items, key=lambda item: item[sort_by or "view_priority"], reverse=order == "desc")


async def list_topics(request: Request, state: SandboxState, principal: Principal) -> Any:
    return {"items": state.store.catalog("topic")}


async def list_categories(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    only_active = v.q_bool(request.query_params, "is_only_active", problems)
    items = state.store.catalog("category")
    if only_active:
        items = [c for c in items if c.get("is_active", True)]
    items = _catalog_sort(request, items, problems)
    keys = ("descriptions", "id", "key", "names")
    return {"items": [{k: c[k] for k in keys} for c in items]}


async def category_fields(request: Request, state: SandboxState, principal: Principal) -> Any:
    key = request.path_params["category"]
    for category in state.store.catalog("category"):
        if category["key"] == key:
            return {"items": category.get("fields", [])}
    raise ApiError("not_found", f"Category {key!r} not found")


async def list_products(request: Request, state: SandboxState, principal: Principal) -> Any:
    problems = Problems()
    items = state.store.catalog("product")
    parent = request.query_params.get("parent") or None
    if parent is not None and parent not in {p["key"] for p in items}:
        raise ApiError("not_found", f"Product {parent!r} not found")
    items = [p for p in items if p.get("parent") == parent]
    items = _catalog_sort(request, items, problems)
    return {"items": [{"id": p["id"], "key": p["key"], "names": p["names"]} for p in items]}


ROUTES = [
    Route("/v2/tickets", authed(create_v2), methods=["POST"]),
    Route("/v2/tickets", authed(list_v2), methods=["GET"]),
    Route("/v2/tickets/count", authed(count_v2), methods=["GET"]),
    Route("/v2/tickets/{number:int}", authed(get_v2), methods=["GET"]),
    Route("/v2/tickets/{number:int}", authed(update_v2), methods=UPDATE),
    Route("/tickets/{ticket_number:int}/close", authed(close), methods=["POST"]),
    Route("/tickets/{ticket_number:int}/reopen", authed(reopen), methods=["POST"]),
    Route("/tickets/{ticket_number:int}/vote", authed(vote_ticket), methods=["POST"]),
    Route("/tickets", authed(create_v1), methods=["POST"]),
    Route("/tickets", authed(list_v1), methods=["GET"]),
    Route("/tickets/{ticket_number:int}", authed(get_v1), methods=["GET"]),
    Route("/tickets/{ticket_number:int}", authed(update_v1), methods=UPDATE),
    Route("/tickets/{ticket_number:int}/comments", authed(add_comment), methods=["POST"]),
    Route("/tickets/{ticket_number:int}/comments", authed(list_comments), methods=["GET"]),
    Route("/comments/{comment_id:int}", authed(get_comment), methods=["GET"]),
    Route("/comments/{comment_id:int}/vote", authed(vote_comment), methods=["POST"]),
    Route("/topics", authed(list_topics), methods=["GET"]),
    Route("/v2/categories", authed(list_categories), methods=["GET"]),
    Route("/v2/categories/{category}/fields", authed(category_fields), methods=["GET"]),
    Route("/v2/products", authed(list_products), methods=["GET"]),
]
