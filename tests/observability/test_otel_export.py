"""OpenTelemetry export as a user runs it: `tickets-mcp` over stdio, a real `mcp.Client`, and an OTLP/HTTP receiver on
loopback. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans and metrics arrive; without it, nothing of the
OpenTelemetry SDK is imported; with it but without the ``otel`` extra, one warning and the server serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.otlp_receiver import OtlpReceiver
from support.servers import clean_env
from tickets_mcp.sandbox import SandboxHandle

from .conftest import TOKEN

pytestmark = pytest.mark.anyio
NUMBER = 2401007
METRICS = {
    "tickets_mcp.tool.calls",
    "tickets_mcp.tool.duration",
    "tickets_mcp.api.requests",
    "http.client.request.duration",
}


def server_env(sb: SandboxHandle, **extra: str) -> dict[str, str]:
    return clean_env(
        drop=["OTEL_"],
        SELECTEL_TOKEN=TOKEN,
        SELECTEL_TICKETS_URL=sb.base_url,
        TICKETS_MCP_CALLS_PER_MINUTE="0",
        TICKETS_MCP_LOG_LEVEL="DEBUG",
        **extra,
    )


async def serve_one_call(args: list[str], env: dict[str, str], stderr: Path) -> None:
    """Start the server over stdio, read one ticket, and close (the server exits when stdin closes)."""
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as c:
            result = await c.call_tool("get_ticket", {"number": NUMBER})
            assert not result.is_error


async def test_traces_and_metrics_arrive_over_otlp_http(sandbox: SandboxHandle, tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.jsonl"
    with OtlpReceiver() as receiver:
        env = server_env(
            sandbox,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_METRIC_EXPORT_INTERVAL="500",
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test",
            TICKETS_MCP_LOG_FORMAT="json",
        )
        await serve_one_call(["-m", "tickets_mcp"], env, stderr)
    assert receiver.content_types == {"application/x-protobuf"}
    spans = receiver.spans()
    resource = spans[0][0]
    assert resource["service.name"] == "tickets-mcp" and resource["deployment.environment.name"] == "test"
    by_name = {span.name: span for _, span in spans}
    server, request = by_name["tools/call get_ticket"], by_name["GET /v2/tickets/{number}"]
    assert request.parent_span_id == server.span_id and request.trace_id == server.trace_id
    attributes = {a.key: a.value for a in request.attributes}
    assert attributes["tickets.operation"].string_value == "get_ticket"
    assert attributes["http.response.status_code"].int_value == 200
    assert METRICS <= receiver.metric_names()
    assert TOKEN.encode() not in receiver.raw()

    # JSON logs carry the ids of the span they were logged in: the request's debug line, its client span.
    lines = [json.loads(line) for line in stderr.read_text().splitlines()]
    (logged,) = [e for e in lines if e["logger"] == "tickets_mcp.api" and "get_ticket GET" in e["message"]]
    assert logged["trace_id"] == request.trace_id.hex() and logged["span_id"] == request.span_id.hex()
    assert any(e["message"].startswith("OpenTelemetry export on") for e in lines)


async def test_without_an_endpoint_nothing_of_the_sdk_is_imported(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.txt"
    await serve_one_call(["-X", "importtime", "-m", "tickets_mcp"], server_env(sandbox), stderr)
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in stderr.read_text().splitlines() if "import time:" in line
    ]
    assert "tickets_mcp.api.sending" in imported and "tickets_mcp.telemetry" in imported  # served a call
    otel = [name for name in imported if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))]
    # the OpenTelemetry hooks of tickets_mcp.telemetry load their metrics API only when installed
    assert otel == [] and "opentelemetry.metrics" not in imported


async def test_an_endpoint_without_the_extra_warns_once_and_serves(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.txt"
    without_sdk = (
        "import sys; sys.modules['opentelemetry.sdk'] = None; "  # as if the otel extra were not installed
        "from tickets_mcp.cli import main; raise SystemExit(main())"
    )
    with OtlpReceiver() as receiver:
        env = server_env(
            sandbox, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100"
        )
        await serve_one_call(["-c", without_sdk], env, stderr)
    text = stderr.read_text()
    assert text.count("pip install 'tickets-mcp[otel]'") == 1 and "Traceback" not in text
    assert receiver.raw() == b""
