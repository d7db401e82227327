"""`tickets-mcp demo` runs its eight-step session over stdio, shows the injection sanitized, exits 0 fast."""

from __future__ import annotations

import io
import re
import time

import pytest

from support.cli import run
from tickets_mcp.demo import Console, run_demo
from tickets_mcp.settings import Settings


def test_demo_runs_all_steps_and_exits_0() -> None:
    started = time.monotonic()
    proc = run("demo", SELECTEL_TOKEN="never-passed-on-canary")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 60
    out = proc.stdout
    steps = re.findall(r"^── (\d)\. ", out, re.M)
    assert steps == [str(i) for i in range(1, 9)]
    assert out.count("assistant → ") == 8 and out.count("≈ ") >= 8  # asked, and tokens per step
    assert "search_tickets" in out and "````client " in out and "client-labelled fence" in out
    assert re.search(r"\d+ hidden characters in the stored text, 0 in what the assistant sees", out)
    assert "region" in out and "Created ticket #" in out and "Closed ticket #" in out
    assert "the server asks the user: Close ticket" in out and "accepts" in out
    assert "✓ demo finished: 8 steps" in out
    assert "never-passed-on-canary" not in out + proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_reports_failure_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import tickets_mcp.demo as demo

    async def broken(con: Console, errlog: object, command: list[str] | None = None) -> None:
        raise demo.DemoFailure("step 3 returned nothing")

    monkeypatch.setattr(demo, "run_session", broken)
    out = io.StringIO()
    assert run_demo(Settings(), out=out) == 1
    assert "✗ demo failed: DemoFailure: step 3 returned nothing" in out.getvalue()
