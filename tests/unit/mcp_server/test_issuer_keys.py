"""`IssuerKeys` through `JwksTokenVerifier`: backoff on failures, one fetch in flight, recovery, stale keys.

The JWKS is an `httpx2.MockTransport` (no socket) and time is a settable clock, so a 30 s cooldown and a
5-minute lifespan are crossed without waiting. The same behaviour over real HTTP, against a server
process, is ``tests/security/test_oauth_keys.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest

from support.oauth_issuer import Issuer, public_jwk, rsa_key
from tickets_mcp.mcp_server.callers import (
    JWKS_LIFESPAN,
    REFRESH_COOLDOWN,
    WARN_EVERY,
    JwksTokenVerifier,
    KeysUnavailable,
)

pytestmark = pytest.mark.anyio
AUDIENCE = "https://tickets.example.test/mcp"
ISSUER_URL = "https://issuer.example.test"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeJwks:
    """The issuer's JWKS: what it answers now (``answer`` returns a response), and every fetch."""

    issuer: Issuer
    status: int = 200
    body: object = None  # None: the issuer's key set
    gate: anyio.Event | None = None  # set: each fetch waits for it
    fetches: int = 0
    log: list[float] = field(default_factory=list)

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.fetches += 1
        if self.gate is not None:
            await self.gate.wait()
        body = self.issuer.jwks() if self.body is None else self.body
        return httpx2.Response(self.status, json=body)


@pytest.fixture
def issuer() -> Issuer:
    made = Issuer(url=ISSUER_URL)
    made.keys["k1"] = rsa_key()
    made.published.append("k1")
    return made


def make(jwks: FakeJwks, clock: Clock, **options: float) -> JwksTokenVerifier:
    return JwksTokenVerifier(
        issuer=ISSUER_URL,
        jwks_url="https://issuer.example.test/jwks.json",
        audience=AUDIENCE,
        transport=httpx2.MockTransport(jwks.handle),
        clock=clock,
        **options,
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def unavailable(verifier: JwksTokenVerifier, token: str) -> KeysUnavailable:
    with pytest.raises(KeysUnavailable) as raised:
        await verifier.verify_token(token)
    return raised.value


async def test_a_failing_jwks_is_tried_once_per_cooldown_with_one_warning(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    clock, jwks = Clock(), FakeJwks(issuer, status=500)
    verifier = make(jwks, clock)
    token = issuer.mint(AUDIENCE)
    with caplog.at_level(logging.DEBUG, logger="tickets_mcp.mcp_server"):
        first = await unavailable(verifier, token)
        for _ in range(29):
            clock.now += 0.5
            await unavailable(verifier, token)
        assert jwks.fetches == 1
        assert first.retry_after == REFRESH_COOLDOWN and "HTTP 500" in first.reason
        clock.now += REFRESH_COOLDOWN
        later = await unavailable(verifier, token)  # the next try, failing too: no second warning
    assert jwks.fetches == 2 and later.retry_after == REFRESH_COOLDOWN
    assert len(warnings(caplog)) == 1 and "could not be fetched" in warnings(caplog)[0]
    assert token not in caplog.text


async def test_the_warning_is_repeated_only_every_few_minutes_while_it_fails(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    clock, jwks = Clock(), FakeJwks(issuer, status=503)
    verifier = make(jwks, clock)
    token = issuer.mint(AUDIENCE)
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        for _ in range(int(WARN_EVERY / REFRESH_COOLDOWN) + 1):  # 11 tries over 300 s
            await unavailable(verifier, token)
            clock.now += REFRESH_COOLDOWN
    assert jwks.fetches == 11
    assert len(warnings(caplog)) == 2 and "still cannot be fetched" in warnings(caplog)[1]


async def test_after_the_cooldown_a_recovered_jwks_is_fetched_and_tokens_work(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    clock, jwks = Clock(), FakeJwks(issuer, status=500)
    verifier = make(jwks, clock, cooldown=2)  # a short cooldown, as a constructor argument
    token = issuer.mint(AUDIENCE)
    await unavailable(verifier, token)
    jwks.status = 200
    clock.now += 1
    await unavailable(verifier, token)  # recovered, but not tried again yet
    assert jwks.fetches == 1
    clock.now += 1
    with caplog.at_level(logging.INFO, logger="tickets_mcp.mcp_server"):
        access = await verifier.verify_token(token)
    assert access is not None and access.subject == "user-42"
    assert jwks.fetches == 2 and "fetched from" in caplog.text and "again" in caplog.text
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None and jwks.fetches == 2  # cached


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, "not a key set", "not a JSON object"),
        (200, {"keys": []}, "did not contain any keys"),
        (200, {"keys": [{**public_jwk(rsa_key(), "x"), "use": "enc"}]}, "no signing key"),
        (404, {"error": "nope"}, "HTTP 404"),
    ],
)
async def test_an_answer_that_is_no_key_set_is_an_outage_too(
    issuer: Issuer, status: int, body: object, reason: str
) -> None:
    jwks = FakeJwks(issuer, status=status, body=body)
    failure = await unavailable(make(jwks, Clock()), issuer.mint(AUDIENCE))
    assert reason in failure.reason


async def test_concurrent_requests_share_one_fetch(issuer: Issuer) -> None:
    jwks = FakeJwks(issuer, gate=anyio.Event())
    verifier = make(jwks, Clock())
    results: list[object] = []

    async def verify() -> None:
        results.append(await verifier.verify_token(issuer.mint(AUDIENCE)))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(verify)
        await anyio.wait_all_tasks_blocked()
        assert jwks.fetches == 1  # the other three wait for it
        jwks.gate.set()  # type: ignore[union-attr]
    assert len(results) == 4 and all(r is not None for r in results) and jwks.fetches == 1


async def test_a_hanging_jwks_times_out_once_for_everyone(issuer: Issuer) -> None:
    jwks = FakeJwks(issuer, gate=anyio.Event())  # never set: the fetch hangs
    verifier = make(jwks, Clock(), timeout=0.3)
    failures: list[KeysUnavailable] = []

    async def verify() -> None:
        failures.append(await unavailable(verifier, issuer.mint(AUDIENCE)))

    with anyio.fail_after(2):  # one timeout, not four in a row
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(verify)
    assert jwks.fetches == 1 and len(failures) == 4
    assert all("no answer within 0.3 s" in f.reason for f in failures)


async def test_the_fetch_goes_on_when_the_request_that_started_it_is_cancelled(issuer: Issuer) -> None:
    jwks = FakeJwks(issuer, gate=anyio.Event())
    verifier = make(jwks, Clock())
    token = issuer.mint(AUDIENCE)
    waited: list[object] = []

    async def waiter() -> None:
        waited.append(await verifier.verify_token(token))

    starter = anyio.CancelScope()

    async def start() -> None:
        with starter:
            await verifier.verify_token(token)

    async with anyio.create_task_group() as tg:
        tg.start_soon(start)
        await anyio.wait_all_tasks_blocked()  # the starter's fetch is in flight
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        starter.cancel()  # the starter's request goes away (its client disconnected)
        await anyio.sleep(0.05)
        jwks.gate.set()  # type: ignore[union-attr]
    assert waited and waited[0] is not None and jwks.fetches == 1


async def test_while_the_jwks_fails_the_last_keys_serve_for_one_more_lifespan(issuer: Issuer) -> None:
    clock, jwks = Clock(), FakeJwks(issuer)
    verifier = make(jwks, clock)
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    jwks.status = 500
    clock.now += JWKS_LIFESPAN + 1  # the set is due for a fetch, which fails
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    assert jwks.fetches == 2
    clock.now += JWKS_LIFESPAN - 2  # still within the extra lifespan
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    clock.now += 2  # two lifespans old: no longer used
    await unavailable(verifier, issuer.mint(AUDIENCE))


async def test_an_unknown_kid_is_refused_without_a_fetch_within_the_cooldown(issuer: Issuer) -> None:
    clock, jwks = Clock(), FakeJwks(issuer)
    verifier = make(jwks, clock)
    assert await verifier.verify_token(issuer.mint(AUDIENCE)) is not None
    stranger = rsa_key()
    for n in range(5):
        assert await verifier.verify_token(issuer.mint(AUDIENCE, kid=f"k-{n}", key=stranger)) is None
    assert jwks.fetches == 1  # a 401 each: the set fetched just now has no such key
    issuer.keys["k2"] = rsa_key()
    issuer.published.append("k2")
    clock.now += REFRESH_COOLDOWN
    assert await verifier.verify_token(issuer.mint(AUDIENCE, kid="k2")) is not None
    assert jwks.fetches == 2
    jwks.status = 500
    clock.now += REFRESH_COOLDOWN
    unknown: Callable[[], str] = lambda: issuer.mint(AUDIENCE, kid="k-new", key=stranger)  # noqa: E731
    await unavailable(verifier, unknown())  # the JWKS fails: whether k-new exists cannot be known
    assert await verifier.verify_token(issuer.mint(AUDIENCE, kid="k2")) is not None  # known keys still work
