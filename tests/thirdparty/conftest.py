"""Third-party MCP tools (Inspector CLI, conformance suite, mcpb) run as subprocesses against our server
(support/node_tools.py finds them; without them the tests skip locally and fail under CI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.cli import TICKETS_MCP
from support.servers import ServerProcess


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """`tickets-mcp --sandbox --transport http` on a free loopback port; yields the /mcp URL."""
    server = ServerProcess(args=["--sandbox"], command=[TICKETS_MCP, "--transport", "http"])
    try:
        yield server.start().url
    finally:
        server.stop()
