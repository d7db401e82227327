"""Spans and metrics of the real server, driven through `mcp.Client` in both protocol eras,
recorded by the SDK's in-memory exporter and metric reader. The sandbox journal (one entry per HTTP
request it received) is the count the client spans must match."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from mcp import Client
from opentelemetry.trace import SpanKind, StatusCode

from tickets_mcp import telemetry
from tickets_mcp.sandbox import SandboxHandle

from .conftest import TOKEN, Recorded

pytestmark = pytest.mark.anyio
NUMBER = 2401007
NEW_TICKET = {
    "categories": ["cloud_servers"],
    "category_fields": [{"key": "region", "values": ["ru-3"]}],
    "comment_body": "Created by the telemetry tests.",
}


def attributes_text(recorded: Recorded) -> str:
    """Every span name, attribute and event of the test, and every metric attribute, as JSON."""
    spans = [
        {
            "name": s.name,
            "attributes": dict(s.attributes),
            "events": [[e.name, dict(e.attributes)] for e in s.events],
        }
        for s in recorded.spans()
    ]
    names = [
        "tickets_mcp.tool.calls",
        "tickets_mcp.tool.duration",
        "tickets_mcp.api.requests",
        "http.client.request.duration",
        "tickets_mcp.api.rate_limited",
        "tickets_mcp.api.retries",
        "tickets_mcp.api.pacing.wait_time",
    ]
    return json.dumps([spans, [attrs for name in names for attrs, _ in recorded.points(name)]])


async def test_a_read_is_one_client_span_per_request_under_the_server_span(
    client: Client, recorded: Recorded, sandbox: SandboxHandle
) -> None:
    result = await client.call_tool("get_ticket", {"number": NUMBER, "include_comments": True})
    assert not result.is_error
    requests = sandbox.journal()
    spans = recorded.client_spans()
    assert len(spans) == len(requests) >= 2  # the ticket, then its comments
    by_operation = {s.attributes["tickets.operation"]: s for s in spans}
    span = by_operation["get_ticket"]
    assert span.name == "GET /v2/tickets/{number}" and span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "tickets.operation": "get_ticket",
        "http.request.method": "GET",
        "url.template": "/v2/tickets/{number}",
        "server.address": "127.0.0.1",
        "server.port": sandbox.port,
        "tickets.attempt": 1,
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET and not span.events
    (server,) = [
        s for s in recorded.spans() if s.kind is SpanKind.SERVER and s.name == "tools/call get_ticket"
    ]
    assert server.attributes["gen_ai.tool.name"] == "get_ticket"
    for child in spans:  # each request is a child of the tool call's server span
        assert child.parent is not None and child.parent.span_id == server.context.span_id
        assert child.context.trace_id == server.context.trace_id
    text = attributes_text(recorded)
    assert str(NUMBER) not in text  # a route template, never the URL with ids
    assert TOKEN not in text and TOKEN not in recorded.dump()  # nor a credential, anywhere

    ok = {"tickets.operation": "get_ticket", "http.response.status_code": 200}
    assert recorded.total("tickets_mcp.api.requests", **ok) == 1
    assert recorded.total("http.client.request.duration", **ok) == 1
    assert recorded.total("tickets_mcp.api.requests") == len(requests)
    tool = {"gen_ai.tool.name": "get_ticket", "tickets.outcome": "ok"}
    assert recorded.total("tickets_mcp.tool.calls", **tool) == 1
    assert recorded.total("tickets_mcp.tool.duration", **tool) == 1


@pytest.mark.parametrize(
    ("fault", "reason", "status"),
    [
        ("429", "rate_limited", 429),
        ("503", "server_error", 503),
        ("malformed", "malformed_response", 200),  # a 200 whose body is not JSON
        ("drop", "network", None),  # the connection closes mid-answer
    ],
)
async def test_a_retried_request_shows_attempts_and_a_retry_event(
    client: Client, recorded: Recorded, sandbox: SandboxHandle, fault: str, reason: str, status: int | None
) -> None:
    sandbox.set_faults({"sequence": [fault], "methods": ["GET"], "retry_after": 0})
    result = await client.call_tool("get_ticket", {"number": NUMBER})
    assert not result.is_error
    assert len(sandbox.journal()) == 2
    first, second = sorted(recorded.client_spans("get_ticket"), key=lambda s: s.start_time or 0)
    assert first.attributes["tickets.attempt"] == 1 and "http.request.resend_count" not in first.attributes
    assert first.attributes.get("http.response.status_code") == status
    error_type = first.attributes["error.type"]
    expected = {"429": "429", "503": "503", "malformed": "malformed_response"}.get(fault)
    assert error_type == expected if expected else error_type.endswith("Error")  # drop: httpx's error class
    assert first.status.status_code is StatusCode.ERROR
    (event,) = first.events
    assert event.name == "tickets.retry" and event.attributes["tickets.retry.reason"] == reason
    assert event.attributes["tickets.wait_seconds"] >= 0
    assert second.attributes["tickets.attempt"] == 2 and second.attributes["http.request.resend_count"] == 1
    assert second.attributes["http.response.status_code"] == 200 and not second.events
    assert second.status.status_code is StatusCode.UNSET
    assert (first.end_time or 0) <= (second.start_time or 0)  # the wait is in neither span

    operation = {"tickets.operation": "get_ticket"}
    assert recorded.total("tickets_mcp.api.retries", **operation, **{"tickets.retry.reason": reason}) == 1
    first_request = {"http.response.status_code": status} if status else {"error.type": error_type}
    assert recorded.total("tickets_mcp.api.requests", **operation, **first_request) == (
        2 if status == 200 else 1
    )
    assert recorded.total("tickets_mcp.api.requests", **operation) == 2
    assert recorded.total("tickets_mcp.api.rate_limited", **operation) == (1 if fault == "429" else 0)
    assert TOKEN not in recorded.dump()


@pytest.mark.parametrize("settings_overrides", [{"creates_per_minute": 1, "rate_window": 1.0}])
async def test_a_paced_create_shows_the_pacing_wait(client: Client, recorded: Recorded) -> None:
    for i in range(2):
        result = await client.call_tool("create_ticket", {"summary": f"telemetry pacing {i}", **NEW_TICKET})
        assert not result.is_error, result.content
    first, second = sorted(recorded.client_spans("create_ticket"), key=lambda s: s.start_time or 0)
    assert not first.events  # the window was free
    (event,) = second.events
    assert event.name == "tickets.pacing_wait" and event.attributes["tickets.bucket"] == "create"
    waited = event.attributes["tickets.wait_seconds"]
    assert 0 < waited <= 1.0
    assert (
        second.attributes["url.template"] == "/v2/tickets"
        and second.attributes["http.request.method"] == "POST"
    )
    seconds = recorded.total("tickets_mcp.api.pacing.wait_time", **{"tickets.operation": "create_ticket"})
    assert seconds == pytest.approx(waited)
    assert recorded.total("tickets_mcp.api.pacing.wait_time", **{"tickets.bucket": "create"}) == seconds


async def test_tool_calls_are_counted_by_tool_and_outcome(client: Client, recorded: Recorded) -> None:
    assert not (await client.call_tool("count_tickets", {"is_only_opened": True})).is_error
    assert (await client.call_tool("get_ticket", {"number": 999})).is_error
    assert (await client.call_tool("get_ticket", {"number": "not a number"})).is_error
    assert (await client.call_tool("list_topics", {})).is_error  # the legacy toolset is off
    calls = sorted(
        (a["gen_ai.tool.name"], a["tickets.outcome"], a.get("error.type"), p.value)
        for a, p in recorded.points("tickets_mcp.tool.calls")
    )
    assert calls == [
        ("count_tickets", "ok", None, 1),
        ("get_ticket", "error", "invalid_arguments", 1),
        ("get_ticket", "error", "not_found", 1),
        ("list_topics", "error", "tool_disabled", 1),
    ]
    assert recorded.total("tickets_mcp.tool.duration") == 4
    assert recorded.total("tickets_mcp.api.requests", **{"tickets.operation": "get_ticket"}) == 1  # 999 only


async def test_metering_counts_an_exception_and_labels_undeclared_tools(recorded: Recorded) -> None:
    async def boom(ctx: Any) -> Any:
        raise RuntimeError("handler failed")

    async def answer(ctx: Any) -> Any:
        return {"isError": True, "content": []}

    with pytest.raises(RuntimeError):
        await telemetry.metering(SimpleNamespace(method="tools/call", params={"name": "get_ticket"}), boom)  # type: ignore[arg-type]
    await telemetry.metering(SimpleNamespace(method="tools/call", params={"name": "x" * 300}), answer)  # type: ignore[arg-type]
    calls = sorted(
        (a["gen_ai.tool.name"], a["tickets.outcome"], a.get("error.type"))
        for a, _ in recorded.points("tickets_mcp.tool.calls")
    )
    assert calls == [("_OTHER", "error", "tool_error"), ("get_ticket", "exception", "RuntimeError")]
