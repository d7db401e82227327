"""SIGTERM to a container of the image (`podman stop`, as the kubelet stops a pod) while a tool call waits
on a slow Tickets API answer: a sandbox container of the same image with a ``timeout`` fault.

- a read that finishes within the grace period is answered, and the container exits 0 right after;
- a create the API takes but does not answer for 30 s is settled near the end of a 3 s grace period: its
  recovery read finds the ticket, the agent gets it marked recovered, and the container exits 0 in time.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
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
    sandbox_args,
    sandbox_env,
)

pytestmark = [pytest.mark.image, pytest.mark.anyio]

SERVER_PORT = 8000
DEMO_TOKEN = "sandbox-demo-token"
SLOW = 2.0


@pytest.fixture(scope="module")
def pod(podman: Podman, image: str) -> Iterator[Pod]:
    pod = Pod(podman, "shutdown", [SERVER_PORT, SANDBOX_PORT]).create()
    try:
        sandbox = pod.run("sandbox", image, *sandbox_args(), options=LOCKED_DOWN)
        pod.wait(sandbox, pod.url(SANDBOX_PORT, "/_sandbox/health"))
        yield pod
    finally:
        pod.remove()


def faults(pod: Pod, plan: dict[str, Any]) -> None:
    answer = httpx2.post(pod.url(SANDBOX_PORT, "/_sandbox/faults"), json=plan, timeout=10)
    assert answer.status_code == 200, answer.text


def server(pod: Pod, image: str, role: str, grace: float) -> tuple[Container, str]:
    token = secrets.token_urlsafe(24)
    env = {
        **sandbox_env(),
        "SELECTEL_TOKEN": DEMO_TOKEN,
        "TICKETS_MCP_HTTP_TOKEN": token,
        "TICKETS_MCP_SHUTDOWN_GRACE": str(grace),
        "TICKETS_MCP_DEDUP_WINDOW": "0",
    }
    container = pod.run(role, image, env=env, options=LOCKED_DOWN)
    pod.wait(container, pod.url(SERVER_PORT, READY_PATH))
    return container, token


def client(pod: Pod, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(
        streamable_http_client(pod.url(SERVER_PORT, "/mcp"), http_client=http),
        elicitation_callback=Elicitor(),
    )  # type: ignore[arg-type]


async def stop_during(
    pod: Pod, container: Container, token: str, tool: str, args: dict[str, Any]
) -> dict[str, Any]:
    """Start ``tool``, send SIGTERM with `podman stop` once it waits on the sandbox, and watch /readyz."""
    seen: dict[str, Any] = {"ready": set()}
    async with client(pod, token) as c, anyio.create_task_group() as tg:
        await c.list_tools()

        async def call() -> None:
            seen["result"] = await c.call_tool(tool, args)

        async def stop() -> None:
            started = time.monotonic()
            # --time: podman's kill after it, as the kubelet's terminationGracePeriodSeconds
            await anyio.to_thread.run_sync(
                lambda: pod.podman("stop", "--time=30", container.name, timeout=60)
            )
            seen["stopped_after"] = time.monotonic() - started

        async def watch_readiness() -> None:
            while "stopped_after" not in seen:
                try:
                    answer = await anyio.to_thread.run_sync(
                        lambda: httpx2.get(pod.url(SERVER_PORT, READY_PATH), timeout=1)
                    )
                    seen["ready"].add(answer.status_code)
                except httpx2.TransportError:
                    seen["ready"].add("closed")
                await anyio.sleep(0.1)

        tg.start_soon(call)
        await anyio.sleep(1.0)  # the call now waits on the sandbox
        tg.start_soon(watch_readiness)
        tg.start_soon(stop)
    state = container.inspect()["State"]
    seen["exit"] = state["ExitCode"]
    logs = container.logs()
    drained = re.search(r"drained in ([0-9.]+) s \((\d+) settled, (\d+) cut\)", logs)
    assert drained is not None and "Traceback" not in logs, logs
    seen["drained"] = drained.group(0)
    assert token not in logs and DEMO_TOKEN not in logs
    return seen


async def test_sigterm_lets_a_slow_read_finish_and_the_container_exits_0(pod: Pod, image: str) -> None:
    number = httpx2.get(
        pod.url(SANDBOX_PORT, "/support/v2/tickets"), headers={"X-Token": DEMO_TOKEN}, timeout=10
    ).json()["items"][0]["number"]
    faults(
        pod,
        {
            "sequence": [{"kind": "timeout", "delay": SLOW, "applied": True}],
            "methods": ["GET"],
            "path_prefix": f"/support/v2/tickets/{number}",
        },
    )
    container, token = server(pod, image, "server-read", grace=10)
    seen = await stop_during(pod, container, token, "get_ticket", {"number": number})
    result = seen["result"]
    assert not result.is_error, text_of(result)
    assert result.structured_content["ticket"]["number"] == number
    assert seen["exit"] == 0 and 503 in seen["ready"]
    assert seen["stopped_after"] < SLOW + 2  # it left as soon as the read was answered, not at the grace
    FIGURES["SIGTERM, a 2 s read in flight (grace 10 s)"] = (
        f"answered; exit 0 {seen['stopped_after']:.2f} s after SIGTERM; {seen['drained']}; /readyz {sorted(map(str, seen['ready']))}"
    )


async def test_sigterm_settles_a_create_waiting_past_the_grace(pod: Pod, image: str) -> None:
    faults(
        pod,
        {
            "sequence": [{"kind": "timeout", "delay": 30, "applied": True}],
            "methods": ["POST"],
            "path_prefix": "/support/v2/tickets",
        },
    )
    grace = 3.0
    container, token = server(pod, image, "server-create", grace=grace)
    summary = f"Settled by the shutdown {secrets.token_hex(4)}"
    args = {
        "summary": summary,
        "categories": ["billing"],
        "category_fields": [{"key": "question_type", "values": ["invoice"]}],
    }
    seen = await stop_during(pod, container, token, "create_ticket", args)
    result = seen["result"]
    assert not result.is_error, text_of(result)
    assert result.structured_content["recovered"] is True
    assert seen["exit"] == 0 and seen["stopped_after"] < grace + 2
    assert "(1 settled, 0 cut)" in seen["drained"]
    FIGURES["SIGTERM, a create the API holds 30 s (grace 3 s)"] = (
        f"settled by its recovery read (ticket {result.structured_content['ticket']['number']}, recovered); "
        f"exit 0 {seen['stopped_after']:.2f} s after SIGTERM; {seen['drained']}"
    )
