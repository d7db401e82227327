"""A unique canary credential never shows up in stderr, logs, results, errors or resources.

The canary is the real credential: the sandbox accepts it as a static token, so every request
carries it. It is checked in a stdio subprocess and an HTTP subprocess (stderr at DEBUG), and in
process with the server's own logging configuration, each time in normal operation, under
injected faults and with the credential refused (401).
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from support.canary import SERVER_ENV, check_phases, three_phases
from support.sandbox import make_settings
from support.servers import ServerProcess, clean_env
from tickets_mcp.logs import configure_logging
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
CANARY = f"sk-canary-{uuid.uuid4().hex}"
HTTP_CANARY = f"bearer-canary-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(
        static_tokens=(CANARY,), creates_per_minute=10_000, comments_per_minute=10_000
    ) as handle:
        yield handle


def settings_env(sb: SandboxHandle, **extra: str) -> dict[str, str]:
    """The server's settings: the canary as the credential, the sandbox as the API, DEBUG logs."""
    return {**SERVER_ENV, "SELECTEL_TOKEN": CANARY, "SELECTEL_TICKETS_URL": sb.base_url, **extra}


def server_env(sb: SandboxHandle, **extra: str) -> dict[str, str]:
    return clean_env(**settings_env(sb, **extra))


def test_the_canary_is_the_credential_in_use(sandbox: SandboxHandle) -> None:
    assert httpx2.get(f"{sandbox.base_url}/v2/tickets", headers={"X-Token": CANARY}).status_code == 200
    settings = make_settings(sandbox, token=SecretStr(CANARY), http_token=SecretStr(HTTP_CANARY))
    assert CANARY not in repr(settings) and CANARY not in str(settings.model_dump())
    assert HTTP_CANARY not in repr(settings)


async def test_stdio_subprocess(sandbox: SandboxHandle, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tickets_mcp"], env=server_env(sandbox)
    )
    stderr_path = tmp_path / "stderr.txt"
    sandbox.clear_journal()
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            outputs = await three_phases(c, sandbox)
    check_phases(outputs, [CANARY])
    stderr = stderr_path.read_text()
    assert "DEBUG" in stderr and "tickets_mcp" in stderr  # it did log, at the most verbose level
    assert CANARY not in stderr
    assert {e["auth"] for e in sandbox.journal()} >= {"static", None}  # accepted, then refused


async def test_http_subprocess(sandbox: SandboxHandle) -> None:
    server = ServerProcess(settings_env(sandbox, TICKETS_MCP_HTTP_TOKEN=HTTP_CANARY))
    try:
        server.start(timeout=20)
        headers = {"Authorization": f"Bearer {HTTP_CANARY}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(server.url, http_client=http)
            async with Client(transport, mode="legacy") as c:
                outputs = await three_phases(c, sandbox)
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            wrong = {"Authorization": "Bearer wrong"}
            refused = await http.post(server.url, json=body, headers=wrong)
        assert refused.status_code == 401
        assert HTTP_CANARY not in refused.text and CANARY not in refused.text
    finally:
        server.stop()
    check_phases(outputs, [CANARY, HTTP_CANARY])
    stderr = server.stderr()
    assert "DEBUG" in stderr
    assert CANARY not in stderr and HTTP_CANARY not in stderr


@pytest.fixture
def server_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """The CLI's logging configuration for one test, then the previous one back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("httpx", "httpx2", "httpcore", "httpcore2", "uvicorn.access", "mcp.server.lowlevel.server")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


async def test_in_process_logs(
    sandbox: SandboxHandle, server_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        sandbox, token=SecretStr(CANARY), read_timeout=0.5, retry_budget=1.0, log_level="DEBUG"
    )
    configure_logging("DEBUG", settings.secrets())
    logging.getLogger("tickets_mcp").debug("the token is %s", CANARY)  # even a careless log line
    async with Client(build_server(settings), mode="legacy") as c:
        outputs = await three_phases(c, sandbox)
    check_phases(outputs, [CANARY])
    logged = capsys.readouterr().err
    assert "the token is ***" in logged and "DEBUG" in logged
    assert CANARY not in logged
