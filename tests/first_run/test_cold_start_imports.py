"""What the path to answering `initialize` imports: building the server loads no renderer, no tool and no
API model (they cost tens of milliseconds of pydantic models; P1 measures the whole start)."""

from __future__ import annotations

import json
import subprocess
import sys

BUILD = """
import json, sys
from pydantic import SecretStr
from tickets_mcp.settings import Settings
from tickets_mcp.mcp_server.server import build_server
build_server(Settings(token=SecretStr("cold-start_1"), base_url="http://127.0.0.1:9/support"))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("tickets_mcp"))))
"""
LATER = {
    "tickets_mcp.api.client",
    "tickets_mcp.api.models",
    "tickets_mcp.mcp_server.attachments",
    "tickets_mcp.mcp_server.markdown",
    "tickets_mcp.mcp_server.outputs",
    "tickets_mcp.mcp_server.threads",
    "tickets_mcp.mcp_server.tools",
    "tickets_mcp.mcp_server.writes",
    "tickets_mcp.sandbox",
}


def test_building_the_server_imports_no_renderer_tool_or_api_model() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUILD], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert "tickets_mcp.mcp_server.server" in loaded
    assert not loaded & LATER, sorted(loaded & LATER)
