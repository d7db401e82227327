"""``--log-format json`` writes one JSON object per line on stderr (time, level, logger,
message; exc_info when there is one; trace_id/span_id inside a span), redacted like the text format,
and stdout stays the protocol. Each test runs the server, or the logging set-up, in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.canary import SERVER_ENV, check_phases, three_phases
from support.otlp_receiver import OtlpReceiver
from support.servers import ServerProcess, clean_env
from tickets_mcp.sandbox import SandboxHandle

from .conftest import TOKEN

NO_OTEL = ["OTEL_"]  # the environment's own OpenTelemetry settings stay out too
KEYS = {"time", "level", "logger", "message"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PASSWORD = "pw-canary-0d5e8a1c"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line, parsed; each must be an object with the required keys and a UTC ISO 8601 time."""
    entries = []
    for line in text.split("\n")[:-1]:  # the text ends with a newline
        entry = json.loads(line)
        assert isinstance(entry, dict) and KEYS <= set(entry), line
        assert TIME.fullmatch(entry["time"]) and entry["level"] in ("DEBUG", "INFO", "WARNING", "ERROR"), line
        entries.append(entry)
    assert text.endswith("\n") and entries
    return entries


def request(id_: int, method: str, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}) + "\n"


def test_stdio_with_tracing_stdout_is_the_protocol_and_stderr_is_json(tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr.jsonl"
    with OtlpReceiver() as receiver, stderr_path.open("w") as errlog:
        env = clean_env(
            drop=NO_OTEL, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100"
        )
        command = [
            sys.executable,
            "-m",
            "tickets_mcp",
            "--sandbox",
            "--log-format",
            "json",
            "--log-level",
            "DEBUG",
        ]
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True, env=env
        )
        killer = threading.Timer(60, proc.kill)
        killer.start()
        assert proc.stdin and proc.stdout
        try:
            init = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            }
            proc.stdin.write(request(1, "initialize", init))
            proc.stdin.flush()
            lines = [proc.stdout.readline()]
            proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
            proc.stdin.write(
                request(2, "tools/call", {"name": "get_ticket", "arguments": {"number": 2401007}})
            )
            proc.stdin.flush()
            while True:
                line = proc.stdout.readline()
                assert line, "the server closed stdout early"
                lines.append(line)
                if json.loads(line).get("id") == 2:
                    break
            proc.stdin.close()
            lines += proc.stdout.read().splitlines(keepends=True)
            assert proc.wait(timeout=30) == 0
        finally:
            killer.cancel()
            proc.kill()
    for line in lines:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    entries = json_lines(stderr_path.read_text())
    assert any("sandbox mode" in e["message"] for e in entries)  # the banner is a record too
    traced = [e for e in entries if "trace_id" in e]
    assert any(e["logger"] == "tickets_mcp.api" for e in traced)
    for e in traced:
        assert re.fullmatch(r"[0-9a-f]{32}", e["trace_id"]) and re.fullmatch(r"[0-9a-f]{16}", e["span_id"])
    span_ids = {span.span_id.hex() for _, span in receiver.spans()}
    assert {e["span_id"] for e in traced} <= span_ids  # the ids of exported spans


def test_http_mode_uvicorn_records_are_json_too() -> None:
    server = ServerProcess(args=["--sandbox", "--log-format", "json", "--log-level", "INFO"], drop=NO_OTEL)
    try:
        server.start()
    finally:
        server.stop()
    entries = json_lines(server.stderr())
    assert any(e["logger"].startswith("uvicorn") for e in entries)  # uvicorn's own records, as JSON


@pytest.mark.anyio
async def test_json_logs_never_carry_the_token(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """The canary test of tests/security (support/canary.py), in JSON: normal calls, every fault kind, a refused credential."""
    env = clean_env(drop=NO_OTEL, **SERVER_ENV, SELECTEL_TOKEN=TOKEN, SELECTEL_TICKETS_URL=sandbox.base_url)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tickets_mcp", "--log-format", "json"], env=env
    )
    stderr_path = tmp_path / "stderr.jsonl"
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            outputs = await three_phases(c, sandbox)
    check_phases(outputs, [TOKEN])
    text = stderr_path.read_text()
    entries = json_lines(text)
    assert {"DEBUG", "INFO"} <= {e["level"] for e in entries} and TOKEN not in text
    assert not any("trace_id" in e for e in entries)  # tracing is off


LOGGING_SCRIPT = """
import logging, sys
from tickets_mcp.logs import configure_logging

token, password = sys.argv[1], sys.argv[2]
configure_logging("DEBUG", [token, password], "json")
log = logging.getLogger("tickets_mcp.test")
log.debug("the token is %s", token)
log.info('login body {"password": "%s", "user": "demo"}', password)
log.warning("headers: X-Auth-Token: %s; Authorization: Bearer %s", "iam-9f8e7d", token)
try:
    raise RuntimeError(f"failed with {token} and a line\\nbreak")
except RuntimeError:
    log.exception("request failed ✓")
"""


def test_json_records_are_redacted_message_and_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT, TOKEN, PASSWORD],
        capture_output=True,
        text=True,
        env=clean_env(drop=NO_OTEL),
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout == ""
    entries = json_lines(proc.stderr)
    assert [e["level"] for e in entries] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert entries[0] == {**entries[0], "logger": "tickets_mcp.test", "message": "the token is ***"}
    assert entries[1]["message"] == 'login body {"password": "***", "user": "demo"}'
    assert entries[2]["message"] == "headers: X-Auth-Token: ***; Authorization: Bearer ***"
    assert entries[3]["message"] == "request failed ✓"
    assert "RuntimeError: failed with *** and a line\nbreak" in entries[3]["exc_info"]
    for secret in (TOKEN, PASSWORD, "iam-9f8e7d"):
        assert secret not in proc.stderr
