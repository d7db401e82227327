"""Three replica containers of the image and a Redis container in one podman pod, with a sandbox container.

The replicas run as the chart runs them for a team: per-request credentials behind a bearer token, one
Redis (``TICKETS_MCP_REDIS_URL``), one state key, each locked down (read-only root, /tmp only, no
capabilities). Each test uses its own account in the sandbox (a static token ending in ``_<account>``), so
dedup and pacing of one test never meet the other's. The sandbox journal, over its HTTP admin API, says
what reached the API; Redis itself shows that the replicas kept their state there.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_client import Elicitor, text_of
from support.podman import (
    FIGURES,
    LOCKED_DOWN,
    READY_PATH,
    SANDBOX_PORT,
    Container,
    Pod,
    Podman,
    journal,
    sandbox_args,
    sandbox_env,
)

pytestmark = [pytest.mark.image, pytest.mark.anyio]

REPLICA_PORTS = (8001, 8002, 8003)
REDIS_PORT = 6379
DEDUP_TOKEN = "image-test-dedup_710001"  # accounts 710001 and 710002 of the sandbox
PACING_TOKEN = "image-test-pacing_710002"


@dataclass
class Cluster:
    pod: Pod
    replicas: list[Container]
    redis: Container
    http_token: str

    def client(self, port: int, credential: str) -> Client:
        headers = {"Authorization": f"Bearer {self.http_token}", "X-Selectel-Token": credential}
        http = httpx2.AsyncClient(headers=headers, timeout=60)
        transport = streamable_http_client(self.pod.url(port, "/mcp"), http_client=http)
        return Client(transport, elicitation_callback=Elicitor())  # type: ignore[arg-type]

    def creates(self, summary: str) -> list[dict[str, Any]]:
        return [
            e
            for e in journal(self.pod)
            if e["method"] == "POST"
            and str(e["path"]).endswith("/v2/tickets")
            and (e.get("body") or {}).get("summary") == summary
        ]


@pytest.fixture(scope="module")
def cluster(podman: Podman, image: str, redis_image: str) -> Iterator[Cluster]:
    pod = Pod(podman, "replicas", [*REPLICA_PORTS, SANDBOX_PORT]).create()
    try:
        redis = pod.run(
            "redis",
            redis_image,
            "redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            options=("--user=redis",),
        )  # fmt: skip
        redis_up(redis)
        sandbox = pod.run("sandbox", image, *sandbox_args(DEDUP_TOKEN, PACING_TOKEN), options=LOCKED_DOWN)
        pod.wait(sandbox, pod.url(SANDBOX_PORT, "/_sandbox/health"))
        token = secrets.token_urlsafe(24)
        env = {
            **sandbox_env(),
            "TICKETS_MCP_CREDENTIALS": "per-request",
            "TICKETS_MCP_HTTP_TOKEN": token,
            "TICKETS_MCP_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "TICKETS_MCP_STATE_KEY": secrets.token_hex(32),
            "TICKETS_MCP_CREATES_PER_MINUTE": "1",
            "TICKETS_MCP_RETRY_BUDGET": "1",  # a paced create answers at once instead of waiting its turn
            "TICKETS_MCP_DEDUP_WINDOW": "600",
        }
        started = time.monotonic()
        replicas = [
            pod.run(f"replica{port}", image, env={**env, "TICKETS_MCP_PORT": str(port)}, options=LOCKED_DOWN)
            for port in REPLICA_PORTS
        ]
        for port, replica in zip(REPLICA_PORTS, replicas, strict=True):
            pod.wait(replica, pod.url(port, READY_PATH))
        FIGURES["replica pod: three replicas up"] = f"{time.monotonic() - started:.2f} s"
        yield Cluster(pod, replicas, redis, token)
        for replica in replicas:
            logs = replica.logs()
            assert token not in logs and DEDUP_TOKEN not in logs and PACING_TOKEN not in logs
            assert "Traceback" not in logs, logs
    finally:
        pod.remove()


def redis_up(redis: Container, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while redis.exec("redis-cli", "-p", str(REDIS_PORT), "ping", check=False).stdout.strip() != "PONG":
        if time.monotonic() > deadline or not redis.running():
            raise AssertionError(f"Redis did not start:\n{redis.logs()}")
        time.sleep(0.1)


def draft(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "categories": ["billing"],
        "category_fields": [{"key": "question_type", "values": ["invoice"]}],
    }


async def test_an_identical_create_on_three_replicas_makes_one_ticket(cluster: Cluster) -> None:
    summary = f"Invoice question from the pod {uuid.uuid4().hex[:8]}"
    results: dict[int, Any] = {}

    async def create(port: int) -> None:
        async with cluster.client(port, DEDUP_TOKEN) as client:
            results[port] = await client.call_tool("create_ticket", draft(summary))

    async with anyio.create_task_group() as tg:  # the same create reaches every replica at once
        for port in REPLICA_PORTS:
            tg.start_soon(create, port)
    assert all(not r.is_error for r in results.values()), [text_of(r) for r in results.values()]
    numbers = {r.structured_content["ticket"]["number"] for r in results.values()}
    reused = sorted(bool(r.structured_content.get("reused")) for r in results.values())
    sent = cluster.creates(summary)
    FIGURES["replica pod: one create on three replicas"] = (
        f"{len(sent)} sent, {len(numbers)} ticket, reused by {reused.count(True)} of 3"
    )
    assert len(numbers) == 1 and reused == [False, True, True]
    assert len(sent) == 1


async def test_pacing_holds_across_replicas(cluster: Cluster) -> None:
    """One create per minute for the account: the first replica sends it, the other two (which sent
    nothing themselves) answer that it is paced, and nothing more reaches the API."""
    tag = uuid.uuid4().hex[:8]
    results = []
    for n, port in enumerate(REPLICA_PORTS, 1):
        async with cluster.client(port, PACING_TOKEN) as client:
            results.append(await client.call_tool("create_ticket", draft(f"Paced in the pod {tag} {n}")))
    first, *paced = results
    assert not first.is_error, text_of(first)
    for result in paced:
        assert result.is_error, text_of(result)
        assert result.structured_content["code"] == "paced", result.structured_content
        assert result.structured_content["retry_after_seconds"] >= 1
    sent = [n for n in (1, 2, 3) if cluster.creates(f"Paced in the pod {tag} {n}")]
    FIGURES["replica pod: three distinct creates at 1 per minute"] = (
        f"sent {len(sent)}, paced {sum(r.is_error for r in paced)} "
        f"(retry after {paced[0].structured_content['retry_after_seconds']} s)"
    )
    assert sent == [1]


def test_the_replicas_keep_their_state_in_redis(cluster: Cluster) -> None:
    keys = cluster.redis.exec("redis-cli", "-p", str(REDIS_PORT), "--scan", "--pattern", "tickets-mcp:*")
    names = keys.stdout.split()
    assert any(":win:" in name for name in names), names  # the shared rate windows
    assert any(":dedup:" in name for name in names), names  # the create dedup
