"""Three replicas as real processes sharing one real Redis, clients spread round-robin.

The sandbox runs with its minute compressed to 1 s (``time_scale=1/60``): it allows 2 creates per
second and answers 429 past that, like the real API per minute. The replicas are configured the same
way (``TICKETS_MCP_RATE_WINDOW=1``), share ``TICKETS_MCP_REDIS_URL`` and ``TICKETS_MCP_STATE_KEY``.
2026-07-28 clients go through `RoundRobin`, so consecutive requests of one client (a consent question
and its answer, for one) land on different replicas; 2025-11-25 clients keep their session on one
replica, and are spread over the three. The sandbox journal says what reached the API.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceUpdatedNotification

from support.mcp_client import Elicitor, text_of
from support.redis_server import RedisServer
from support.sandbox import upstream_env
from support.servers import RoundRobin, ServerProcess, running_replicas
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
STATE_KEY = "replica-test-state-key-0123456789abcdef"
WINDOW = 1.0


@dataclass
class Cluster:
    sb: SandboxHandle
    redis: RedisServer
    replicas: list[ServerProcess]

    @property
    def ports(self) -> list[int]:
        return [r.port for r in self.replicas]


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer) -> Iterator[Cluster]:
    redis_server.flush()
    with run_sandbox(time_scale=WINDOW / 60) as sb:
        env = {
            **upstream_env(sb),
            "TICKETS_MCP_REDIS_URL": redis_server.url,
            "TICKETS_MCP_STATE_KEY": STATE_KEY,
            "TICKETS_MCP_RATE_WINDOW": str(WINDOW),
            "TICKETS_MCP_RETRY_BUDGET": "20",
            "TICKETS_MCP_POLL_INTERVAL": "0.2",
            "TICKETS_MCP_CALLS_PER_MINUTE": "40",
        }
        with running_replicas(env, secret=sb.token) as replicas:
            yield Cluster(sb, redis_server, replicas)


@asynccontextmanager
async def spread(cluster: Cluster, **options: Any) -> AsyncIterator[tuple[Client, RoundRobin]]:
    """A 2026-07-28 client whose requests go round-robin to the three replicas."""
    transport = RoundRobin(cluster.ports)
    http = httpx2.AsyncClient(transport=transport, timeout=60)
    async with Client(streamable_http_client(cluster.replicas[0].url, http_client=http), **options) as c:  # type: ignore[arg-type]
        yield c, transport


def pinned(replica: ServerProcess, **options: Any) -> Client:
    """A 2025-11-25 client whose session lives on ``replica``."""
    http = httpx2.AsyncClient(timeout=60)
    return Client(streamable_http_client(replica.url, http_client=http), mode="legacy", **options)  # type: ignore[arg-type]


def draft(tag: str) -> dict[str, Any]:
    return {
        "summary": f"replicas {tag} {uuid.uuid4().hex[:8]}",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["replica.example"]}],
    }


def creates(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sb.journal() if e["method"] == "POST" and str(e["path"]).endswith("/v2/tickets")]


async def test_a_consent_answer_is_accepted_by_another_replica(cluster: Cluster) -> None:
    elicitor = Elicitor()
    async with spread(cluster, elicitation_callback=elicitor) as (c, transport):
        created = await c.call_tool("create_ticket", draft("consent"))
        number = created.structured_content["ticket"]["number"]
        cluster.sb.clear_journal()
        sent_before = len(transport.sent)
        closed = await c.call_tool("close_ticket", {"number": number})
    assert not closed.is_error, text_of(closed)
    assert len(elicitor.questions) == 1 and str(number) in elicitor.questions[0]
    # the question and the answer were two requests, served by two different replicas
    call_ports = transport.sent[sent_before:]
    assert len(call_ports) >= 2 and len(set(call_ports)) >= 2
    closes = [e for e in cluster.sb.writes() if str(e["path"]).endswith(f"/{number}/close")]
    assert len(closes) == 1


async def test_without_the_same_state_key_the_answer_is_refused(cluster: Cluster) -> None:
    """The control: a replica with another key cannot open the question's sealed state; nothing is sent."""
    other = ServerProcess(
        {**cluster.replicas[0].env, "TICKETS_MCP_STATE_KEY": "another-key-" + "x" * 32}
    ).start()
    try:
        async with spread(cluster) as (c, _):
            number = (await c.call_tool("create_ticket", draft("control"))).structured_content["ticket"][
                "number"
            ]
        cluster.sb.clear_journal()
        transport = RoundRobin([cluster.ports[0], other.port])
        http = httpx2.AsyncClient(transport=transport, timeout=60)
        client = Client(streamable_http_client(other.url, http_client=http), elicitation_callback=Elicitor())  # type: ignore[arg-type]
        async with client as c:
            with pytest.raises(MCPError, match="Invalid or expired requestState"):
                await c.call_tool("close_ticket", {"number": number})
    finally:
        other.stop()
    assert not [e for e in cluster.sb.writes() if str(e["path"]).endswith(f"/{number}/close")]


async def test_an_identical_create_on_three_replicas_makes_one_ticket(cluster: Cluster) -> None:
    body = draft("dedup")
    cluster.sb.clear_journal()
    results: list[Any] = [None] * 3

    async def create(i: int) -> None:
        async with pinned(cluster.replicas[i]) as c:
            results[i] = await c.call_tool("create_ticket", body)

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(create, i)
    assert all(not r.is_error for r in results), [text_of(r) for r in results]
    numbers = {r.structured_content["ticket"]["number"] for r in results}
    assert len(numbers) == 1
    assert len([e for e in creates(cluster.sb) if e["status"] < 300]) == 1


async def test_creates_spread_over_replicas_keep_the_api_limit(cluster: Cluster) -> None:
    """Six different creates at once through three replicas: at most 2 per window reach the API, none 429."""
    cluster.sb.clear_journal()
    results: list[Any] = []

    async def create(i: int) -> None:
        async with spread(cluster) as (c, _):
            results.append(await c.call_tool("create_ticket", draft(f"pace{i}")))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(create, i)
    assert all(not r.is_error for r in results), [text_of(r) for r in results]
    sent = creates(cluster.sb)
    assert len(sent) == 6 and all(e["status"] < 300 for e in sent), [e["status"] for e in sent]
    times = sorted(e["time"] for e in sent)
    for i in range(len(times) - 2):
        assert times[i + 2] - times[i] >= WINDOW * 0.9, times  # no third create within one window


async def test_the_call_limit_holds_across_replicas(cluster: Cluster) -> None:
    """40 calls per window per client: a burst of 50 round-robin calls is cut near 40, not at 3 x 40."""
    await anyio.sleep(WINDOW)
    async with spread(cluster, client_info=None) as (c, _):
        results = []
        for _ in range(50):
            results.append(await c.call_tool("list_categories", {}))
    limited = [r for r in results if r.is_error and r.structured_content["code"] == "session_rate_limited"]
    assert 5 <= len(limited) <= 25, len(limited)


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the 2025-11-25 way, on purpose
async def test_a_thread_change_reaches_subscribers_on_every_replica_polled_once(cluster: Cluster) -> None:
    number = 2401006
    legacy_updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: object) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            legacy_updates.append(str(root.params.uri))
            got.set()

    uri = f"tickets://{number}"
    async with pinned(cluster.replicas[1], message_handler=on_message) as legacy:
        await legacy.subscribe_resource(uri)
        http = httpx2.AsyncClient(timeout=60)
        async with Client(streamable_http_client(cluster.replicas[2].url, http_client=http)) as modern:  # type: ignore[arg-type]
            async with modern.listen(resource_subscriptions=[uri]) as sub:
                cluster.sb.clear_journal()
                await anyio.sleep(2.0)
                polls = [e for e in cluster.sb.journal() if str(e["path"]).endswith(f"/v2/tickets/{number}")]
                cluster.sb.support_reply(number, "All three replicas see this.")
                with anyio.fail_after(10):
                    async for event in sub:
                        assert getattr(event, "uri", None) == uri
                        break
                    await got.wait()
    assert legacy_updates == [uri]
    # one replica polls the ticket every 0.2 s (about 10 reads in 2 s); two pollers would make about 20
    assert 3 <= len(polls) <= 14, len(polls)


def test_state_keys_are_checked_and_a_replica_without_one_says_what_breaks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pydantic import SecretStr, ValidationError

    from tickets_mcp.mcp_server.server import build_server
    from tickets_mcp.settings import Settings

    with pytest.raises(ValidationError, match="at least 32"):
        Settings(token=SecretStr("t"), state_key=SecretStr("short"))
    with pytest.raises(ValidationError, match="distinct"):
        Settings(token=SecretStr("t"), state_key=SecretStr(f"{STATE_KEY},{STATE_KEY}"))
    rotated = Settings(token=SecretStr("t"), state_key=SecretStr(f"{STATE_KEY}, {'n' * 40}"))
    assert rotated.state_keys() == [STATE_KEY, "n" * 40]  # the first seals, both open
    assert STATE_KEY in rotated.secrets()  # masked in logs like the other secrets
    caplog.set_level(logging.WARNING, logger="tickets_mcp.mcp_server")
    build_server(Settings(token=SecretStr("t"), redis_url=SecretStr("redis://127.0.0.1:1/0")))
    assert any("TICKETS_MCP_STATE_KEY is not" in r.getMessage() for r in caplog.records)
    caplog.clear()
    build_server(
        Settings(
            token=SecretStr("t"), redis_url=SecretStr("redis://127.0.0.1:1/0"), state_key=SecretStr(STATE_KEY)
        )
    )
    assert not caplog.records
