"""Threads for lookup and summaries, through a real client in both eras, against the sandbox.

A 35-comment thread whose latest comment carries a marker; a 24,000-character log followed by a
short question; a 50,000-character comment; the latest comments of several tickets in one search;
a closed ticket; and no side effect of reading (the watcher and every read tool).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.types import ResourceUpdatedNotification

from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
LATEST = "LATEST-7f3a: could you send the serial number of the failed disk?"
LOG = "".join(
    f"2026-11-30 08:{i % 60:02d}:{i % 7:02d} kernel: [{i:6d}.123] eth1: link down, retry {i}\n"
    for i in range(400)
)


@dataclass
class Threads:
    sb: SandboxHandle
    long: int  # 35 comments, the last one from support carries LATEST
    log: int  # a 24,000-character log comment, then a short support question
    huge: int  # one 50,000-character comment
    huge_comment: int
    closed: int  # closed, with comments


def _create(api: httpx2.Client, summary: str, first: str) -> int:
    created = api.post(
        "/v2/tickets",
        json={
            "summary": summary,
            "categories": ["billing"],
            "category_fields": [{"key": "question_type", "values": ["invoice"]}],
            "access_level": "account_users",
            "files": [],
            "keystone_projects": [],
            "products": [],
            "secrets": [],
            "comment_body": first,
        },
    )
    assert created.status_code == 200, created.text
    return int(created.json()["number"])


@pytest.fixture(scope="module")
def threads() -> Iterator[Threads]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}, timeout=10) as api:
            long = _create(api, "Disk failure in CL25", "comment 1: the server is down")
            for i in range(2, 35):
                if i % 2:
                    assert api.post(f"/tickets/{long}/comments", json={"body": f"comment {i}"}).is_success
                else:
                    sb.support_reply(long, f"comment {i} from support")
            sb.support_reply(long, LATEST)
            log = _create(api, "eth1 flaps", "Here is the log:")
            assert api.post(f"/tickets/{log}/comments", json={"body": LOG[:24000]}).is_success
            sb.support_reply(log, "LOG-QUESTION: which kernel version is this?")
            huge = _create(api, "Full dmesg", "x")
            posted = api.post(f"/tickets/{huge}/comments", json={"body": (LOG * 3)[:50000]})
            huge_comment = int(posted.json()["id"])
            closed = _create(api, "Already solved", "Please check the invoice")
            sb.support_reply(closed, "Done, the invoice is fixed.")
            assert api.post(f"/tickets/{closed}/close", json={}).is_success
        yield Threads(sb, long, log, huge, huge_comment, closed)


@pytest.fixture
async def client(threads: Threads, era: str) -> Any:
    async with Client(build_server(make_settings(threads.sb)), raise_exceptions=True, mode=era) as c:
        yield c


def comment_reads(sb: SandboxHandle) -> list[str]:
    return [e["path"] for e in sb.journal() if e["method"] == "GET" and re.search(r"/comments$", e["path"])]


# --- 1. the latest by default --------------------------------------------------------------------------------


async def test_the_latest_comment_reaches_the_tools_the_resource_and_both_prompts(
    client: Client, threads: Threads
) -> None:
    n = threads.long
    for name, args in (
        ("get_ticket", {"number": n, "include_comments": True}),
        ("list_comments", {"number": n}),
    ):
        result = await client.call_tool(name, args)
        text, out = text_of(result), result.structured_content
        thread = out["thread"] if name == "get_ticket" else out
        assert LATEST in text and thread["comments"][-1]["body"] == LATEST
        assert (thread["total"], len(thread["comments"]), thread["earlier"]) == (35, 20, 15)
        first_shown = thread["comments"][0]["id"]
        assert thread["before"] == first_shown
        assert f"15 earlier: {name}(number={n}, " in text and f"before={first_shown})" in text
    resource = (await client.read_resource(f"tickets://{n}")).contents[0].text
    assert LATEST in resource and f"15 earlier: tickets://{n}?before=" in resource
    for prompt, args in (("summarize_thread", {"number": str(n)}), ("reply_to_support", {"number": str(n)})):
        got = await client.get_prompt(prompt, args)
        embedded = next(m.content.resource.text for m in got.messages if m.content.type == "resource")
        assert LATEST in embedded
        assert f"15 earlier: get_ticket(number={n}, include_comments=true, before=" in embedded


async def test_the_cursor_reads_the_earlier_comments_and_pages_count_from_the_start(
    client: Client, threads: Threads
) -> None:
    n = threads.long
    latest = (await client.call_tool("list_comments", {"number": n})).structured_content
    earlier = (
        await client.call_tool("list_comments", {"number": n, "before": latest["before"]})
    ).structured_content
    assert next(c["body"] for c in earlier["comments"]) == "comment 1: the server is down"
    assert len(earlier["comments"]) == 15 and earlier["earlier"] == 0 and earlier["later"] == 20
    page1 = await client.call_tool("list_comments", {"number": n, "page": 1})
    bodies = [c["body"] for c in page1.structured_content["comments"]]
    assert bodies[0].startswith("comment 1") and bodies[-1] == "comment 20 from support"
    assert page1.structured_content["next_page"] == 2 and "15 later: list_comments(" in text_of(page1)
    resource = (await client.read_resource(f"tickets://{n}?page=2")).contents[0].text
    assert "Comments 21–35 of 35 (page 2)" in resource and LATEST in resource
    bad = await client.call_tool("list_comments", {"number": n, "before": 1})
    assert bad.is_error and "before" in text_of(bad) and "not in this thread" in text_of(bad)


# --- 2 and 3. long comments -----------------------------------------------------------------------------------


async def test_a_24000_character_log_is_cut_and_the_short_latest_question_shows(
    client: Client, threads: Threads
) -> None:
    result = await client.call_tool("get_ticket", {"number": threads.log, "include_comments": True})
    text, thread = text_of(result), result.structured_content["thread"]
    assert "LOG-QUESTION" in text and thread["comments"][-1]["body"].startswith("LOG-QUESTION")
    cut = thread["comments"][1]
    assert cut["chars"] == 24000 and 0 < cut["next_offset"] == len(cut["body"]) < 24000
    assert thread["truncated"] is True and "omitted_ids" not in thread
    assert f"get_comment(comment_id={cut['id']}, offset={cut['next_offset']})" in text
    assert cut["body"] in text  # the same part in the text and the structured content
    rest = await client.call_tool("get_comment", {"comment_id": cut["id"], "offset": cut["next_offset"]})
    assert not rest.is_error and rest.structured_content["offset"] == cut["next_offset"]
    assert LOG[:24000].startswith(cut["body"] + rest.structured_content["body"][:100])


async def test_a_50000_character_comment_is_read_in_parts(client: Client, threads: Threads) -> None:
    whole = (LOG * 3)[:50000]
    parts: list[str] = []
    offset: int | None = 0
    while offset is not None:
        result = await client.call_tool("get_comment", {"comment_id": threads.huge_comment, "offset": offset})
        text, part = text_of(result), result.structured_content
        assert (
            len(text) < 40_000 and len(part["body"]) < 40_000
        )  # within the budget, never the whole body twice
        assert part["chars"] == 50000 and part["body"] in text
        assert re.search(
            rf"Comment {threads.huge_comment} · ticket #{threads.huge} · client · \d{{4}}-\d\d-\d\d \d\d:\d\d UTC",
            text,
        )
        parts.append(part["body"])
        offset = part.get("next_offset")
    assert "".join(parts) == whole and len(parts) >= 2


async def test_get_comment_keeps_the_author_and_one_time_format(client: Client, threads: Threads) -> None:
    latest = (await client.call_tool("list_comments", {"number": threads.long})).structured_content
    support = latest["comments"][-1]
    result = await client.call_tool("get_comment", {"comment_id": support["id"]})
    assert re.match(
        rf"Comment {support['id']} · ticket #{threads.long} · support \w+ \w+ · \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\n",
        text_of(result),
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.structured_content["sent_at"])


# --- 4. many tickets in one call ----------------------------------------------------------------------------


async def test_search_with_latest_comments_on_three_tickets(client: Client, threads: Threads) -> None:
    threads.sb.clear_journal()
    result = await client.call_tool("search_tickets", {"items_per_page": 4, "latest_comments": 2})
    assert not result.is_error
    out, text = result.structured_content, text_of(result)
    by_number = {i["number"]: i for i in out["items"]}
    assert set(by_number) >= {threads.closed, threads.huge, threads.log}
    assert by_number[threads.log]["latest"]["comments"][-1]["body"].startswith("LOG-QUESTION")
    assert by_number[threads.log]["latest"]["truncated"] is True  # the log is cut within the budget
    assert "closed" in by_number[threads.closed]["latest"]["unavailable"]
    open_ones = [i for i in out["items"] if i["status"] != "closed"]
    assert out["comment_reads"] == len(open_ones) == len(comment_reads(threads.sb))
    assert f"Latest comments ({len(open_ones)} comment reads):" in text
    assert f"#{threads.closed} · closed" in text and "LOG-QUESTION" in text


async def test_a_latest_comments_search_is_one_call_of_the_session_limit(threads: Threads, era: str) -> None:
    server = build_server(make_settings(threads.sb, calls_per_minute=3))
    async with Client(server, raise_exceptions=True, mode=era) as c:
        threads.sb.clear_journal()
        result = await c.call_tool(
            "search_tickets", {"items_per_page": 5, "latest_comments": 1, "is_only_opened": True}
        )
        out = result.structured_content
        assert out["comment_reads"] == len(out["items"]) == len(comment_reads(threads.sb))
        assert not any((i["latest"].get("unavailable") or "").startswith("not read") for i in out["items"])
        assert not (await c.call_tool("count_tickets", {})).is_error  # 2 of 3: the reads took none
        assert not (await c.call_tool("count_tickets", {})).is_error  # 3 of 3
        assert (await c.call_tool("count_tickets", {})).is_error  # the limit is spent


async def test_triage_prompt_embeds_each_tickets_latest_support_message(client: Client) -> None:
    got = await client.get_prompt("triage_open_tickets", {})
    text = "\n".join(getattr(m.content, "text", "") for m in got.messages)
    assert "The latest support message of each:" in text
    assert "The server cannot reach our KMS host" in text  # 2401028's latest support reply (seed data)
    assert "```support " in text and "```client " not in text


# --- 5. closed tickets ----------------------------------------------------------------------------------------


async def test_a_closed_ticket_shows_its_data_and_says_why_no_comments(
    client: Client, threads: Threads
) -> None:
    n = threads.closed
    threads.sb.clear_journal()
    result = await client.call_tool("get_ticket", {"number": n, "include_comments": True})
    assert not result.is_error
    text, out = text_of(result), result.structured_content
    assert out["ticket"]["closed"] is True and "Already solved" in text
    assert "does not return the comments of a closed ticket" in out["thread"]["unavailable"]
    assert "does not return the comments of a closed ticket" in text
    listed = await client.call_tool("list_comments", {"number": n})
    assert not listed.is_error and listed.structured_content["total"] == 0
    resource = (await client.read_resource(f"tickets://{n}")).contents[0].text
    assert "Already solved" in resource and "closed ticket" in resource
    prompt = await client.get_prompt("summarize_thread", {"number": str(n)})
    embedded = next(m.content.resource.text for m in prompt.messages if m.content.type == "resource")
    assert "closed ticket" in embedded
    assert comment_reads(threads.sb) == []  # known closed: the comments were not even asked for


async def test_sandbox_refuses_closed_comments_and_serves_them_after_reopen(threads: Threads) -> None:
    with httpx2.Client(base_url=threads.sb.base_url, headers={"X-Token": threads.sb.token}) as api:
        number = _create(api, "Close and reopen", "first")
        assert api.post(f"/tickets/{number}/close", json={}).is_success
        refused = api.get(f"/tickets/{number}/comments")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "ticket_closed"
        assert api.post(f"/tickets/{number}/reopen", json={"body": "again"}).is_success
        assert [c["body"] for c in api.get(f"/tickets/{number}/comments").json()["items"]] == [
            "first",
            "again",
        ]


# --- 6. reading has no side effects -------------------------------------------------------------------------


def _unread(sb: SandboxHandle) -> dict[int, Any]:
    with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as api:
        items = api.get("/v2/tickets", params={"items_per_page": 1000}).json()["items"]
    return {t["number"]: (t["unread_comments_count"], t["is_client_read"], t["updated_at"]) for t in items}


async def test_read_only_tools_and_resources_change_nothing(client: Client, threads: Threads) -> None:
    before = _unread(threads.sb)
    assert before[2401028][0] == 1  # a seeded ticket with an unread support reply
    threads.sb.clear_journal()
    tools = {t.name: t for t in (await client.list_tools()).tools}
    reads = [
        ("search_tickets", {"latest_comments": 5, "items_per_page": 50}),
        ("count_tickets", {}),
        ("get_ticket", {"number": 2401028, "include_comments": True}),
        ("list_comments", {"number": 2401028}),
        ("list_categories", {}),
        ("list_products", {}),
        ("get_category_fields", {"category": "billing"}),
    ]
    assert all(tools[name].annotations.read_only_hint for name, _ in reads)
    for name, args in reads:
        assert not (await client.call_tool(name, args)).is_error, name
    support = (await client.call_tool("list_comments", {"number": 2401028})).structured_content["comments"][
        -1
    ]
    assert not (await client.call_tool("get_comment", {"comment_id": support["id"]})).is_error
    await client.read_resource("tickets://2401028")
    await client.get_prompt("triage_open_tickets", {})
    assert {e["method"] for e in threads.sb.journal()} == {"GET"}
    assert _unread(threads.sb) == before


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_the_watcher_never_lists_comments(threads: Threads) -> None:
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: object) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            updates.append(str(root.params.uri))
            got.set()

    sb = threads.sb
    server = build_server(make_settings(sb, poll_interval=0.1))
    sb.clear_journal()
    async with Client(server, mode="legacy", message_handler=on_message) as c:
        await c.subscribe_resource(f"tickets://{threads.log}")
        await anyio.sleep(0.5)  # several polls, nothing new
        assert updates == []
        sb.support_reply(threads.log, "We found the cause.")
        with anyio.fail_after(5):
            await got.wait()
    assert updates == [f"tickets://{threads.log}"]
    polls = [e["path"] for e in sb.journal() if e["method"] == "GET"]
    assert polls and all(p.endswith(f"/v2/tickets/{threads.log}") for p in polls)
    assert comment_reads(sb) == []
    unread = _unread(sb)[threads.log][0]
    assert unread == 2  # the two support replies stay unread: watching read nothing
