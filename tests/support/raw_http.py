"""What the tests that speak streamable HTTP by hand share (they check what the HTTP front itself answers,
below any MCP client): the request headers and JSON-RPC bodies of the 2025-11-25 era."""

from __future__ import annotations

from typing import Any

MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
PROTOCOL = "2025-11-25"


def rpc(method: str, params: dict[str, Any] | None = None, id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}


def initialize(capabilities: dict[str, Any] | None = None, *, name: str = "raw-http-test") -> dict[str, Any]:
    """The body of an ``initialize`` request of the 2025-11-25 handshake."""
    info = {
        "protocolVersion": PROTOCOL,
        "capabilities": capabilities or {},
        "clientInfo": {"name": name, "version": "1"},
    }
    return rpc("initialize", info, id=0)


INIT = initialize()
LIST = rpc("tools/list")
