"""The edges of a thread view, through a real client in both eras, against the sandbox.

A page past the end is an empty page that names the last one (the two tools and the resource, no
traceback in the logs); ``before`` the first comment is an empty view, an unknown ``before`` a clear
error naming the id; every comment's label carries its id; the summary prompt embeds the opening
comment when the latest comments do not include it.

Threads are built as a user would: ``create_ticket`` with the opening comment, ``add_comment`` for the
client's comments, the sandbox's support replies in between.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from support.mcp_client import text_of
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
LABEL = re.compile(r"^`{3,}(client|support) (\d+) ", re.MULTILINE)


async def make_thread(client: Client, sandbox: SandboxHandle, n: int, opening: str = "") -> int:
    """A new ticket of ``n`` comments: the opening one, then support and the client in turns."""
    tag = uuid.uuid4().hex[:8]
    created = await client.call_tool(
        "create_ticket",
        {
            "summary": f"Private network down {tag}",
            "categories": ["network"],
            "comment_body": opening or f"comment 1 ({tag}): the private network is down",
        },
    )
    assert created.structured_content["outcome"] == "created", created.structured_content
    number = int(created.structured_content["ticket"]["number"])
    for i in range(2, n + 1):
        if i % 2 == 0:
            sandbox.support_reply(number, f"comment {i} from support")
        else:
            added = await client.call_tool("add_comment", {"number": number, "body": f"comment {i}"})
            assert not added.is_error, text_of(added)
    return number


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    bad += [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad]


async def resource(client: Client, uri: str) -> str:
    return (await client.read_resource(uri)).contents[0].text  # type: ignore[union-attr]


def embedded(prompt: Any) -> str:
    return next(m.content.resource.text for m in prompt.messages if m.content.type == "resource")


# --- 7. a page past the end, before the first comment, an unknown before -----------------------------------


@pytest.mark.parametrize("n", [3, 20])
async def test_a_page_past_the_end_is_an_empty_page_that_names_the_last_one(
    client: Client, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture, n: int
) -> None:
    caplog.set_level(logging.DEBUG)
    number = await make_thread(client, sandbox, n)
    for name, args in (
        ("list_comments", {"number": number}),
        ("get_ticket", {"number": number, "include_comments": True}),
    ):
        result = await client.call_tool(name, {**args, "page": 2})
        assert not result.is_error, text_of(result)
        out = result.structured_content
        thread = out["thread"] if name == "get_ticket" else out
        assert (thread["total"], thread["comments"], thread["earlier"], thread["later"]) == (n, [], n, 0)
        assert thread["page"] == 2 and "next_page" not in thread and "before" not in thread
        call = f"{name}(number={number}{', include_comments=true' if name == 'get_ticket' else ''}"
        assert (
            f"Page 2 is past the end: the thread has {n} comments, 1 page of 20. "
            f"The last page: {call}, page=1); the latest: {call})."
        ) in text_of(result)
        last = await client.call_tool(name, {**args, "page": 1})  # the call it names: the whole thread
        last_thread = last.structured_content["thread"] if name == "get_ticket" else last.structured_content
        assert len(last_thread["comments"]) == n and last_thread["page"] == 1
    far = await client.call_tool("list_comments", {"number": number, "page": 50})
    assert not far.is_error and far.structured_content["comments"] == []
    text = await resource(client, f"tickets://{number}?page=2")
    assert f"Page 2 is past the end: the thread has {n} comments, 1 page of 20." in text
    assert f"The last page: tickets://{number}?page=1; the latest: tickets://{number}." in text
    assert not LABEL.search(text)  # no comment on the page
    no_traceback(caplog)


async def test_before_the_first_comment_is_empty_and_an_unknown_before_names_the_id(
    client: Client, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = await make_thread(client, sandbox, 3)
    latest = (await client.call_tool("list_comments", {"number": number})).structured_content
    first = latest["comments"][0]["id"]
    nothing = f"No comments before comment {first}: it is the first of 3 comments."
    listed = await client.call_tool("list_comments", {"number": number, "before": first})
    assert not listed.is_error and nothing in text_of(listed)
    out = listed.structured_content
    assert (out["comments"], out["earlier"], out["later"]) == ([], 0, 3) and "before" not in out
    got = await client.call_tool("get_ticket", {"number": number, "include_comments": True, "before": first})
    assert not got.is_error and nothing in text_of(got) and got.structured_content["thread"]["comments"] == []
    assert nothing in await resource(client, f"tickets://{number}?before={first}")

    # An id that is no comment of this ticket: a clear error naming it, from the tools and the resource.
    for name, args in (
        ("list_comments", {"number": number, "before": 1}),
        ("get_ticket", {"number": number, "include_comments": True, "before": 1}),
    ):
        bad = await client.call_tool(name, args)
        assert bad.is_error, name
        assert f"comment 1 is not in this thread (ticket #{number})" in text_of(bad)
        assert [f["field"] for f in bad.structured_content["fields"]] == ["before"]
    with pytest.raises(MCPError, match=rf"comment 1 is not in this thread \(ticket #{number}\)"):
        await client.read_resource(f"tickets://{number}?before=1")
    no_traceback(caplog)


# --- 8. every comment shows its id ---------------------------------------------------------------------------


async def test_every_comment_shows_its_id_and_the_id_is_usable(
    client: Client, sandbox: SandboxHandle
) -> None:
    number = await make_thread(client, sandbox, 4)
    listed = await client.call_tool("list_comments", {"number": number})
    comments = listed.structured_content["comments"]
    ids = [c["id"] for c in comments]
    roles = [c["role"] for c in comments]
    assert roles == ["client", "support", "client", "support"]
    got = await client.call_tool("get_ticket", {"number": number, "include_comments": True})
    views = {
        "list_comments": text_of(listed),
        "get_ticket": text_of(got),
        "resource": await resource(client, f"tickets://{number}"),
        "prompt": embedded(await client.get_prompt("summarize_thread", {"number": str(number)})),
    }
    for where, text in views.items():
        labels = [(role, int(i)) for role, i in LABEL.findall(text)]
        assert labels == list(zip(roles, ids, strict=True)), where
    # What the agent does with the id of a client comment: read it, page before it.
    client_comment = ids[2]
    read = await client.call_tool("get_comment", {"comment_id": client_comment})
    assert not read.is_error and read.structured_content["body"] == "comment 3"
    before = await client.call_tool("list_comments", {"number": number, "before": client_comment})
    assert [c["id"] for c in before.structured_content["comments"]] == ids[:2]
    # ... and with a support reply's: rate it (the user agrees through the elicitation).
    rated = await client.call_tool("rate_comment", {"comment_id": ids[1], "score": 1})
    assert not rated.is_error, text_of(rated)
    refused = await client.call_tool("rate_comment", {"comment_id": client_comment, "score": 1})
    assert refused.structured_content["code"] == "not_votable"


# --- 9. the opening comment in the summary prompt -------------------------------------------------------------


async def test_the_summary_prompt_embeds_the_opening_comment_of_a_long_thread(
    client: Client, sandbox: SandboxHandle
) -> None:
    opening = f"OPENING-{uuid.uuid4().hex[:6]}: since the reboot cs-web-01 has no private network"
    number = await make_thread(client, sandbox, 25, opening)
    listed = (await client.call_tool("list_comments", {"number": number, "page": 1})).structured_content
    first = listed["comments"][0]
    assert first["body"] == opening
    prompt = await client.get_prompt("summarize_thread", {"number": str(number)})
    text = embedded(prompt)
    head = f"The opening comment:\n```client {first['id']} "
    assert head in text and opening in text and text.count(opening) == 1
    assert text.index(head) < text.index("Comments 6–25 of 25, oldest first.")
    call = f"get_ticket(number={number}, include_comments=true, before="
    assert re.search(
        rf"5 earlier: {re.escape(call)}\d+\); the first of them is the opening comment above\.", text
    )
    assert re.search(r"^comment 6 from support$", text, re.MULTILINE)  # the latest 20: comments 6-25
    assert not re.search(r"^comment 5$", text, re.MULTILINE)  # and none of those in between
    asked = "\n".join(getattr(m.content, "text", "") for m in prompt.messages)
    assert "the opening comment" in asked
    # The reply prompt embeds the same view; the resource shows it on its latest view only.
    assert opening in embedded(await client.get_prompt("reply_to_support", {"number": str(number)}))
    assert head in await resource(client, f"tickets://{number}")
    assert opening not in await resource(client, f"tickets://{number}?page=2")
    # The tools show the window only (their structured content has no place for it); page=1 reads it.
    latest = await client.call_tool("list_comments", {"number": number})
    assert opening not in text_of(latest) and latest.structured_content["earlier"] == 5


async def test_a_short_threads_opening_comment_is_shown_once_in_its_place(
    client: Client, sandbox: SandboxHandle
) -> None:
    opening = f"OPENING-{uuid.uuid4().hex[:6]}: the disk is failing"
    number = await make_thread(client, sandbox, 3, opening)
    text = embedded(await client.get_prompt("summarize_thread", {"number": str(number)}))
    assert text.count(opening) == 1 and "The opening comment:" not in text
    assert "All 3 comments, oldest first:" in text
