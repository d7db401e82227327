"""Retry policy: Retry-After parsing (property tests) and the classification of failures.

HTTP here is `httpx2.MockTransport`: it only checks which failures the loop retries and which
it never re-sends. The real wire behaviour is in tests/contract.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets_mcp.api import (
    PacingPolicy,
    RateLimited,
    RetryPolicy,
    ServerError,
    StaticToken,
    TicketsClient,
    TransportError,
    parse_retry_after,
)
from tickets_mcp.api.retry import backoff_ceiling, retry_after_from_headers

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.002)


@given(st.integers(0, 86_400))
def test_delta_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == seconds
    assert parse_retry_after(f"  {seconds} ") == seconds


@given(st.floats(0, 86_400, allow_nan=False))
def test_fractional_delta(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == pytest.approx(seconds)


@given(st.integers(-86_400, 86_400))
def test_http_date(offset: int) -> None:
    value = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(value, now=NOW) == max(0, offset)


@given(st.text(max_size=30))
def test_garbage_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or 0 <= result <= 86_400


@pytest.mark.parametrize("value", [None, "", "-1", "nan", "inf", "1e9", "soon", "Mon, 99 Foo 2026"])
def test_unusable_values_mean_not_said(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_ms_wins() -> None:
    assert retry_after_from_headers(httpx2.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after_from_headers(httpx2.Headers({"retry-after": "9"})) == 9


@given(st.floats(0.001, 5), st.floats(0.001, 60), st.integers(1, 200))
def test_full_jitter_stays_under_the_ceiling(base: float, cap: float, n: int) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_cap=cap)
    ceiling = backoff_ceiling(base, cap, n)
    assert ceiling <= cap
    assert 0 <= policy.backoff(n) <= ceiling
    assert RetryPolicy(backoff_base=base, backoff_cap=cap, jitter=False).backoff(n) == ceiling


# -- classification over a mock transport --------------------------------------------------------

Handler = Callable[[httpx2.Request], httpx2.Response]


def scripted(*steps: int | type[Exception] | httpx2.Response) -> tuple[Handler, list[httpx2.Request]]:
    """A handler answering each request with the next step (status, exception class or response)."""
    seen: list[httpx2.Request] = []
    queue = list(steps)

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        step = queue.pop(0) if queue else 200
        if isinstance(step, type):
            raise step("injected", request=request)
        if isinstance(step, httpx2.Response):
            return step
        if step == 200:
            return httpx2.Response(200, json={"number": 1, "id": 1, "summary": "s"})
        return httpx2.Response(step, json={"error": {"code": "x", "message": f"status {step}"}})

    return handler, seen


def client(handler: Handler, retry: RetryPolicy = FAST) -> TicketsClient:
    return TicketsClient(
        "https://example.invalid/support",
        StaticToken("t"),
        transport=httpx2.MockTransport(handler),
        retry=retry,
        pacing=PacingPolicy(enabled=False),
        dedup_window=0,
    )


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [500, 502, 503, 504, httpx2.ReadTimeout, httpx2.RemoteProtocolError])
async def test_get_is_retried_on_ambiguous_failures(failure: int | type[Exception]) -> None:
    handler, seen = scripted(failure, failure)
    async with client(handler) as c:
        assert (await c.get_ticket(1)).number == 1
    assert len(seen) == 3


@pytest.mark.anyio
async def test_get_gives_up_after_max_attempts() -> None:
    handler, seen = scripted(503, 503, 503, 503)
    async with client(handler) as c:
        with pytest.raises(ServerError) as info:
            await c.get_ticket(1)
    assert len(seen) == 3 and info.value.status == 503 and not info.value.outcome_unknown


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [500, 503, httpx2.ReadTimeout, httpx2.ReadError, httpx2.WriteTimeout])
async def test_comment_is_never_resent_after_an_ambiguous_failure(failure: int | type[Exception]) -> None:
    handler, seen = scripted(failure)
    async with client(handler) as c:
        with pytest.raises((ServerError, TransportError)) as info:
            await c.add_comment(1, body="hello")
    assert [r.method for r in seen].count("POST") == 1  # the GETs after it look for the comment
    assert info.value.outcome_unknown and "may or may not" in info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx2.ConnectError, httpx2.ConnectTimeout])
async def test_write_is_retried_when_it_never_left(failure: type[Exception]) -> None:
    handler, seen = scripted(failure)
    async with client(handler) as c:
        assert (await c.add_comment(1, body="hello")).id == 1
    assert len(seen) == 2


@pytest.mark.anyio
async def test_connect_failures_exhausted_say_nothing_was_sent() -> None:
    handler, _ = scripted(*[httpx2.ConnectError] * 5)
    async with client(handler) as c:
        with pytest.raises(TransportError) as info:
            await c.add_comment(1, body="hello")
    assert info.value.sent is False and not info.value.outcome_unknown


@pytest.mark.anyio
async def test_write_is_retried_after_429() -> None:
    handler, seen = scripted(httpx2.Response(429, headers={"Retry-After": "0"}))
    async with client(handler) as c:
        assert (await c.add_comment(1, body="hello")).id == 1
    assert len(seen) == 2


@pytest.mark.anyio
async def test_429_over_budget_raises_with_retry_after() -> None:
    handler, seen = scripted(httpx2.Response(429, headers={"Retry-After": "45"}))
    async with client(handler) as c:
        with pytest.raises(RateLimited) as info:
            await c.add_comment(1, body="hello")
    assert len(seen) == 1 and info.value.retry_after == 45 and "45" in str(info.value)


@pytest.mark.anyio
async def test_429_without_retry_after_backs_off_then_gives_up() -> None:
    handler, seen = scripted(*[429] * 10)
    policy = RetryPolicy(backoff_base=0.001, backoff_cap=0.002, max_rate_limited_retries=2)
    async with client(handler, policy) as c:
        with pytest.raises(RateLimited) as info:
            await c.get_ticket(1)
    assert len(seen) == 3 and info.value.retry_after is not None


@pytest.mark.anyio
async def test_malformed_success_is_outcome_unknown_for_writes() -> None:
    handler, seen = scripted(httpx2.Response(200, content=b'{"id": 1'))
    async with client(handler) as c:
        with pytest.raises(ServerError) as info:
            await c.add_comment(1, body="hello")
    assert [r.method for r in seen].count("POST") == 1
    assert info.value.code == "malformed_response" and info.value.outcome_unknown


@pytest.mark.anyio
async def test_4xx_is_not_retried() -> None:
    handler, seen = scripted(400, 404)
    async with client(handler) as c:
        with pytest.raises(Exception, match="status 400"):
            await c.get_ticket(1)
    assert len(seen) == 1
