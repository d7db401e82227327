"""A path value cannot change the upstream path: dot segments and separators are refused, nothing is sent.

A real ``tickets-mcp --transport http`` process in front of a sandbox; a real `mcp.Client` over streamable
HTTP, in both protocol eras. ``get_category_fields(category="..")`` used to send ``GET /support/v2/fields``
(the client resolved the dot segment); now every such value is an ``isError`` result naming the argument,
and the sandbox journal shows that nothing went out. ``?`` and ``#`` are encoded into their one segment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.mcp_client import http_client, text_of
from support.sandbox import Served, served_sandbox

pytestmark = pytest.mark.anyio
REFUSED = [".", "..", "%2e%2E", ".%2e", "%252e%252e", "a/../../v2/fields", "..%2Ffields"]


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served_sandbox(TICKETS_MCP_CATALOG_TTL="0") as served:
        yield served


async def test_dot_segments_and_separators_are_refused_before_any_request(server: Served, era: str) -> None:
    async with http_client(server.url, era) as c:
        for value in REFUSED:
            server.sb.clear_journal()
            result = await c.call_tool("get_category_fields", {"category": value})
            text = text_of(result)
            assert result.is_error, (value, text)
            assert "nothing was sent" in text and "category:" in text, text
            assert "request path" in text and ("dot segment" in text or "'/'" in text), text
            assert server.sb.journal() == [], (value, server.sb.journal())
        server.sb.clear_journal()
        control = await c.call_tool("get_category_fields", {"category": "dns"})
    assert not control.is_error, text_of(control)
    assert [e["path"] for e in server.sb.journal()] == ["/support/v2/categories/dns/fields"]


async def test_a_question_mark_or_hash_stays_inside_its_segment(server: Served, era: str) -> None:
    server.sb.clear_journal()
    async with http_client(server.url, era) as c:
        result = await c.call_tool("get_category_fields", {"category": "dns?x=1#top"})
    assert result.is_error and result.structured_content["code"] == "not_found", text_of(result)
    (entry,) = server.sb.journal()
    assert entry["path"] == "/support/v2/categories/dns?x=1#top/fields"  # one segment, decoded
    assert entry["query_string"] == ""  # not a query
