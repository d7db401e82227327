"""Path values cannot change the path: dot segments and separators are refused by the route layer for
every path parameter, before anything is sent; other characters are percent-encoded into one segment."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tickets_mcp.api import ROUTES, InvalidRequest, StaticToken, TicketsClient
from tickets_mcp.api.operations import Operations
from tickets_mcp.api.routes import path_value_problem

pytestmark = pytest.mark.anyio

DOTS = [".", "..", "%2e", "%2E%2e", ".%2e", "%2e.", "%252e%252E", " .. "]
SEPARATORS = ["a/b", "../x", "%2F", "a%2fb", "a\\b", "%5C", "%252F"]
FINE = ["billing", "a?b#c", "x y", "...", ".a", "a.", "%41", "100%", "🙂"]
PATH_ROUTES = {name: route for name, route in ROUTES.items() if route.placeholders}
VALID: dict[str, dict[str, Any]] = {  # arguments that pass validation, but for the path value
    "update_ticket": {"access_level": "account_users", "keystone_projects": []},
    "close_ticket": {},
    "reopen_ticket": {"body": "back again"},
    "rate_ticket": {"score": 5},
    "add_comment": {"body": "hello"},
    "rate_comment": {"score": 1},
}


def test_the_routes_with_path_parameters_are_known() -> None:
    # A new one joins VALID above, so the test below covers it.
    assert set(PATH_ROUTES) == {
        "get_ticket", "update_ticket", "close_ticket", "reopen_ticket", "rate_ticket", "get_ticket_legacy",
        "update_ticket_legacy", "add_comment", "list_comments", "get_comment", "rate_comment",
        "get_category_fields", "download_file",
    }  # fmt: skip


@pytest.mark.parametrize("value", DOTS + SEPARATORS)
def test_a_dot_segment_or_separator_is_a_problem(value: str) -> None:
    problem = path_value_problem(value)
    assert problem is not None and "request path" in problem


@pytest.mark.parametrize("value", FINE)
def test_other_values_are_fine_and_stay_one_segment(value: str) -> None:
    assert path_value_problem(value) is None
    url = ROUTES["get_category_fields"].url(category=value)
    assert url.startswith("/v2/categories/") and url.endswith("/fields")
    assert url.count("/") == 4 and "?" not in url and "#" not in url


@pytest.mark.parametrize("name", sorted(PATH_ROUTES))
@pytest.mark.parametrize("value", [*DOTS, *SEPARATORS])
def test_every_path_parameter_refuses_them_naming_it_before_sending(name: str, value: str) -> None:
    prepare = getattr(Operations, name if hasattr(Operations, name) else f"_{name}").prepare
    for placeholder in PATH_ROUTES[name].placeholders:
        with pytest.raises(InvalidRequest) as raised:
            prepare((), {placeholder: value, **VALID.get(name, {})})
        error = raised.value
        assert error.sent is False and error.status is None
        assert [f.field for f in error.fields] == [placeholder]
        assert placeholder in error.message


def test_the_refusal_says_why() -> None:
    with pytest.raises(InvalidRequest) as raised:
        Operations.get_category_fields.prepare((), {"category": ".."})  # type: ignore[attr-defined]
    assert "dot segment" in raised.value.fields[0].reason
    with pytest.raises(InvalidRequest) as slash:
        Operations.get_category_fields.prepare((), {"category": "a/../b"})  # type: ignore[attr-defined]
    assert "'/'" in slash.value.fields[0].reason


async def test_the_client_sends_nothing_for_a_refused_path_value() -> None:
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"items": []})

    client = TicketsClient(
        "https://x.invalid/support", StaticToken("t_1"), transport=httpx2.MockTransport(handler)
    )
    for value in ("..", ".", "%2e%2E", ".%2e", "a/b"):
        with pytest.raises(InvalidRequest):
            await client.get_category_fields(value)
    assert sent == []
    assert await client.get_category_fields("a?b#c") == []  # encoded into its one segment
    assert [r.url.raw_path for r in sent] == [b"/support/v2/categories/a%3Fb%23c/fields"]
    await client.aclose()
