"""tickets_mcp.telemetry in process, without an SDK or an exporter: which signals the standard OTEL_*
variables turn on, and the outcome a tool result is counted under."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, TextContent

from tickets_mcp import telemetry


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


def test_outcome_of_reads_both_result_shapes() -> None:
    def failed(code: str | None) -> CallToolResult:
        structured = {"error": "no"} if code is None else {"error": "no", "code": code}
        return CallToolResult(
            content=[TextContent(type="text", text="no")], structured_content=structured, is_error=True
        )

    assert telemetry.outcome_of(CallToolResult(content=[])) == ("ok", None)
    assert telemetry.outcome_of(failed("not_found")) == ("error", "not_found")
    assert telemetry.outcome_of(failed(None)) == ("error", "tool_error")
    assert telemetry.outcome_of({"isError": True, "structuredContent": {"code": "auth"}}) == ("error", "auth")
    assert telemetry.outcome_of({"content": []}) == ("ok", None)
