"""Graceful shutdown over HTTP: a real server process gets SIGTERM while a tool call waits on a slow
Tickets API answer (a sandbox ``timeout`` fault), in both protocol eras.

- readiness fails at once, liveness does not, and a new request is refused with 503;
- a call that finishes within the grace period gets its answer; the process exits 0 and its
  telemetry is flushed (the spans reach an OTLP receiver only through the flush at exit);
- a create still waiting when the grace period is nearly over is settled: its send ends, and its
  recovery read finds the ticket the API made, so the agent gets the ticket, marked recovered.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_client import Elicitor, text_of
from support.otlp_receiver import OtlpReceiver
from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
NUMBER = 2401006  # a seeded ticket
SLOW = 3.0  # seconds the sandbox takes to answer the slow read
FIELDS = [{"key": "question_type", "values": ["invoice"]}]
NEW_CALL = {
    "jsonrpc": "2.0",
    "id": 99,
    "method": "tools/call",
    "params": {"name": "get_ticket", "arguments": {"number": NUMBER}},
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


def start(sb: SandboxHandle, grace: float, **env: str) -> ServerProcess:
    settings = {
        "SELECTEL_TOKEN": sb.token,
        "SELECTEL_TICKETS_URL": sb.base_url,
        "SELECTEL_IDENTITY_URL": sb.identity_url,
        "TICKETS_MCP_SHUTDOWN_GRACE": str(grace),
        "TICKETS_MCP_LOG_LEVEL": "INFO",
        "TICKETS_MCP_DEDUP_WINDOW": "0",
        **env,
    }
    return ServerProcess(settings).start()


def client(server: ServerProcess, era: str) -> Client:
    http = httpx2.AsyncClient(timeout=60)
    transport = streamable_http_client(server.url, http_client=http)
    return Client(transport, mode=era, elicitation_callback=Elicitor())  # type: ignore[arg-type]


async def exited(server: ServerProcess, within: float) -> tuple[int, float]:
    """The exit code and the seconds it took, polled without blocking the event loop."""
    assert server.proc is not None
    started = time.monotonic()
    while server.proc.poll() is None:
        if time.monotonic() - started > within:
            server.kill()
            raise AssertionError(f"still running {within} s after SIGTERM:\n{server.stderr()}")
        await anyio.sleep(0.05)
    return server.proc.returncode, time.monotonic() - started


def probes(server: ServerProcess) -> dict[str, Any]:
    ready = httpx2.get(f"{server.base}/readyz", timeout=2)
    live = httpx2.get(f"{server.base}/healthz", timeout=2)
    new = httpx2.post(
        server.url,
        json=NEW_CALL,
        headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28"},
        timeout=2,
    )
    return {"ready": ready, "live": live, "new": new}


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_sigterm_lets_a_slow_read_finish_then_exits_0_and_flushes_telemetry(
    sandbox: SandboxHandle, era: str
) -> None:
    sandbox.set_faults(
        sequence=[{"kind": "timeout", "delay": SLOW, "applied": True}],
        methods=["GET"],
        path_prefix=f"/support/v2/tickets/{NUMBER}",
    )
    with OtlpReceiver() as receiver:
        # no export before the exit: the spans can only arrive through the flush at shutdown
        server = start(
            sandbox,
            grace=10,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="600000",
            OTEL_METRIC_EXPORT_INTERVAL="600000",
        )
        try:
            assert httpx2.get(f"{server.base}/readyz", timeout=2).json() == {"status": "ready"}
            results: list[Any] = []
            async with client(server, era) as c, anyio.create_task_group() as tg:
                await c.list_tools()  # the session and the tool list first: the call is then one request

                async def slow_read() -> None:
                    results.append(await c.call_tool("get_ticket", {"number": NUMBER}))

                tg.start_soon(slow_read)
                await anyio.sleep(1.0)  # the read now waits on the sandbox
                assert server.proc is not None
                server.proc.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                await anyio.sleep(0.3)
                seen = await anyio.to_thread.run_sync(probes, server)
            code, took = await exited(server, within=10)
        finally:
            server.kill()
        sandbox.clear_faults()
    assert seen["ready"].status_code == 503 and seen["ready"].json() == {"status": "shutting_down"}
    assert seen["live"].status_code == 200
    assert seen["new"].status_code == 503 and seen["new"].headers["retry-after"] == "1"
    assert seen["new"].json()["error"] == "shutting_down"
    (result,) = results
    assert not result.is_error, text_of(result)
    assert result.structured_content["ticket"]["number"] == NUMBER
    assert code == 0, server.stderr()
    assert time.monotonic() - signalled < SLOW + 3  # it left as soon as the read was answered
    log = server.stderr()
    assert "1 request(s) under way" in log and "(0 settled, 0 cut)" in log and "Traceback" not in log
    names = {span.name for _, span in receiver.spans()}
    assert "tools/call get_ticket" in names and "GET /v2/tickets/{number}" in names, names
    assert took < 10


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_a_create_still_waiting_at_the_end_of_the_grace_is_settled_by_its_recovery_read(
    sandbox: SandboxHandle, era: str
) -> None:
    """The API makes the ticket, then does not answer for 30 s; the grace period is 3 s. The send is
    ended 0.75 s before the grace is over, the recovery read finds the ticket, and the agent gets it."""
    summary = f"Shutdown settles this create ({era}, {time.monotonic_ns()})"
    sandbox.set_faults(
        sequence=[{"kind": "timeout", "delay": 30, "applied": True}],
        methods=["POST"],
        path_prefix="/support/v2/tickets",
    )
    grace = 3.0
    server = start(sandbox, grace=grace)
    try:
        results: list[Any] = []
        async with client(server, era) as c, anyio.create_task_group() as tg:
            await c.list_tools()

            async def create() -> None:
                args = {"summary": summary, "categories": ["billing"], "category_fields": FIELDS}
                results.append(await c.call_tool("create_ticket", args))

            tg.start_soon(create)
            await anyio.sleep(1.0)  # consent answered; the POST is out and unanswered
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
        code, took = await exited(server, within=grace + 3)
    finally:
        server.kill()
        sandbox.clear_faults()
    (result,) = results
    assert not result.is_error, text_of(result)
    assert result.structured_content["recovered"] is True
    number = result.structured_content["ticket"]["number"]
    reads = [e for e in sandbox.journal() if e["method"] == "GET" and "/v2/tickets" in str(e["path"])]
    assert any(summary in str(e.get("query")) for e in reads), reads  # the recovery search
    made = httpx2.get(
        f"{sandbox.base_url}/v2/tickets/{number}", headers={"X-Token": sandbox.token}, timeout=5
    )
    assert made.status_code == 200 and made.json()["summary"] == summary
    assert code == 0, server.stderr()
    log = server.stderr()
    assert "1 call(s) to the Tickets API settled" in log and "(1 settled, 0 cut)" in log, log
    assert "Traceback" not in log, log
    assert took < grace + 2.5
