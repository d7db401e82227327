"""The streamable HTTP transport of a real `tickets-mcp --sandbox --transport http`.

Loopback by default (the listening socket; the setting is tests/unit/core/test_settings.py), DNS-rebinding protection (foreign
Origin 403, foreign Host 421), the bearer token when configured (missing or wrong: 401), and
/healthz open for probes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from support.raw_http import INIT, MCP_HEADERS
from support.servers import ServerProcess

TOKEN = "transport-test-bearer-7d41"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    # No --host: the default bind is under test.
    process = ServerProcess({"TICKETS_MCP_HTTP_TOKEN": TOKEN}, ["--sandbox"])
    try:
        process.start(timeout=20)
        yield process.base, process.port
    finally:
        process.stop()
    assert TOKEN not in process.stderr()


def listening_addresses(port: int) -> list[str]:
    """Local addresses of LISTEN sockets on ``port``, from /proc/net/tcp{,6} (hex, as the kernel writes them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":
                found.append(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_listening_socket_is_loopback_only(server: tuple[str, int]) -> None:
    addresses = listening_addresses(server[1])
    assert addresses == ["0100007F"], addresses  # 127.0.0.1, and nothing on 0.0.0.0 or ::


def test_not_reachable_on_another_interface(server: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            own = probe.getsockname()[0]
        except OSError:
            pytest.skip("no non-loopback interface")
    if own.startswith("127.") or own == "0.0.0.0":
        pytest.skip("no non-loopback interface")
    with pytest.raises(OSError), socket.create_connection((own, server[1]), timeout=1):
        pass


def test_bearer_required_when_configured(server: tuple[str, int]) -> None:
    base = server[0]
    assert httpx2.post(f"{base}/mcp", json=INIT, headers=MCP_HEADERS).status_code == 401
    for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN, f"Basic {TOKEN}"):
        response = httpx2.post(f"{base}/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": wrong})
        assert response.status_code == 401, wrong
        assert response.headers["www-authenticate"] == "Bearer"
    good = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    assert httpx2.post(f"{base}/mcp", json=INIT, headers=good).status_code == 200
    assert httpx2.get(f"{base}/healthz").json() == {"status": "ok"}


def test_foreign_origin_and_host_refused(server: tuple[str, int]) -> None:
    base, port = server
    good = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example", "null"):
        response = httpx2.post(f"{base}/mcp", json=INIT, headers={**good, "Origin": origin})
        assert response.status_code == 403, origin
    response = httpx2.post(f"{base}/mcp", json=INIT, headers={**good, "Host": "evil.example"})
    assert response.status_code == 421
    local = httpx2.post(f"{base}/mcp", json=INIT, headers={**good, "Origin": f"http://localhost:{port}"})
    assert local.status_code == 200
