"""Errors built from answers; auth objects; secrets never in reprs, messages or logs."""

from __future__ import annotations

import logging

import anyio
import httpx2
import pytest

from tickets_mcp.api import (
    AuthError,
    IamToken,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    ServiceUser,
    StaticToken,
    TicketsClient,
)
from tickets_mcp.api.errors import error_from_status, parse_error_body

SECRET = "s3cr3t-VALUE-42"


def test_w4_body_is_parsed() -> None:
    body = {
        "error": {
            "code": "validation_error",
            "message": "Invalid request: summary",
            "fields": [{"field": "access_level", "reason": "not allowed", "allowed": ["all_users"]}],
        }
    }
    error = error_from_status("create_ticket", 400, body)
    assert isinstance(error, InvalidRequest) and error.code == "validation_error" and error.sent
    assert error.fields[0].field == "access_level" and error.fields[0].allowed == ["all_users"]
    assert "access_level" in error.message and "all_users" in error.message


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"detail": "Not found."}, None, "Not found."),
        ({"error": "bad thing"}, None, "bad thing"),
        ({"code": "ticket_closed", "message": "closed"}, "ticket_closed", "closed"),
        ("<html>oops</html>", None, "<html>oops</html>"),
        (None, None, None),
        ([1, 2], None, None),
        ({"error": {"code": {"nested": 1}, "fields": ["x", {"no": "field"}]}}, None, None),
    ],
)
def test_other_shapes_are_tolerated(body: object, code: str | None, message: str | None) -> None:
    assert parse_error_body(body)[:2] == (code, message)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (404, NotFound), (400, InvalidRequest), (409, InvalidRequest),
     (429, RateLimited), (500, ServerError), (503, ServerError)],
)  # fmt: skip
def test_status_maps_to_type(status: int, kind: type[Exception]) -> None:
    error = error_from_status("get_ticket", status, None)
    assert type(error) is kind and error.status == status and error.operation == "get_ticket"
    assert str(error).startswith("get_ticket (HTTP")


def test_closed_ticket_hint() -> None:
    error = error_from_status("add_comment", 400, {"error": {"code": "ticket_closed", "message": "Closed"}})
    assert error.code == "ticket_closed" and "reopen" in error.message


def test_long_upstream_messages_are_clipped() -> None:
    error = error_from_status("get_ticket", 500, {"error": {"message": "x" * 10_000}})
    assert len(error.message) < 700


@pytest.mark.parametrize(
    "auth",
    [
        StaticToken(SECRET),
        IamToken(SECRET),
        ServiceUser("bob", SECRET, "123", "http://id.invalid/identity/v3"),
    ],
    ids=["static", "iam", "service_user"],
)
def test_secrets_never_in_repr(auth: object) -> None:
    assert SECRET not in repr(auth) and SECRET not in str(auth)
    assert SECRET not in repr(TicketsClient("https://x.invalid/support", auth))  # type: ignore[arg-type]
    assert SECRET not in auth.identity


def test_modes() -> None:
    assert StaticToken("a").mode == "static" and IamToken("a").mode == "iam"
    assert ServiceUser("u", "p", "1").mode == "service_user"
    with pytest.raises(ValueError):
        StaticToken("")


def keystone(calls: list[httpx2.Request], status: int = 201, delay: float = 0.0) -> httpx2.MockTransport:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/auth/tokens"):
            calls.append(request)
            await anyio.sleep(delay)
            if status != 201:
                return httpx2.Response(status, json={"error": {"code": "unauthorized", "message": "no"}})
            body = {"token": {"issued_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z"}}
            return httpx2.Response(201, json=body, headers={"X-Subject-Token": f"iam-{len(calls)}"})
        assert request.headers["X-Auth-Token"].startswith("iam-")
        return httpx2.Response(200, json={"number": 1})

    return httpx2.MockTransport(handler)


@pytest.mark.anyio
async def test_concurrent_logins_coalesce() -> None:
    calls: list[httpx2.Request] = []
    auth = ServiceUser("bob", SECRET, "123", "http://id.invalid/identity/v3")
    async with TicketsClient("https://x.invalid/support", auth, transport=keystone(calls, delay=0.05)) as c:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(c.get_ticket, 1)
    assert len(calls) == 1 and auth.logins == 1


@pytest.mark.anyio
async def test_failed_login_is_auth_error_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    calls: list[httpx2.Request] = []
    auth = ServiceUser("bob", SECRET, "123", "http://id.invalid/identity/v3")
    async with TicketsClient("https://x.invalid/support", auth, transport=keystone(calls, status=401)) as c:
        with pytest.raises(AuthError) as info:
            await c.get_ticket(1)
    assert len(calls) == 1
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in caplog.text


@pytest.mark.anyio
async def test_static_token_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.headers["X-Token"] == SECRET
        return httpx2.Response(401, json={"error": {"code": "unauthorized", "message": "Bad token"}})

    async with TicketsClient(
        "https://x.invalid/support", StaticToken(SECRET), transport=httpx2.MockTransport(handler)
    ) as c:
        with pytest.raises(AuthError) as info:
            await c.get_ticket(1)
    assert info.value.status == 401 and "token" in info.value.message
    assert SECRET not in caplog.text and SECRET not in str(info.value)
