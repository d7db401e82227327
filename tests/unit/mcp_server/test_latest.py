"""The latest comments of many tickets (`threads.read_latest`, `threads.render_latest`) and the search's
continuation (`tools.tickets.aligned`): bounded reads, one budget, no cursor to a hidden comment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

import support.tickets as fx
from tickets_mcp.api.models import Comment
from tickets_mcp.mcp_server.markdown import estimate_tokens
from tickets_mcp.mcp_server.outputs import ThreadOut
from tickets_mcp.mcp_server.threads import (
    CONCURRENT_READS,
    MOST_READS,
    Latest,
    latest_cost,
    latest_of,
    read_latest,
    render_latest,
)
from tickets_mcp.mcp_server.tools.tickets import aligned

pytestmark = pytest.mark.anyio
LONG = "The disk array of the node was checked and found healthy. " * 48  # ~2,800 characters


def howto(number: int) -> Any:
    def call(**args: object) -> str:
        more = "".join(f", {k}={v}" for k, v in args.items() if v is not None)
        return f"list_comments(number={number}{more})"

    return call


def thread(number: int, body: str) -> list[Comment]:
    """A client question, then a support reply with ``body``; ids are unique per ticket."""
    comments = fx.comment_models(2, c1=body)
    return [
        c.model_copy(update={"id": number * 10 + i, "ticket_number": number}) for i, c in enumerate(comments)
    ]


def latest_one(number: int, body: str = LONG) -> Latest:
    return Latest(fx.ticket_view(number=number), latest_of(thread(number, body), 1, None))


# --- one budget --------------------------------------------------------------------------------------------


def test_tickets_past_the_budget_get_the_call_for_their_latest_never_a_cursor_to_a_hidden_comment() -> None:
    latest = [latest_one(n) for n in range(1, 101)]
    text, omitted = render_latest(latest, 3000, howto)
    shown = [item for item in latest if item.out.comments]
    left = [item for item in latest if not item.out.comments]
    assert shown and left and shown == latest[: len(shown)]  # the first ones, in order
    assert omitted == len(left) and estimate_tokens(text) <= 3000
    assert "0 latest of" not in text
    for item in shown:  # cut to a head, with the way on; the cursor is the comment shown
        (comment,) = item.out.comments
        assert comment.next_offset is not None and item.out.before == comment.id
        assert f"get_comment(comment_id={comment.id}, offset={comment.next_offset})" in text
        assert f"earlier: list_comments(number={item.ticket.number}, before={comment.id})" in text
    for item in left:  # no cursor at all, and the exact call that shows the latest comment
        n = item.ticket.number
        assert item.out.before is None and item.out.omitted_ids == [n * 10 + 1] and item.out.truncated
        assert (
            f"#{n} · left out to fit the token budget; its latest comments: list_comments(number={n})" in text
        )
    cursors = {int(b) for b in re.findall(r"before=(\d+)\)", text)}
    assert cursors == {c.id for item in shown for c in item.out.comments}


def test_tickets_within_their_minimal_cost_are_all_shown() -> None:
    latest = [latest_one(n) for n in range(1, 13)]
    budget = sum(latest_cost(item, howto) for item in latest)
    text, omitted = render_latest(latest, budget, howto)
    assert omitted == 0 and all(item.out.comments for item in latest) and estimate_tokens(text) <= budget


def test_a_one_comment_ticket_whose_reply_is_left_out_still_says_how_to_read_it() -> None:
    item = Latest(fx.ticket_view(number=7), latest_of(thread(7, LONG)[1:], 1, None))
    assert item.out.total == 1 and item.out.before is None
    text, omitted = render_latest([item], 10, howto)
    assert omitted == 1 and "list_comments(number=7)" in text and "latest of" not in text


def test_latest_of_a_role_says_when_there_is_none() -> None:
    only_client = [fx.comment_models(1)[0]]
    out = latest_of(only_client, 1, "support")
    assert out.total == 1 and not out.comments and out.unavailable == "no support comment among its 1"
    out = latest_of(thread(3, "reply"), 1, "support")
    assert [c.body for c in out.comments] == ["reply"] and out.earlier == 1 and out.before == 31


@pytest.mark.parametrize(("count", "start", "size"), [(57, 0, 57), (40, 100, 25), (7, 97, 1), (30, 60, 30)])
def test_the_continuation_page_size_starts_right_after_the_tickets_shown(
    count: int, start: int, size: int
) -> None:
    assert aligned(count, start) == size and start % size == 0 and size <= count


# --- bounded reads -----------------------------------------------------------------------------------------


@dataclass
class SlowClient:
    """Comment lists that take a moment; records how many were read at once."""

    reads: int = 0
    now: int = 0
    most: int = 0
    seen: list[int] = field(default_factory=list)

    async def list_comments(self, number: int) -> list[Comment]:
        self.reads += 1
        self.now += 1
        self.most = max(self.most, self.now)
        self.seen.append(number)
        await anyio.sleep(0.005)
        self.now -= 1
        return thread(number, LONG)


class FakeCaller:
    def __init__(self) -> None:
        self.client = SlowClient()
        self.reads = anyio.CapacityLimiter(CONCURRENT_READS)


async def test_reads_stop_once_what_was_read_does_not_fit() -> None:
    state: Any = FakeCaller()
    tickets = [fx.ticket_view(number=n) for n in range(1, 301)]
    latest, reads = await read_latest(state, tickets, 1, fits=lambda items: len(items) <= 20)
    assert reads == state.client.reads == len(latest) <= 21 + CONCURRENT_READS
    assert [i.ticket.number for i in latest] == list(range(1, len(latest) + 1))  # a prefix, in order
    assert state.client.most <= CONCURRENT_READS


async def test_one_call_reads_at_most_most_reads_and_a_credential_at_most_concurrent_reads_at_once() -> None:
    state: Any = FakeCaller()
    tickets = [fx.ticket_view(number=n) for n in range(1, 301)]
    results: list[tuple[list[Latest], int]] = []

    async def one() -> None:
        results.append(await read_latest(state, tickets, 1))

    async with anyio.create_task_group() as tg:  # two calls of the same credential at once
        tg.start_soon(one)
        tg.start_soon(one)
    assert [reads for _, reads in results] == [MOST_READS, MOST_READS]
    assert state.client.most <= CONCURRENT_READS  # the bound is per credential, not per call


async def test_a_prompt_fan_out_is_charged_once() -> None:
    state: Any = FakeCaller()
    tickets = [fx.ticket_view(number=n) for n in range(1, 11)]
    charged: list[int] = []

    async def charge() -> float | None:
        charged.append(1)
        return None

    _, reads = await read_latest(state, tickets, 1, charge=charge)
    assert reads == 10 and charged == [1]

    async def refuse() -> float | None:
        return 12.0

    latest, reads = await read_latest(state, tickets, 1, charge=refuse)
    assert reads == 0 and state.client.reads == 10
    assert all("session call limit is reached; retry after 12 s" in (i.out.unavailable or "") for i in latest)


def test_closed_and_empty_tickets_cost_only_their_line() -> None:
    closed = Latest(fx.ticket_view(number=5), ThreadOut(total=0, unavailable="closed: no comments"))
    assert latest_cost(closed, howto) == estimate_tokens("#5 · closed: no comments")
    text, omitted = render_latest([closed], 0, howto)
    assert text == "#5 · closed: no comments" and omitted == 0
