"""The real entry point over stdio and over streamable HTTP, as separate processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from support.servers import ServerProcess, clean_env

pytestmark = pytest.mark.anyio
CANARY = "canary-http-token-5f0c2a"


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = ServerProcess({"TICKETS_MCP_HTTP_TOKEN": CANARY}, ["--sandbox"])
    try:
        server.start(timeout=20)
        yield server.base
    finally:
        server.stop()
    assert CANARY not in server.stderr()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess(mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tickets_mcp", "--sandbox"], env=clean_env()
    )
    async with Client(params, mode=mode) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        assert "search_tickets" in tools
        result = await c.call_tool("search_tickets", {"is_only_opened": True})
        assert not result.is_error and result.structured_content["items"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_with_bearer(http_server: str, mode: str) -> None:
    headers = {"Authorization": f"Bearer {CANARY}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        transport = streamable_http_client(f"{http_server}/mcp", http_client=http)
        async with Client(transport, mode=mode) as c:
            result = await c.call_tool("get_ticket", {"number": 2401007})
    assert result.structured_content["ticket"]["number"] == 2401007


def test_http_refuses_missing_or_wrong_bearer_and_foreign_origin(http_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    assert httpx2.post(f"{http_server}/mcp", json=body, headers=headers).status_code == 401
    wrong = {**headers, "Authorization": "Bearer nope"}
    assert httpx2.post(f"{http_server}/mcp", json=body, headers=wrong).status_code == 401
    foreign = {**headers, "Authorization": f"Bearer {CANARY}", "Origin": "https://evil.example"}
    assert httpx2.post(f"{http_server}/mcp", json=body, headers=foreign).status_code == 403
    assert httpx2.get(f"{http_server}/healthz").json() == {"status": "ok"}


def test_no_credentials_exits_2_naming_the_env_vars() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickets_mcp"], env=clean_env(), capture_output=True, timeout=30
    )
    assert proc.returncode == 2
    assert b"SELECTEL_TOKEN" in proc.stderr and b"--sandbox" in proc.stderr and proc.stdout == b""
