"""Request validation: the reference's own bounds, and those a wire decision documents as an assumption
(W9 category fields, W15 bounds the reference leaves open). Nothing here writes.

Every checker collects all problems of a request into one 400 ``validation_error`` whose
``fields`` name each offending field (dotted path, list indexes as numbers) with a reason, plus
``allowed`` where the set of valid values is closed.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import QueryParams

from tickets_mcp.sandbox.errors import Problems

ACCESS_LEVELS = ["all_users", "account_users", "project_users"]
V2_SORT_BY = ["created_at", "updated_at", "resolved_at", "closed_at"]
V1_SORT_BY = ["created_at", "updated_at", "number", "summary", "status"]
CATALOG_SORT_BY = ["view_priority", "id", "key"]
SORT_ORDERS = ["asc", "desc"]
BODY_MAX = 50000
SUMMARY_MAX = 255
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TRUE = {"true", "1", "True", "TRUE"}
FALSE = {"false", "0", "False", "FALSE"}
MISSING = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_object(body: Any, problems: Problems) -> dict[str, Any]:
    if not isinstance(body, dict):
        problems.add("$", "request body must be a JSON object")
        problems.raise_if_any()
    return body


def _given(
    data: dict[str, Any], key: str, problems: Problems, *, required: bool, allowed: list[Any] | None = None
) -> Any:
    """The value of ``key``, or MISSING when it is absent or null (a problem when it is required)."""
    value = data.get(key, MISSING)
    if value is MISSING or value is None:
        if required:
            problems.add(key, "required", allowed)
        return MISSING
    return value


def text(
    data: dict[str, Any], key: str, problems: Problems, *, required: bool, lo: int = 1, hi: int | None = None
) -> str | None:
    value = _given(data, key, problems, required=required)
    if value is MISSING:
        return None
    if not isinstance(value, str):
        problems.add(key, "must be a string")
        return None
    if len(value) < lo:
        problems.add(key, f"must be at least {lo} character(s)")
    elif hi is not None and len(value) > hi:
        problems.add(key, f"must be at most {hi} characters")
    return value


def integer(
    data: dict[str, Any],
    key: str,
    problems: Problems,
    *,
    required: bool,
    lo: int | None = None,
    hi: int | None = None,
    allowed: list[int] | None = None,
) -> int | None:
    value = _given(data, key, problems, required=required)
    if value is MISSING:
        return None
    if not _is_int(value):
        problems.add(key, "must be an integer")
        return None
    if allowed is not None and value not in allowed:
        problems.add(key, "not one of the allowed values", allowed)
    elif lo is not None and hi is not None and not lo <= value <= hi:
        problems.add(key, f"must be between {lo} and {hi}")
    return value


def enum(
    data: dict[str, Any], key: str, problems: Problems, allowed: list[str], *, required: bool
) -> str | None:
    value = _given(data, key, problems, required=required, allowed=allowed)
    if value is MISSING:
        return None
    if value not in allowed:
        problems.add(key, "not one of the allowed values", allowed)
        return None
    return value


def string_list(
    data: dict[str, Any],
    key: str,
    problems: Problems,
    *,
    required: bool,
    lo: int = 0,
    hi: int | None = None,
    nullable: bool = False,
) -> list[str] | None:
    value = data.get(key, MISSING)
    if value is MISSING or (value is None and nullable):
        if required:
            problems.add(key, "required")
        return None
    if not isinstance(value, list):
        problems.add(key, "must be an array of strings")
        return None
    bad = [i for i, item in enumerate(value) if not isinstance(item, str) or not item]
    for i in bad:
        problems.add(f"{key}.{i}", "must be a non-empty string")
    if len(value) < lo:
        problems.add(key, f"must have at least {lo} item(s)")
    elif hi is not None and len(value) > hi:
        problems.add(key, f"must have at most {hi} item(s)")
    return None if bad else list(value)


def files(data: dict[str, Any], problems: Problems, *, required: bool, lo: int) -> list[str]:
    """File UUIDs: ``lo``..10 items (v1 bodies: 1..10 where given; v2 create: 0..10)."""
    value = string_list(data, "files", problems, required=required, lo=lo, hi=10)
    if value is None:
        return []
    for i, item in enumerate(value):
        if not UUID_RE.match(item):
            problems.add(f"files.{i}", "must be a UUID")
    return value


def projects_for(
    access_level: str | None,
    projects: list[str] | None,
    problems: Problems,
    *,
    field: str = "keystone_projects",
) -> None:
    """W: ``keystone_projects`` is required and non-empty when the access level is ``project_users``."""
    if access_level == "project_users" and not projects and not problems.has(field):
        problems.add(field, "required and non-empty for access_level project_users")


# -- query strings ------------------------------------------------------------------------------


def q_list(params: QueryParams, key: str) -> list[str]:
    """W3: repeated keys, or comma-separated values."""
    out: list[str] = []
    for raw in params.getlist(key):
        out.extend(part.strip() for part in raw.split(",") if part.strip())
    return out


def q_bool(params: QueryParams, key: str, problems: Problems) -> bool | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    problems.add(key, "must be a boolean", ["true", "false"])
    return None


def q_int(params: QueryParams, key: str, problems: Problems, default: int, lo: int, hi: int | None) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.add(key, "must be an integer")
        return default
    if value < lo or (hi is not None and value > hi):
        problems.add(key, f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}")
        return default
    return value


def q_enum(
    params: QueryParams, key: str, problems: Problems, allowed: list[str], default: str | None
) -> str | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    if raw not in allowed:
        problems.add(key, "not one of the allowed values", allowed)
        return default
    return raw


# -- catalog-aware checks -----------------------------------------------------------------------


def _field_values(field: dict[str, Any], values: list[str], path: str, problems: Problems) -> bool:
    """W9: how many values a field takes and which; False when a problem was added."""
    allowed = [v["key"] for v in field.get("values") or []]
    kind = field.get("type")
    ok = True
    if not allowed:
        if len(values) != 1:
            problems.add(f"{path}.values", "a free-text field (no catalog values) takes exactly one value")
            ok = False
    elif kind == "select" and len(values) != 1:
        problems.add(f"{path}.values", "a select field takes exactly one value", allowed)
        ok = False
    for j, value in enumerate(values if allowed else []):
        if value not in allowed:
            problems.add(f"{path}.values.{j}", "not one of the allowed values", allowed)
            ok = False
    return ok


def category_fields(
    raw: Any,
    chosen: list[dict[str, Any]],
    problems: Problems,
) -> list[dict[str, Any]]:
    """W9, an assumption (the reference is silent on required fields and value counts).

    A key belongs to one of the chosen categories (the first chosen category that has it defines it)
    and appears once; ``values`` is a non-empty list of non-empty strings. A field without catalog
    values is free text: exactly one value. A field with catalog values takes keys among them:
    exactly one for ``type: "select"``, one or more for ``"multiselect"`` or when ``type`` is absent.
    A field with ``is_required: true`` must be given; without it (or false) it is optional.
    """
    fields_by_key: dict[str, dict[str, Any]] = {}
    for category in chosen:
        for field in category.get("fields", []):
            fields_by_key.setdefault(field["key"], field)
    given: list[dict[str, Any]] = []
    seen: set[str] = set()
    if raw is not None and not isinstance(raw, list):
        problems.add("category_fields", "must be an array of {key, values} objects")
        return []
    for i, item in enumerate(raw or []):
        path = f"category_fields.{i}"
        if not isinstance(item, dict):
            problems.add(path, "must be an object {key, values}")
            continue
        key, values = item.get("key"), item.get("values")
        if not isinstance(key, str) or key not in fields_by_key:
            problems.add(f"{path}.key", "not a field of the chosen categories", sorted(fields_by_key))
            continue
        if key in seen:
            problems.add(f"{path}.key", "duplicate field")
            continue
        seen.add(key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            problems.add(f"{path}.values", "must be a non-empty array of non-empty strings")
            continue
        if _field_values(fields_by_key[key], values, path, problems):
            given.append({"key": key, "values": list(values)})
    for key, field in fields_by_key.items():
        if field.get("is_required") is True and key not in seen:
            problems.add(f"category_fields.{key}", "required field of the chosen categories")
    return given
