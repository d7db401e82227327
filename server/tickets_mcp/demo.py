"""`tickets-mcp demo` (and `make demo`): a scripted assistant session against the sandbox.

It starts `tickets-mcp --sandbox` as a subprocess over **stdio**, exactly as Claude Desktop or Cursor
would, and drives it with a real `mcp.Client` through eight steps: list the tools, search open tickets,
read a thread with an injected comment, dry-run a draft that misses a required field, fix and create it,
comment, close it with a score (the demo answers the consent question), and count. Each step prints
what the assistant asked, an excerpt of what came back, and the tokens it cost (a cheap local estimate).

stdout is the terminal here, not a protocol stream: the server's own stderr goes to a temporary file
and is shown only if the session fails. Exit code 0 when every step did what it should, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

from tickets_mcp.mcp_server.markdown import estimate_tokens
from tickets_mcp.settings import Settings

INJECTED_TICKET = 2401007
EXCERPT_LINES = 12
TIMEOUT_SECONDS = 50


class DemoFailure(RuntimeError):
    """A step did not return what the demo expects."""


@dataclass
class Console:
    """Readable step output; `width` keeps excerpts from wrapping in an 80-column terminal."""

    out: IO[str] = field(default_factory=lambda: sys.stdout)
    width: int = 100
    tokens: int = 0
    listing_tokens: int = 0
    steps: int = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str, asked: str) -> None:
        self.steps += 1
        self.say()
        self.say(f"── {self.steps}. {title} " + "─" * max(3, self.width - len(title) - 8))
        self.say(f"assistant → {asked}")

    def excerpt(self, text: str, lines: int = EXCERPT_LINES) -> None:
        shown = text.splitlines()
        for line in shown[:lines]:
            self.say("  │ " + textwrap.shorten(line, self.width, placeholder=" …") if line.strip() else "  │")
        if len(shown) > lines:
            self.say(f"  │ … ({len(shown) - lines} more lines)")

    def cost(self, text: str, note: str = "", *, listing: bool = False) -> None:
        used = estimate_tokens(text)
        if listing:
            self.listing_tokens += used
        else:
            self.tokens += used
        self.say(f"  ≈ {used} tokens {note}".rstrip())


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _invisible(text: str) -> int:
    """Characters a person cannot see: format (Cf) characters and C0/C1 controls other than \\n and \\t."""
    return sum(1 for ch in text if unicodedata.category(ch) in ("Cf", "Cc") and ch not in "\n\t")


@dataclass
class ConsentingUser:
    """The user at the other end of an elicitation: prints the question and accepts it."""

    console: Console
    questions: list[str] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        question = params.message.replace("\n", "\n    ")
        self.console.say(f"  ? the server asks the user: {question}")
        self.console.say("  ✓ the demo user accepts")
        return ElicitResult(action="accept", content={"confirm": True})


async def _call(c: Client, con: Console, tool: str, args: dict[str, Any]) -> CallToolResult:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    con.say("  " + textwrap.shorten(f"call {tool}({shown})", con.width + 2, placeholder=" …)"))
    return await c.call_tool(tool, args)


def _expect(ok: bool, message: str) -> None:
    if not ok:
        raise DemoFailure(message)


async def _session(c: Client, con: Console, user: ConsentingUser) -> None:
    con.step("List the tools", "What can you do with my support tickets?")
    listed = await c.list_tools()
    tools = listed.tools
    names = [t.name for t in tools]
    con.excerpt("\n".join(textwrap.wrap(", ".join(names), con.width)))
    con.say(f"  {len(tools)} tools; what a host shows the model (name, description, input schema):")
    facing = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]
    con.cost(
        json.dumps(facing, separators=(",", ":"), ensure_ascii=False),
        note="(a local estimate, high on JSON: bench/RESULTS.md has the o200k count)",
        listing=True,
    )
    _expect("search_tickets" in names and "create_ticket" in names, "tools/list lacks the core tools")

    con.step("Search open tickets", "Which of my tickets are still open?")
    found = await _call(c, con, "search_tickets", {"is_only_opened": True, "items_per_page": 5})
    _expect(not found.is_error and bool((found.structured_content or {}).get("items")), "no open tickets")
    con.excerpt(_text(found))
    con.cost(_text(found))

    con.step("Read a thread", f"What is going on in ticket {INJECTED_TICKET}?")
    thread = await _call(c, con, "get_ticket", {"number": INJECTED_TICKET, "include_comments": True})
    body = _text(thread)
    _expect(not thread.is_error and "\n```client " in body, "the thread is not fenced")
    start = body.rfind("\n`", 0, body.find("SYSTEM:")) + 1
    con.excerpt(body[start:] if start >= 0 else body, lines=10)
    from tickets_mcp.sandbox.seed import INJECTION

    before, after = _invisible(INJECTION), _invisible(body)
    con.say(
        f"  the last comment is a prompt injection: {before} hidden characters in the stored text, "
        f"{after} in what the assistant sees;"
    )
    con.say("  it stays inside a client-labelled fence that its fake closing lines cannot end.")
    _expect(after == 0 and "SYSTEM:" in body, "the injected comment was not sanitized")
    con.cost(body)

    draft: dict[str, Any] = {
        "summary": "Cloud server unreachable after resize",
        "categories": ["cloud_servers"],
        "comment_body": "After resizing server web-02 to 4 vCPU it does not answer ping or SSH.",
        "dry_run": True,
    }
    con.step("Dry-run a draft", "Open a ticket: my server web-02 is unreachable after a resize.")
    dry = await _call(c, con, "create_ticket", draft)
    problems = (dry.structured_content or {}).get("problems") or []
    for line in _text(dry).splitlines()[:6]:
        con.say(textwrap.fill(line, con.width, initial_indent="  │ ", subsequent_indent="  │   "))
    _expect(any(p.get("field", "").endswith("region") or "region" in str(p) for p in problems), "no region")
    con.cost(_text(dry))

    con.step("Fix the draft and create it", "It is in region ru-9.")
    fixed = {**draft, "category_fields": [{"key": "region", "values": ["ru-9"]}], "dry_run": False}
    created = await _call(c, con, "create_ticket", fixed)
    outcome = created.structured_content or {}
    con.excerpt(_text(created), lines=4)
    _expect(outcome.get("outcome") == "created", f"create failed: {_text(created)[:200]}")
    number = int(outcome["ticket"]["number"])
    con.cost(_text(created))

    con.step("Comment", f"Add that a hard reboot from the panel did not help, to ticket {number}.")
    comment = await _call(c, con, "add_comment", {"number": number, "body": "A hard reboot did not help."})
    con.excerpt(_text(comment), lines=3)
    _expect(not comment.is_error, f"comment failed: {_text(comment)[:200]}")
    con.cost(_text(comment))

    con.step("Close with a score", f"It works again, close ticket {number} and give support a 5.")
    closed = await _call(c, con, "close_ticket", {"number": number, "score": 5})
    con.excerpt(_text(closed), lines=3)
    _expect(bool(user.questions) and (closed.structured_content or {}).get("outcome") == "done", "not closed")
    con.cost(_text(closed))

    con.step("Count", "How many tickets are still open?")
    count = await _call(c, con, "count_tickets", {"is_only_opened": True})
    con.excerpt(_text(count), lines=2)
    _expect(not count.is_error, "count failed")
    con.cost(_text(count))


def _server_env() -> dict[str, str]:
    """The caller's environment without credentials: the demo server only ever talks to the sandbox."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_"))}


async def run_session(con: Console, errlog: TextIO, command: list[str] | None = None) -> None:
    argv = command or [sys.executable, "-m", "tickets_mcp", "--sandbox"]
    params = StdioServerParameters(command=argv[0], args=[*argv[1:]], env=_server_env())
    user = ConsentingUser(con)
    with anyio.fail_after(TIMEOUT_SECONDS):
        async with Client(stdio_client(params, errlog=errlog), elicitation_callback=user) as c:
            con.say(f"connected over stdio to {' '.join(['tickets-mcp', *argv[3:]])}")
            await _session(c, con, user)


def run_demo(
    settings: Settings, out: IO[str] | None = None, clock: Callable[[], float] = time.monotonic
) -> int:
    """Run the scripted session; 0 when every step did what it should, 1 otherwise."""
    # The demo always uses the sandbox: credentials are never passed on; the language is.
    command = [sys.executable, "-m", "tickets_mcp", "--sandbox", "--language", settings.language]
    con = Console(out or sys.stdout)
    con.say("tickets-mcp demo: a scripted assistant session against the embedded sandbox (no credentials,")
    con.say("no real tickets). The server runs as a subprocess over stdio; a real MCP client drives it.")
    started = clock()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            anyio.run(run_session, con, errlog, command)
        except Exception as exc:  # report, with the server's stderr, and fail
            errlog.seek(0)
            con.say(f"\n✗ demo failed: {type(exc).__name__}: {exc}")
            tail = errlog.read()[-2000:]
            if tail:
                con.say("server stderr (last lines):")
                con.excerpt(tail, lines=20)
            return 1
    con.say()
    con.say(
        f"✓ demo finished: {con.steps} steps in {clock() - started:.1f} s; ≈ {con.tokens} tokens of tool "
        f"results, plus ≈ {con.listing_tokens} for the tool list (estimated locally)."
    )
    return 0
