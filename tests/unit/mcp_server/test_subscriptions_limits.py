"""Unit tests of the subscription bounds and the throttled polling log (`subscriptions.py`): the watcher driven
by hand against a fake mark reader and fake exchanges; no timers, no sockets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tickets_mcp.api import SharedStateUnavailable, TicketsApiError
from tickets_mcp.mcp_server.subscriptions import (
    IdentityBus,
    Limits,
    LocalExchange,
    ThreadWatcher,
    Throttle,
)
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio
LIMITS = Limits(per_session=3, per_caller=5)


class Reads:
    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []
        self.fail: Exception | None = None

    async def __call__(self, identity: str, number: int) -> tuple[object, object, object]:
        self.reads.append((identity, number))
        if self.fail is not None:
            raise self.fail
        return ("t0", 0, "open")


class Session:
    async def send_resource_updated(self, uri: str) -> None:
        return None


class Counting(LocalExchange):
    """An exchange that, like Redis, knows of tickets watched elsewhere: ``elsewhere`` per identity."""

    renew_every: float | None = 3600.0  # here only a freed ticket makes the watcher call `hold`

    def __init__(self, elsewhere: int = 0, down: bool = False) -> None:
        super().__init__()
        self.elsewhere = elsewhere
        self.down = down
        self.taken: list[tuple[str, set[int]]] = []
        self.holds: list[dict[str, set[int]]] = []
        self.held = anyio.Event()

    async def take(self, identity: str, numbers: set[int], limit: int) -> int | None:
        if self.down:
            raise SharedStateUnavailable("redis is away", retry_after=5.0)
        self.taken.append((identity, numbers))
        return self.elsewhere if self.elsewhere + len(numbers) > limit else None

    async def hold(self, held: dict[str, set[int]]) -> None:
        self.holds.append(held)
        self.held.set()


def watcher(reads: Reads | None = None, exchange: LocalExchange | None = None) -> ThreadWatcher:
    return ThreadWatcher(reads or Reads(), 60.0, IdentityBus(), exchange or LocalExchange())


def uri(n: int) -> str:
    return f"tickets://{n}"


async def subscribe(w: ThreadWatcher, identity: str, key: str, n: int | str, limits: Limits = LIMITS) -> None:
    target = n if isinstance(n, str) else uri(n)
    await w.subscribe((identity, target), key, Session(), limits)


async def refusal(pending: Awaitable[object]) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await pending
    return caught.value


# --- the bounds -----------------------------------------------------------------------------------------


def test_the_bounds_come_from_the_settings() -> None:
    settings = Settings(subscriptions_per_session=4, subscriptions_per_caller=9)
    assert Limits.of(settings) == Limits(4, 9) and not Limits.of(settings).off
    assert Limits.of(Settings()) == Limits(50, 50)
    assert Limits(0, 50).off and Limits(50, 0).off


async def test_a_session_holds_at_most_its_limit_and_the_same_uri_counts_once() -> None:
    reads = Reads()
    w = watcher(reads)
    for n in (1, 2, 3, 1, 1):
        await subscribe(w, "alice", "s1", n)
    assert reads.reads == [("alice", 1), ("alice", 2), ("alice", 3)]  # the same uri again reads nothing
    error = await refusal(subscribe(w, "alice", "s1", 4))
    assert "this session already holds 3 subscriptions" in error.message
    assert (
        "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION=3" in error.message
        and "resources/unsubscribe" in error.message
    )
    assert error.data == {
        "code": "subscription_limit",
        "limit": 3,
        "setting": "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION",
        "subscribed": [uri(1), uri(2), uri(3)],
    }
    assert ("alice", 4) not in reads.reads and w.watches() == {("alice", n) for n in (1, 2, 3)}
    w.drop_session(("alice", uri(1)), "s1")
    await subscribe(w, "alice", "s1", 4)
    assert w.tickets_of("alice") == {2, 3, 4}


async def test_two_uris_of_one_ticket_are_two_subscriptions_of_the_session_but_one_ticket_of_the_caller() -> (
    None
):
    reads = Reads()
    w = watcher(reads)
    await subscribe(w, "alice", "s1", uri(7))
    await subscribe(w, "alice", "s1", "tickets://7?page=2")
    assert w.tickets_of("alice") == {7}
    assert reads.reads == [("alice", 7)]  # already watched: its mark is known
    await subscribe(w, "alice", "s1", 8)
    await refusal(subscribe(w, "alice", "s1", 9))


async def test_the_caller_limit_counts_distinct_tickets_over_its_sessions_and_not_other_callers() -> None:
    w = watcher()
    for n in (1, 2, 3):
        await subscribe(w, "alice", "s1", n)
    for n in (4, 5):
        await subscribe(w, "alice", "s2", n)
    error = await refusal(subscribe(w, "alice", "s2", 6))
    assert "already has 5 tickets watched" in error.message
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
    assert error.data["watched"] == 5 and error.data["setting"] == "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER"
    await subscribe(w, "alice", "s2", 1)  # watched already for alice: no new ticket
    await subscribe(w, "bob", "s3", 6)  # another caller has its own count
    w.drop_connection("s1")  # the session ended: tickets 2 and 3 are freed (1 is still s2's)
    assert w.tickets_of("alice") == {1, 4, 5}
    await subscribe(w, "alice", "s4", 6)
    await subscribe(w, "alice", "s4", 7)
    await refusal(subscribe(w, "alice", "s4", 8))


async def test_zero_turns_subscriptions_off_with_a_message_naming_the_setting() -> None:
    reads = Reads()
    w = watcher(reads)
    error = await refusal(subscribe(w, "alice", "s1", 1, Limits(0, 50)))
    assert "subscriptions are turned off" in error.message
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION=0" in error.message and "resources/read" in error.message
    error = await refusal(subscribe(w, "alice", "s1", 1, Limits(50, 0)))
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=0" in error.message
    assert error.data["code"] == "subscriptions_off"
    assert reads.reads == [] and w.watches() == set()


async def test_a_uri_that_is_not_a_tickets_holds_nothing() -> None:
    w = watcher()
    for _ in range(10):
        await subscribe(w, "alice", "s1", "catalog://categories")
    assert w.sessions == {} and w.watches() == set()
    for n in (1, 2, 3):
        await subscribe(w, "alice", "s1", n)


async def test_the_exchange_refusing_rolls_the_subscription_back_and_reads_nothing() -> None:
    reads, exchange = Reads(), Counting(elsewhere=5)  # five tickets watched on other replicas
    w = watcher(reads, exchange)
    error = await refusal(subscribe(w, "alice", "s1", 1))
    assert "already has 5 tickets watched" in error.message
    assert exchange.taken == [("alice", {1})]
    assert w.watches() == set() and w.sessions == {} and reads.reads == []


async def test_the_exchange_is_asked_only_for_tickets_new_to_this_process() -> None:
    exchange = Counting()
    w = watcher(exchange=exchange)
    await subscribe(w, "alice", "s1", 1)
    await subscribe(w, "alice", "s2", 1)
    await subscribe(w, "alice", "s2", "tickets://1?page=2")
    assert exchange.taken == [("alice", {1})]


async def test_an_exchange_that_is_away_fails_open_with_this_process_count() -> None:
    w = watcher(exchange=Counting(down=True))
    for n in (1, 2, 3):
        await subscribe(w, "alice", "s1", n)
    for n in (4, 5):
        await subscribe(w, "alice", "s2", n)
    await refusal(subscribe(w, "alice", "s2", 6))  # the count of this process still holds


async def test_the_exchange_hears_of_a_freed_ticket_at_once() -> None:
    exchange = Counting()
    w = watcher(exchange=exchange)
    await subscribe(w, "alice", "s1", 1)
    await subscribe(w, "alice", "s1", 2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(w.keep_counted)
        await anyio.wait_all_tasks_blocked()
        w.drop_session(("alice", uri(1)), "s1")
        with anyio.fail_after(2):
            await exchange.held.wait()
        tg.cancel_scope.cancel()
    assert exchange.holds == [{"alice": {2}}]


# --- listen streams (2026-07-28) ----------------------------------------------------------------------------


async def test_a_listen_stream_is_bounded_per_stream_and_counted_with_the_callers_sessions() -> None:
    w = watcher()
    error = await refusal(w.listen_to("alice", [uri(n) for n in range(1, 5)], LIMITS))
    assert "asks for 4 ticket subscriptions" in error.message
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION" in error.message
    for n in (1, 2, 3):
        await subscribe(w, "alice", "s1", n)
    assert await w.listen_to("alice", [uri(1), uri(4), uri(5)], LIMITS) == [("alice", 4), ("alice", 5)]
    error = await refusal(w.listen_to("alice", [uri(6)], LIMITS))
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
    assert w.tickets_of("alice") == {1, 2, 3, 4, 5}
    error = await refusal(subscribe(w, "alice", "s2", 6))
    assert "TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER=5" in error.message
    for n in (1, 4, 5):  # the stream closed
        w.drop_listener(("alice", uri(n)))
    assert await w.listen_to("alice", [uri(6)], LIMITS) == [("alice", 6)]


async def test_a_listen_refused_by_the_exchange_holds_nothing() -> None:
    w = watcher(exchange=Counting(elsewhere=4))
    error = await refusal(w.listen_to("alice", [uri(1), uri(2)], LIMITS))
    assert "already has 4 tickets watched" in error.message
    assert w.watches() == set() and w.listeners == {}
    error = await refusal(w.listen_to("alice", [uri(1)], Limits(0, 5)))
    assert "turned off" in error.message


# --- the throttled log --------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_logs_once_per_key_per_interval_then_says_how_many_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttle = Throttle(60.0, clock)
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        for n in range(10):
            throttle.log(logging.WARNING, "alice", "api", "polling ticket %s failed: %s", n, "500")
            clock.now += 1
        throttle.log(logging.WARNING, "bob", "api", "polling ticket %s failed: %s", 99, "401")
        clock.now += 60
        throttle.log(logging.WARNING, "alice", "api", "polling ticket %s failed: %s", 42, "500")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "polling ticket 0 failed: 500",
        "polling ticket 99 failed: 401",
        "polling ticket 42 failed: 500; 9 more failed polls of this caller's threads in the last 70 s were not logged",
    ]
    assert all(r.exc_info is None for r in caplog.records)
    throttle.forget({"bob"})
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        throttle.log(logging.WARNING, "alice", "api", "polling ticket %s failed: %s", 1, "500")
    assert caplog.records[-1].getMessage() == "polling ticket 1 failed: 500"  # forgotten: a first line again


async def test_polls_that_keep_failing_log_one_line_per_caller(caplog: pytest.LogCaptureFixture) -> None:
    reads = Reads()
    w = watcher(reads)
    for n in (1, 2, 3):
        await subscribe(w, "alice", "s1", n)
    await subscribe(w, "bob", "s2", 1)
    reads.fail = TicketsApiError("500 Internal Server Error", operation="get_ticket", status=500)
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        for _ in range(20):
            assert await w.poll_once() == []
    reads.fail = KeyError("bob")
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        await w.poll_once()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(reads.reads) == 4 + 20 * 4 + 4
    assert sorted(r.getMessage() for r in warnings) == [
        "polling ticket 1 failed: 500 Internal Server Error",
        "polling ticket 1 failed: 500 Internal Server Error",
    ]
    assert sorted(r.getMessage() for r in caplog.records if r.levelno == logging.INFO) == [
        "ticket 1: its subscriber's credential is no longer held here",  # a reason of its own: not held back
        "ticket 1: its subscriber's credential is no longer held here",
    ]
