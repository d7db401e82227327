"""P1 and P2 of `make bench`, A/B against an earlier revision of this repository, in one run.

    .venv/bin/python bench/ab.py --against 2bff876    # or: make bench-ab AGAINST=2bff876

The earlier revision is checked out into a temporary git worktree and run from the same virtual
environment (its ``server/`` first on PYTHONPATH), so the two differ only in this project's code.
Both are spawned alternately (P1) and called alternately (P2): every figure is a ratio of medians
taken in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from harness import PY, ROOT, SandboxProcess, StdioPeer, median


def command(server: Path) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}
    return [PY, "-m", "tickets_mcp"], {**env, "PYTHONPATH": str(server)}


def cold_starts(versions: dict[str, Path], sb: SandboxProcess, runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in versions}
    for i in range(runs):
        for name in list(versions) if i % 2 == 0 else list(reversed(versions)):
            cmd, env = command(versions[name])
            peer = StdioPeer(cmd, {**env, **sb.env()})
            times[name].append(peer.initialize())
            peer.close()
    return {name: median(t) * 1000 for name, t in times.items()}


def call_times(versions: dict[str, Path], sb: SandboxProcess, calls: int) -> dict[str, float]:
    number = sb.first_ticket()
    peers = {}
    for name, server in versions.items():
        cmd, env = command(server)
        peers[name] = StdioPeer(cmd, {**env, **sb.env(TICKETS_MCP_CALLS_PER_MINUTE="0")})
        peers[name].initialize()
    times: dict[str, list[float]] = {name: [] for name in versions}

    def call(name: str) -> float:
        t0 = time.perf_counter()
        result = peers[name].call_tool("get_ticket", {"number": number})
        elapsed = time.perf_counter() - t0
        if result.get("isError"):
            raise RuntimeError(f"{name}: get_ticket failed: {result}")
        return elapsed

    for _ in range(30):  # warm both
        for name in versions:
            call(name)
    for i in range(calls):
        for name in list(versions) if i % 2 == 0 else list(reversed(versions)):
            times[name].append(call(name))
    for peer in peers.values():
        peer.close()
    return {name: median(t) * 1000 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="the earlier revision (a commit or tag)")
    parser.add_argument("--runs", type=int, default=20, help="cold starts of each version")
    parser.add_argument("--calls", type=int, default=300, help="get_ticket calls of each version")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(before), args.against],
            check=True,
        )
        try:
            versions = {"before": before / "server", "after": ROOT / "server"}
            with SandboxProcess() as sb:
                p1 = cold_starts(versions, sb, args.runs)
                p2 = call_times(versions, sb, args.calls)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=True)
    print(f"A/B against {args.against}: medians, after / before")
    print(
        f"P1 cold start (spawn → initialize, {args.runs} each): {p1['before']:.0f} → {p1['after']:.0f} ms = {p1['after'] / p1['before']:.2f}×"
    )
    print(
        f"P2 get_ticket over stdio ({args.calls} each): {p2['before']:.2f} → {p2['after']:.2f} ms = {p2['after'] / p2['before']:.2f}×"
    )


if __name__ == "__main__":
    main()
