"""The Starlette application: ``/support`` (the API), ``/files`` (the Attachments API), ``/identity/v3``
(login), ``/_sandbox`` (admin)."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tickets_mcp.sandbox.config import SandboxConfig
from tickets_mcp.sandbox.errors import ApiError, error_body
from tickets_mcp.sandbox.faults import FaultSpecError
from tickets_mcp.sandbox.files import ROUTES as FILE_ROUTES
from tickets_mcp.sandbox.handlers import ROUTES, read_json
from tickets_mcp.sandbox.middleware import Gate
from tickets_mcp.sandbox.state import SandboxState
from tickets_mcp.sandbox.tickets import comment_view


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def login(request: Request) -> Response:
    state = _state(request)
    token, body = state.auth.login(await read_json(request))
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": token})


# -- admin (no auth, never faulted, never journaled) -------------------------------------------


async def journal(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.journal.clear()
        return JSONResponse({"items": []})
    return JSONResponse({"items": state.journal.entries()})


async def faults(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        try:
            plan = json.loads(await request.body() or b"null")
            if request.query_params.get("mode") == "add":
                state.faults.add(plan)
            else:
                state.faults.set(plan)
        except (ValueError, FaultSpecError) as exc:
            raise ApiError("validation_error", str(exc), fields=[{"field": "$", "reason": str(exc)}]) from exc
    return JSONResponse({"rules": state.faults.describe()})


async def support_reply(request: Request) -> Response:
    state = _state(request)
    body: Any = await read_json(request)
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise ApiError(
            "validation_error", "body is required", fields=[{"field": "body", "reason": "required"}]
        )
    agent = body.get("agent") if isinstance(body.get("agent"), str) else None
    number = int(request.path_params["number"])
    return JSONResponse(comment_view(state.tickets.support_reply(number, text, agent)))


async def mark_read(request: Request) -> Response:
    """W14: the user opened the ticket in the control panel; answers the ticket's v2 view."""
    number = int(request.path_params["number"])
    return JSONResponse(_state(request).mark_read(number))


async def files(request: Request) -> Response:
    """The stored attachments' metadata (never their content), oldest first."""
    return JSONResponse({"items": _state(request).store.all_files()})


async def reset_limits(request: Request) -> Response:
    _state(request).limiter.reset()
    return JSONResponse({"ok": True})


async def health(request: Request) -> Response:
    state = _state(request)
    return JSONResponse({"ok": True, "tickets": state.store.count_tickets()})


# -- errors -------------------------------------------------------------------------------------


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return JSONResponse(error_body("not_found", f"No such resource: {request.url.path}"), status_code=404)
    if exc.status_code == 405:
        return JSONResponse(
            error_body("method_not_allowed", f"{request.method} is not allowed on {request.url.path}"),
            status_code=405,
            headers=dict(exc.headers or {}),
        )
    code = "server_error" if exc.status_code >= 500 else "bad_request"
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)


async def on_crash(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body("server_error", f"Internal error: {type(exc).__name__}"), status_code=500)


def api_routes(config: SandboxConfig, routes: list[Route] | None = None) -> list[Route]:
    """The API's routes (``routes``: the Tickets API's by default, or the Attachments API's), with
    ``config.moved_routes`` served under their new paths: a key ``"GET /topics"`` moves one method (the old
    path then answers that method with 405), ``"/topics"`` every method (404). Paths are relative to
    their mount (``/support`` or ``/files``)."""
    routes = ROUTES if routes is None else routes
    moved = config.moved_routes
    if not moved:
        return routes
    known = {
        key for r in [*ROUTES, *FILE_ROUTES] for key in (r.path, *(f"{m} {r.path}" for m in r.methods or ()))
    }
    unknown = sorted(set(moved) - known)
    if unknown:
        raise ValueError(f"moved_routes: no API route is {unknown}")

    def path_of(route: Route) -> str:
        for method in route.methods or ():
            if f"{method} {route.path}" in moved:
                return moved[f"{method} {route.path}"]
        return moved.get(route.path, route.path)

    return [Route(path_of(r), r.endpoint, methods=sorted(r.methods or ())) for r in routes]


def create_app(config: SandboxConfig | None = None, *, state: SandboxState | None = None) -> Starlette:
    """A Starlette app serving one sandbox; ``state`` lets a caller keep a handle on its data."""
    config = config or SandboxConfig()
    state = state or SandboxState(config)
    app = Starlette(
        routes=[
            Mount("/support", routes=api_routes(config)),
            Mount("/files", routes=api_routes(config, FILE_ROUTES)),
            Route("/identity/v3/auth/tokens", login, methods=["POST"]),
            Route("/_sandbox/journal", journal, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/tickets/{number:int}/support-reply", support_reply, methods=["POST"]),
            Route("/_sandbox/tickets/{number:int}/read", mark_read, methods=["POST"]),
            Route("/_sandbox/limits", reset_limits, methods=["DELETE"]),
            Route("/_sandbox/files", files, methods=["GET"]),
            Route("/_sandbox/health", health, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                Gate, faults=state.faults, journal=state.journal, auth=state.auth, stopping=state.stopping
            )
        ],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash},
    )
    app.state.sandbox = state
    return app
