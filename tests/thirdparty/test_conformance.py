"""The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, Node >= 22) against
`tickets-mcp --sandbox --transport http`.

Every scenario must pass except the fixture scenarios listed, with reasons, in
conformance-expected-failures.yml; the suite itself fails the run on an unexpected failure and on a
stale entry (a listed scenario that now passes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.node_tools import TIMEOUT, require_tool, run_tool

pytestmark = pytest.mark.thirdparty
BASELINE = Path(__file__).with_name("conformance-expected-failures.yml")
# Scenarios that exercise this server for real (not fixtures); they must be in the summary as passed.
MUST_PASS = {
    "server-initialize",
    "ping",
    "completion-complete",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "dns-rebinding-protection",
}


def _listed() -> set[str]:
    return set(re.findall(r"^\s*-\s*([\w-]+)\s*$", BASELINE.read_text(encoding="utf-8"), re.M))


def test_conformance_suite(http_server: str, tmp_path: Path) -> None:
    conformance = require_tool("conformance")
    proc = run_tool(
        [conformance, "server", "--url", http_server, "--expected-failures", BASELINE, "-o", tmp_path],
        timeout=TIMEOUT,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, out[-4000:]
    assert "Baseline check passed" in out, out[-4000:]
    summary = {name: mark for mark, name in re.findall(r"^([✓✗]) ([\w-]+):", out, re.M)}
    passed = {name for name, mark in summary.items() if mark == "✓"}
    failed = {name for name, mark in summary.items() if mark == "✗"}
    assert MUST_PASS <= passed, f"not passed: {sorted(MUST_PASS - passed)}"
    assert failed == _listed(), "the baseline must list exactly the failing scenarios"
    total = re.search(r"Total: (\d+) passed, (\d+) failed", out)
    assert total and int(total.group(1)) >= 14, out[-2000:]
