"""The W4 error body and the exception that carries it through the handlers."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

STATUS_CODES = {
    "validation_error": 400,
    "ticket_closed": 400,
    "ticket_not_closed": 400,
    "not_votable": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "file_too_large": 413,
    "rate_limited": 429,
    "server_error": 500,
}


class ApiError(Exception):
    """An error answer: ``{"error": {"code", "message", "fields"?}}`` with its HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_CODES.get(code, 400)
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class Problems:
    """Collects every validation problem of one request, so a 400 names them all."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, reason: str, allowed: list[Any] | None = None) -> None:
        item: dict[str, Any] = {"field": field, "reason": reason}
        if allowed is not None:
            item["allowed"] = list(allowed)
        self.items.append(item)

    def has(self, field: str) -> bool:
        return any(item["field"] == field for item in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            names = ", ".join(item["field"] for item in self.items)
            raise ApiError("validation_error", f"Invalid request: {names}", fields=self.items)
