"""The sandbox's ASGI app built alone, in process (no server, no socket)."""

from __future__ import annotations

from tickets_mcp.sandbox import SandboxConfig, create_app


def test_create_app_alone() -> None:
    app = create_app(SandboxConfig(seed=False))
    assert app.state.sandbox.store.count_tickets() == 0
