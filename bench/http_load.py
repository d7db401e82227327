"""P5 and P6 of `make bench`: paced creates under a compressed window; concurrent calls over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2
from harness import BARE, INIT, TICKETS_MCP, Row, SandboxProcess, clean_env, free_port, median, rss_kib

# --- P5 paced creates ----------------------------------------------------------------------------------


async def _p5(sb: SandboxProcess, count: int, window: float) -> dict[str, Any]:
    """`count` concurrent create_ticket tool calls through the MCP server (in process), paced by its client."""
    from mcp import Client
    from pydantic import SecretStr

    from tickets_mcp.mcp_server.server import build_server
    from tickets_mcp.settings import Settings

    errors: list[str] = []
    numbers: list[int] = []
    run_id = f"{time.time():.0f}"
    settings = Settings(
        token=SecretStr(sb.token),
        base_url=sb.base_url,
        creates_per_minute=2,
        rate_window=window,
        calls_per_minute=0,
        catalog_ttl=300,
    )
    async with Client(build_server(settings), mode="legacy") as client:

        async def create(i: int) -> None:
            result = await client.call_tool(
                "create_ticket",
                {
                    "summary": f"bench P5 {run_id} #{i:02d}: disk latency on db-{i:02d}",
                    "categories": ["cloud_servers"],
                    "category_fields": [{"key": "region", "values": ["ru-9"]}],
                    "products": ["cloud_servers"],
                    "comment_body": f"Создание {i} из {count}: задержки диска на db-{i:02d}.",
                },
            )
            out = result.structured_content or {}
            if result.is_error or out.get("outcome") != "created":
                errors.append(f"{i}: {out}")
            else:
                numbers.append(out["ticket"]["number"])

        await client.call_tool("list_categories", {})  # warm the catalog cache and the connection
        sb.clear_journal()
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i in range(count):
                tg.create_task(create(i))
        wall = time.perf_counter() - t0
    posts = [e for e in sb.journal() if e["method"] == "POST" and e["path"].endswith("/v2/tickets")]
    ok = [e for e in posts if 200 <= e["status"] < 300]
    summaries = [e["body"]["summary"] for e in ok]
    return {
        "wall": wall,
        "minimum": (count / 2 - 1) * window,
        "429": sum(1 for e in posts if e["status"] == 429),
        "errors": errors,
        "created": len(ok),
        "duplicates": len(summaries) - len(set(summaries)),
        "distinct_numbers": len(set(numbers)),
    }


def p5_paced_creates(count: int = 20, window: float = 1.0) -> tuple[Row, dict[str, Any]]:
    with SandboxProcess(time_scale=window / 60) as sb:
        d = asyncio.run(_p5(sb, count, window))
    ratio = d["wall"] / d["minimum"]
    d["ratio"] = ratio
    met = ratio <= 1.10 and not d["errors"] and d["duplicates"] == 0 and d["created"] == count
    row = Row(
        "P5",
        f"{count} creates, 2 per {window:g} s window (sandbox time_scale {window:g}/60, server rate window "
        f"{window:g} s; create_ticket through the MCP server, in process)",
        f"{ratio:.3f}× ({d['wall']:.2f} s vs {d['minimum']:.0f} s); 429s {d['429']}, errors {len(d['errors'])}, "
        f"created {d['created']}, duplicates {d['duplicates']}",
        "≤ 1.10×, 0 errors, 0 duplicates",
        met,
    )
    return row, d


# --- P6 concurrent calls over streamable HTTP ----------------------------------------------------------

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _rpc_result(response: httpx2.Response) -> dict[str, Any]:
    response.raise_for_status()
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if "id" in message:
                    return dict(message)
        raise RuntimeError("no response in the event stream")
    return dict(response.json())


async def _p6(sb: SandboxProcess, mcp_url: str, concurrency: int, rounds: int) -> dict[str, Any]:
    number = sb.first_ticket()
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as http:
        init = await http.post(mcp_url, json=INIT, headers=ACCEPT)
        _rpc_result(init)
        headers = {
            **ACCEPT,
            "mcp-session-id": init.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-11-25",
        }
        await http.post(
            mcp_url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
        )
        ticket_url = f"{sb.base_url}/v2/tickets/{number}"

        async def one_mcp(i: int) -> None:
            body = {
                "jsonrpc": "2.0",
                "id": 1000 + i,
                "method": "tools/call",
                "params": {"name": "get_ticket", "arguments": {"number": number}},
            }
            reply = _rpc_result(await http.post(mcp_url, json=body, headers=headers))
            if "result" not in reply or reply["result"].get("isError"):
                raise RuntimeError(f"tools/call failed: {str(reply)[:300]}")

        async def one_direct(i: int) -> None:
            response = await http.get(ticket_url, headers=sb.headers)
            response.raise_for_status()
            response.json()

        async def burst(fn: Any) -> float:
            t0 = time.perf_counter()
            async with asyncio.TaskGroup() as tg:
                for i in range(concurrency):
                    tg.create_task(fn(i))
            return concurrency / (time.perf_counter() - t0)

        await burst(one_mcp)  # warm-up: connections, first-call imports
        await burst(one_direct)
        mcp_rps: list[float] = []
        direct_rps: list[float] = []
        for i in range(rounds):
            if i % 2 == 0:
                mcp_rps.append(await burst(one_mcp))
                direct_rps.append(await burst(one_direct))
            else:
                direct_rps.append(await burst(one_direct))
                mcp_rps.append(await burst(one_mcp))
    return {"mcp_rps": mcp_rps, "direct_rps": direct_rps}


def p6_http(sb: SandboxProcess, concurrency: int, rounds: int) -> tuple[Row, dict[str, Any]]:
    import subprocess

    port = free_port()
    env = sb.env(TICKETS_MCP_CALLS_PER_MINUTE="0")
    server = subprocess.Popen(
        [TICKETS_MCP, "--transport", "http", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("tickets-mcp --transport http did not start")
            time.sleep(0.05)
        d = asyncio.run(_p6(sb, f"http://127.0.0.1:{port}/mcp", concurrency, rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    mcp, direct = median(d["mcp_rps"]), median(d["direct_rps"])
    ratio = mcp / direct
    d.update(ratio=ratio, mcp=mcp, direct=direct)
    row = Row(
        "P6",
        f"{concurrency} concurrent `get_ticket` over streamable HTTP (server and sandbox in subprocesses) "
        "vs direct httpx2 to the sandbox, throughput",
        f"{ratio:.2f}× ({mcp:.0f} vs {direct:.0f} calls/s, median of {rounds} bursts)",
        "≥ 0.5×",
        ratio >= 0.5,
    )
    return row, d


# --- P8 memory per open session --------------------------------------------------------------------------

P8_TOKEN = "bench-sessions-5d1e0c_777"  # one per-request credential holds every session (its limit raised)


def _start_http(cmd: list[str], env: dict[str, str]) -> tuple[Any, int]:
    """``cmd --port <free port>`` in a subprocess, once its MCP endpoint answers."""
    import subprocess

    port = free_port()
    server = subprocess.Popen(
        [*cmd, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/mcp", timeout=1).status_code < 500:
                return server, port
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise RuntimeError(f"{cmd[0]} did not start")
        time.sleep(0.05)


def _session_growth(
    cmd: list[str], env: dict[str, str], headers: dict[str, str], count: int
) -> dict[str, Any]:
    """RSS of a fresh server before and after opening ``count`` more sessions (each initialize +
    notifications/initialized, then left open), after 50 to warm it."""
    server, port = _start_http(cmd, env)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with httpx2.Client(timeout=30) as http:

            def open_one() -> None:
                answer = http.post(url, json=INIT, headers=headers)
                _rpc_result(answer)
                held = {**headers, "mcp-session-id": answer.headers["mcp-session-id"]}
                held["mcp-protocol-version"] = "2025-11-25"
                done = http.post(
                    url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=held
                )
                done.raise_for_status()

            for _ in range(50):  # first-use imports, allocator arenas
                open_one()
            time.sleep(0.5)
            before = rss_kib(server.pid)
            for _ in range(count):
                open_one()
            time.sleep(1.0)
            after = rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"rss_before_kib": before, "rss_after_kib": after, "kib_per_session": (after - before) / count}


def p8_session_memory(sb: SandboxProcess, count: int) -> tuple[Row, dict[str, Any]]:
    """Memory per open 2025-11-25 session: `tickets-mcp --transport http` with per-request credentials (the
    team mode, where each session is bound to its credential and counted) vs the bare SDK server over
    streamable HTTP, ``count`` sessions held on each."""
    env = sb.env(
        TICKETS_MCP_CREDENTIALS="per-request",
        TICKETS_MCP_SESSIONS_PER_CALLER=str(count + 100),  # one credential holds them all here
        TICKETS_MCP_LOG_LEVEL="WARNING",
    )
    env.pop("SELECTEL_TOKEN")
    ours = _session_growth(
        [TICKETS_MCP, "--transport", "http"], env, {**ACCEPT, "X-Selectel-Token": P8_TOKEN}, count
    )
    bare = _session_growth(BARE, clean_env(), ACCEPT, count)
    ratio = ours["kib_per_session"] / bare["kib_per_session"]
    d = {"sessions": count, "tickets_mcp": ours, "bare": bare, "ratio": ratio}
    row = Row(
        "P8",
        f"memory per open session: RSS growth ÷ {count} 2025-11-25 sessions held open over streamable HTTP, "
        "`tickets-mcp` (per-request credentials: sessions bound and counted) vs bare SDK server",
        f"{ratio:.2f}× ({ours['kib_per_session']:.1f} vs {bare['kib_per_session']:.1f} KiB/session; "
        f"{count} sessions = {ours['kib_per_session'] * count / 1024:.0f} MiB)",
        "≤ 1.2×",
        ratio <= 1.2,
    )
    return row, d
