"""What changed: one record per write attempt, and the session's journal of them with the way back.

Every write tool's call goes through `writes.write`, which hands its result here (`Changes.note`), so no
tool can forget it. From the call it makes one `WriteRecord`: when, which tool and API operation, which
ticket or comment, who (the OAuth subject, else the credential's hash, never the credential), which
session, the outcome (sent, recovered, not_applied, outcome_unknown, refused with its code, declined,
paced), what changed in words ("ticket 2401007 closed with score 5"), the trace id when tracing is on,
and for the audit log a hash of the body, never the body. A dry run sends nothing and is no write.

The record goes two ways:

- the **session journal** (`tickets://session/changes`, `list_changes`): the last `KEEP` writes of this
  session, latest first, each with its undo where the API has one (closed -> `reopen_ticket`, reopened ->
  `close_ticket`, access changed -> `update_ticket_access` with the previous values) and a note where it
  has none (comments, tickets and votes cannot be taken back). The undo is a suggestion: it is a call of
  its own, with its own consent. The store is per session key, which carries the caller's identity, so
  callers never see each other's writes; in this process, or in the Redis the replicas share;
- the **audit log** (`audit.AuditLog`, opt-in): one JSON line per write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import anyio
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from tickets_mcp.api.errors import SharedStateUnavailable
from tickets_mcp.mcp_server.audit import AuditLog
from tickets_mcp.mcp_server.results import fail

logger = logging.getLogger("tickets_mcp.journal")

KEEP = 200  # writes kept per session
SESSIONS = 256  # sessions kept in this process (least recently written first out), ~15 MB at most

Outcome = Literal["sent", "recovered", "not_applied", "outcome_unknown", "refused", "declined", "paced"]
HAPPENED = ("sent", "recovered")


class Change(BaseModel):
    """One write of this session."""

    time: str = Field(description="When it ended, UTC.")
    tool: str
    number: int | None = None
    comment_id: int | None = None
    outcome: Outcome
    code: str | None = None
    change: str = Field(description="What changed.")
    undo: str | None = Field(None, description="The call that takes it back; it asks the user on its own.")
    note: str | None = Field(None, description="Why there is no undo, or what the undo leaves.")


class WriteRecord(Change):
    """One write attempt, as the audit log has it (without the undo and its note): who, which session, the
    API operation, the trace, and a hash of the body."""

    operation: str  # the Tickets API operation
    caller: str  # the OAuth subject, else the credential's hash; never the credential
    session: str  # the session's hash
    trace_id: str | None = None
    body_sha256: str | None = None


class ChangeList(BaseModel):
    items: list[Change]
    count: int = Field(description="Listed; the journal keeps the session's last 200.")


# -- what a write changed, and its way back ----------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the record of one call is made of, from its plan and its result."""

    tool: str
    body: dict[str, Any]
    before: dict[str, Any]  # the ticket's values the write replaces (access), for the undo
    number: int | None
    comment_id: int | None
    files: int = 0  # attachments


def _chars(text: Any) -> int:
    return len(text) if isinstance(text, str) else 0


def _files(f: Facts) -> str:
    count = f.files
    return f", {count} attachment{'s' if count != 1 else ''}" if count else ""


def _projects(projects: Any) -> str:
    return f" ({', '.join(map(str, projects))})" if projects else ""


def _created(f: Facts) -> tuple[str, str | None, str]:
    first = _chars(f.body.get("comment_body"))
    words = f"ticket {f.number} created" + (f", first comment {first} characters" if first else "")
    note = (
        f"A ticket cannot be deleted through the API: close_ticket(number={f.number}) if it is not needed, "
        f"or add_comment(number={f.number}, body=...) to correct it."
    )
    return words + _files(f), None, note


def _commented(f: Facts) -> tuple[str, str | None, str]:
    words = f"comment {f.comment_id} added to ticket {f.number}, {_chars(f.body.get('body'))} characters"
    note = (
        "A comment cannot be deleted through the API: "
        f"add_comment(number={f.number}, body=...) with a correction if it was wrong."
    )
    return words + _files(f), None, note


def _closed(f: Facts) -> tuple[str, str | None, str]:
    score = f.body.get("score")
    words = f"ticket {f.number} closed" + (f" with score {score}" if score is not None else "")
    if f.body.get("comment"):
        words += f", a comment on the score of {_chars(f.body['comment'])} characters"
    return words, f'reopen_ticket(number={f.number}, body="...")', "Reopening needs a comment saying why."


def _reopened(f: Facts) -> tuple[str, str | None, str]:
    words = f"ticket {f.number} reopened with a comment of {_chars(f.body.get('body'))} characters"
    return words + _files(f), f"close_ticket(number={f.number})", "The reopening comment stays in the thread."


def _voted(f: Facts) -> tuple[str, str | None, str]:
    score = f.body.get("score")
    if f.tool == "rate_comment":
        words = f"comment {f.comment_id} marked {'helpful' if score == 1 else 'not helpful'}"
    else:
        words = f"ticket {f.number} rated {score}"
    return words, None, "A vote cannot be taken back through the API."


def _access(f: Facts) -> tuple[str, str | None, str | None]:
    level, projects = f.body.get("access_level"), f.body.get("keystone_projects")
    was, had = f.before.get("access_level"), f.before.get("keystone_projects")
    words = f"access of ticket {f.number} changed"
    if was is not None:
        words += f" from {was}{_projects(had)}"
    words += f" to {level or was}{_projects(projects if projects is not None else had)}"
    if was is None:
        return words, None, None
    undo = f"{f.tool}(number={f.number}, access_level={json.dumps(was)}, keystone_projects={json.dumps(had or [])})"
    return words, undo, None


def _uploaded(f: Facts) -> tuple[str, str | None, str]:
    words = f"{f.files} file{'s' if f.files != 1 else ''} uploaded"
    return (
        words,
        None,
        "An uploaded file cannot be deleted through the API; it is attached only where a write names it.",
    )


# tool -> (its API operation, what it changed with its undo and note). A test checks every write tool is here.
CHANGES: dict[str, tuple[str, Callable[[Facts], tuple[str, str | None, str | None]]]] = {
    "create_ticket": ("create_ticket", _created),
    "create_ticket_legacy": ("create_ticket_legacy", _created),
    "add_comment": ("add_comment", _commented),
    "close_ticket": ("close_ticket", _closed),
    "reopen_ticket": ("reopen_ticket", _reopened),
    "rate_ticket": ("rate_ticket", _voted),
    "rate_comment": ("rate_comment", _voted),
    "update_ticket_access": ("update_ticket", _access),
    "update_ticket_legacy": ("update_ticket_legacy", _access),
    "upload_file": ("upload_file", _uploaded),
}


def outcome_of(result: CallToolResult) -> tuple[Outcome, str | None] | None:
    """The outcome of a write tool's result and its code; None for a dry run (nothing was a write)."""
    content = result.structured_content or {}
    if not result.is_error:
        said = content.get("outcome")
        if said == "dry_run":
            return None
        if said in ("declined", "cancelled"):
            return "declined", str(said)
        return ("recovered" if content.get("recovered") or content.get("reused") else "sent"), None
    code = str(content.get("code") or "error")
    if code in ("paced", "not_applied", "outcome_unknown"):
        return code, code  # type: ignore[return-value]
    return "refused", code


class Planned(Protocol):
    """What a record needs of a `writes.Plan`."""

    body: dict[str, Any]
    before: dict[str, Any]


def facts_of(tool: str, plan: Planned, ids: dict[str, int], result: CallToolResult) -> Facts:
    """The ticket and comment come from the call's arguments, else from what the API answered."""
    content = result.structured_content or {}
    ticket = content.get("ticket") if isinstance(content.get("ticket"), dict) else None
    number = ids.get("number", content.get("number", ticket.get("number") if ticket else None))
    comment = ids.get("comment_id", content.get("comment_id"))
    # Files uploaded with the write (``attachments``) are added to ``files`` when it is sent.
    uploaded = len(getattr(getattr(plan, "attachments", None), "items", ()) or ())
    return Facts(
        tool,
        plan.body,
        plan.before,
        number if isinstance(number, int) else None,
        comment if isinstance(comment, int) else None,
        len(plan.body.get("files") or []) + uploaded,
    )


def trace_id() -> str | None:
    """The trace id (hex) of the span current now, when tracing is on (OpenTelemetry already imported by
    `telemetry.start`; the SDK's server span of the tools/call is current in a tool's handler)."""
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return None
    span_context = api.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def body_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_of(
    facts: Facts, outcome: Outcome, code: str | None, *, caller: str, session: str, trace_id: str | None
) -> WriteRecord:
    operation, describe = CHANGES.get(facts.tool, (facts.tool, None))  # type: ignore[arg-type]
    change, undo, note = ("nothing changed", None, None)
    if outcome in HAPPENED:
        change, undo, note = describe(facts) if describe is not None else (f"{facts.tool} done", None, None)
    elif outcome == "outcome_unknown":
        change = "unknown: it may or may not have gone through"
    return WriteRecord(
        time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        tool=facts.tool,
        operation=operation,
        number=facts.number,
        comment_id=facts.comment_id,
        caller=caller,
        session=session,
        outcome=outcome,
        code=code,
        change=change,
        undo=undo,
        note=note,
        trace_id=trace_id,
        body_sha256=body_hash(facts.body) if facts.body else None,
    )


def once_key(identity: str, record: WriteRecord) -> str | None:
    """What makes two records one write, for the audit log: the ticket or comment a write made (an
    identical create or comment reused on any replica, or settled after its replica died, is the same
    write); None for the others, whose every call is its own."""
    if record.outcome not in HAPPENED:
        return None
    if record.tool in ("create_ticket", "create_ticket_legacy") and record.number is not None:
        return f"{identity}|ticket|{record.number}"
    if record.tool == "add_comment" and record.comment_id is not None:
        return f"{identity}|comment|{record.comment_id}"
    return None


def changes_markdown(records: list[Change]) -> str:
    """The session's writes for the model, latest first: one line each, with its way back."""
    if not records:
        return "No writes in this session yet."
    lines = [f"Writes of this session, latest first ({len(records)}):"]
    for r in records:
        line = f"- {r.time} {r.tool}: {r.outcome}{f' ({r.code})' if r.code and r.outcome != r.code else ''}: {r.change}."
        if r.undo:
            line += f" Undo: {r.undo} (asks the user first)."
        if r.note:
            line += f" {r.note}"
        lines.append(line)
    return "\n".join(lines)


# -- the session journal ----------------------------------------------------------------------------


class JournalStore(Protocol):
    """Records (as JSON) per session key, latest first; `MemoryJournal` or `redis_state.RedisJournal`."""

    async def append(self, session: str, item: str, keep: int) -> None: ...
    async def latest(self, session: str, count: int) -> list[str]: ...


class MemoryJournal:
    """The session journals of this process: at most ``sessions`` of them, ``keep`` records each."""

    def __init__(self, sessions: int = SESSIONS) -> None:
        self._sessions = sessions
        self._items: OrderedDict[str, deque[str]] = OrderedDict()

    async def append(self, session: str, item: str, keep: int) -> None:
        items = self._items.pop(session, None)
        if items is None or items.maxlen != keep:
            items = deque(items or (), maxlen=keep)
        items.appendleft(item)
        self._items[session] = items
        while len(self._items) > self._sessions:
            self._items.popitem(last=False)

    async def latest(self, session: str, count: int) -> list[str]:
        return list(self._items.get(session, ()))[:count]

    def forget(self, session: str) -> None:
        self._items.pop(session, None)


@dataclass(frozen=True)
class Writer:
    """Who made a write: the caller (OAuth subject, else credential hash), the credential's hash (which
    keys the audit log's memory), and the session key its journal is kept under."""

    caller: str
    identity: str
    session: str
    trace_id: str | None = None

    @property
    def session_hash(self) -> str:
        return hashlib.sha256(self.session.encode()).hexdigest()[:16]


class Changes:
    """The session journals and the audit log of one server."""

    def __init__(self, store: JournalStore, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit
        self._journal_down = 0.0  # when the journal's store last failed (logged once per minute)

    def unaudited(self) -> CallToolResult | None:
        """A refusal when the audit log is required and cannot be written now; None to go on."""
        problem = self.audit.unwritable()
        if problem is None:
            return None
        return fail(
            "Not sent: this server must record every write in its audit log (TICKETS_MCP_AUDIT_REQUIRED) and "
            "cannot write it now. Nothing was sent; tell the server's operator, and try again later.",
            code="audit_unavailable",
            sent=False,
        )

    async def note(
        self,
        writer_of: Callable[[], Writer],
        tool: str,
        plan: Planned,
        ids: dict[str, int],
        result: CallToolResult,
    ) -> None:
        """Record one write tool's call in the session journal and the audit log (``writer_of``: who made it,
        asked only when it was a write)."""
        outcome = outcome_of(result)
        if outcome is None:
            return
        writer = writer_of()
        facts = facts_of(tool, plan, ids, result)
        record = record_of(
            facts, *outcome, caller=writer.caller, session=writer.session_hash, trace_id=writer.trace_id
        )
        await self.audit.write(
            record.model_dump(mode="json", exclude={"undo", "note"}), once_key(writer.identity, record)
        )
        item = Change.model_validate(record.model_dump()).model_dump_json(exclude_none=True)
        try:
            await self.store.append(writer.session, item, KEEP)
        except SharedStateUnavailable:  # the write stands; only its journal entry is lost
            if time.monotonic() - self._journal_down > 60:
                self._journal_down = time.monotonic()
                logger.warning("session journal: the shared state is unavailable; a write was not journaled")

    async def interrupted(
        self, writer_of: Callable[[], Writer], tool: str, plan: Planned, ids: dict[str, int]
    ) -> None:
        """Record a write whose call was cancelled (its client went away) as of unknown outcome."""
        result = fail("The call was cancelled; the write may have been sent.", code="outcome_unknown")
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await self.note(writer_of, tool, plan, ids, result)

    async def latest(self, session: str, count: int = KEEP) -> list[Change]:
        return [Change.model_validate_json(item) for item in await self.store.latest(session, count)]
