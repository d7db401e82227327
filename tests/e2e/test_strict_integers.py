"""A boolean is not a number: ``number: true`` used to be ticket 1. Every integer argument refuses it.

A real ``tickets-mcp --transport http`` process in front of a sandbox, a real `mcp.Client` in both
protocol eras: each refusal is an ``isError`` result naming the argument, and the sandbox journal shows
that nothing was sent. A number given as a string (``"2401006"``) is still read, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.mcp_client import http_client, text_of
from support.sandbox import Served, served_sandbox

pytestmark = pytest.mark.anyio
# (tool, arguments, the argument that is a boolean): ticket numbers, comment ids, scores, pages, counts.
BOOLEANS: list[tuple[str, dict[str, Any], str]] = [
    ("get_ticket", {"number": True}, "number"),
    ("get_ticket", {"number": 2401006, "include_comments": True, "page": True}, "page"),
    ("get_ticket", {"number": 2401006, "include_comments": True, "before": False}, "before"),
    ("search_tickets", {"items_per_page": True}, "items_per_page"),
    ("search_tickets", {"latest_comments": True}, "latest_comments"),
    ("list_comments", {"number": True}, "number"),
    ("get_comment", {"comment_id": True}, "comment_id"),
    ("rate_comment", {"comment_id": 9100001, "score": True}, "score"),
    ("close_ticket", {"number": 2401006, "score": True}, "score"),
    ("rate_ticket", {"number": True, "score": 9}, "number"),
    ("add_comment", {"number": True, "body": "hello"}, "number"),
    (
        "create_ticket",
        {"summary": "s", "categories": ["dns"], "secrets": [True], "dry_run": True},
        "secrets.0",
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served_sandbox() as served:
        yield served


async def test_get_ticket_number_true_is_refused_naming_it(server: Served, era: str) -> None:
    server.sb.clear_journal()
    async with http_client(server.url, era) as c:
        result = await c.call_tool("get_ticket", {"number": True})
    assert result.is_error, text_of(result)
    assert "number: Input should be a valid integer, not a boolean" in text_of(result)
    assert "nothing was sent" in text_of(result)
    assert server.sb.journal() == []


async def test_every_integer_argument_refuses_a_boolean(server: Served, era: str) -> None:
    async with http_client(server.url, era) as c:
        for tool, arguments, name in BOOLEANS:
            server.sb.clear_journal()
            result = await c.call_tool(tool, arguments)
            assert result.is_error, (tool, text_of(result))
            fields = [f["field"] for f in result.structured_content["fields"]]
            assert fields == [name] and "not a boolean" in text_of(result), (tool, text_of(result))
            assert server.sb.journal() == [], (tool, server.sb.journal())


async def test_a_number_given_as_a_string_is_still_read(server: Served, era: str) -> None:
    server.sb.clear_journal()
    async with http_client(server.url, era) as c:
        result = await c.call_tool("get_ticket", {"number": "2401006"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["ticket"]["number"] == 2401006
    assert [e["path"] for e in server.sb.journal()] == ["/support/v2/tickets/2401006"]
