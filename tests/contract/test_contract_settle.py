"""Ambiguous writes are settled by a lookup: recovered, provably not applied, or still unknown.

Each write is sent once; when its answer is lost (5xx after sending, dropped connection, timeout,
unreadable answer) the client reads the thread, the ticket or the comment before it answers. The
sandbox's journal and state say what really happened.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from support.api_client import CATEGORY, FIELDS, calls, make_client
from tickets_mcp.api import ServerError, TicketsApiError, TicketsClient, TransportError
from tickets_mcp.api.dedup import MemoryDedup
from tickets_mcp.api.models import Comment, TicketV1, Vote
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio
DELAY = 0.6  # a timeout fault's delay (real seconds); the client gives up after READ_TIMEOUT
READ_TIMEOUT = 0.2
_serial = itertools.count(1)


def fresh_ticket(sb: SandboxHandle, *, replied: bool = False, closed: bool = False) -> int:
    """A ticket of the sandbox's account made on the sandbox side (no create is paced or journaled)."""
    tickets = sb.state.tickets
    number = tickets.create(
        {"summary": f"Settle target {next(_serial)}", "categories": [CATEGORY]},
        "The first words.",
        [],
        author=sb.account_id,
    )
    if replied:
        sb.support_reply(number, "A support answer.")
    if closed:
        tickets.close(number, None, None)
    return number


@dataclass
class Write:
    """One non-idempotent write aimed at a fresh target."""

    path: str  # journal path, without /support
    send: Callable[[TicketsClient], Awaitable[Any]]
    in_state: Callable[[], bool]  # is the write in the sandbox's state?
    check: Callable[[Any], bool]  # is this what the operation returns?


def add_comment(sb: SandboxHandle) -> Write:
    number, body = fresh_ticket(sb), f"Settle comment {next(_serial)}"
    return Write(
        f"/tickets/{number}/comments",
        lambda c: c.add_comment(number, body=body),
        lambda: any(x["body"] == body for x in sb.state.store.comments_of(number)),
        lambda r: isinstance(r, Comment) and r.body == body and r.ticket_number == number,
    )


def close_ticket(sb: SandboxHandle) -> Write:
    number = fresh_ticket(sb)
    return Write(
        f"/tickets/{number}/close",
        lambda c: c.close_ticket(number),
        lambda: sb.state.tickets.get(number)[0]["closed_at"] is not None,
        lambda r: isinstance(r, TicketV1) and r.number == number and r.is_closed is True,
    )


def reopen_ticket(sb: SandboxHandle) -> Write:
    number = fresh_ticket(sb, closed=True)
    return Write(
        f"/tickets/{number}/reopen",
        lambda c: c.reopen_ticket(number, body="Still broken."),
        lambda: sb.state.tickets.get(number)[0]["closed_at"] is None,
        lambda r: isinstance(r, TicketV1) and r.number == number and r.is_closed is False,
    )


def rate_ticket(sb: SandboxHandle) -> Write:
    number = fresh_ticket(sb, replied=True)
    return Write(
        f"/tickets/{number}/vote",
        lambda c: c.rate_ticket(number, score=9, comment="quick"),
        lambda: sb.state.tickets.get(number)[0]["vote"] is not None,
        lambda r: isinstance(r, Vote) and r.score == 9 and r.comment == "quick",
    )


def rate_comment(sb: SandboxHandle) -> Write:
    number = fresh_ticket(sb)
    reply = int(sb.support_reply(number, "Try a hard reboot.")["id"])
    return Write(
        f"/comments/{reply}/vote",
        lambda c: c.rate_comment(reply, score=-1),
        lambda: sb.state.tickets.find_comment(reply)["vote"] is not None,
        lambda r: isinstance(r, Vote) and r.score == -1,
    )


WRITES = [add_comment, close_ticket, reopen_ticket, rate_ticket, rate_comment]
APPLIED = [
    {"kind": "drop", "applied": True},
    {"kind": "timeout", "delay": DELAY, "applied": True},
    {"kind": "malformed", "applied": True},
]
NOT_APPLIED = [{"kind": "503"}, {"kind": "drop", "applied": False}, {"kind": "malformed", "applied": False}]


def fault_id(fault: dict[str, Any]) -> str:
    return f"{fault['kind']}-{'applied' if fault.get('applied') else 'unapplied'}"


async def posts(sb: SandboxHandle, path: str) -> list[dict[str, Any]]:
    """The POSTs to ``path``; a timeout fault's request is journaled only when its delay ends."""
    for _ in range(100):
        if found := calls(sb, "POST", path):
            return found
        await anyio.sleep(0.05)
    raise AssertionError(f"no POST {path} in the journal")


@pytest.mark.parametrize("fault", APPLIED, ids=fault_id)
@pytest.mark.parametrize("make", WRITES, ids=lambda f: f.__name__)
async def test_applied_write_is_recovered(
    sandbox: SandboxHandle, make: Callable[[SandboxHandle], Write], fault: dict[str, Any]
) -> None:
    write = make(sandbox)
    sandbox.set_faults({"sequence": [fault], "methods": ["POST"]})
    async with make_client(sandbox, read_timeout=READ_TIMEOUT) as c:
        result = await write.send(c)
    assert write.check(result) and result.recovered is True
    assert "recovered" not in result.model_dump()
    sent = await posts(sandbox, write.path)
    assert len(sent) == 1 and sent[0]["applied"] is True and sent[0]["fault"] == fault["kind"]
    assert write.in_state()


@pytest.mark.parametrize("fault", NOT_APPLIED, ids=fault_id)
@pytest.mark.parametrize("make", WRITES, ids=lambda f: f.__name__)
async def test_unapplied_write_is_reported_not_applied(
    sandbox: SandboxHandle, make: Callable[[SandboxHandle], Write], fault: dict[str, Any]
) -> None:
    write = make(sandbox)
    sandbox.set_faults({"sequence": [fault], "methods": ["POST"]})
    async with make_client(sandbox) as c:
        with pytest.raises(TicketsApiError) as info:
            await write.send(c)
    error = info.value
    assert isinstance(error, ServerError if fault["kind"] != "drop" else TransportError)
    assert error.code == "not_applied" and error.outcome_unknown is False and error.sent is True
    assert "read just now" in error.message and "again is safe" in error.message
    sent = calls(sandbox, "POST", write.path)
    assert len(sent) == 1 and sent[0]["applied"] is False
    assert not write.in_state()


@pytest.mark.parametrize("make", WRITES, ids=lambda f: f.__name__)
async def test_a_failed_lookup_keeps_the_outcome_unknown(
    sandbox: SandboxHandle, make: Callable[[SandboxHandle], Write]
) -> None:
    write = make(sandbox)
    sandbox.set_faults(
        [
            {"sequence": [{"kind": "drop", "applied": True}], "methods": ["POST"]},
            {"probability": 1.0, "kinds": ["503"], "methods": ["GET"]},
        ]
    )
    async with make_client(sandbox) as c:
        with pytest.raises(TransportError) as info:
            await write.send(c)
    error = info.value
    assert error.outcome_unknown is True and error.code != "not_applied"
    assert "Checking afterwards failed too (HTTP 503" in error.message
    assert "before calling" in error.message and "again, or it may be applied twice" in error.message
    assert len(calls(sandbox, "POST", write.path)) == 1 and calls(sandbox, "GET")  # looked, never re-sent
    assert write.in_state()


@pytest.mark.parametrize("make", WRITES, ids=lambda f: f.__name__)
async def test_a_timed_out_write_found_missing_may_still_apply(
    sandbox: SandboxHandle, make: Callable[[SandboxHandle], Write]
) -> None:
    """A timed-out request may still be running on the server: "not there yet" proves nothing."""
    write = make(sandbox)
    sandbox.set_faults(
        {"sequence": [{"kind": "timeout", "delay": DELAY, "applied": False}], "methods": ["POST"]}
    )
    async with make_client(sandbox, read_timeout=READ_TIMEOUT) as c:
        with pytest.raises(TransportError) as info:
            await write.send(c)
    error = info.value
    assert error.outcome_unknown is True and error.code is None
    assert "Checked just now" in error.message and "may still apply it" in error.message
    assert len(await posts(sandbox, write.path)) == 1
    assert not write.in_state()


async def test_a_successful_write_is_not_marked_recovered(sandbox: SandboxHandle) -> None:
    write = add_comment(sandbox)
    async with make_client(sandbox) as c:
        result = await write.send(c)
    assert write.check(result) and result.recovered is False
    assert [e["method"] for e in calls(sandbox)] == ["POST"]  # no lookup after a clean answer


# -- comments: the same text added before is not the new comment ------------------------------------


async def test_an_earlier_identical_comment_of_this_client_is_not_taken_for_the_new_one(
    sandbox: SandboxHandle,
) -> None:
    number, body = fresh_ticket(sandbox), "Same words twice"
    async with make_client(sandbox, dedup_window=0) as c:  # on purpose, within a minute: dedup off
        first = await c.add_comment(number, body=body)
        sandbox.set_faults({"sequence": ["503"], "methods": ["POST"]})
        with pytest.raises(ServerError) as info:
            await c.add_comment(number, body=body)
        assert info.value.code == "not_applied" and not info.value.outcome_unknown
        assert info.value.message == (
            f"The API answered HTTP 503, but the thread of ticket {number}, read just now, has no such "
            "comment: it was not added. Calling add_comment again is safe; try again if it is still wanted."
        )
        sandbox.set_faults({"sequence": [{"kind": "drop", "applied": True}], "methods": ["POST"]})
        second = await c.add_comment(number, body=body)
    assert second.recovered and second.id != first.id and second.body == body
    assert [x["body"] for x in sandbox.state.store.comments_of(number)].count(body) == 2


async def test_an_identical_comment_from_before_the_request_is_not_taken_for_the_new_one(
    sandbox: SandboxHandle,
) -> None:
    """Another client (its own process state) said the same thing before this request started."""
    number, body = fresh_ticket(sandbox), "Any news?"
    async with make_client(sandbox) as other:
        await other.add_comment(number, body=body)
    await anyio.sleep(0.3)
    sandbox.set_faults({"sequence": [{"kind": "drop", "applied": False}], "methods": ["POST"]})
    async with make_client(sandbox, clock_tolerance=0.1) as c:
        with pytest.raises(TransportError) as info:
            await c.add_comment(number, body=body)
    assert info.value.code == "not_applied" and info.value.message.startswith(
        "The connection dropped after sending, but the thread of ticket"
    )
    assert [x["body"] for x in sandbox.state.store.comments_of(number)].count(body) == 1


async def test_comment_ids_are_shared_by_clients_of_one_state(sandbox: SandboxHandle) -> None:
    number, body, shared = fresh_ticket(sandbox), "Shared memory", MemoryDedup()
    async with make_client(sandbox, dedup=shared, dedup_window=0) as first:
        await first.add_comment(number, body=body)
    sandbox.set_faults({"sequence": ["500"], "methods": ["POST"]})
    async with make_client(sandbox, dedup=shared, dedup_window=0) as second:
        with pytest.raises(ServerError) as info:
            await second.add_comment(number, body=body)
    assert info.value.code == "not_applied"


# -- creates ------------------------------------------------------------------------------------------


async def test_create_found_missing_says_a_retry_is_safe(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["503"], "methods": ["POST"]})
    async with make_client(sandbox) as c:
        with pytest.raises(ServerError) as info:
            await c.create_ticket(
                summary="Settle: create lost", categories=[CATEGORY], category_fields=FIELDS
            )
        assert info.value.code == "not_applied" and not info.value.outcome_unknown
        assert info.value.message == (
            "The API answered HTTP 503, but the ticket list, read just now, has no new ticket with this "
            "summary: it was not created. Calling create_ticket again is safe; try again if it is still wanted."
        )
        result = await c.create_ticket(
            summary="Settle: create lost", categories=[CATEGORY], category_fields=FIELDS
        )
    assert not result.recovered and not result.reused
    assert len([e for e in calls(sandbox, "POST", "/v2/tickets") if e["status"] == 200]) == 1
