"""Injection fixtures written into real tickets and comments, read back everywhere.

Each payload is the summary of its own ticket, its first comment, a second client comment and a
support reply, all written through the sandbox API. Then every tool, resource and prompt that
shows untrusted text reads them back, and 100% of them must come out sanitized (no invisible,
bidi or tag character left) and fenced (only inside ```client / ```support blocks, whose info
string names the author's role, and which the text cannot close; search results keep summaries inside one escaped table row).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client

from support.sandbox import make_settings
from support.untrusted import FORBIDDEN, MARKERS, PAYLOADS, markers_in, problems, split_fences
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[SandboxHandle, dict[str, int], list[int]]]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        numbers: dict[str, int] = {}
        comment_ids: list[int] = []
        with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as api:
            for name, (line, body) in PAYLOADS.items():
                created = api.post(
                    "/v2/tickets",
                    json={
                        "summary": line,
                        "categories": ["cloud_servers"],
                        "category_fields": [{"key": "region", "values": ["ru-3"]}],
                        "comment_body": body,
                        "access_level": "account_users",
                        "files": [],
                        "keystone_projects": [],
                        "products": [],
                        "secrets": [],
                    },
                )
                assert created.status_code == 200, created.text
                number = created.json()["number"]
                numbers[name] = number
                posted = api.post(f"/tickets/{number}/comments", json={"body": f"client again: {body}"})
                assert posted.status_code in (200, 201), posted.text
                sb.support_reply(number, f"support says: {body}")
                comments = api.get(f"/tickets/{number}/comments").json()["items"]
                assert len(comments) == 3
                comment_ids += [c["id"] for c in comments]
        yield sb, numbers, comment_ids


@pytest.fixture
async def client(seeded: tuple[SandboxHandle, dict[str, int], list[int]]) -> AsyncIterator[Client]:
    async with Client(build_server(make_settings(seeded[0])), raise_exceptions=True) as c:
        yield c


def text_of(result: Any) -> str:
    assert not result.is_error, result.content
    return "\n".join(getattr(block, "text", "") for block in result.content)


def assert_clean(markdown: str, expected: set[str], *, structured: Any = None, rows: bool = False) -> None:
    assert problems(markdown, table_rows_allowed=rows) == []
    assert markers_in(markdown) >= expected, f"missing {expected - markers_in(markdown)}"
    if structured is not None:
        dumped = json.dumps(structured, ensure_ascii=False)
        assert not FORBIDDEN.search(dumped), "structured content keeps invisible characters"


def marker_of(name: str) -> str:
    return MARKERS[list(PAYLOADS).index(name)]


def test_the_payloads_really_are_hostile() -> None:
    """The checker rejects the raw payloads: a leak would not go unnoticed."""
    for name, (line, body) in PAYLOADS.items():
        assert problems(f"{line}\n{body}"), name
    # A fence the body closes early is caught as text outside a fence.
    raw = "```client\n" + PAYLOADS["fence-break"][1] + "\n```"
    assert problems(raw)


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_get_ticket_with_comments(client: Client, seeded: Any, name: str) -> None:
    number = seeded[1][name]
    result = await client.call_tool("get_ticket", {"number": number, "include_comments": True})
    text = text_of(result)
    assert_clean(text, {marker_of(name)}, structured=result.structured_content)
    _, blocks = split_fences(text)
    roles = [b.info.split()[0] for b in blocks if marker_of(name) in b.body]
    # summary (client) + first comment + client comment (client) + support reply (support)
    assert roles.count("client") == 3 and roles.count("support") == 1, roles
    summary_only = text_of(await client.call_tool("get_ticket", {"number": number}))
    assert_clean(summary_only, {marker_of(name)})


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_list_comments(client: Client, seeded: Any, name: str) -> None:
    result = await client.call_tool("list_comments", {"number": seeded[1][name]})
    text = text_of(result)
    assert_clean(text, {marker_of(name)}, structured=result.structured_content)
    _, blocks = split_fences(text)
    assert sum(marker_of(name) in b.body for b in blocks) >= 3


async def test_get_comment_every_body(client: Client, seeded: Any) -> None:
    seen: set[str] = set()
    for comment_id in seeded[2]:
        result = await client.call_tool("get_comment", {"comment_id": comment_id})
        text = text_of(result)
        assert_clean(text, set(), structured=result.structured_content)
        _, blocks = split_fences(text)
        assert len(blocks) == 1 and markers_in(blocks[0].body), text
        seen |= markers_in(text)
    assert seen == set(MARKERS)


async def test_search_summaries(client: Client, seeded: Any) -> None:
    result = await client.call_tool("search_tickets", {"items_per_page": 50})
    text = text_of(result)
    assert_clean(text, set(MARKERS), structured=result.structured_content, rows=True)
    assert "untrusted" in text.splitlines()[0]
    for marker in MARKERS:
        rows = [line for line in text.splitlines() if marker in line]
        assert len(rows) == 1 and rows[0].startswith("| "), rows
    for name, number in seeded[1].items():
        result = await client.call_tool("search_tickets", {"q": marker_of(name)})
        found = text_of(result)
        assert_clean(found, {marker_of(name)}, rows=True)
        assert f"| {number} |" in found


async def test_search_with_latest_comments(client: Client, seeded: Any) -> None:
    result = await client.call_tool("search_tickets", {"items_per_page": 50, "latest_comments": 3})
    text = text_of(result)
    assert_clean(text, set(MARKERS), structured=result.structured_content, rows=True)
    _, blocks = split_fences(text)
    for marker in MARKERS:  # each payload's three comments, each inside its own fence
        assert sum(marker in b.body for b in blocks) >= 3, marker


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_thread_resource_and_summarize_prompt(client: Client, seeded: Any, name: str) -> None:
    number = seeded[1][name]
    contents = (await client.read_resource(f"tickets://{number}")).contents
    text = "\n".join(getattr(c, "text", "") for c in contents)
    assert_clean(text, {marker_of(name)})
    prompt = await client.get_prompt("summarize_thread", {"number": str(number)})
    parts = []
    for message in prompt.messages:
        content = message.content
        parts.append(getattr(content, "text", "") or getattr(getattr(content, "resource", None), "text", ""))
    assert_clean("\n".join(parts), {marker_of(name)})
