"""The OpenTelemetry implementation of the telemetry hooks: client spans and API metrics for the request
loop (`api.telemetry`), tool-call metrics for the MCP server (`tools.metering`), trace ids on log records.

Imported only when telemetry is on (`telemetry.start`, or a test); it uses the OpenTelemetry API alone,
the SDK and the exporters are set up by `telemetry.py`. Attributes follow the HTTP client semantic
conventions: ``http.request.method``, ``url.template`` (the route's path template, never the URL with
ids), ``server.address``/``server.port``, ``http.response.status_code``, ``http.request.resend_count``,
``error.type``; plus ``tickets.operation`` and ``tickets.attempt``. No header, body or query is ever
an attribute, so no credential can be one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import Token
from typing import Any

from opentelemetry import context, metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode

from tickets_mcp import __version__
from tickets_mcp.api import telemetry as api_telemetry
from tickets_mcp.api.routes import Route
from tickets_mcp.tools import metering

SCOPE = "tickets_mcp"
# The HTTP semantic conventions' advice for http.client.request.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
TOOL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# name: (kind, unit, description), the metrics this module records (the README lists them too).
METRICS: dict[str, tuple[str, str, str]] = {
    "tickets_mcp.tool.calls": ("counter", "{call}", "MCP tool calls by tool and outcome"),
    "tickets_mcp.tool.duration": ("histogram", "s", "Duration of MCP tool calls"),
    "tickets_mcp.api.requests": ("counter", "{request}", "Tickets API HTTP requests by operation and status"),
    "http.client.request.duration": ("histogram", "s", "Duration of Tickets API HTTP requests"),
    "tickets_mcp.api.rate_limited": ("counter", "{response}", "429 answers of the Tickets API"),
    "tickets_mcp.api.retries": ("counter", "{retry}", "Requests sent again, by reason"),
    "tickets_mcp.api.pacing.wait_time": ("counter", "s", "Seconds spent waiting for a pacing slot"),
}


class _Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        made: dict[str, Any] = {}
        for name, (kind, unit, description) in METRICS.items():
            if kind == "counter":
                made[name] = meter.create_counter(name, unit, description)
            else:
                buckets = DURATION_BUCKETS if name.startswith("http.") else TOOL_BUCKETS
                made[name] = meter.create_histogram(
                    name, unit, description, explicit_bucket_boundaries_advisory=buckets
                )
        self.tool_calls = made["tickets_mcp.tool.calls"]
        self.tool_duration = made["tickets_mcp.tool.duration"]
        self.requests = made["tickets_mcp.api.requests"]
        self.duration = made["http.client.request.duration"]
        self.rate_limited = made["tickets_mcp.api.rate_limited"]
        self.retries = made["tickets_mcp.api.retries"]
        self.pacing = made["tickets_mcp.api.pacing.wait_time"]


class OtelAttempt(api_telemetry.Attempt):
    """One HTTP request: a CLIENT span, current while the request runs (so log records carry its ids),
    and the request metrics once it is answered or fails."""

    def __init__(
        self, tracer: trace.Tracer, instruments: _Instruments, base: dict[str, Any], number: int
    ) -> None:
        self.instruments = instruments
        self.base = base  # the low-cardinality attributes, shared by the span and the metrics
        self.operation = {"tickets.operation": base["tickets.operation"]}
        attributes = {**base, "tickets.attempt": number}
        if number > 1:
            attributes["http.request.resend_count"] = number - 1
        name = f"{base['http.request.method']} {base['url.template']}"
        self.span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._token: Token[Context] | None = context.attach(trace.set_span_in_context(self.span))
        self.started = time.perf_counter()
        self.outcome: dict[str, Any] | None = None  # the status code or the error type, once known
        self.ended = False

    def paced(self, bucket: str, seconds: float) -> None:
        self.span.add_event(
            "tickets.pacing_wait", {"tickets.bucket": bucket, "tickets.wait_seconds": seconds}
        )
        self.instruments.pacing.add(seconds, {**self.operation, "tickets.bucket": bucket})

    def sending(self) -> None:
        self.started = time.perf_counter()

    def answered(self, status: int) -> None:
        self.outcome = {"http.response.status_code": status}
        self.span.set_attribute("http.response.status_code", status)
        if status >= 400:
            self.outcome["error.type"] = str(status)
            self.span.set_attribute("error.type", str(status))
            self.span.set_status(StatusCode.ERROR)
        if status == 429:
            self.instruments.rate_limited.add(1, self.operation)
        self._measure()

    def failed(self, error_type: str) -> None:
        self.outcome = {"error.type": error_type}
        self._mark_failed(error_type)
        self._measure()

    def retry(self, reason: str, wait: float) -> None:
        self.span.add_event("tickets.retry", {"tickets.retry.reason": reason, "tickets.wait_seconds": wait})
        self.instruments.retries.add(1, {**self.operation, "tickets.retry.reason": reason})
        if "error.type" not in (self.outcome or {}):  # a 200 whose body could not be read
            self._mark_failed(reason)
        self.end()

    def end(self, error: BaseException | None = None) -> None:
        if not self.ended:
            self.ended = True
            if self.outcome is None:  # nothing was sent: pacing gave up, cancelled, or an unexpected error
                self._mark_failed(type(error).__name__ if error is not None else "unknown")
            elif error is not None and "error.type" not in self.outcome:  # e.g. a 200 that was not readable
                self._mark_failed(type(error).__name__)
            self.span.end()
        if self._token is not None:  # no longer current: a retry's wait belongs to the tool call's span
            context.detach(self._token)
            self._token = None

    def _mark_failed(self, error_type: str) -> None:
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(StatusCode.ERROR, error_type)

    def _measure(self) -> None:
        labels = {**self.base, **(self.outcome or {})}
        self.instruments.duration.record(time.perf_counter() - self.started, labels)
        self.instruments.requests.add(1, labels)


class OtelTelemetry(api_telemetry.Telemetry):
    def __init__(self, tracer: trace.Tracer, instruments: _Instruments) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self._bases: dict[tuple[str, str, int | None], dict[str, Any]] = {}

    def attempt(self, route: Route, number: int, server: str, port: int | None) -> api_telemetry.Attempt:
        key = (route.name, server, port)
        base = self._bases.get(key)
        if base is None:
            base = {
                "tickets.operation": route.name,
                "http.request.method": route.method,
                "url.template": route.path,
                "server.address": server,
            }
            if port is not None:
                base["server.port"] = port
            self._bases[key] = base
        return OtelAttempt(self.tracer, self.instruments, base, number)


class OtelToolMeter(metering.ToolMeter):
    def __init__(self, instruments: _Instruments) -> None:
        self.instruments = instruments

    def record(self, tool: str, outcome: str, error_type: str | None, seconds: float) -> None:
        labels = {"gen_ai.tool.name": tool, "tickets.outcome": outcome}
        if error_type is not None:
            labels["error.type"] = error_type
        self.instruments.tool_calls.add(1, labels)
        self.instruments.tool_duration.record(seconds, labels)


def install(
    tracer_provider: trace.TracerProvider | None = None, meter_provider: metrics.MeterProvider | None = None
) -> Callable[[], None]:
    """Record spans and metrics through these providers (the global ones by default); returns the
    function that puts the no-op hooks back."""
    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(SCOPE, __version__)
    meter = (meter_provider or metrics.get_meter_provider()).get_meter(SCOPE, __version__)
    instruments = _Instruments(meter)
    api_telemetry.install(OtelTelemetry(tracer, instruments))
    metering.install(OtelToolMeter(instruments))

    def uninstall() -> None:
        api_telemetry.install(None)
        metering.install(None)

    return uninstall


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex) to a record logged while a recording span is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True
