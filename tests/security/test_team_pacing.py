"""Budgets nobody else can spend: an account's pacing and a user's call limit, through real server processes.

- **Pacing.** A static token names its account unverified (``<random>_<account>``). Real `tickets-mcp
  --credentials per-request` processes with the documented create limit (2 per minute) sit in front of a
  sandbox that knows only the real tokens and refuses the rest with 401. Creates with a made-up token that
  claims a real account are refused upstream and must not spend that account's budget; the account's real
  tokens are still paced as one, in one process and across two replicas sharing a real Redis. The sandbox
  journal says what was sent. The made-up creates go through `create_ticket_legacy`, the one paced write
  whose tool sends without reading first (the others read the ticket or the catalog with the caller's
  credential, which the API refuses before anything is paced); the client-level case of comments is in
  tests/unit/api/test_api_account_pacing.py.
- **Call limit.** With OAuth and the server's own credential, 2026-07-28 clients are counted per signed-in
  user (the access token's subject), not per credential and client name: one user's calls do not use up
  another's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from support.mcp_client import text_of
from support.oauth_issuer import Issuer, running_issuer
from support.redis_server import RedisServer
from support.servers import ServerProcess, free_port
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
LIMIT = 2  # ticket creations per minute, per account (the documented limit)
FORGED = "forged-0000000000_{account}"  # made up: the sandbox does not know it
REAL_A = "real-a-{account}-4f1c9e_{account}"
REAL_B = "real-b-{account}-07d2aa_{account}"
ACCOUNTS = ("333333", "444444", "555555")  # one per test: the server's windows outlive a test
TOKENS = tuple(t.format(account=a) for a in ACCOUNTS for t in (REAL_A, REAL_B))


@dataclass
class Upstream:
    sb: SandboxHandle
    env: dict[str, str]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with run_sandbox(static_tokens=TOKENS, creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        env = {
            "SELECTEL_TICKETS_URL": sb.base_url,
            "SELECTEL_IDENTITY_URL": sb.identity_url,
            "TICKETS_MCP_CREDENTIALS": "per-request",
            "TICKETS_MCP_TOOLSETS": "all",
            "TICKETS_MCP_CREATES_PER_MINUTE": str(LIMIT),
            "TICKETS_MCP_RETRY_BUDGET": "0",  # a create that would wait is refused at once: "paced"
            "TICKETS_MCP_DEDUP_WINDOW": "0",
        }
        yield Upstream(sb, env)


@pytest.fixture(scope="module")
def server(upstream: Upstream) -> Iterator[ServerProcess]:
    process = ServerProcess(upstream.env).start()
    try:
        yield process
    finally:
        process.stop()
    assert "Traceback" not in process.stderr()
    assert not any(token in process.stderr() for token in TOKENS), "a credential reached the log"


def client(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"X-Selectel-Token": token}, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode="auto")  # type: ignore[arg-type]


async def create(url: str, token: str, *, legacy: bool = False) -> Any:
    """A create_ticket (it reads the catalog first), or a create_ticket_legacy (it sends at once)."""
    summary = f"pacing {uuid.uuid4().hex[:8]}"
    async with client(url, token) as c:
        if legacy:
            return await c.call_tool(
                "create_ticket_legacy", {"summary": summary, "comment_body": "Disk is slow."}
            )
        draft = {"categories": ["dns"], "category_fields": [{"key": "zone", "values": ["pace.example"]}]}
        return await c.call_tool("create_ticket", {"summary": summary, **draft})


def sent(sb: SandboxHandle, account: str | None) -> list[int]:
    """The statuses of the creates (v1 or v2) that reached the API for ``account`` (None: a token it did not
    know)."""
    return [
        e["status"]
        for e in sb.writes()
        if e["method"] == "POST"
        and e["path"].endswith(("/v2/tickets", "/support/tickets"))
        and e["account"] == account
    ]


def assert_paced(result: Any) -> None:
    assert result.is_error and result.structured_content["code"] == "paced", text_of(result)


async def forge(url: str, account: str) -> None:
    for _ in range(LIMIT):
        refused = await create(url, FORGED.format(account=account), legacy=True)
        assert refused.is_error and refused.structured_content["code"] == "auth", text_of(refused)


async def test_made_up_tokens_do_not_spend_the_accounts_creates(
    upstream: Upstream, server: ServerProcess
) -> None:
    account = ACCOUNTS[0]
    upstream.sb.clear_journal()
    await forge(server.url, account)
    assert sent(upstream.sb, None) == [401] * LIMIT  # sent, and refused by the API
    for legacy in (True, False):  # its first send before the API had accepted the token, then after
        result = await create(server.url, REAL_A.format(account=account), legacy=legacy)
        assert not result.is_error, text_of(result)  # not "paced"
    assert sent(upstream.sb, account) == [200] * LIMIT


async def test_the_accounts_real_tokens_are_still_paced_as_one(
    upstream: Upstream, server: ServerProcess
) -> None:
    account = ACCOUNTS[1]
    upstream.sb.clear_journal()
    for _ in range(LIMIT):
        assert not (await create(server.url, REAL_A.format(account=account))).is_error
    # A token of the same account, new here: before and after the API has accepted it, the account is full.
    assert_paced(await create(server.url, REAL_B.format(account=account), legacy=True))
    assert_paced(await create(server.url, REAL_B.format(account=account)))
    assert sent(upstream.sb, account) == [200] * LIMIT  # the paced ones were not sent


async def test_across_replicas_sharing_redis(upstream: Upstream, redis_server: RedisServer) -> None:
    """Made-up creates on one replica, the real token's on the other: sent; then the account's other real
    token on the first replica: paced, by the sends the second replica made."""
    redis_server.flush()
    account = ACCOUNTS[2]
    env = {**upstream.env, "TICKETS_MCP_REDIS_URL": redis_server.url}
    one, two = ServerProcess(env), ServerProcess(env)
    try:
        one.start()
        two.start()
        upstream.sb.clear_journal()
        await forge(one.url, account)
        for legacy in (True, False):
            result = await create(two.url, REAL_A.format(account=account), legacy=legacy)
            assert not result.is_error, text_of(result)
        assert_paced(await create(one.url, REAL_B.format(account=account), legacy=True))
    finally:
        one.stop()
        two.stop()
    assert sent(upstream.sb, None) == [401] * LIMIT
    assert sent(upstream.sb, account) == [200] * LIMIT


# -- the call limit under OAuth ---------------------------------------------------------------------

OWN = "own-team-token_100"


@dataclass
class OAuthServer:
    issuer: Issuer
    url: str


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[OAuthServer]:
    with running_issuer() as issuer, run_sandbox(static_tokens=(OWN,)) as sb:
        port = free_port()
        url = f"http://127.0.0.1:{port}/mcp"
        process = ServerProcess(
            {
                "SELECTEL_TOKEN": OWN,
                "SELECTEL_TICKETS_URL": sb.base_url,
                "SELECTEL_IDENTITY_URL": sb.identity_url,
                "TICKETS_MCP_CALLS_PER_MINUTE": "2",
                "TICKETS_MCP_OAUTH_ISSUER": issuer.url,
                "TICKETS_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
                "TICKETS_MCP_OAUTH_AUDIENCE": url,
            },
            port=port,
        )
        try:
            yield OAuthServer(issuer, process.start().url)
        finally:
            process.stop()


def signed_in(server: OAuthServer, subject: str) -> Client:
    token = server.issuer.mint(server.url, sub=subject)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    same_program = Implementation(name="team-agent", version="1.0")  # one client program for everyone
    return Client(streamable_http_client(server.url, http_client=http), mode="auto", client_info=same_program)  # type: ignore[arg-type]


async def test_oauth_users_of_one_credential_each_have_their_own_call_limit(
    oauth_server: OAuthServer,
) -> None:
    async with signed_in(oauth_server, "user-1") as one, signed_in(oauth_server, "user-2") as two:
        for _ in range(2):
            assert not (await one.call_tool("list_categories", {})).is_error
        refused = await one.call_tool("list_categories", {})
        assert refused.structured_content["code"] == "session_rate_limited", text_of(refused)
        other = await two.call_tool("list_categories", {})
        assert not other.is_error, text_of(other)  # user-2's first call
    async with signed_in(oauth_server, "user-1") as again:  # a new client of user-1: the same budget
        assert (await again.call_tool("list_categories", {})).structured_content[
            "code"
        ] == "session_rate_limited"
