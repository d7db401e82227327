"""The usual CLI: --help names the modes and key env vars, --version, exit codes, and in stdio mode stdout
carries nothing but JSON-RPC (logs and the sandbox banner go to stderr)."""

from __future__ import annotations

import json
import subprocess
import threading

from support.cli import TICKETS_MCP, run
from support.servers import clean_env
from tickets_mcp import __version__


def test_help_lists_modes_env_vars_and_exit_codes() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for word in (
        "--sandbox", "--transport", "--read-only", "--log-level", "demo", "doctor", "sandbox",
        "SELECTEL_TOKEN", "SELECTEL_IAM_TOKEN", "SELECTEL_USERNAME", "SELECTEL_TICKETS_URL", "exit codes",
    ):  # fmt: skip
        assert word in proc.stdout, word


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"tickets-mcp {__version__}"


def test_bad_configuration_exits_2_on_stderr() -> None:
    proc = run("--sandbox", TICKETS_MCP_PORT="not-a-port")
    assert proc.returncode == 2 and proc.stdout == "" and "TICKETS_MCP_PORT" not in proc.stdout
    assert "invalid configuration" in proc.stderr and "port" in proc.stderr
    assert run("--transport", "carrier-pigeon").returncode == 2


def _request(id_: int, method: str, params: dict[str, object]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}) + "\n"


def test_stdio_stdout_is_only_the_protocol_even_at_debug() -> None:
    proc = subprocess.Popen(
        [str(TICKETS_MCP), "--sandbox", "--log-level", "DEBUG"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    killer = threading.Timer(60, proc.kill)
    killer.start()
    assert proc.stdin and proc.stdout
    try:
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "first-run-test", "version": "0"},
        }
        proc.stdin.write(_request(1, "initialize", init))
        proc.stdin.flush()
        lines = [proc.stdout.readline()]
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        proc.stdin.write(_request(2, "tools/list", {}))
        proc.stdin.write(_request(3, "tools/call", {"name": "count_tickets", "arguments": {}}))
        proc.stdin.flush()
        answered: set[object] = set()
        while not {2, 3} <= answered:
            line = proc.stdout.readline()
            assert line, "server closed stdout early"
            lines.append(line)
            answered.add(json.loads(line).get("id"))
        proc.stdin.close()
        rest, err = proc.stdout.read(), proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=30)
    finally:
        killer.cancel()
        proc.kill()
    for line in [*lines, *rest.splitlines(keepends=True)]:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "tickets-mcp"
    assert "sandbox mode" in err  # the banner and the logs are on stderr
