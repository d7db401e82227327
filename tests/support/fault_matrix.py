"""The fault matrix: mixed tool calls through the real MCP server while the sandbox injects faults.

`run_matrix` drives ``calls`` tool calls (reads and writes, a few deliberate "not found" probes)
through an in-process `mcp.Client`, ``workers`` at a time, against a sandbox that fails about
31% of requests: every injected kind at 30% (429 with a delta, a date or no Retry-After; 500,
502, 503, 504; dropped connections; timeouts just above the client's read timeout; malformed
JSON) plus 1% of 429s asking for 30 s, which is past the per-call retry budget.

It behaves like a careful agent: after an "outcome unknown" error it does what the error says
(search for the ticket, read the thread) and only sends the write again if it is not there; after
a success it sometimes repeats the very same create, as agents do. The journal then proves that no
create or comment was applied twice.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client

from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle
from tickets_mcp.settings import Settings

KINDS = ("429", "429-date", "429-none", "500", "502", "503", "504", "drop", "timeout", "malformed")
READ_TIMEOUT = 0.5  # client read timeout; `timeout` faults answer after TIMEOUT_DELAY
TIMEOUT_DELAY = 0.7
RETRY_BUDGET = 2.0  # seconds of waiting one call may spend on retries
READS = {
    "search_tickets",
    "count_tickets",
    "get_ticket",
    "list_comments",
    "get_comment",
    "list_categories",
    "get_category_fields",
    "list_products",
}
WRITES = {"create_ticket", "add_comment"}
# What a failure must tell the agent: when to come back, what to check first, or what is wrong.
ACTIONABLE = re.compile(
    r"retry after \d+ s|retry in a minute|try again|search_tickets or list_comments first|"
    r"search for the result|does not exist|fix these fields|try later|reopen_ticket first",
    re.IGNORECASE,
)
CRASH_MARKERS = ("Internal error", "Error executing tool", "Traceback", "Exception")
WEIGHTS = {
    "search_tickets": 14,
    "get_ticket": 14,
    "count_tickets": 9,
    "list_comments": 9,
    "get_comment": 7,
    "list_categories": 4,
    "get_category_fields": 4,
    "list_products": 4,
    "create_ticket": 14,
    "add_comment": 15,
    "get_missing": 3,  # get_ticket of a number that does not exist: a correct "not found"
}


def fault_plan(seed: int) -> dict[str, Any]:
    return {
        "rules": [
            {"probability": 0.01, "kinds": ["429"], "retry_after": 30, "seed": seed},
            {
                "probability": 0.3,
                "kinds": list(KINDS),
                "delay": TIMEOUT_DELAY,
                "retry_after": 0,
                "seed": seed + 1,
            },
        ]
    }


def matrix_settings(sb: SandboxHandle) -> Settings:
    return make_settings(
        sb,
        catalog_ttl=0,  # every draft check reads the catalog, so faults hit it too
        dedup_window=600,
        poll_interval=60,
        read_timeout=READ_TIMEOUT,
        connect_timeout=1.0,
        retry_budget=RETRY_BUDGET,
    )


@dataclass
class Call:
    tool: str
    args: dict[str, Any]
    kind: str  # "read", "write", "probe" (expected not found), "followup"
    is_error: bool
    code: str | None
    text: str
    structured: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Report:
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    journal: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reads(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "read"]

    def read_success_rate(self, *, excluding_long_429: bool = False) -> float:
        reads = self.reads
        if excluding_long_429:
            reads = [c for c in reads if c.code != "rate_limited"]
        return sum(not c.is_error for c in reads) / max(1, len(reads))

    def failures(self) -> Counter[tuple[str, str | None]]:
        return Counter((c.tool, c.code) for c in self.calls if c.is_error)

    def faults(self) -> Counter[str]:
        return Counter(str(e["fault"]) for e in self.journal if e.get("fault"))

    def duplicates(self) -> dict[str, list[str]]:
        """Applied creates and comments whose (path, body) was applied more than once."""
        applied: Counter[tuple[str, str]] = Counter()
        for e in self.journal:
            if e["method"] != "POST" or not is_write_path(e["path"]):
                continue
            took_effect = e.get("applied") and (e.get("fault") or 200 <= int(e.get("status") or 0) < 300)
            if took_effect:
                applied[(e["path"], json.dumps(e.get("body"), sort_keys=True))] += 1
        out: dict[str, list[str]] = {"creates": [], "comments": []}
        for (path, body), count in applied.items():
            if count > 1:
                out["creates" if path.endswith("/v2/tickets") else "comments"].append(body)
        return out

    def ambiguous(self) -> Counter[str]:
        """What became of the writes that met an ambiguous failure: ``recovered`` (found by the lookup),
        ``not_applied`` (the lookup proved it was not), ``outcome_unknown`` (the lookup could not tell)."""
        out: Counter[str] = Counter()
        for c in self.calls:
            if c.tool in WRITES and c.structured.get("recovered"):
                out[f"{c.tool} recovered"] += 1
            elif c.tool in WRITES and c.code in ("not_applied", "outcome_unknown"):
                out[f"{c.tool} {c.code}"] += 1
        return out

    def summary(self) -> str:
        reads = self.reads
        return (
            f"{len(self.calls)} calls in {self.seconds:.1f} s; {len(self.journal)} HTTP requests, "
            f"ambiguous writes settled {dict(sorted(self.ambiguous().items()))}; "
            f"faults injected {dict(sorted(self.faults().items()))}; failures by (tool, code) "
            f"{dict(sorted(self.failures().items(), key=str))}; reads {len(reads)}, success "
            f"{self.read_success_rate():.1%} ({self.read_success_rate(excluding_long_429=True):.1%} "
            f"without the 30 s 429s); duplicates {self.duplicates()}"
        )


def is_write_path(path: str) -> bool:
    return path.endswith("/v2/tickets") or path.endswith("/comments")


class Agent:
    """Issues the calls and follows the advice of "outcome unknown" errors."""

    def __init__(
        self, client: Client, report: Report, rng: random.Random, refs: dict[str, list[int]]
    ) -> None:
        self.client = client
        self.report = report
        self.rng = rng
        self.refs = refs
        self.created: list[dict[str, Any]] = []

    async def call(self, tool: str, args: dict[str, Any], kind: str) -> Call:
        result = await self.client.call_tool(tool, args)
        text = "\n".join(getattr(b, "text", "") for b in result.content)
        structured = result.structured_content or {}
        call = Call(tool, args, kind, bool(result.is_error), structured.get("code"), text, structured)
        self.report.calls.append(call)
        return call

    def plan(self, i: int, run: str) -> tuple[str, dict[str, Any], str]:
        rng, refs = self.rng, self.refs
        tool = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if tool == "get_missing":
            return "get_ticket", {"number": 999_000 + i}, "probe"
        if tool == "search_tickets":
            args: dict[str, Any] = rng.choice(
                [{"q": "disk"}, {"is_only_opened": True}, {"items_per_page": 5, "page": 2}, {}]
            )
        elif tool == "count_tickets":
            args = rng.choice([{"is_only_opened": True}, {"q": "server"}, {}])
        elif tool == "get_ticket":
            args = {"number": rng.choice(refs["tickets"]), "include_comments": rng.random() < 0.5}
        elif tool == "list_comments":
            args = {"number": rng.choice(refs["tickets"])}
        elif tool == "get_comment":
            args = {"comment_id": rng.choice(refs["comments"])}
        elif tool in ("list_categories", "list_products"):
            args = {}
        elif tool == "get_category_fields":
            args = {"category": rng.choice(["cloud_servers", "billing"])}
        elif tool == "create_ticket":
            if self.created and rng.random() < 0.15:
                return tool, dict(rng.choice(self.created)), "write"  # an agent repeating itself
            args = {
                "summary": f"fault matrix {run} call {i}",
                "categories": ["cloud_servers"],
                "category_fields": [{"key": "region", "values": ["ru-3"]}],
                "comment_body": f"Created by the fault matrix, call {i}.",
            }
        else:
            args = {"number": rng.choice(refs["open"]), "body": f"fault matrix {run} comment {i}"}
        return tool, args, "read" if tool in READS else "write"

    async def step(self, i: int, run: str) -> None:
        tool, args, kind = self.plan(i, run)
        call = await self.call(tool, args, kind)
        if call.code != "outcome_unknown":
            if tool == "create_ticket" and not call.is_error and args not in self.created:
                self.created.append(args)
            return
        for _ in range(2):  # the agent follows the advice, then sends again only if it is missing
            present = await self.went_through(tool, args)
            if present is not False:
                return
            call = await self.call(tool, args, "followup")
            if call.code != "outcome_unknown":
                return

    async def went_through(self, tool: str, args: dict[str, Any]) -> bool | None:
        """True/False once a read answers; None when the reads keep failing (then do nothing)."""
        for _ in range(3):
            if tool == "create_ticket":
                found = await self.call("search_tickets", {"q": args["summary"]}, "followup")
                if not found.is_error:
                    items = found.structured["items"]
                    return any(item["summary"] == args["summary"] for item in items)
            else:
                latest = await self.call("list_comments", {"number": args["number"]}, "followup")
                if not latest.is_error:  # the latest comments are the default view
                    return args["body"] in [c["body"] for c in latest.structured["comments"]]
        return None


def references(sb: SandboxHandle) -> dict[str, list[int]]:
    """Existing tickets, open tickets and comment ids, read before any fault is switched on."""
    import httpx2

    headers = {"X-Token": sb.token}
    with httpx2.Client(base_url=sb.base_url, headers=headers) as api:
        items = api.get("/v2/tickets", params={"items_per_page": 100}).json()["items"]
        tickets = [t["number"] for t in items]
        open_ = [t["number"] for t in items if t.get("status") not in ("closed",)]
        comments: list[int] = []
        for number in open_[:8]:  # a closed ticket's comments are not readable
            comments += [c["id"] for c in api.get(f"/tickets/{number}/comments").json()["items"]]
    return {"tickets": tickets, "open": open_[:6], "comments": comments}


async def run_matrix(sb: SandboxHandle, calls: int, *, seed: int = 7, workers: int = 3) -> Report:
    refs = references(sb)
    report = Report()
    rng = random.Random(seed)
    run = f"s{seed}-{time.time_ns() % 10**9}"
    server = build_server(matrix_settings(sb))
    sb.clear_journal()
    sb.set_faults(fault_plan(seed))
    started = time.monotonic()
    try:
        async with Client(server, raise_exceptions=True) as client:
            agent = Agent(client, report, rng, refs)
            queue = iter(range(calls))

            async def worker() -> None:
                for i in queue:
                    await agent.step(i, run)

            async with anyio.create_task_group() as tg:
                for _ in range(workers):
                    tg.start_soon(worker)
    finally:
        sb.clear_faults()
        report.seconds = time.monotonic() - started
        report.journal = sb.journal()
    return report
