"""The drain's rules, in process: what a draining server answers, what it still lets through, when it
settles the calls under way (the real process under SIGTERM: tests/e2e/test_shutdown.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from tickets_mcp.api.sending import in_progress
from tickets_mcp.mcp_server.shutdown import Drain, DrainGate, starts_work

pytestmark = pytest.mark.anyio


class Echo:
    """An app that answers every request with its body, and can be held open."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.hold = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.hold:
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(autouse=True)
def calls_resume() -> Iterator[None]:
    yield
    in_progress.resume()


def http(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


async def post(client: httpx2.AsyncClient, body: bytes) -> None:
    await client.post("/mcp", content=body)


def rpc(method: str | None, *, request: bool = True) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0"}
    if method is not None:
        message["method"] = method
    if request:
        message["id"] = 7
    if method is None:
        message["result"] = {"action": "accept", "content": {"confirm": True}}
    return json.dumps(message).encode()


async def test_readiness_fails_and_new_work_is_refused_while_draining() -> None:
    drain = Drain(grace=5)
    async with http(DrainGate(Echo(), drain)) as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        drain.draining = True
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "shutting_down"}
        assert (await client.get("/healthz")).status_code == 200  # liveness: not restarted while draining
        refused = await client.post("/mcp", content=rpc("tools/call"))
        assert refused.status_code == 503 and refused.headers["connection"] == "close"
        assert refused.headers["retry-after"] == "1" and refused.json()["error"] == "shutting_down"
        assert (await client.get("/mcp")).status_code == 503  # a new event stream
        assert (await client.delete("/mcp")).status_code == 503
        # what a call under way needs: its consent answer, a cancellation, the tool list; bodies intact
        for body in (rpc(None), rpc("notifications/cancelled", request=False), rpc("tools/list")):
            passed = await client.post("/mcp", content=body)
            assert passed.status_code == 200 and passed.content == body


def test_what_starts_work() -> None:
    assert starts_work(rpc("tools/call")) and starts_work(rpc("initialize")) and starts_work(b"{not json")
    assert starts_work(b"[" + rpc("ping") + b"," + rpc("resources/read") + b"]")
    assert not starts_work(rpc(None)) and not starts_work(rpc("notifications/initialized", request=False))
    assert not starts_work(rpc("ping")) and not starts_work(rpc("prompts/list"))


async def test_the_drain_ends_when_the_last_request_does() -> None:
    app = Echo()
    app.hold = True
    drain = Drain(grace=5)
    async with http(DrainGate(app, drain)) as client, anyio.create_task_group() as tg:
        tg.start_soon(post, client, rpc("tools/call"))
        await anyio.sleep(0.05)
        assert drain.under_way == 1
        tg.start_soon(drain.run)
        await anyio.sleep(0.1)
        assert drain.draining and drain.figures == {}
        app.release.set()
    assert drain.figures["under_way"] == 1 and drain.figures["settled"] == 0 and drain.figures["cut"] == 0
    assert drain.figures["seconds"] < 1
    assert in_progress.stopped  # no write goes out while the lifespan closes


async def test_requests_still_under_way_are_settled_then_cut_at_the_grace() -> None:
    app = Echo()
    app.hold = True  # never released: the request outlives the grace period
    drain = Drain(grace=0.4)
    assert drain.settle_at() == pytest.approx(0.3)
    async with http(DrainGate(app, drain)) as client, anyio.create_task_group() as tg:
        tg.start_soon(post, client, rpc("tools/call"))
        await anyio.sleep(0.05)
        await drain.run()
        tg.cancel_scope.cancel()
    assert drain.figures["cut"] == 1 and 0.4 <= drain.figures["seconds"] < 0.6
