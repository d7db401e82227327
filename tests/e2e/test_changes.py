"""What changed: the session journal (`list_changes`, `tickets://session/changes`) and the audit log.

A real `mcp.Client` in both eras against the session's sandbox, whose journal is the truth about what
was sent. Writes go to tickets these tests create, in a sandbox of this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from support.mcp_client import Elicitor, text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
CHANGES = "tickets://session/changes"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """A sandbox of this module: the tickets its tests create stay out of the others' listings."""
    with run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


def draft(tag: str) -> dict[str, Any]:
    return {
        "summary": f"journal {tag} {uuid.uuid4().hex[:8]}",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["journal.example"]}],
        "comment_body": "The zone does not resolve since the morning.",
    }


async def connect(sandbox: SandboxHandle, era: str, elicitor: Elicitor, **settings: Any) -> Client:
    server = build_server(make_settings(sandbox, **settings))
    return Client(server, raise_exceptions=True, mode=era, elicitation_callback=elicitor)  # type: ignore[arg-type]


@pytest.fixture
async def journaled(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path
) -> AsyncIterator[Client]:
    async with await connect(sandbox, era, elicitor, audit_log=str(tmp_path / "audit.jsonl")) as c:
        yield c


async def changes(client: Client) -> list[dict[str, Any]]:
    result = await client.call_tool("list_changes", {})
    assert not result.is_error, text_of(result)
    items: list[dict[str, Any]] = result.structured_content["items"]
    return items


async def test_a_close_a_comment_and_an_access_change_are_journaled_with_their_undo(
    journaled: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    created = await journaled.call_tool("create_ticket", draft("undo"))
    number = created.structured_content["ticket"]["number"]
    words = "Checked the resolver again, still failing."
    comment = await journaled.call_tool("add_comment", {"number": number, "body": words})
    access = await journaled.call_tool(
        "update_ticket_access", {"number": number, "access_level": "all_users"}
    )
    closed = await journaled.call_tool("close_ticket", {"number": number, "score": 5})
    assert not any(r.is_error for r in (created, comment, access, closed))
    comment_id = comment.structured_content["comment_id"]

    items = await changes(journaled)
    assert [i["tool"] for i in items] == [
        "close_ticket",
        "update_ticket_access",
        "add_comment",
        "create_ticket",
    ]
    assert all(i["outcome"] == "sent" and i["number"] == number for i in items)
    close, acl, added, create = items
    assert close["change"] == f"ticket {number} closed with score 5"
    assert close["undo"] == f'reopen_ticket(number={number}, body="...")'
    assert acl["change"] == f"access of ticket {number} changed from account_users to all_users"
    assert acl["undo"] == (
        f'update_ticket_access(number={number}, access_level="account_users", keystone_projects=[])'
    )
    assert added["comment_id"] == comment_id
    assert added["change"] == f"comment {comment_id} added to ticket {number}, {len(words)} characters"
    assert added.get("undo") is None and "cannot be deleted" in added["note"]
    assert create.get("undo") is None and f"close_ticket(number={number})" in create["note"]
    assert "body_sha256" not in close  # the hash is for the audit log

    # the same, as the resource; and the undo it suggests works, asking on its own
    listed = await journaled.list_resources()
    assert CHANGES in {str(r.uri) for r in listed.resources}
    text = (await journaled.read_resource(CHANGES)).contents[0].text  # type: ignore[union-attr]
    assert text.index("close_ticket") < text.index("update_ticket_access") < text.index("add_comment")
    assert f"Undo: reopen_ticket(number={number}" in text
    undo = await journaled.call_tool(
        "update_ticket_access", {"number": number, "access_level": "account_users", "keystone_projects": []}
    )
    assert not undo.is_error, text_of(undo)
    assert (await changes(journaled))[0]["change"].endswith("from all_users to account_users")
    sent = [e for e in sandbox.writes() if e["status"] < 300]
    assert len(sent) == 5  # create, comment, access, close, access back


async def test_a_declined_and_a_refused_write_appear_with_their_outcome(
    journaled: Client, sandbox: SandboxHandle, elicitor: Elicitor
) -> None:
    number = (await journaled.call_tool("create_ticket", draft("declined"))).structured_content["ticket"][
        "number"
    ]
    sandbox.clear_journal()
    elicitor.confirm = False
    declined = await journaled.call_tool("close_ticket", {"number": number})
    elicitor.confirm = True
    await journaled.call_tool("close_ticket", {"number": number})
    refused = await journaled.call_tool("close_ticket", {"number": number})  # closed already
    assert declined.structured_content["outcome"] == "declined" and refused.is_error
    latest = await changes(journaled)
    assert [(i["outcome"], i.get("code")) for i in latest[:3]] == [
        ("refused", "ticket_closed"),
        ("sent", None),
        ("declined", "declined"),
    ]
    assert latest[0]["change"] == latest[2]["change"] == "nothing changed"
    assert latest[0].get("undo") is None and latest[2].get("undo") is None
    assert len([e for e in sandbox.writes() if e["path"].endswith(f"/{number}/close")]) == 1


async def test_a_dry_run_is_no_write(journaled: Client) -> None:
    before = await changes(journaled)
    preview = await journaled.call_tool("create_ticket", {**draft("dry"), "dry_run": True})
    assert not preview.is_error
    assert await changes(journaled) == before


async def test_the_audit_file_has_one_line_per_write_and_no_body_or_token(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    words = f"Resolver logs attached below, marker {uuid.uuid4().hex}"
    sandbox.clear_journal()
    async with await connect(sandbox, era, elicitor, audit_log=str(audit)) as c:
        number = (await c.call_tool("create_ticket", draft("audit"))).structured_content["ticket"]["number"]
        await c.call_tool("add_comment", {"number": number, "body": words})
        await c.call_tool("rate_ticket", {"number": 2401001, "score": 11})  # invalid: nothing is a write
        await c.call_tool("close_ticket", {"number": number, "score": 4, "comment": words})
        elicitor.action = "decline"
        await c.call_tool("reopen_ticket", {"number": number, "body": words})  # not asked: it is sent
        await c.call_tool("update_ticket_access", {"number": number, "access_level": "all_users"})
    raw = audit.read_text()
    lines = [json.loads(line) for line in raw.splitlines()]
    sent = [e for e in sandbox.writes() if e["status"] < 300]
    done = [line for line in lines if line["outcome"] in ("sent", "recovered")]
    assert len(done) == len(sent) == 4, (lines, sent)
    for line, entry in zip(done, sent, strict=True):  # in the order the API saw them
        assert line["number"] == number and (str(number) in entry["path"] or line["tool"] == "create_ticket")
        assert len(line["body_sha256"]) == 64 and line["caller"] and line["session"]
    assert [line["tool"] for line in lines] == [
        "create_ticket",
        "add_comment",
        "close_ticket",
        "reopen_ticket",
        "update_ticket_access",
    ]
    assert lines[-1]["outcome"] == "declined"
    assert sandbox.token not in raw
    assert words not in raw and "Resolver logs" not in raw and "does not resolve" not in raw
    assert "undo" not in lines[0]


async def test_a_required_audit_log_that_cannot_be_written_refuses_writes_unsent(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "audit.jsonl"
    sandbox.clear_journal()
    async with await connect(sandbox, era, elicitor, audit_log=str(missing), audit_required=True) as c:
        refused = await c.call_tool("add_comment", {"number": 2401006, "body": "never sent"})
        read = await c.call_tool("get_ticket", {"number": 2401006})
        listed = await changes(c)
    assert refused.is_error and refused.structured_content["code"] == "audit_unavailable"
    assert refused.structured_content["sent"] is False and not read.is_error
    assert listed[0]["outcome"] == "refused" and listed[0]["code"] == "audit_unavailable"
    assert not sandbox.writes()


async def test_an_audit_log_that_cannot_be_written_warns_once_and_writes_go_on(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-dir" / "audit.jsonl"
    sandbox.clear_journal()
    async with await connect(sandbox, era, elicitor, audit_log=str(missing)) as c:
        number = (await c.call_tool("create_ticket", draft("unaudited"))).structured_content["ticket"][
            "number"
        ]
        added = await c.call_tool("add_comment", {"number": number, "body": "sent all the same"})
    assert not added.is_error
    assert len([e for e in sandbox.writes() if e["status"] < 300]) == 2
    warnings = [r for r in caplog.records if r.name == "tickets_mcp.audit" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cannot write" in warnings[0].getMessage()


async def test_paced_not_applied_and_unknown_writes_appear_with_their_outcome(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    async with await connect(
        sandbox, era, elicitor, creates_per_minute=1, retry_budget=0, audit_log=str(audit)
    ) as c:
        number = (await c.call_tool("create_ticket", draft("faults"))).structured_content["ticket"]["number"]
        paced = await c.call_tool("create_ticket", draft("paced"))
        sandbox.set_faults(
            sequence=["503", "504"], methods=["POST"], path_prefix=f"/support/tickets/{number}/comments"
        )
        try:
            not_applied = await c.call_tool("add_comment", {"number": number, "body": "answered 503"})
            unknown = await c.call_tool("add_comment", {"number": number, "body": "answered 504"})
        finally:
            sandbox.clear_faults()
        latest = await changes(c)
    codes = [r.structured_content["code"] for r in (paced, not_applied, unknown)]
    assert codes == ["paced", "not_applied", "outcome_unknown"], [
        text_of(r) for r in (paced, not_applied, unknown)
    ]
    assert [i["outcome"] for i in latest] == ["outcome_unknown", "not_applied", "paced", "sent"]
    assert latest[0]["change"].startswith("unknown") and latest[1]["change"] == "nothing changed"
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["sent", "paced", "not_applied", "outcome_unknown"]


async def test_a_write_whose_call_is_cancelled_mid_send_is_of_unknown_outcome(
    sandbox: SandboxHandle, era: str, elicitor: Elicitor, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    async with await connect(sandbox, era, elicitor, audit_log=str(audit)) as c:
        number = (await c.call_tool("create_ticket", draft("cancel"))).structured_content["ticket"]["number"]
        sandbox.set_faults(
            sequence=[{"kind": "timeout", "delay": 3, "applied": True}],
            methods=["POST"],
            path_prefix=f"/support/tickets/{number}/comments",
        )
        try:
            with anyio.move_on_after(1):  # the user stops the agent while the API is slow to answer
                await c.call_tool("add_comment", {"number": number, "body": "sent, then cancelled"})
            with anyio.fail_after(5):
                while True:  # the server hears of the cancellation, then records it
                    latest = await changes(c)
                    if latest[0]["tool"] == "add_comment":
                        break
                    await anyio.sleep(0.05)
        finally:
            sandbox.clear_faults()
    assert (latest[0]["outcome"], latest[0]["code"]) == ("outcome_unknown", "outcome_unknown")
    assert [json.loads(line)["outcome"] for line in audit.read_text().splitlines()] == [
        "sent",
        "outcome_unknown",
    ]
