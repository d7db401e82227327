"""Issue 12 §0: no exposed bind without a gate, for the MCP server (real credentials or --sandbox) and
the sandbox API alike; the only way past is an explicit, loudly logged opt-out. Real subprocesses.

An exposed bind here is ``0.0.0.0`` on a free port; the started cases are probed on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx2
import pytest

SECRET = "exposed-bind-canary-token-1f9c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
    return {**base, **extra}


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
    err = refused([*args, "--port", str(free_port())], env(**environment))
    assert "refusing to start" in err and "no auth gate" in err
    assert "TICKETS_MCP_HTTP_TOKEN" in err and "--host 127.0.0.1" in err and "--behind-auth-proxy" in err


def test_the_sandbox_api_on_an_exposed_address_exits_2() -> None:
    err = refused(["sandbox", "--host", "0.0.0.0", "--port", str(free_port())], env())
    assert "no access control" in err and "--expose" in err


def started(args: list[str], environment: dict[str, str], probe: str) -> str:
    """Start, wait until ``probe`` answers on loopback, stop; the stderr it wrote."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickets_mcp", *args],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx2.get(probe, timeout=0.5).status_code < 500:
                    break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert SECRET not in err
    return err


def test_a_bearer_token_is_a_gate() -> None:
    port = free_port()
    err = started(
        ["--sandbox", "--transport", "http", "--host", "0.0.0.0", "--port", str(port)],
        env(TICKETS_MCP_HTTP_TOKEN=SECRET),
        f"http://127.0.0.1:{port}/healthz",
    )
    assert "WITHOUT an auth gate" not in err


def test_the_proxy_opt_out_starts_and_says_so_loudly() -> None:
    port = free_port()
    err = started(
        ["--sandbox", "--transport", "http", "--host", "0.0.0.0", "--port", str(port), "--behind-auth-proxy"],
        env(),
        f"http://127.0.0.1:{port}/healthz",
    )
    assert "WARNING" in err and "WITHOUT an auth gate" in err and "--behind-auth-proxy" in err


def test_the_sandbox_api_opt_out_starts_and_says_so() -> None:
    port = free_port()
    err = started(
        ["sandbox", "--host", "0.0.0.0", "--port", str(port), "--expose"],
        env(),
        f"http://127.0.0.1:{port}/support/v2/categories",
    )
    assert "no access control (--expose)" in err
