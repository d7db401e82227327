"""No exposed bind without a gate, for the MCP server (real credentials or --sandbox) and
the sandbox API alike; the only way past is an explicit, loudly logged opt-out. Real subprocesses.

An exposed bind here is ``0.0.0.0`` on a free port; the started cases are probed on 127.0.0.1 only.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.servers import SANDBOX_API, SANDBOX_PROBE, ServerProcess, clean_env, free_port

SECRET = "exposed-bind-canary-token-1f9c"


def refused(args: list[str], environment: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tickets_mcp", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stdout == ""
    assert SECRET not in done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("args", "environment"),
    [
        (["--transport", "http", "--host", "0.0.0.0"], {"SELECTEL_TOKEN": SECRET}),
        (["--sandbox", "--transport", "http", "--host", "0.0.0.0"], {}),
        (["--transport", "http", "--host", "tickets.example.internal"], {"SELECTEL_TOKEN": SECRET}),
    ],
)
def test_an_exposed_bind_without_a_gate_exits_2_and_says_how_to_fix_it(
    args: list[str], environment: dict[str, str]
) -> None:
    err = refused([*args, "--port", str(free_port())], clean_env(**environment))
    assert "refusing to start" in err and "no auth gate" in err
    assert "TICKETS_MCP_HTTP_TOKEN" in err and "--host 127.0.0.1" in err and "--behind-auth-proxy" in err


def test_the_sandbox_api_on_an_exposed_address_exits_2() -> None:
    err = refused(["sandbox", "--host", "0.0.0.0", "--port", str(free_port())], clean_env())
    assert "no access control" in err and "--expose" in err


def started(server: ServerProcess) -> str:
    """Start, wait until its probe answers on loopback, stop; the stderr it wrote."""
    try:
        server.start()
    finally:
        server.stop()
    err = server.stderr()
    assert SECRET not in err
    return err


def test_a_bearer_token_is_a_gate() -> None:
    err = started(ServerProcess({"TICKETS_MCP_HTTP_TOKEN": SECRET}, ["--sandbox", "--host", "0.0.0.0"]))
    assert "WITHOUT an auth gate" not in err


def test_the_proxy_opt_out_starts_and_says_so_loudly() -> None:
    err = started(ServerProcess(args=["--sandbox", "--host", "0.0.0.0", "--behind-auth-proxy"]))
    assert "WARNING" in err and "WITHOUT an auth gate" in err and "--behind-auth-proxy" in err


def test_the_sandbox_api_opt_out_starts_and_says_so() -> None:
    err = started(
        ServerProcess(args=["--host", "0.0.0.0", "--expose"], command=SANDBOX_API, probe=SANDBOX_PROBE)
    )
    assert "no access control (--expose)" in err
