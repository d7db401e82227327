"""Argument validation and answer parsing helpers shared by the client's methods."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tickets_mcp.api.errors import FieldError, invalid_arguments

M = TypeVar("M", bound=BaseModel)


def validate(operation: str, model: type[M], **values: Any) -> M:
    try:
        return model(**values)
    except ValidationError as exc:
        raise invalid_arguments(operation, [field_error(e) for e in exc.errors()]) from None


def field_error(error: Any) -> FieldError:
    allowed: list[Any] | None = None
    if error.get("type") == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", ""))
        allowed = [a or (int(b) if b else None) for a, b in re.findall(r"'([^']*)'|(-?\d+)", expected)]
    field = ".".join(str(part) for part in error.get("loc", ())) or "$"
    return FieldError(field=field, reason=str(error.get("msg", "invalid")), allowed=allowed)


def items_parser(model: type[M]) -> Callable[[Any], list[M]]:
    """Parser of ``{items: [...]}`` (or a bare list) into a list of ``model``."""

    def parse(data: Any) -> list[M]:
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("no items list")
        return [model.model_validate(item) for item in items]

    return parse


def keywords(values: dict[str, Any]) -> dict[str, Any]:
    """A method's keyword arguments from its ``locals()`` (without ``self``)."""
    return {k: v for k, v in values.items() if k != "self"}
