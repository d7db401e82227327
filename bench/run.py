"""`make bench`: P1–P8, side by side in one run; prints one table and writes bench/RESULTS.md.

    .venv/bin/python bench/run.py            # everything (about 2–3 minutes)
    .venv/bin/python bench/run.py --quick    # fewer repetitions, for a smoke run (no RESULTS.md)

Every figure is a ratio (or a difference) of two things measured in the same run on the same machine,
A/B interleaved where it matters, medians throughout. See bench/RESULTS.md for the method and readings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
from harness import (
    BARE,
    ROOT,
    TICKETS_MCP,
    Row,
    SandboxProcess,
    StdioPeer,
    clean_env,
    log,
    machine_facts,
    median,
    pct,
    rss_kib,
)
from http_load import p5_paced_creates, p6_http, p8_session_memory
from thread_tokens import p4_thread

RESULTS = ROOT / "bench" / "RESULTS.md"


# --- P1 cold start -----------------------------------------------------------------------------------


def p1_cold_start(sb: SandboxProcess, runs: int) -> tuple[Row, dict[str, Any]]:
    kinds = {
        "bare": (BARE, clean_env()),
        "credentials": ([TICKETS_MCP], sb.env()),
        "sandbox": ([TICKETS_MCP, "--sandbox"], clean_env()),
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(runs):
        order = list(kinds) if i % 2 == 0 else list(reversed(kinds))  # interleaved, alternating order
        for kind in order:
            cmd, env = kinds[kind]
            peer = StdioPeer(cmd, env)
            times[kind].append(peer.initialize())
            peer.close()
    med = {k: median(v) * 1000 for k, v in times.items()}
    ratio = med["credentials"] / med["bare"]
    detail = {"median_ms": med, "min_ms": {k: min(v) * 1000 for k, v in times.items()}, "runs": runs}
    row = Row(
        "P1",
        "cold start, spawn → initialize result (stdio), credentials-only `tickets-mcp` vs bare SDK server",
        f"{ratio:.2f}× ({med['credentials']:.0f} vs {med['bare']:.0f} ms; --sandbox {med['sandbox']:.0f} ms = "
        f"{med['sandbox'] / med['bare']:.2f}×)",
        "≤ 1.10×",
        ratio <= 1.10,
    )
    return row, detail


# --- P2 per-call overhead ----------------------------------------------------------------------------


def p2_overhead(sb: SandboxProcess, calls: int) -> tuple[Row, dict[str, Any]]:
    number = sb.first_ticket()
    peer = StdioPeer([TICKETS_MCP], sb.env(TICKETS_MCP_CALLS_PER_MINUTE="0"))
    peer.initialize()
    url = f"{sb.base_url}/v2/tickets/{number}"
    mcp_t: list[float] = []
    http_t: list[float] = []
    with httpx2.Client(headers=sb.headers, timeout=10) as http:

        def via_mcp() -> float:
            t0 = time.perf_counter()
            result = peer.call_tool("get_ticket", {"number": number})
            elapsed = time.perf_counter() - t0
            if result.get("isError"):
                raise RuntimeError(f"get_ticket failed: {result}")
            return elapsed

        def direct() -> float:
            t0 = time.perf_counter()
            response = http.get(url)
            response.json()
            elapsed = time.perf_counter() - t0
            response.raise_for_status()
            return elapsed

        for _ in range(30):  # warm both paths (connections, caches, first-call imports)
            via_mcp()
            direct()
        for i in range(calls):
            if i % 2 == 0:
                mcp_t.append(via_mcp())
                http_t.append(direct())
            else:
                http_t.append(direct())
                mcp_t.append(via_mcp())
    peer.close()
    diffs = sorted((a - b) * 1000 for a, b in zip(mcp_t, http_t, strict=True))
    overhead = (median(mcp_t) - median(http_t)) * 1000
    detail = {
        "mcp_ms": {
            "p50": median(mcp_t) * 1000,
            "p90": pct(mcp_t, 0.9) * 1000,
            "p99": pct(mcp_t, 0.99) * 1000,
        },
        "httpx2_ms": {
            "p50": median(http_t) * 1000,
            "p90": pct(http_t, 0.9) * 1000,
            "p99": pct(http_t, 0.99) * 1000,
        },
        "paired_diff_ms": {"p50": median(diffs), "p90": pct(diffs, 0.9), "p99": pct(diffs, 0.99)},
        "calls": calls,
        "overhead_ms": overhead,
    }
    row = Row(
        "P2",
        f"per-call overhead: `get_ticket` via MCP stdio − direct httpx2 GET, {calls} calls (sandbox in its own process)",
        f"{overhead:.2f} ms ({median(mcp_t) * 1000:.2f} − {median(http_t) * 1000:.2f} ms; paired p50 "
        f"{median(diffs):.2f}, p99 {pct(diffs, 0.99):.2f})",
        "≤ 2 ms median",
        overhead <= 2.0,
    )
    return row, detail


# --- P3 tokens of tools/list ------------------------------------------------------------------------


def _budget_module() -> Any:
    path = ROOT / "tests" / "bench" / "test_token_budget.py"
    spec = importlib.util.spec_from_file_location("token_budget", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def p3_tokens() -> tuple[Row, dict[str, Any]]:
    import warnings

    from tickets_mcp.settings import DEFAULT_TOOLSETS, TOOLSETS

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="bpe_openai.*")
    budget = _budget_module()
    detail: dict[str, Any] = {}
    ok = True
    parts = []
    for label, toolsets in (("default", DEFAULT_TOOLSETS), ("all", TOOLSETS)):
        counted, instructions = budget.count_tools(toolsets)
        avg = sum(t.model for t in counted) / len(counted)
        top = max(counted, key=lambda t: t.model)
        wire_avg = sum(t.wire for t in counted) / len(counted)
        wire_top = max(counted, key=lambda t: t.wire)
        detail[label] = {
            "tools": len(counted),
            "average": avg,
            "max": (top.name, top.model),
            "total": sum(t.model for t in counted),
            "wire_average": wire_avg,
            "wire_max": (wire_top.name, wire_top.wire),
            "wire_total": sum(t.wire for t in counted),
            "per_tool": [(t.name, t.model, t.wire) for t in counted],
            "instructions": instructions,
        }
        ok = ok and avg <= budget.AVERAGE_BUDGET and top.model <= budget.MAX_BUDGET
        parts.append(f"{label} ({len(counted)} tools): avg {avg:.0f}, max {top.model} ({top.name})")
    parts.append(f"instructions {detail['default']['instructions']}")
    row = Row(
        "P3",
        "`tools/list` o200k tokens per tool (name + description + inputSchema)",
        "; ".join(parts),
        f"avg ≤ {budget.AVERAGE_BUDGET}, none > {budget.MAX_BUDGET} (instructions ≤ {budget.INSTRUCTIONS_BUDGET})",
        ok and detail["default"]["instructions"] <= budget.INSTRUCTIONS_BUDGET,
    )
    return row, detail


# --- P7 idle RSS ----------------------------------------------------------------------------------------


def p7_rss(sb: SandboxProcess, runs: int) -> tuple[Row, dict[str, Any]]:
    kinds = {
        "bare": (BARE, clean_env()),
        "credentials": ([TICKETS_MCP], sb.env()),
        "sandbox": ([TICKETS_MCP, "--sandbox"], clean_env()),
    }
    rss: dict[str, list[int]] = {k: [] for k in kinds}
    for _ in range(runs):
        peers = {kind: StdioPeer(cmd, env) for kind, (cmd, env) in kinds.items()}
        for peer in peers.values():
            peer.initialize()
            peer.request("tools/list")
        time.sleep(1.0)  # idle: lifespan started, watcher idle
        for kind, peer in peers.items():
            rss[kind].append(rss_kib(peer.pid))
            peer.close()
    med = {k: median(v) / 1024 for k, v in rss.items()}
    ratio = med["credentials"] / med["bare"]
    row = Row(
        "P7",
        "idle RSS after initialize + tools/list, credentials-only `tickets-mcp` vs bare SDK server",
        f"{ratio:.2f}× ({med['credentials']:.1f} vs {med['bare']:.1f} MiB; --sandbox {med['sandbox']:.1f} MiB "
        f"= {med['sandbox'] / med['bare']:.2f}×)",
        "≤ 1.2×",
        ratio <= 1.2,
    )
    return row, {"median_mib": med, "runs": runs}


# --- table ---------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| # | Measure | Result | Target | Met |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.key} | {r.measure} | {r.value} | {r.target} | {'yes' if r.met else '**no**'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; does not write RESULTS.md")
    parser.add_argument("--only", default="", help="comma list of measures to run, e.g. P1,P4")
    parser.add_argument("--json", type=Path, help="also write the raw details as JSON here")
    args = parser.parse_args()
    quick = args.quick
    only = {k.strip().upper() for k in args.only.split(",") if k.strip()}
    facts = machine_facts()
    started = dt.datetime.now(dt.UTC)
    rows: list[Row] = []
    details: dict[str, Any] = {}

    def run(key: str, fn: Any, *fn_args: Any) -> None:
        if only and key not in only:
            return
        log(f"{key} …")
        t0 = time.perf_counter()
        row, detail = fn(*fn_args)
        rows.append(row)
        details[key] = detail
        log(f"{key} done in {time.perf_counter() - t0:.1f} s: {row.value}")

    with SandboxProcess() as sb:
        run("P1", p1_cold_start, sb, 3 if quick else 10)
        run("P2", p2_overhead, sb, 50 if quick else 500)
    run("P3", p3_tokens)
    run("P4", p4_thread)
    run("P5", p5_paced_creates, 20, 1.0)
    with SandboxProcess() as sb:
        run("P6", p6_http, sb, 200, 3 if quick else 7)
        run("P7", p7_rss, sb, 1 if quick else 3)
        run("P8", p8_session_memory, sb, 300 if quick else 2000)
    rows.sort(key=lambda r: r.key)
    text = table(rows)
    print(f"tickets-mcp benchmarks, {started:%Y-%m-%d %H:%M} UTC; {facts}\n")
    print(text)
    if args.json:
        args.json.write_text(json.dumps(details, indent=1, default=str, ensure_ascii=False))
    if not quick and not only:
        from results_doc import write_results

        write_results(RESULTS, started, facts, text, details)
        print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
