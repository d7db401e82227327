"""OAuth with an issuer whose JWKS fails: the server backs off, shares one fetch, and answers 503.

A real ``tickets-mcp --transport http`` process takes tokens of a stand-in issuer whose JWKS endpoint
(`support.jwks_outage`) answers 500 or hangs. Every request that needs the keys gets 503 with
``Retry-After`` and a JSON body (not 401: the token may be valid); the endpoint is asked at most once per
cooldown, whatever the number of requests, and the server warns once. Recovery after the cooldown is in
``tests/unit/mcp_server/test_issuer_keys.py`` (a short cooldown and a clock).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from support.jwks_outage import Jwks, Mode, jwks_endpoint
from support.oauth_issuer import Issuer, running_issuer
from support.raw_http import INIT, MCP_HEADERS
from support.servers import ServerProcess, free_port

FETCH_TIMEOUT = 3.0  # callers.JWKS_TIMEOUT
WARNED = ("keys could not be fetched", "keys still cannot be fetched")


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        yield running


def serving(issuer: Issuer, jwks: Jwks) -> ServerProcess:
    port = free_port()
    audience = f"http://127.0.0.1:{port}/mcp"
    env = {"SELECTEL_TOKEN": "own-token_100", "SELECTEL_TICKETS_URL": "http://127.0.0.1:9/support"}
    oauth = ["--oauth-issuer", issuer.url, "--oauth-jwks-url", jwks.url, "--oauth-audience", audience]
    return ServerProcess(env, [*oauth, "--log-level", "DEBUG"], port=port)


@pytest.fixture
def outage(issuer: Issuer, request: pytest.FixtureRequest) -> Iterator[tuple[Jwks, ServerProcess]]:
    mode: Mode = request.param
    with jwks_endpoint(issuer, mode) as jwks:
        server = serving(issuer, jwks).start()
        try:
            yield jwks, server
        finally:
            server.stop()


def post(server: ServerProcess, token: str | None, timeout: float = 15) -> httpx2.Response:
    headers = {**MCP_HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx2.post(server.url, json=INIT, headers=headers, timeout=timeout)


def warnings_in(server: ServerProcess) -> list[str]:
    return [line for line in server.stderr().splitlines() if any(w in line for w in WARNED)]


def assert_unavailable(answer: httpx2.Response) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text)
    assert 1 <= int(answer.headers["retry-after"]) <= 30
    body = answer.json()
    assert body["error"] == "temporarily_unavailable"
    assert "signing keys" in body["error_description"] and "retry after" in body["error_description"]


@pytest.mark.parametrize("outage", ["500"], indirect=True)
def test_a_failing_jwks_is_fetched_once_per_cooldown_and_answers_503(
    issuer: Issuer, outage: tuple[Jwks, ServerProcess]
) -> None:
    jwks, server = outage
    token = issuer.mint(server.url)
    started = time.monotonic()
    answers = [post(server, token) for _ in range(30)]
    took = time.monotonic() - started
    for answer in answers:
        assert_unavailable(answer)
    assert jwks.fetches == 1, f"{jwks.fetches} fetches for 30 requests in {took:.1f} s"
    assert len(warnings_in(server)) == 1, warnings_in(server)
    assert "Traceback" not in server.stderr()
    assert post(server, None).status_code == 401  # no token: still the OAuth challenge, not 503
    assert token not in server.stderr() and "Traceback" not in server.stderr()


@pytest.mark.parametrize("outage", ["hang"], indirect=True)
def test_a_hanging_jwks_is_one_fetch_that_every_request_waits_for_briefly(
    issuer: Issuer, outage: tuple[Jwks, ServerProcess]
) -> None:
    jwks, server = outage
    token = issuer.mint(server.url)

    def timed() -> tuple[float, httpx2.Response]:
        started = time.monotonic()
        answer = post(server, token, timeout=30)
        return time.monotonic() - started, answer

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: timed(), range(4)))
    waits = sorted(round(seconds, 1) for seconds, _ in results)
    for _, answer in results:
        assert_unavailable(answer)
    assert waits[-1] < FETCH_TIMEOUT + 2, f"waited {waits} s"  # together, not one after another
    assert jwks.fetches == 1
    quick = time.monotonic()
    assert_unavailable(post(server, token))  # within the cooldown: answered at once, nothing fetched
    assert time.monotonic() - quick < 1 and jwks.fetches == 1
    assert len(warnings_in(server)) == 1, warnings_in(server)
    assert "Traceback" not in server.stderr()
