"""The baseline of P1, P7 and P8: a bare `mcp` SDK server (`MCPServer`) with one tool, over stdio, or over
streamable HTTP with ``--port N`` (P8)."""

from __future__ import annotations

import sys

from mcp.server import MCPServer

server = MCPServer(name="bare", version="0")


@server.tool()
def get_ticket(number: int) -> str:
    """Fetch one support ticket by number."""
    return f"ticket {number}"


if __name__ == "__main__":
    if "--port" in sys.argv:
        server.run("streamable-http", port=int(sys.argv[sys.argv.index("--port") + 1]))
    else:
        server.run()
