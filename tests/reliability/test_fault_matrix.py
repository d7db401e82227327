"""The fault matrix. `make test` runs 150 calls; `make soak` runs 1,000.

Read success threshold: a read fails only if one of its GETs meets three attempt-consuming faults
in a row (about 0.21³ ≈ 1% at a 30% rate where 429s have their own count), or the 1% of 429s
asking for 30 s (past the 2 s retry budget, reported as "retry after 30 s"). A tool makes one to
three GETs, so about 96% of reads are expected to succeed; 90% leaves room for chance without
hiding a broken retry loop (with no retries at all, fewer than 70% would).
"""

from __future__ import annotations

import logging
import os

import pytest

from support.fault_matrix import ACTIONABLE, CRASH_MARKERS, Report, run_matrix
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
CI_CALLS = 150
MIN_READ_SUCCESS = 0.90


@pytest.fixture(scope="module")
def sandbox() -> SandboxHandle:
    with run_sandbox(time_scale=1 / 60, creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


def check(report: Report, calls: int, caplog: pytest.LogCaptureFixture) -> None:
    print("\nfault matrix:", report.summary())
    assert len([c for c in report.calls if c.kind != "followup"]) == calls
    # Every kind was injected, so every path of the retry loop ran.
    assert set(report.faults()) >= {"429", "429-date", "429-none", "500", "502", "503", "504", "drop"}
    # No crash and no unhandled exception: every failure is an isError with actionable text.
    for call in (c for c in report.calls if c.is_error):  # a success's text is ticket content
        for marker in CRASH_MARKERS:
            assert marker not in call.text, (call.tool, call.text)
        assert ACTIONABLE.search(call.text), (call.tool, call.code, call.text)
        assert call.code, call.text
    errors = [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(("tickets_mcp", "mcp"))
    ]
    assert not errors, [r.getMessage() for r in errors]
    # Probes of a missing ticket are told so, not "try again".
    probes = [c for c in report.calls if c.kind == "probe"]
    assert all(
        c.code in ("not_found", "server_error", "malformed_response", "transport", "rate_limited")
        for c in probes
    )
    assert any(c.code == "not_found" for c in probes) or not probes
    # Writes: never applied twice.
    assert report.duplicates() == {"creates": [], "comments": []}
    # Reads succeed within the retry budget.
    assert report.read_success_rate() >= MIN_READ_SUCCESS, report.summary()
    read_codes = {c.code for c in report.reads if c.is_error}
    assert read_codes <= {"server_error", "malformed_response", "transport", "rate_limited"}, read_codes


async def test_fault_matrix(sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture) -> None:
    report = await run_matrix(sandbox, CI_CALLS, seed=7)
    check(report, CI_CALLS, caplog)


@pytest.mark.slow
async def test_fault_matrix_soak(sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture) -> None:
    calls = int(os.environ.get("TICKETS_MCP_SOAK_CALLS", "1000"))
    report = await run_matrix(sandbox, calls, seed=11, workers=4)
    check(report, calls, caplog)


def test_duplicate_detector_counts_only_writes_that_took_effect() -> None:
    def post(
        path: str, body: dict[str, str], status: int, fault: str | None, applied: bool
    ) -> dict[str, object]:
        return {
            "method": "POST",
            "path": path,
            "body": body,
            "status": status,
            "fault": fault,
            "applied": applied,
        }

    comments = "/support/tickets/1/comments"
    tickets = "/support/v2/tickets"
    report = Report(
        journal=[
            post(comments, {"body": "a"}, 503, "503", False),  # refused, not applied
            post(comments, {"body": "a"}, 200, None, True),
            post(comments, {"body": "b"}, 200, "drop", True),  # applied, answer lost
            post(comments, {"body": "b"}, 200, None, True),  # ... and sent again: a duplicate
            post(tickets, {"summary": "s"}, 200, "timeout", True),
            post(tickets, {"summary": "s"}, 200, None, True),
            post(tickets, {"summary": "t"}, 400, None, True),  # rejected by validation
            post(tickets, {"summary": "t"}, 200, None, True),
        ]
    )
    assert report.duplicates() == {"creates": ['{"summary": "s"}'], "comments": ['{"body": "b"}']}
