"""Per-request upstream credentials over streamable HTTP, in both protocol eras.

A real `tickets-mcp --transport http --credentials per-request` process with no credential of its own,
in front of a sandbox that accepts several static tokens. Each MCP client sends its user's token in
``X-Selectel-Token``. The sandbox journal shows what reached the API; the server's stderr (DEBUG) must
never hold a token.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ResourceUpdatedNotification

from support.mcp_client import text_of
from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
ALPHA = "alpha-3c9f0e7d2b_111"  # account 111
GAMMA = "gamma-81d4aa90c6_111"  # account 111 too: shares alpha's pacing, not its dedup
BETA = "beta-5e22b7c1f0_222"  # account 222
UNKNOWN = "unknown-77aa10_333"  # the API refuses it
TOKENS = (ALPHA, GAMMA, BETA)


@dataclass
class Running:
    sb: SandboxHandle
    url: str
    stderr: list[str]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with run_sandbox(static_tokens=TOKENS, creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        process = ServerProcess(
            {
                "SELECTEL_TICKETS_URL": sb.base_url,
                "SELECTEL_IDENTITY_URL": sb.identity_url,
                "TICKETS_MCP_CREDENTIALS": "per-request",
                "TICKETS_MCP_CREATES_PER_MINUTE": "1",
                "TICKETS_MCP_RETRY_BUDGET": "0",
                "TICKETS_MCP_LOG_LEVEL": "DEBUG",
                "TICKETS_MCP_POLL_INTERVAL": "0.2",
            }
        )
        stderr: list[str] = []
        try:
            yield Running(sb, process.start().url, stderr)
        finally:
            process.stop()
            stderr.append(process.stderr())
        for token in (*TOKENS, UNKNOWN):
            assert token not in stderr[-1], "a credential reached the log"


def client(server: Running, token: str, era: str) -> Client:
    http = httpx2.AsyncClient(headers={"X-Selectel-Token": token}, timeout=30)
    return Client(streamable_http_client(server.url, http_client=http), mode=era)  # type: ignore[arg-type]


def posts(sb: SandboxHandle) -> list[dict[str, object]]:
    return [e for e in sb.writes() if str(e["path"]).endswith("/v2/tickets")]


def test_a_request_without_a_credential_is_refused_naming_the_headers(server: Running) -> None:
    answer = httpx2.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=5)
    assert answer.status_code == 401
    message = answer.json()["message"]
    assert "X-Selectel-Token" in message and "X-Selectel-Auth-Token" in message
    both = {"X-Selectel-Token": ALPHA, "X-Selectel-Auth-Token": "iam"}
    assert httpx2.post(server.url, json={}, headers=both, timeout=5).status_code == 401
    assert httpx2.get(server.url.replace("/mcp", "/healthz"), timeout=5).status_code == 200


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_each_call_uses_its_own_users_credential(server: Running, era: str) -> None:
    async with client(server, UNKNOWN, era) as stranger, client(server, ALPHA, era) as alpha:
        refused = await stranger.call_tool("get_ticket", {"number": 2401006})
        read = await alpha.call_tool("get_ticket", {"number": 2401006})
        again = await stranger.call_tool("list_categories", {})
    assert refused.is_error and refused.structured_content["code"] == "auth"
    assert "X-Selectel-Token" in text_of(refused)
    assert not read.is_error and read.structured_content["ticket"]["number"] == 2401006
    assert again.is_error  # alpha's cached catalog is not the stranger's


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the 2025-11-25 way, on purpose
async def test_subscriptions_poll_with_each_users_credential_and_notify_only_them(server: Running) -> None:
    """Alpha (listen, 2026-07-28) and a stranger (subscribe, 2025-11-25) watch the same ticket. The thread is
    read with each one's own credential: alpha is notified; the stranger, whose credential the API refuses,
    is not, and alpha's event does not leak to the stranger's session."""
    number = 2401006
    stranger_updates: list[str] = []

    async def on_message(message: object) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            stranger_updates.append(str(root.params.uri))

    http = httpx2.AsyncClient(headers={"X-Selectel-Token": UNKNOWN}, timeout=30)
    stranger_client = Client(
        streamable_http_client(server.url, http_client=http),  # type: ignore[arg-type]
        mode="legacy",
        message_handler=on_message,
    )
    async with client(server, ALPHA, "auto") as alpha, stranger_client as stranger:
        await stranger.subscribe_resource(f"tickets://{number}")
        async with alpha.listen(resource_subscriptions=[f"tickets://{number}"]) as sub:
            await anyio.sleep(0.5)
            server.sb.support_reply(number, "Both replicas are healthy again.")
            with anyio.fail_after(10):
                async for event in sub:
                    assert getattr(event, "uri", None) == f"tickets://{number}"
                    break
        await anyio.sleep(0.6)
    assert stranger_updates == []


async def test_dedup_is_per_credential_and_pacing_per_account(server: Running) -> None:
    sb = server.sb
    sb.clear_journal()
    draft = {
        "summary": f"per-request {uuid.uuid4().hex[:6]}",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["a.example"]}],
    }
    async with client(server, ALPHA, "auto") as alpha, client(server, BETA, "legacy") as beta:
        first = await alpha.call_tool("create_ticket", draft)
        other_user = await beta.call_tool("create_ticket", draft)
        repeated = await alpha.call_tool("create_ticket", draft)
    assert not first.is_error and not other_user.is_error, (text_of(first), text_of(other_user))
    numbers = {
        first.structured_content["ticket"]["number"],
        other_user.structured_content["ticket"]["number"],
    }
    assert len(numbers) == 2  # beta's identical draft is its own ticket, not alpha's
    assert repeated.structured_content["reused"] is True
    assert repeated.structured_content["ticket"]["number"] == first.structured_content["ticket"]["number"]
    assert len(posts(sb)) == 2
    async with client(server, GAMMA, "auto") as gamma:  # same account as alpha: 1 create per minute used
        paced = await gamma.call_tool("create_ticket", {**draft, "summary": "gamma's own"})
    assert paced.structured_content["code"] == "paced" and "this server held" in text_of(paced)
    assert len(posts(sb)) == 2


def test_per_request_credentials_need_http() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
    done = subprocess.run(
        [sys.executable, "-m", "tickets_mcp", "--credentials", "per-request"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "needs --transport http" in done.stderr
