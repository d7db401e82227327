"""Issue 13 §4 as a user runs it: `tickets-mcp` over stdio, a real `mcp.Client`, and an OTLP/HTTP receiver on
loopback. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans and metrics arrive; without it, nothing of the
OpenTelemetry SDK is imported; with it but without the ``otel`` extra, one warning and the server serves."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tickets_mcp.sandbox import SandboxHandle

from .conftest import TOKEN
from .otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.anyio
NUMBER = 2401007
METRICS = {
    "tickets_mcp.tool.calls",
    "tickets_mcp.tool.duration",
    "tickets_mcp.api.requests",
    "http.client.request.duration",
}


def server_env(sb: SandboxHandle, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELECTEL_", "TICKETS_MCP_", "OTEL_"))}
    env.update(
        SELECTEL_TOKEN=TOKEN,
        SELECTEL_TICKETS_URL=sb.base_url,
        TICKETS_MCP_CALLS_PER_MINUTE="0",
        TICKETS_MCP_LOG_LEVEL="DEBUG",
        **extra,
    )
    return env


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


def test_signals_follow_the_standard_variables() -> None:
    from tickets_mcp.telemetry import header_secrets, signals

    endpoint = "http://127.0.0.1:4318"
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, set()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, {"traces", "metrics"}),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint + "/v1/traces"}, {"traces"}),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": endpoint + "/v1/metrics"}, {"metrics"}),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_METRICS_EXPORTER": "none"}, {"traces"}),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "true"}, set()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, set()),
    ]
    for env, expected in cases:
        assert signals(env) == expected, env
    headers = {
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr%3Dt,x-team=ops",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=b",
    }
    assert header_secrets(headers) == ["s3cr=t", "ops", "b"]


def test_the_readme_lists_every_metric_with_its_kind_and_unit() -> None:
    from tickets_mcp.telemetry import METRICS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Observability\n", 1)[1].split("\n## ", 1)[0]
    for name, (kind, unit, _) in METRICS.items():
        assert f"| `{name}` | {kind} | `{unit}` |" in section, name
    for variable in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_TRACES_EXPORTER",
        "--log-format json",
    ):
        assert variable in section
