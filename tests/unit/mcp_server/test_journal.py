"""The write record, the session journal's store and the audit log, in process."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.provider import AccessToken
from mcp.types import CallToolResult, TextContent

from support.expected import WRITE_CALLS
from tickets_mcp.mcp_server.audit import AuditLog, FileSink, MemoryOnce
from tickets_mcp.mcp_server.journal import (
    CHANGES,
    KEEP,
    Change,
    Facts,
    MemoryJournal,
    changes_markdown,
    once_key,
    outcome_of,
    record_of,
)
from tickets_mcp.mcp_server.state import Caller, CatalogCache, ServerState, writer_of
from tickets_mcp.mcp_server.subscriptions import IdentityBus
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio


def result(structured: dict[str, Any], *, error: bool = False) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text="")], structured_content=structured, is_error=error
    )


def test_every_write_tool_says_what_it_changed() -> None:
    writes = {spec.name for spec in all_tools() if not spec.read_only}
    assert writes == set(CHANGES) >= set(WRITE_CALLS)


@pytest.mark.parametrize(
    ("structured", "error", "expected"),
    [
        ({"outcome": "done", "sent": True}, False, ("sent", None)),
        ({"outcome": "done", "sent": True, "recovered": True}, False, ("recovered", None)),
        ({"outcome": "created", "sent": True, "reused": True}, False, ("recovered", None)),
        ({"outcome": "declined", "sent": False}, False, ("declined", "declined")),
        ({"outcome": "cancelled", "sent": False}, False, ("declined", "cancelled")),
        ({"outcome": "dry_run"}, False, None),
        ({"error": "x", "code": "paced"}, True, ("paced", "paced")),
        ({"error": "x", "code": "not_applied"}, True, ("not_applied", "not_applied")),
        ({"error": "x", "code": "outcome_unknown"}, True, ("outcome_unknown", "outcome_unknown")),
        ({"error": "x", "code": "ticket_closed", "sent": False}, True, ("refused", "ticket_closed")),
        ({"error": "x"}, True, ("refused", "error")),
    ],
)
def test_the_outcome_comes_from_the_result(structured: dict[str, Any], error: bool, expected: Any) -> None:
    assert outcome_of(result(structured, error=error)) == expected


def facts(tool: str, body: dict[str, Any], **ids: Any) -> Facts:
    return Facts(
        tool, body, ids.pop("before", {}), ids.get("number"), ids.get("comment_id"), ids.get("files", 0)
    )


def test_the_words_hold_no_user_text_and_the_body_only_as_a_hash() -> None:
    body = {"body": "my password is hunter2", "files": ["a", "b"]}
    record = record_of(
        facts("add_comment", body, number=7, comment_id=9, files=2),
        "sent",
        None,
        caller="c",
        session="s",
        trace_id=None,
    )
    assert record.change == "comment 9 added to ticket 7, 22 characters, 2 attachments"
    assert "hunter2" not in record.model_dump_json() and len(record.body_sha256 or "") == 64
    refused = record_of(
        facts("add_comment", body, number=7),
        "refused",
        "ticket_closed",
        caller="c",
        session="s",
        trace_id=None,
    )
    assert refused.change == "nothing changed" and refused.undo is None and refused.note is None


def test_an_access_change_is_undone_with_the_previous_values() -> None:
    before = {"access_level": "project_users", "keystone_projects": ["p1"]}
    record = record_of(
        facts("update_ticket_legacy", {"access_level": "all_users"}, number=5, before=before),
        "sent",
        None,
        caller="c",
        session="s",
        trace_id=None,
    )
    assert record.change == "access of ticket 5 changed from project_users (p1) to all_users (p1)"
    assert (
        record.undo
        == 'update_ticket_legacy(number=5, access_level="project_users", keystone_projects=["p1"])'
    )


def test_only_writes_that_made_a_ticket_or_a_comment_share_an_audit_key() -> None:
    def key(tool: str, outcome: Any, **ids: Any) -> str | None:
        return once_key(
            "id", record_of(facts(tool, {}, **ids), outcome, None, caller="c", session="s", trace_id=None)
        )

    assert (
        key("create_ticket", "sent", number=1) == key("create_ticket", "recovered", number=1) == "id|ticket|1"
    )
    assert key("add_comment", "recovered", number=1, comment_id=2) == "id|comment|2"
    assert key("close_ticket", "sent", number=1) is None
    assert key("add_comment", "refused", number=1) is None


async def test_a_session_journal_keeps_the_latest_first_and_is_bounded() -> None:
    journal = MemoryJournal(sessions=2)
    for i in range(KEEP + 5):
        await journal.append("a", str(i), KEEP)
    latest = await journal.latest("a", KEEP + 5)
    assert len(latest) == KEEP and latest[0] == str(KEEP + 4) and latest[-1] == "5"
    await journal.append("b", "x", KEEP)
    await journal.append("c", "y", KEEP)  # a third session: the least recently written goes
    assert await journal.latest("a", 1) == [] and await journal.latest("c", 1) == ["y"]
    journal.forget("c")
    assert await journal.latest("c", 1) == []


async def test_a_key_is_claimed_once_within_its_ttl() -> None:
    now = [0.0]
    once = MemoryOnce(clock=lambda: now[0])
    assert await once.first("k", 10) and not await once.first("k", 10)
    now[0] = 11
    assert await once.first("k", 10)


async def test_the_audit_file_gets_one_line_per_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(FileSink(path), MemoryOnce(), required=True)
    assert log.unwritable() is None
    await log.write({"tool": "create_ticket", "number": 1}, "k")
    await log.write({"tool": "create_ticket", "number": 1}, "k")  # reused elsewhere: the same write
    await log.write({"tool": "close_ticket", "number": 1}, None)
    assert [json.loads(line)["tool"] for line in path.read_text().splitlines()] == [
        "create_ticket",
        "close_ticket",
    ]
    assert path.stat().st_mode & 0o777 == 0o600


async def test_an_unwritable_file_is_named_only_when_the_log_is_required(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "audit.jsonl"
    assert AuditLog(FileSink(path), MemoryOnce(), required=True).unwritable() is not None
    assert AuditLog(FileSink(path), MemoryOnce()).unwritable() is None
    assert AuditLog(None, MemoryOnce(), required=True).unwritable() is None


def test_the_journal_in_words() -> None:
    assert changes_markdown([]) == "No writes in this session yet."
    text = changes_markdown(
        [
            Change(
                time="t",
                tool="close_ticket",
                outcome="sent",
                change="ticket 1 closed",
                undo='reopen_ticket(number=1, body="...")',
            ),
            Change(
                time="t",
                tool="close_ticket",
                outcome="refused",
                code="ticket_closed",
                change="nothing changed",
            ),
        ]
    )
    assert 'Undo: reopen_ticket(number=1, body="...") (asks the user first).' in text
    assert "close_ticket: refused (ticket_closed): nothing changed." in text


class Client:
    identity = "static:0f3a"  # the credential's hash


def request(subject: str | None) -> SimpleNamespace:
    """A 2026-07-28 request context whose HTTP request carries an OAuth access token of ``subject``."""
    state = ServerState(Settings(), IdentityBus())
    state.own = Caller(state, "server", lambda: Client(), CatalogCache(lambda: Client(), 300.0))  # type: ignore[arg-type,return-value]
    token = AccessToken(token="secret-jwt", client_id="the-app", scopes=[], subject=subject)
    http = SimpleNamespace(scope={"user": SimpleNamespace(access_token=token)}, headers={})
    return SimpleNamespace(lifespan_context=state, protocol_version="2026-07-28", meta={}, request=http)


def test_with_oauth_the_caller_is_the_token_subject_and_its_journal_is_its_own() -> None:
    alice, bob = writer_of(request("alice@example")), writer_of(request("bob@example"))  # type: ignore[arg-type]
    assert (alice.caller, alice.identity) == ("alice@example", "static:0f3a")
    assert alice.session != bob.session and "secret-jwt" not in alice.session
    assert writer_of(request(None)).caller == "the-app"  # type: ignore[arg-type]  # no subject: its client id
