"""The audit log as a container runs it: `tickets-mcp` over stdio with ``TICKETS_MCP_AUDIT_LOG=otlp`` (log
records to an OTLP/HTTP receiver on loopback, with the trace id of the tools/call span) or ``stderr``
(JSON lines marked ``"audit": true``). One record per write; no token and no comment text in it."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.mcp_client import text_of
from support.otlp_receiver import OtlpReceiver, attributes
from support.servers import clean_env
from tickets_mcp.sandbox import SandboxHandle

from .conftest import TOKEN

pytestmark = pytest.mark.anyio
NUMBER = 2401006


async def comment_twice(env: dict[str, str], stderr: Path, words: str) -> list[int]:
    """Add two comments and read the ticket (a read is no write) over stdio; the server exits after."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "tickets_mcp"], env=env)
    ids = []
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            for i in range(2):
                added = await c.call_tool("add_comment", {"number": NUMBER, "body": f"{words} {i}"})
                assert not added.is_error, text_of(added)
                ids.append(added.structured_content["comment_id"])
            assert not (await c.call_tool("get_ticket", {"number": NUMBER})).is_error
    return ids


def server_env(sb: SandboxHandle, **extra: str) -> dict[str, str]:
    return clean_env(
        drop=["OTEL_"],
        SELECTEL_TOKEN=TOKEN,
        SELECTEL_TICKETS_URL=sb.base_url,
        TICKETS_MCP_CALLS_PER_MINUTE="0",
        TICKETS_MCP_LOG_FORMAT="json",
        **extra,
    )


async def test_audit_records_arrive_over_otlp_with_the_trace_id(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    words = f"otlp audit words {uuid.uuid4().hex}"
    with OtlpReceiver() as receiver:
        env = server_env(
            sandbox,
            TICKETS_MCP_AUDIT_LOG="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_BLRP_SCHEDULE_DELAY="100",
        )
        ids = await comment_twice(env, tmp_path / "stderr.jsonl", words)
    records = receiver.logs()
    assert len(records) == 2, records
    resource, first = records[0]
    assert resource["service.name"] == "tickets-mcp"
    seen = [attributes(record.attributes) for _, record in records]
    assert [a["tickets.comment_id"] for a in seen] == ids
    assert all(a["tickets.tool"] == "add_comment" and a["tickets.outcome"] == "sent" for a in seen)
    assert first.event_name == "tickets_mcp.write" and first.body.string_value.startswith(
        f"comment {ids[0]} added"
    )
    calls = {span.trace_id.hex() for _, span in receiver.spans() if span.name == "tools/call add_comment"}
    assert {a["tickets.trace_id"] for a in seen} == calls and len(calls) == 2
    assert first.trace_id.hex() == seen[0]["tickets.trace_id"]  # the record is in the write's trace
    assert TOKEN.encode() not in receiver.raw() and words.encode() not in receiver.raw()


async def test_audit_lines_on_stderr_are_marked_json(sandbox: SandboxHandle, tmp_path: Path) -> None:
    words = f"stderr audit words {uuid.uuid4().hex}"
    stderr = tmp_path / "stderr.jsonl"
    ids = await comment_twice(server_env(sandbox, TICKETS_MCP_AUDIT_LOG="stderr"), stderr, words)
    text = stderr.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every stderr line is JSON
    audit = [line for line in lines if line.get("audit") is True]
    assert [line["comment_id"] for line in audit] == ids
    assert all(line["outcome"] == "sent" and line["trace_id"] is None for line in audit)  # no tracing
    assert TOKEN not in text and words not in text
