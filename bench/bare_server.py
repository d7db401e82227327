"""The baseline of P1 and P7: a bare `mcp` SDK server (`MCPServer`) with one tool, over stdio."""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer(name="bare", version="0")


@server.tool()
def get_ticket(number: int) -> str:
    """Fetch one support ticket by number."""
    return f"ticket {number}"


if __name__ == "__main__":
    server.run()
