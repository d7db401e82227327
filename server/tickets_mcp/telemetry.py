"""Telemetry: OpenTelemetry traces and metrics of API requests and tool calls, opt-in.

**Switching it on.** `start()` is called by the command line. It does nothing, and imports nothing, unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) is set. Then it imports the SDK of the ``otel`` extra, sets the
global tracer and meter providers with OTLP/HTTP exporters, installs the hooks below, and returns the
function that flushes and shuts them down at exit. The SDK reads the standard ``OTEL_*`` variables itself
(service name, resource attributes, sampler, headers, timeouts, batch and export intervals). Without the
extra it warns once on stderr and the server runs without telemetry.

**What is recorded.** Two hooks, no-op until `install()` (which uses the OpenTelemetry API alone):

- the API client's request `Observer` (`api.sending`): a CLIENT span and metrics per HTTP request.
  Attributes follow the HTTP client semantic conventions: ``http.request.method``, ``url.template`` (the
  route's path template, never the URL with ids), ``server.address``/``server.port``,
  ``http.response.status_code``, ``http.request.resend_count``, ``error.type``; plus ``tickets.operation``
  and ``tickets.attempt``. No header, body or query is ever an attribute, so no credential can be one;
- the `ToolMeter` of the `metering` middleware, which runs before the server's tool gate, so a call the gate
  answers itself (a disabled tool, the session limit, bad arguments) is counted too. The outcome is
  ``ok``, ``error`` (an `isError` result; its ``code`` is the error type, ``tool_error`` when it has none)
  or ``exception``.

Log records logged inside a span carry its ``trace_id`` and ``span_id`` (`TraceContextFilter`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tickets_mcp import __version__
from tickets_mcp.api.routes import Route
from tickets_mcp.api.sending import Attempt, Observer, install_observer

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from opentelemetry import metrics, trace
    from opentelemetry.context import Context

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
SIGNAL_ENDPOINTS = {
    "traces": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "metrics": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
}
EXPORTER_CHOICE = {"traces": "OTEL_TRACES_EXPORTER", "metrics": "OTEL_METRICS_EXPORTER"}
HEADER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
)
INSTALL_HINT = "pip install 'tickets-mcp[otel]'"
SERVICE_NAME = "tickets-mcp"

log = logging.getLogger("tickets_mcp.telemetry")


def signals(env: Mapping[str, str] | None = None) -> set[str]:
    """The signals to export: "traces" and/or "metrics". A signal is on when the common endpoint or its
    own is set, unless ``OTEL_<SIGNAL>_EXPORTER`` says ``none`` or ``OTEL_SDK_DISABLED`` is true."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return set()
    common = bool(env.get(ENDPOINT, "").strip())
    wanted = set()
    for signal, variable in SIGNAL_ENDPOINTS.items():
        choice = {c.strip().lower() for c in env.get(EXPORTER_CHOICE[signal], "otlp").split(",")}
        if (common or env.get(variable, "").strip()) and "none" not in choice:
            wanted.add(signal)
    return wanted


def endpoints(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where each exported signal goes: the variable that names its endpoint → its value (the signal's own
    variable, else the common one). Empty when nothing is exported (see `signals`)."""
    env = os.environ if env is None else env
    chosen: dict[str, str] = {}
    for signal in sorted(signals(env)):
        own = SIGNAL_ENDPOINTS[signal]
        variable = own if env.get(own, "").strip() else ENDPOINT
        chosen[variable] = env[variable].strip()
    return chosen


def header_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of the OTLP header variables (``key=value,...``; often a collector's API key), for
    the redacting log filter."""
    env = os.environ if env is None else env
    values = []
    for variable in HEADER_VARIABLES:
        for pair in env.get(variable, "").split(","):
            _, sep, value = pair.partition("=")
            if sep and value.strip():
                values.append(unquote(value.strip()))
    return values


def start() -> Callable[[], None] | None:
    """Switch telemetry on if an OTLP endpoint is configured; returns the shutdown function, or None."""
    env = os.environ
    wanted = signals(env)
    if not wanted:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(  # a log record (not a print), so --log-format json keeps every stderr line JSON
            "an OTLP endpoint is set but OpenTelemetry export is not installed (%s); running without "
            "telemetry. To export traces and metrics: %s",
            exc.name,
            INSTALL_HINT,
        )
        return None
    from opentelemetry import metrics, trace

    from tickets_mcp import __version__

    _warn_unsupported(env)
    ours = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
    resource = ours.merge(OTELResourceDetector().detect())  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
    providers: list[TracerProvider | MeterProvider] = []
    if "traces" in wanted:  # else spans stay the API's non-recording ones
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
        providers.append(tracer_provider)
        for handler in logging.getLogger().handlers:
            handler.addFilter(TraceContextFilter())
    if "metrics" in wanted:
        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(meter_provider)
        providers.append(meter_provider)
    uninstall = install()
    log.info("OpenTelemetry export on: %s over OTLP/HTTP", " and ".join(sorted(wanted)))

    def stop() -> None:
        """Flush what is buffered and stop exporting (bounded by the exporters' own timeouts)."""
        uninstall()
        for provider in providers:
            try:
                provider.shutdown()
            except Exception:  # an exporter that cannot reach its collector must not fail the exit
                log.warning("OpenTelemetry shutdown failed", exc_info=True)

    return stop


def _warn_unsupported(env: Mapping[str, str]) -> None:
    for signal, variable in EXPORTER_CHOICE.items():
        others = {c.strip() for c in env.get(variable, "otlp").split(",")} - {"otlp", "none", ""}
        if others:
            log.warning(
                "%s=%s: only otlp is supported; %s go over OTLP/HTTP", variable, ",".join(others), signal
            )
    for variable in (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        *(v.replace("ENDPOINT", "PROTOCOL") for v in SIGNAL_ENDPOINTS.values()),
    ):
        protocol = env.get(variable, "").strip()
        if protocol and protocol != "http/protobuf":
            log.warning("%s=%s: only http/protobuf is supported; using it", variable, protocol)


# --- tool calls ------------------------------------------------------------------------------

OTHER = (
    "_OTHER"  # a tool name that is not declared (a metric attribute must not take any value a client sends)
)


class ToolMeter:
    """Receives one record per tools/call; this one ignores them."""

    def record(self, tool: str, outcome: str, error_type: str | None, seconds: float) -> None:
        """``tool`` was called: ``outcome`` is ok | error | exception, in ``seconds``."""


_NO_METER = ToolMeter()
_meter: ToolMeter = _NO_METER
_known: frozenset[str] | None = None


def install_meter(meter: ToolMeter | None) -> None:
    """Install ``meter`` for the whole process; None puts the no-op one back."""
    global _meter
    _meter = _NO_METER if meter is None else meter


def outcome_of(result: Any) -> tuple[str, str | None]:
    """(outcome, error type) of a tools/call result, in either of the shapes a handler may return."""
    from mcp.types import CallToolResult

    if isinstance(result, CallToolResult):
        is_error, structured = result.is_error, result.structured_content
    elif isinstance(result, dict):
        is_error, structured = result.get("isError") is True, result.get("structuredContent")
    else:
        return "ok", None
    if not is_error:
        return "ok", None
    code = structured.get("code") if isinstance(structured, dict) else None
    return "error", code if isinstance(code, str) and code else "tool_error"


def tool_label(name: object) -> str:
    """The tool's name when it is a declared tool, else `OTHER`."""
    global _known
    if _known is None:
        from tickets_mcp.mcp_server.tools import all_tools

        _known = frozenset(spec.name for spec in all_tools())
    return name if isinstance(name, str) and name in _known else OTHER


async def metering(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: time each tools/call and report it to the installed `ToolMeter`."""
    meter = _meter
    if meter is _NO_METER or ctx.method != "tools/call":
        return await call_next(ctx)
    tool = tool_label((ctx.params or {}).get("name"))
    started = time.perf_counter()
    try:
        result = await call_next(ctx)
    except Exception as exc:
        meter.record(tool, "exception", type(exc).__qualname__, time.perf_counter() - started)
        raise
    outcome, error_type = outcome_of(result)
    meter.record(tool, outcome, error_type, time.perf_counter() - started)
    return result


# --- the OpenTelemetry hooks -----------------------------------------------------------------

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


class OtelAttempt(Attempt):
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
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind

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
        from opentelemetry.trace import StatusCode

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
            from opentelemetry import context

            context.detach(self._token)
            self._token = None

    def _mark_failed(self, error_type: str) -> None:
        from opentelemetry.trace import StatusCode

        self.span.set_attribute("error.type", error_type)
        self.span.set_status(StatusCode.ERROR, error_type)

    def _measure(self) -> None:
        labels = {**self.base, **(self.outcome or {})}
        self.instruments.duration.record(time.perf_counter() - self.started, labels)
        self.instruments.requests.add(1, labels)


class OtelObserver(Observer):
    def __init__(self, tracer: trace.Tracer, instruments: _Instruments) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self._bases: dict[tuple[str, str, int | None], dict[str, Any]] = {}

    def attempt(self, route: Route, number: int, server: str, port: int | None) -> Attempt:
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


class OtelToolMeter(ToolMeter):
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
    from opentelemetry import metrics, trace

    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(SCOPE, __version__)
    meter = (meter_provider or metrics.get_meter_provider()).get_meter(SCOPE, __version__)
    instruments = _Instruments(meter)
    install_observer(OtelObserver(tracer, instruments))
    install_meter(OtelToolMeter(instruments))

    def uninstall() -> None:
        install_observer(None)
        install_meter(None)

    return uninstall


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex) to a record logged while a recording span is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry import trace

        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


# --- the audit log's export (`mcp_server.audit`, TICKETS_MCP_AUDIT_LOG=otlp) --------------------


class AuditExport:
    """The audit log as OpenTelemetry log records, on a logger provider of its own, exported over OTLP/HTTP
    in batches (``OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT``, ``OTEL_BLRP_*``) and flushed when the server stops.
    Event ``tickets_mcp.write``, the change in words as body, each field as a ``tickets.<field>`` attribute,
    in the trace of the write's tools/call span when tracing is on."""

    def __init__(self) -> None:
        self._logger: Any = None
        self._provider: Any = None
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
            from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        except ImportError as exc:
            self._missing = f"OpenTelemetry export is not installed ({exc.name}): {INSTALL_HINT}"
            log.warning("TICKETS_MCP_AUDIT_LOG=otlp, but %s", self._missing)
            return
        from tickets_mcp import __version__

        self._missing = ""
        ours = Resource.create({"service.name": SERVICE_NAME, "service.version": __version__})
        resource = ours.merge(
            OTELResourceDetector().detect()
        )  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
        self._provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        self._logger = self._provider.get_logger(SCOPE, __version__)

    def __repr__(self) -> str:
        return "the OTLP audit log"

    def unwritable(self) -> str | None:
        return self._missing or None

    def write(self, record: dict[str, Any]) -> None:
        if self._logger is None:
            raise OSError(self._missing)
        from opentelemetry._logs import SeverityNumber

        self._logger.emit(
            event_name="tickets_mcp.write",
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=str(record.get("change", "")),
            attributes={f"tickets.{k}": v for k, v in record.items() if v is not None},
        )

    def close(self) -> None:
        if self._provider is not None:
            try:
                self._provider.shutdown()
            except Exception:  # a collector out of reach must not fail the exit
                log.warning("OpenTelemetry audit log export could not be flushed", exc_info=True)


def audit_export() -> AuditExport:
    return AuditExport()
