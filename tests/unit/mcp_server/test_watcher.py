"""Unit tests of the thread watcher (`subscriptions.py`): polls driven by hand (`poll_once`) against a
fake mark reader, the in-process `LocalExchange`, and the `IdentityBus`; no timers, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp.server.subscriptions import ResourceUpdated

from tickets_mcp.api import NotFound
from tickets_mcp.api.models import TicketV2
from tickets_mcp.mcp_server.state import Caller, CatalogCache, ServerState
from tickets_mcp.mcp_server.subscriptions import (
    IdentityBus,
    LocalExchange,
    ThreadWatcher,
    listening,
    ticket_number,
)
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio

URI = "tickets://7"


class Marks:
    """What each (identity, ticket) looks like to the watcher; ``fail`` makes the next reads raise."""

    def __init__(self) -> None:
        self.now: dict[tuple[str, int], tuple[object, object, object]] = {}
        self.reads: list[tuple[str, int]] = []
        self.fail: Exception | None = None

    def set(
        self, identity: str, number: int, updated: str = "t0", unread: int = 0, status: str = "open"
    ) -> None:
        self.now[(identity, number)] = (updated, unread, status)

    async def read(self, identity: str, number: int) -> tuple[object, object, object]:
        self.reads.append((identity, number))
        if self.fail is not None:
            raise self.fail
        return self.now[(identity, number)]


class Session:
    """A 2025-11-25 session: records the uris it is told about."""

    def __init__(self, broken: bool = False) -> None:
        self.told: list[str] = []
        self.broken = broken

    async def send_resource_updated(self, uri: str) -> None:
        if self.broken:
            raise anyio.ClosedResourceError
        self.told.append(uri)


def watcher_of(marks: Marks, bus: IdentityBus | None = None) -> ThreadWatcher:
    return ThreadWatcher(marks.read, 60.0, IdentityBus() if bus is None else bus, LocalExchange())


@asynccontextmanager
async def running(watcher: ThreadWatcher) -> AsyncIterator[None]:
    """The exchange listening (as `ThreadWatcher.run` starts it), without the timed poll loop."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(watcher.exchange.listen, watcher.notify)
        await anyio.wait_all_tasks_blocked()
        yield
        tg.cancel_scope.cancel()


async def subscribe(watcher: ThreadWatcher, identity: str, session: Session, uri: str = URI) -> None:
    """What `resources/subscribe` does for a session."""
    watcher.add_session((identity, uri), id(session), session)
    await watcher.watch(uri, identity)


# --- sessions ------------------------------------------------------------------------------------------


async def test_a_change_notifies_the_subscriber_once() -> None:
    marks, session = Marks(), Session()
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", session)
        assert session.told == []  # the first mark is what the thread looks like now, not a change
        marks.set("alice", 7, unread=1)
        assert await watcher.poll_once() == [("alice", 7)]
        assert await watcher.poll_once() == []
    assert session.told == [URI]


async def test_an_unchanged_poll_notifies_nobody() -> None:
    marks, session = Marks(), Session()
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", session)
        for _ in range(3):
            assert await watcher.poll_once() == []
    assert session.told == []
    assert marks.reads == [("alice", 7)] * 4  # one read at subscribe, one per poll


async def test_a_change_reaches_every_session_of_that_identity_and_no_other() -> None:
    marks, alice, alice_too, bob = Marks(), Session(), Session(), Session()
    marks.set("alice", 7)
    marks.set("bob", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", alice)
        await subscribe(watcher, "alice", alice_too)  # a second connection of the same caller
        await subscribe(watcher, "bob", bob)
        marks.set("alice", 7, updated="t1")  # what alice's credential sees changed
        assert await watcher.poll_once() == [("alice", 7)]
    assert alice.told == [URI] and alice_too.told == [URI] and bob.told == []


async def test_notify_tells_each_uri_written_for_the_ticket_but_no_other_ticket() -> None:
    marks, session, other = Marks(), Session(), Session()
    for n in (7, 8):
        marks.set("alice", n)
    watcher = watcher_of(marks)
    await subscribe(watcher, "alice", session, URI)
    await subscribe(watcher, "alice", session, "tickets://7?view=latest")
    await subscribe(watcher, "alice", other, "tickets://8")
    assert watcher.watches() == {("alice", 7), ("alice", 8)}
    await watcher.notify(("alice", 7))
    assert sorted(session.told) == [URI, "tickets://7?view=latest"] and other.told == []


async def test_unsubscribing_stops_notifications_and_forgets_the_mark() -> None:
    marks, session = Marks(), Session()
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", session)
        watcher.drop_session(("alice", URI), id(session))
        assert watcher.watches() == set()
        marks.set("alice", 7, status="closed")
        assert await watcher.poll_once() == []
    assert session.told == []
    assert isinstance(watcher.exchange, LocalExchange) and watcher.exchange.marks == {}
    assert marks.reads == [("alice", 7)]  # nothing polled once nobody watches


async def test_a_second_session_keeps_the_watch_when_the_first_leaves() -> None:
    marks, first, second = Marks(), Session(), Session()
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", first)
        await subscribe(watcher, "alice", second)
        watcher.drop_session(("alice", URI), id(first))
        marks.set("alice", 7, unread=2)
        await watcher.poll_once()
    assert first.told == [] and second.told == [URI]


async def test_a_session_that_cannot_be_told_is_dropped() -> None:
    marks, broken = Marks(), Session(broken=True)
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    await subscribe(watcher, "alice", broken)
    await watcher.notify(("alice", 7))
    assert watcher.watches() == set()


async def test_a_failed_read_is_not_a_change_and_polling_goes_on() -> None:
    marks, session = Marks(), Session()
    marks.set("alice", 7)
    watcher = watcher_of(marks)
    async with running(watcher):
        await subscribe(watcher, "alice", session)
        marks.fail = NotFound("gone", operation="get_ticket", status=404)
        assert await watcher.poll_once() == []  # logged, not raised
        marks.fail = KeyError("alice")  # a per-request credential no longer held
        assert await watcher.poll_once() == []
        marks.fail = None
        marks.set("alice", 7, unread=5)
        assert await watcher.poll_once() == [("alice", 7)]
    assert session.told == [URI]


async def test_a_uri_that_is_not_a_ticket_is_never_polled() -> None:
    marks, session = Marks(), Session()
    watcher = watcher_of(marks)
    await subscribe(watcher, "alice", session, "tickets://catalog/categories")
    assert watcher.watches() == set()
    assert await watcher.poll_once() == [] and marks.reads == []


def test_ticket_numbers_are_read_from_ticket_uris_only() -> None:
    assert ticket_number("tickets://2401007") == 2401007
    assert ticket_number("tickets://7?view=latest") == 7
    assert ticket_number("tickets://7/comments") is None
    assert ticket_number("tickets://abc") is None
    assert ticket_number("https://7") is None


# --- the exchange --------------------------------------------------------------------------------------


async def test_the_local_exchange_does_not_count_the_first_mark_as_a_change() -> None:
    exchange = LocalExchange()
    assert not await exchange.changed(("a", 1), "m1")
    assert not await exchange.changed(("a", 1), "m1")
    assert await exchange.changed(("a", 1), "m2")
    exchange.forget(set())
    assert not await exchange.changed(("a", 1), "m3")  # forgotten: a first mark again
    assert await exchange.claim(("a", 1))


# --- the bus and listen streams (2026-07-28) --------------------------------------------------------------


async def test_a_listen_stream_gets_its_identitys_changes_only() -> None:
    marks, bus = Marks(), IdentityBus()
    marks.set("alice", 7)
    marks.set("bob", 7)
    watcher = watcher_of(marks, bus)
    got: dict[str, list[Any]] = {"alice": [], "bob": []}

    def listen(identity: str) -> Any:
        """The request context of a `subscriptions/listen` for ``identity`` (one ticket uri, one other)."""
        return SimpleNamespace(
            method="subscriptions/listen",
            params={"notifications": {"resourceSubscriptions": [URI, "not-a-ticket"]}},
            lifespan_context=SimpleNamespace(
                watcher=watcher, caller=lambda ctx: SimpleNamespace(identity=identity)
            ),
        )

    async def alice_stream(ctx: Any) -> str:  # the SDK subscribes the stream inside the middleware
        unsubscribe = bus.subscribe(got["alice"].append)
        try:
            return await listening(listen("bob"), bob_stream)  # bob's stream opens while alice's is open
        finally:
            unsubscribe()

    async def bob_stream(ctx: Any) -> str:
        unsubscribe = bus.subscribe(got["bob"].append)
        try:
            assert watcher.watches() == {("alice", 7), ("bob", 7)}
            marks.set("alice", 7, updated="t1")
            assert await watcher.poll_once() == [("alice", 7)]
            return "closed"
        finally:
            unsubscribe()

    async with running(watcher):
        assert await listening(listen("alice"), alice_stream) == "closed"
    assert got == {"alice": [ResourceUpdated(uri=URI)], "bob": []}
    assert watcher.watches() == set() and len(bus) == 0  # both streams closed


async def test_other_methods_pass_the_listen_middleware_untouched() -> None:
    async def call_next(ctx: Any) -> str:
        return "next"

    assert await listening(SimpleNamespace(method="tools/list"), call_next) == "next"


async def test_a_broadcast_reaches_every_stream_and_a_broken_one_does_not_starve_the_rest() -> None:
    bus = IdentityBus()
    got: list[Any] = []

    def broken(event: Any) -> None:
        raise RuntimeError("stream gone")

    bus.subscribe(broken)
    bus.subscribe(got.append)
    event = ResourceUpdated(uri=URI)
    await bus.publish(event)
    assert got == [event]
    bus.deliver("alice", event)  # a stream opened outside `listening` has no identity: not alice's
    assert got == [event]


# --- ServerState's marker --------------------------------------------------------------------------------


class TicketReader:
    def __init__(self, ticket: dict[str, Any]) -> None:
        self.ticket = ticket

    async def get_ticket(self, number: int) -> TicketV2:
        return TicketV2.model_validate({"number": number, **self.ticket})


BASE = {
    "updated_at": "2026-11-01T10:00:00Z",
    "unread_comments_count": 0,
    "status": "in_progress",
    "summary": "a",
}


@pytest.mark.parametrize(
    ("field", "value", "changed"),
    [
        ("updated_at", "2026-11-01T10:05:00Z", True),
        ("unread_comments_count", 1, True),
        ("status", "closed", True),
        ("summary", "b", False),
        ("is_client_read", True, False),
    ],
)
async def test_the_server_state_marks_a_ticket_by_update_time_unread_count_and_status(
    field: str, value: object, changed: bool
) -> None:
    state = ServerState(Settings(), IdentityBus())
    reader = TicketReader(dict(BASE))
    state.own = Caller(state, "server", lambda: reader, CatalogCache(lambda: reader, 300.0))  # type: ignore[arg-type, return-value]
    session = Session()
    async with running(state.watcher):
        await subscribe(state.watcher, "server", session)
        reader.ticket[field] = value
        await state.watcher.poll_once()
    assert session.told == ([URI] if changed else [])
