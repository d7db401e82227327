"""The Host and Origin values the HTTP gate takes (`callers.transport_security`, `callers.allowed_host`)."""

from __future__ import annotations

from tickets_mcp.mcp_server.callers import allowed_host, transport_security
from tickets_mcp.settings import Settings


def test_a_bare_name_is_that_name_on_any_port_and_its_https_origin() -> None:
    assert allowed_host(" Tickets.Example.com ") == (
        {"tickets.example.com", "tickets.example.com:*"},
        {"https://tickets.example.com", "https://tickets.example.com:*"},
    )


def test_a_name_with_a_port_is_just_that() -> None:
    assert allowed_host("mcp.example.net:8443") == (
        {"mcp.example.net:8443"},
        {"https://mcp.example.net:8443"},
    )
    assert allowed_host("mcp.example.net:*") == ({"mcp.example.net:*"}, {"https://mcp.example.net:*"})
    assert allowed_host("[2001:db8::1]") == (
        {"[2001:db8::1]", "[2001:db8::1]:*"},
        {"https://[2001:db8::1]", "https://[2001:db8::1]:*"},
    )
    assert allowed_host("[2001:db8::1]:443") == ({"[2001:db8::1]:443"}, {"https://[2001:db8::1]:443"})
    assert allowed_host("  ") == (set(), set())


def test_the_gate_adds_the_allowed_hosts_to_loopback_and_the_origins_given() -> None:
    plain = transport_security(Settings(transport="http"))
    assert "tickets.example.com" not in plain.allowed_hosts
    assert set(plain.allowed_hosts) == {
        "127.0.0.1",
        "127.0.0.1:*",
        "localhost",
        "localhost:*",
        "[::1]",
        "[::1]:*",
    }
    settings = Settings(
        transport="http", allowed_hosts="tickets.example.com", allowed_origins="https://app.example.org"
    )
    gate = transport_security(settings)
    assert gate.enable_dns_rebinding_protection
    assert {"tickets.example.com", "tickets.example.com:*", "127.0.0.1:*"} <= set(gate.allowed_hosts)
    assert {"https://tickets.example.com", "https://app.example.org", "http://127.0.0.1:*"} <= set(
        gate.allowed_origins
    )
    assert "http://tickets.example.com" not in gate.allowed_origins
