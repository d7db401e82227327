"""`make bench`: P1–P7 of issue 6, side by side in one run; prints one table and writes bench/RESULTS.md.

    .venv/bin/python bench/run.py            # everything (about 2–3 minutes)
    .venv/bin/python bench/run.py --quick    # fewer repetitions, for a smoke run (no RESULTS.md)

Every figure is a ratio (or a difference) of two things measured in the same run on the same machine,
A/B interleaved where it matters, medians throughout. See bench/RESULTS.md for the method and readings.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from harness import (
    BARE,
    ROOT,
    TICKETS_MCP,
    SandboxProcess,
    StdioPeer,
    free_port,
    machine_facts,
    median,
    pct,
    rss_kib,
)

RESULTS = ROOT / "bench" / "RESULTS.md"


@dataclass
class Row:
    key: str
    measure: str
    value: str
    target: str
    met: bool
    note: str = ""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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
        "avg ≤ 250, none > 600 (instructions ≤ 120)",
        ok and detail["default"]["instructions"] <= budget.INSTRUCTIONS_BUDGET,
    )
    return row, detail


# --- P4 thread tokens --------------------------------------------------------------------------------

CLIENT_BODIES = [
    "Добрый день! После перезагрузки сервера cs-web-01 (ru-9a) не поднимается сетевой интерфейс eth1, "
    "приватная сеть недоступна. В консоли вижу:\n```\n[  4.211] eth1: link is not ready\n```\nПодскажите, что проверить?",
    "Проверили: в netplan всё как было, MAC совпадает. Пробовали `ip link set eth1 up` — без изменений.",
    "We also see packet loss to 10.0.0.5 from the other servers in the project, about 30%. "
    "mtr output attached. Is there maintenance in ru-9a right now?",
    "Спасибо, порт в панели действительно был в статусе DOWN. Включили — интерфейс поднялся, но "
    "скорость 100 Мбит/с вместо 1 Гбит/с.",
    "ethtool shows `Speed: 100Mb/s, Duplex: Full, Auto-negotiation: on`. The tariff should give 1 Gbit/s.",
    "Да, можно перезагрузить в 02:00 по Москве, сервисы переключим на резерв заранее.",
    "After the reboot the speed is 1000Mb/s. Packet loss is gone too. Thanks!",
    "Одна просьба: пришлите, пожалуйста, причину инцидента для нашего отчёта для клиента.",
    "Ок, ждём отчёт. Тикет пока не закрываем.",
    "Получили, спасибо. Закрываем.",
]
SUPPORT_BODIES = [
    "Hello! Thank you for the details. We are checking the port of cs-web-01 on the switch side; "
    "it will take about 15 minutes. Please do not reboot the server meanwhile.",
    "Здравствуйте! Порт приватной сети в панели управления выключен (статус DOWN). Включите его в "
    "разделе «Сети» → «Порты» или подтвердите, и мы включим его сами.",
    "There is no maintenance in ru-9a. The packet loss is on the same port; it should disappear once the "
    "port is enabled. Please send the mtr output again afterwards.",
    "Скорость ограничена на стороне коммутатора после замены модуля. Для применения правильного профиля "
    "нужна перезагрузка сервера (около 5 минут простоя). Когда удобно?",
    "Понял, перезагрузку запланировали на 02:00 МСК. Перед работами пришлём уведомление.",
    "Reboot done at 02:04 MSK, the link came up at 1 Gbit/s, the switch profile is correct now. "
    "Please confirm on your side.",
    "Glad it works. The incident report will be ready within two business days.",
    "Отчёт: 26.11 в 14:10 МСК при плановой замене модуля коммутатора порт сервера был переведён в "
    "профиль 100 Мбит/с и выключен для приватной сети. Профиль исправлен, процедура замены дополнена "
    "проверкой профиля портов. Приносим извинения за неудобства.",
    "Если вопросов больше нет, тикет можно закрыть. Хорошего дня!",
    "Thank you for the rating! Closing the ticket.",
]


async def _p4(token_count: Any) -> dict[str, Any]:
    from mcp import Client
    from pydantic import SecretStr

    from tickets_mcp.sandbox import run_sandbox
    from tickets_mcp.settings import Settings
    from tickets_mcp.tools.app import build_server

    async with run_sandbox() as sb:
        async with httpx2.AsyncClient(headers={"X-Token": sb.token}, timeout=10) as http:
            created = await http.post(
                sb.base_url + "/v2/tickets",
                json={
                    "summary": "Приватная сеть недоступна после перезагрузки cs-web-01",
                    "categories": ["cloud_servers"],
                    "category_fields": [{"key": "region", "values": ["ru-9"]}],
                    "products": ["cloud_servers"],
                    "access_level": "account_users",
                    "keystone_projects": [],
                    "files": [],
                    "secrets": [],
                    "comment_body": CLIENT_BODIES[0],
                },
            )
            created.raise_for_status()
            number = int(created.json()["number"])
            # 19 more: support and client alternate (mixed EN/RU, short and long), 20 comments in all.
            client_iter, support_iter = iter(CLIENT_BODIES[1:]), iter(SUPPORT_BODIES)
            for i in range(19):
                if i % 2 == 0:
                    r = await http.post(
                        f"{sb.admin_url}/tickets/{number}/support-reply", json={"body": next(support_iter)}
                    )
                else:
                    r = await http.post(
                        f"{sb.base_url}/tickets/{number}/comments", json={"body": next(client_iter)}
                    )
                r.raise_for_status()
            ticket = (await http.get(f"{sb.base_url}/v2/tickets/{number}")).json()
            comments = (await http.get(f"{sb.base_url}/tickets/{number}/comments")).json()
        settings = Settings(token=SecretStr(sb.token), base_url=sb.base_url, calls_per_minute=0)
        async with Client(build_server(settings), mode="legacy") as client:  # type: ignore[arg-type]
            result = await client.call_tool("get_ticket", {"number": number, "include_comments": True})
            resource = await client.read_resource(f"tickets://{number}")
    items = comments["items"] if isinstance(comments, dict) else comments
    assert len(items) == 20, len(items)
    raw = json.dumps({"ticket": ticket, "comments": comments}, separators=(",", ":"), ensure_ascii=False)
    tool_text = "\n".join(getattr(b, "text", "") for b in result.content)
    structured = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)
    resource_text = "\n".join(getattr(c, "text", "") for c in resource.contents)
    bodies = "\n".join([ticket["summary"], *(c["body"] for c in items)])
    fences = [ln for ln in tool_text.splitlines() if re.fullmatch(r"`{3,}(untrusted-\w+)?", ln)]
    labels = [ln for ln in tool_text.splitlines() if re.match(r"comment \d+ · ", ln)]
    return {
        "fence_lines": token_count("\n".join(fences)),
        "label_lines": token_count("\n".join(labels)),
        "header": token_count(tool_text.split("\ncomments 1")[0]),
        "number": number,
        "raw": token_count(raw),
        "tool_text": token_count(tool_text),
        "structured": token_count(structured),
        "resource_text": token_count(resource_text),
        "bodies_only": token_count(bodies),
        "raw_bytes": len(raw.encode()),
        "tool_bytes": len(tool_text.encode()),
        "truncated": bool(result.structured_content and result.structured_content.get("truncated")),
        "sample": tool_text[:1200],
    }


def p4_thread() -> tuple[Row, dict[str, Any]]:
    import bpe_openai

    enc = bpe_openai.get_encoding("o200k_base")
    d = asyncio.run(_p4(lambda text: len(enc.encode(text))))
    tool, res, raw = d["tool_text"] / d["raw"], d["resource_text"] / d["raw"], d["raw"]
    floor = d["bodies_only"] / raw
    d.update(tool_ratio=tool, resource_ratio=res, floor=floor)
    row = Row(
        "P4",
        "20-comment thread (mixed EN/RU): text tokens of tool / resource output vs raw API JSON (compact)",
        f"tool {tool:.2f}×, resource {res:.2f}× ({d['tool_text']} / {d['resource_text']} vs {raw} tokens; "
        f"bodies alone {floor:.2f}×; structuredContent {d['structured']})",
        "≤ 0.40×",
        max(tool, res) <= 0.40,
    )
    return row, d


# --- P5 paced creates ----------------------------------------------------------------------------------


async def _p5(sb: SandboxProcess, count: int, window: float) -> dict[str, Any]:
    from tickets_mcp.api import PacingPolicy, StaticToken, TicketsApiError, TicketsClient

    errors: list[str] = []
    numbers: list[int] = []
    run_id = f"{time.time():.0f}"
    pacing = PacingPolicy(creates_per_minute=2, window_seconds=window)
    async with TicketsClient(sb.base_url, StaticToken(sb.token), pacing=pacing) as client:

        async def create(i: int) -> None:
            try:
                result = await client.create_ticket(
                    summary=f"bench P5 {run_id} #{i:02d}: disk latency on db-{i:02d}",
                    categories=["cloud_servers"],
                    category_fields=[{"key": "region", "values": ["ru-9"]}],
                    products=["cloud_servers"],
                    comment_body=f"Создание {i} из {count}: задержки диска на db-{i:02d}.",
                )
                numbers.append(result.ticket.number)
            except TicketsApiError as exc:
                errors.append(f"{i}: {exc}")

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
        f"{count} creates, 2 per {window:g} s window (sandbox time_scale {window:g}/60, client PacingPolicy "
        f"window {window:g} s; TicketsClient directly)",
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
        init = await http.post(mcp_url, json=__import__("harness").INIT, headers=ACCEPT)
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
