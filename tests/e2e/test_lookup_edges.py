"""Lookups over many tickets, through a real client in both eras, against sandboxes of their own.

5. ``search_tickets(latest_comments=1)`` over 100 open tickets, most with a 2,800-character latest
   support reply: an agent that follows every hint the results give (the next part of the search,
   ``get_comment`` offsets, ``before`` cursors) reaches every latest support reply in full; ``omitted``
   counts what a result left out, and no cursor points at a comment the result did not show.
6. One ``latest_comments`` search over 130 open tickets is one tool call of the session limit (120 per
   minute by default): the next call is not refused. Its API reads are bounded (at most
   `MOST_READS` per call, `CONCURRENT_READS` at a time per credential; docs/threads-and-writes.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from mcp import Client

from support.mcp_client import text_of
from support.sandbox import make_settings, v2_body
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.threads import CONCURRENT_READS, MOST_READS
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
SEARCH = {"is_only_opened": True, "latest_comments": 1, "items_per_page": 100}
HINT = re.compile(r"\b(search_tickets|list_comments|get_comment)\(([^()]*)\)")
ARGUMENT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,]+)')


def long_reply(n: int) -> str:
    """A 2,800-character support reply that starts and ends with the ticket's own marker."""
    head, tail = f"REPLY-{n}: we checked the host.", f" END-{n}."
    filler = " ".join(
        f"step {i}: the disk array of the node was checked and found healthy." for i in range(60)
    )
    return head + " " + filler[: 2800 - len(head) - len(tail) - 1] + tail


@dataclass
class Crowd:
    sb: SandboxHandle
    numbers: list[int]
    latest_support: dict[int, tuple[int, str]]  # ticket -> (id, body) of its latest support reply


def populate(sb: SandboxHandle, count: int, *, long_every: int = 10, long_share: int = 7) -> Crowd:
    """``count`` open tickets; of every ``long_every``, ``long_share`` end with a long support reply, one with
    a short one, and the last has a client follow-up after a long reply (the reply is then earlier)."""
    numbers: list[int] = []
    latest: dict[int, tuple[int, str]] = {}
    with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}, timeout=10) as api:
        seeded = api.get("/v2/tickets", params={"is_only_opened": True, "items_per_page": 1000}).json()
        for ticket in seeded["items"]:  # only ours stay open
            assert api.post(f"/tickets/{ticket['number']}/close", json={}).is_success
        for i in range(count):
            created = api.post(
                "/v2/tickets", json=v2_body(summary=f"Host {i} is slow", comment_body=f"help {i}")
            )
            assert created.status_code == 200, created.text
            n = int(created.json()["number"])
            numbers.append(n)
            body = long_reply(n) if i % long_every != long_share else f"REPLY-{n}: short answer. END-{n}."
            reply = sb.support_reply(n, body)
            latest[n] = (int(reply["id"]), body)
            if i % long_every == long_every - 1:
                answer = api.post(f"/tickets/{n}/comments", json={"body": f"thanks, checking {n}"})
                assert answer.is_success, answer.text
    sb.clear_journal()
    return Crowd(sb, numbers, latest)


@pytest.fixture(scope="module")
def hundred() -> Iterator[Crowd]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield populate(sb, 100)


@pytest.fixture(scope="module")
def crowd() -> Iterator[Crowd]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield populate(sb, 130, long_every=2, long_share=1)


@pytest.fixture
async def hundred_client(hundred: Crowd, era: str) -> AsyncIterator[Client]:
    async with Client(build_server(make_settings(hundred.sb)), raise_exceptions=True, mode=era) as c:
        yield c


def comment_reads(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sb.journal() if e["method"] == "GET" and re.search(r"/comments$", e["path"])]


def hints(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Every call the text suggests, with its arguments as the agent would pass them."""
    found = []
    for name, args in HINT.findall(text):
        found.append((name, {k: json.loads(v) for k, v in ARGUMENT.findall(args)}))
    return found


@dataclass
class Walk:
    """An agent that follows every hint, once each, and keeps the parts of every comment it saw."""

    client: Client
    parts: dict[int, dict[int, str]] = field(default_factory=dict)  # comment id -> offset -> text
    searches: list[tuple[dict[str, Any], dict[str, Any], str]] = field(default_factory=list)
    calls: int = 0

    def keep(self, comment: dict[str, Any], offset: int = 0) -> None:
        self.parts.setdefault(comment["id"], {})[offset] = comment["body"]

    def whole(self, comment_id: int) -> str | None:
        parts, text = self.parts.get(comment_id, {}), ""
        while len(text) in parts and parts[len(text)]:
            text += parts[len(text)]
        return text or None

    async def run(self, first: dict[str, Any]) -> None:
        queue, done = [("search_tickets", first)], set()
        while queue:
            name, args = queue.pop(0)
            key = (name, json.dumps(args, sort_keys=True))
            if key in done:
                continue
            done.add(key)
            result = await self.client.call_tool(name, args)
            self.calls += 1
            assert not result.is_error, (name, args, text_of(result))
            text, out = text_of(result), result.structured_content or {}
            if name == "search_tickets":
                self.searches.append((args, out, text))
                for item in out["items"]:
                    for c in (item.get("latest") or {}).get("comments", []):
                        self.keep(c)
                queue += hints(text)  # the next part of the search exactly as written, and the comments
            elif name == "list_comments":
                for c in out["comments"]:
                    self.keep(c)
                queue += [(n, a) for n, a in hints(text) if n == "get_comment"]
            else:
                self.keep(out, out["offset"])
                queue += [(n, a) for n, a in hints(text) if n == "get_comment"]


def coverage(walk: Walk, crowd: Crowd) -> tuple[int, int]:
    reached = sum(walk.whole(cid) == body for cid, body in crowd.latest_support.values())
    return reached, len(crowd.latest_support)


# --- 5. every latest support reply is reachable ------------------------------------------------------------


async def test_following_the_hints_reaches_every_latest_support_reply(
    hundred_client: Client, hundred: Crowd
) -> None:
    walk = Walk(hundred_client)
    await walk.run(SEARCH)
    assert coverage(walk, hundred) == (100, 100)
    listed = [i["number"] for _, out, _ in walk.searches for i in out["items"]]
    assert sorted(listed) == sorted(hundred.numbers)  # every ticket once: the continuation is exact
    assert len(walk.searches) > 1  # 100 long replies do not fit one result: the search goes on
    for args, out, text in walk.searches:
        start = (args.get("page", 1) - 1) * args["items_per_page"]
        on_page = min(args["items_per_page"], len(hundred.numbers) - start)
        assert out["omitted"] == on_page - len(out["items"])  # what this result left out of its page
        assert "0 latest of" not in text
        if out["omitted"]:
            follow = f"items_per_page={out['next_items_per_page']}, page={out['next_page']})"
            assert "search_tickets(" in text and follow in text
        for item in out["items"]:
            latest = item["latest"]
            shown = [c["id"] for c in latest["comments"]]
            assert shown, item  # every listed open ticket shows its latest comment (cut if need be)
            # a cursor is the first comment shown, never a hidden one
            assert latest["before"] in (None, shown[0])
            assert not latest.get("omitted_ids")
            for name, hint in hints(text):
                if name == "list_comments" and hint["number"] == item["number"]:
                    assert hint.get("before") == latest["before"] == shown[0]
            for c in latest["comments"]:
                if c.get("next_offset") is not None:
                    assert f"get_comment(comment_id={c['id']}, offset={c['next_offset']})" in text


async def test_a_page_that_fits_is_shown_whole_with_its_replies(
    hundred_client: Client, hundred: Crowd
) -> None:
    result = await hundred_client.call_tool("search_tickets", {**SEARCH, "items_per_page": 5, "page": 3})
    out, text = result.structured_content, text_of(result)
    assert len(out["items"]) == 5 and out["omitted"] == 0 and out["next_page"] == 4
    assert out.get("next_items_per_page") is None and "left out" not in text
    for item in out["items"]:
        shown = item["latest"]["comments"][-1]
        assert shown["body"].startswith(("REPLY-", "thanks, checking"))


# --- 6. a fan-out is one call of the session limit, with bounded reads ------------------------------------------


async def test_a_big_lookup_is_one_call_and_its_reads_are_bounded(crowd: Crowd, era: str) -> None:
    delay = 0.05  # each comment read answers after this long, so overlapping reads show in the journal
    settings = make_settings(crowd.sb, calls_per_minute=120, token_budget=100_000)
    async with Client(build_server(settings), raise_exceptions=True, mode=era) as c:
        crowd.sb.clear_journal()
        crowd.sb.set_faults(
            {
                "probability": 1.0,
                "kinds": ["timeout"],
                "delay": delay,
                "methods": ["GET"],
                "path_prefix": "/support/tickets/",
            }
        )
        try:
            result = await c.call_tool("search_tickets", {**SEARCH, "items_per_page": 130})
        finally:
            crowd.sb.clear_faults()
        assert not result.is_error
        out = result.structured_content
        reads = comment_reads(crowd.sb)
        assert out["comment_reads"] == len(reads) == MOST_READS  # the budget had room: the bound stopped it
        assert len(out["items"]) == MOST_READS and out["omitted"] == 130 - MOST_READS
        assert f"at most {MOST_READS} tickets" in text_of(result)
        starts = sorted(e["time"] for e in reads)
        overlap = [b - a for a, b in zip(starts, starts[CONCURRENT_READS:], strict=False)]
        assert min(overlap) >= delay * 0.8  # never more than CONCURRENT_READS reads at once
        after = await c.call_tool("count_tickets", {"is_only_opened": True})
        assert not after.is_error, text_of(after)  # the fan-out did not spend the session's calls
        listed = [i["number"] for i in out["items"]]
        for name, args in hints(text_of(result)):
            if name == "search_tickets":  # the rest of the page, in the same way
                rest = await c.call_tool(name, args)
                assert not rest.is_error, text_of(rest)
                listed += [i["number"] for i in rest.structured_content["items"]]
        assert sorted(listed) == sorted(crowd.numbers)
        assert not (await c.call_tool("count_tickets", {})).is_error


async def test_default_budget_reads_little_more_than_it_shows(crowd: Crowd, era: str) -> None:
    async with Client(build_server(make_settings(crowd.sb, calls_per_minute=120)), mode=era) as c:
        crowd.sb.clear_journal()
        out = (await c.call_tool("search_tickets", {**SEARCH, "items_per_page": 130})).structured_content
        assert out["comment_reads"] == len(comment_reads(crowd.sb)) <= len(out["items"]) + CONCURRENT_READS
        assert not (await c.call_tool("count_tickets", {})).is_error


async def test_a_fan_out_counts_as_one_call_of_the_session_limit(crowd: Crowd, era: str) -> None:
    async with Client(build_server(make_settings(crowd.sb, calls_per_minute=3)), mode=era) as c:
        out = (await c.call_tool("search_tickets", {**SEARCH, "items_per_page": 20})).structured_content
        assert out["comment_reads"] >= 10
        assert all("session call limit" not in (i["latest"].get("unavailable") or "") for i in out["items"])
        assert not (await c.call_tool("count_tickets", {})).is_error  # 2 of 3
        assert not (await c.call_tool("count_tickets", {})).is_error  # 3 of 3
        refused = await c.call_tool("count_tickets", {})
        assert refused.is_error and refused.structured_content["code"] == "session_rate_limited"
