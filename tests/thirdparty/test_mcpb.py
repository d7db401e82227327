"""`mcpb validate manifest.json` (@anthropic-ai/mcpb 2.1.2)."""

from __future__ import annotations

from tests.thirdparty.conftest import ROOT, require_tool, run_tool


def test_manifest_validates() -> None:
    mcpb = require_tool("mcpb")
    proc = run_tool([mcpb, "validate", ROOT / "manifest.json"], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validation passes" in proc.stdout
