"""Behind a balancer that passes its public ``Host``: ``TICKETS_MCP_ALLOWED_HOSTS`` lets it through.

Two real ``tickets-mcp --transport http`` processes on loopback, one with
``TICKETS_MCP_ALLOWED_HOSTS=tickets.example.com`` and one without; requests carry the Host (and Origin) a
balancer or a browser would send. Without the setting such a Host gets 421, as before; with it, the name
(on any port) gets through, and so does the origin ``https://tickets.example.com``, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from support.raw_http import INIT, MCP_HEADERS
from support.servers import ServerProcess

UPSTREAM = {"SELECTEL_TOKEN": "own-token_100", "SELECTEL_TICKETS_URL": "http://127.0.0.1:9/support"}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    allowing = ServerProcess(
        {**UPSTREAM, "TICKETS_MCP_ALLOWED_HOSTS": "tickets.example.com, mcp.example.net:8443"}
    )
    plain = ServerProcess(UPSTREAM)
    try:
        yield allowing.start(), plain.start()
    finally:
        allowing.stop()
        plain.stop()


def post(server: ServerProcess, **headers: str) -> httpx2.Response:
    return httpx2.post(server.url, json=INIT, headers={**MCP_HEADERS, **headers}, timeout=10)


def test_without_the_setting_a_public_host_gets_421(servers: tuple[ServerProcess, ServerProcess]) -> None:
    _, plain = servers
    assert post(plain, Host="tickets.example.com").status_code == 421
    assert post(plain).status_code == 200  # loopback, as always


def test_an_allowed_host_gets_through_on_any_port(servers: tuple[ServerProcess, ServerProcess]) -> None:
    allowing, _ = servers
    for host in ("tickets.example.com", "tickets.example.com:443", "TICKETS.example.com"):
        answer = post(allowing, Host=host.lower())
        assert answer.status_code == 200, (host, answer.status_code, answer.text)
    assert post(allowing, Host="mcp.example.net:8443").status_code == 200  # a port given: that port only
    assert post(allowing, Host="mcp.example.net").status_code == 421
    assert post(allowing, Host="evil.example").status_code == 421
    assert post(allowing, Host="tickets.example.com.evil.example").status_code == 421
    assert post(allowing).status_code == 200


def test_the_hosts_own_https_origin_is_allowed_and_no_other(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    allowing, plain = servers
    host = "tickets.example.com"
    assert post(allowing, Host=host, Origin=f"https://{host}").status_code == 200
    assert post(allowing, Host=host, Origin=f"http://{host}").status_code == 403  # plain HTTP: not implied
    assert post(allowing, Host=host, Origin="https://evil.example").status_code == 403
    assert (
        post(allowing, Host="mcp.example.net:8443", Origin="https://mcp.example.net:8443").status_code == 200
    )
    assert post(plain, Origin=f"https://{host}").status_code == 403
