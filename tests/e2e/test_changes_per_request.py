"""With per-request credentials each caller's journal holds only their own writes, in both eras.

A real `tickets-mcp --transport http --credentials per-request` process with an audit file, in front of
a sandbox that accepts two users of one account; each MCP client sends its user's token.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from support.mcp_client import text_of
from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
ALICE = "alice-4b1c9e0d7a_111"
BOB = "bob-92f0c3d18e_111"  # the same account as alice
NUMBER = 2401006


@dataclass
class Running:
    sb: SandboxHandle
    url: str
    audit: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with run_sandbox(static_tokens=(ALICE, BOB), creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        process = ServerProcess(
            {
                "SELECTEL_TICKETS_URL": sb.base_url,
                "SELECTEL_IDENTITY_URL": sb.identity_url,
                "TICKETS_MCP_CREDENTIALS": "per-request",
                "TICKETS_MCP_AUDIT_LOG": str(audit),
                "TICKETS_MCP_LOG_LEVEL": "DEBUG",
            }
        )
        try:
            yield Running(sb, process.start().url, audit)
        finally:
            process.stop()
        for token in (ALICE, BOB):
            assert token not in process.stderr(), "a credential reached the log"


def client(server: Running, token: str, era: str) -> Client:
    http = httpx2.AsyncClient(headers={"X-Selectel-Token": token}, timeout=30)
    return Client(streamable_http_client(server.url, http_client=http), mode=era)  # type: ignore[arg-type]


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_two_users_see_only_their_own_writes(server: Running, era: str) -> None:
    said = {ALICE: f"alice was here {uuid.uuid4().hex}", BOB: f"bob was here {uuid.uuid4().hex}"}
    ids = {}
    async with client(server, ALICE, era) as alice, client(server, BOB, era) as bob:
        for token, c in ((ALICE, alice), (BOB, bob)):
            added = await c.call_tool("add_comment", {"number": NUMBER, "body": said[token]})
            assert not added.is_error, text_of(added)
            ids[token] = added.structured_content["comment_id"]
        seen = {
            token: (await c.call_tool("list_changes", {})).structured_content["items"]
            for token, c in ((ALICE, alice), (BOB, bob))
        }
        resource = (await bob.read_resource("tickets://session/changes")).contents[0].text  # type: ignore[union-attr]
    for token, other in ((ALICE, BOB), (BOB, ALICE)):
        mine = {i["comment_id"] for i in seen[token]}
        assert ids[token] in mine and ids[other] not in mine
    assert str(ids[BOB]) in resource and str(ids[ALICE]) not in resource
    posted = [e for e in server.sb.writes() if str(e["path"]).endswith(f"/{NUMBER}/comments")]
    assert {json.dumps(e["body"]) for e in posted} >= {json.dumps({"body": said[t]}) for t in said}

    raw = server.audit.read_text()
    lines = {line["comment_id"]: line for line in map(json.loads, raw.splitlines()) if "comment_id" in line}
    assert lines[ids[ALICE]]["caller"] != lines[ids[BOB]]["caller"]
    assert all(len(lines[ids[t]]["caller"]) >= 16 for t in said)  # a credential hash
    for token, words in said.items():
        assert token not in raw and words not in raw
