"""The audit log and the session journal across three replicas: real processes on one real Redis.

All three append to one audit file (each line one ``O_APPEND`` write). The sandbox journal says what
reached the API: the audit file must have one line per write it shows, also for an identical create
sent to the three replicas at once (one ticket, one line), and for a comment whose replica was killed
mid-write and that another replica settled (one comment, one line, written by the one that settled it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_client import Elicitor, text_of
from support.redis_server import RedisServer
from support.sandbox import upstream_env
from support.servers import RoundRobin, ServerProcess, running_replicas
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
STATE_KEY = "changes-replica-state-key-0123456789abcdef"
OPEN_TICKET = 2401006


@dataclass
class Cluster:
    sb: SandboxHandle
    audit: Path
    replicas: list[ServerProcess]

    @property
    def ports(self) -> list[int]:
        return [r.port for r in self.replicas]

    def lines(self) -> list[dict[str, Any]]:
        return (
            [json.loads(line) for line in self.audit.read_text().splitlines()] if self.audit.exists() else []
        )


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_server.flush()
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        env = {
            **upstream_env(sb),
            "TICKETS_MCP_REDIS_URL": redis_server.url,
            "TICKETS_MCP_STATE_KEY": STATE_KEY,
            "TICKETS_MCP_CREATES_PER_MINUTE": "10000",
            "TICKETS_MCP_COMMENTS_PER_MINUTE": "10000",
            "TICKETS_MCP_CALLS_PER_MINUTE": "0",
            "TICKETS_MCP_AUDIT_LOG": str(audit),
        }
        with running_replicas(env, secret=sb.token) as replicas:
            yield Cluster(sb, audit, replicas)


@asynccontextmanager
async def spread(cluster: Cluster, **options: Any) -> AsyncIterator[Client]:
    """A 2026-07-28 client whose requests go round-robin to the three replicas."""
    http = httpx2.AsyncClient(transport=RoundRobin(cluster.ports), timeout=60)
    async with Client(streamable_http_client(cluster.replicas[0].url, http_client=http), **options) as c:  # type: ignore[arg-type]
        yield c


def pinned(replica: ServerProcess, timeout: float = 60) -> Client:
    """A 2025-11-25 client whose session lives on ``replica``."""
    http = httpx2.AsyncClient(timeout=timeout)
    return Client(streamable_http_client(replica.url, http_client=http), mode="legacy")  # type: ignore[arg-type]


def draft(tag: str) -> dict[str, Any]:
    return {
        "summary": f"audit {tag} {uuid.uuid4().hex[:8]}",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["replica.example"]}],
    }


def in_thread(sb: SandboxHandle, number: int, body: str) -> int:
    """How many comments of the ticket's thread have this body (read straight from the API)."""
    answer = httpx2.get(f"{sb.base_url}/tickets/{number}/comments", headers={"X-Token": sb.token}, timeout=10)
    answer.raise_for_status()
    items = answer.json()
    items = items.get("items", items) if isinstance(items, dict) else items
    return len([c for c in items if c.get("body") == body])


def sent(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sb.writes() if e["status"] < 300 or e.get("applied")]


async def test_three_replicas_write_one_audit_line_per_write(cluster: Cluster) -> None:
    cluster.sb.clear_journal()
    before = len(cluster.lines())
    same = draft("identical")
    results: list[Any] = [None] * 3

    async def create(i: int) -> None:  # an agent's retries landing on every replica at once
        async with pinned(cluster.replicas[i]) as c:
            results[i] = await c.call_tool("create_ticket", same)

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(create, i)
    assert all(not r.is_error for r in results), [text_of(r) for r in results]
    assert len({r.structured_content["ticket"]["number"] for r in results}) == 1

    async with spread(cluster, elicitation_callback=Elicitor()) as c:
        number = (await c.call_tool("create_ticket", draft("spread"))).structured_content["ticket"]["number"]
        for i in range(3):
            added = await c.call_tool(
                "add_comment", {"number": number, "body": f"note {i} {uuid.uuid4().hex}"}
            )
            assert not added.is_error, text_of(added)
        closed = await c.call_tool(
            "close_ticket", {"number": number, "score": 5}
        )  # asked, answered elsewhere
        refused = await c.call_tool("close_ticket", {"number": number})
        journal = (await c.call_tool("list_changes", {})).structured_content["items"]
    assert not closed.is_error and refused.is_error

    lines = cluster.lines()[before:]
    done = [line for line in lines if line["outcome"] in ("sent", "recovered")]
    assert len(done) == len(sent(cluster.sb)) == 6, (lines, cluster.sb.writes())
    assert len([line for line in lines if line["outcome"] == "refused"]) == 1
    # the session's journal is one across the replicas its requests reached
    assert [i["tool"] for i in journal] == [
        "close_ticket",
        "close_ticket",
        *["add_comment"] * 3,
        "create_ticket",
    ]
    assert journal[0]["outcome"] == "refused" and journal[1]["undo"].startswith("reopen_ticket(")


async def test_a_write_settled_by_another_replica_after_its_own_died_is_one_line(cluster: Cluster) -> None:
    """Replica 0 sends a comment the API applies but answers slowly; replica 0 is killed before it answers.
    The agent's retry reaches replica 1, which waits out the dead one's claim, finds the comment in the
    thread, sends nothing, and writes the line."""
    body = f"sent while its replica died {uuid.uuid4().hex}"
    arguments = {"number": OPEN_TICKET, "body": body}
    cluster.sb.clear_journal()
    before = len(cluster.lines())
    cluster.sb.set_faults(
        sequence=[{"kind": "timeout", "delay": 30, "applied": True}],
        methods=["POST"],
        path_prefix=f"/support/tickets/{OPEN_TICKET}/comments",
    )
    doomed = cluster.replicas[0]
    try:
        async with anyio.create_task_group() as tg:

            async def first_try() -> None:
                try:
                    async with pinned(doomed) as c:
                        await c.call_tool("add_comment", arguments)
                except Exception:  # the replica died under it
                    pass

            tg.start_soon(first_try)
            with anyio.fail_after(20):
                while True:  # until the API has applied it (it then answers slowly)
                    if in_thread(cluster.sb, OPEN_TICKET, body):
                        break
                    await anyio.sleep(0.05)
            await anyio.sleep(0.3)  # the API has applied it and is "slow" to answer
            doomed.kill()
            tg.cancel_scope.cancel()
        cluster.sb.clear_faults()
        async with pinned(cluster.replicas[1]) as c:
            with anyio.fail_after(40):
                retried = await c.call_tool("add_comment", arguments)
    finally:
        cluster.sb.clear_faults()
        doomed.start()
    assert not retried.is_error, text_of(retried)
    assert retried.structured_content["recovered"] is True
    assert in_thread(cluster.sb, OPEN_TICKET, body) == 1  # the retry sent nothing
    posted = [e for e in cluster.sb.writes() if str(e["path"]).endswith(f"/{OPEN_TICKET}/comments")]
    assert len(posted) <= 1  # the first try's, once its slow answer is written down
    lines = [line for line in cluster.lines()[before:] if line["tool"] == "add_comment"]
    assert len(lines) == 1, lines
    assert lines[0]["outcome"] == "recovered"
    assert lines[0]["comment_id"] == retried.structured_content["comment_id"]
