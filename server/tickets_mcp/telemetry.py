"""OpenTelemetry export, opt-in: traces and metrics over OTLP/HTTP when an endpoint variable is set.

`start()` is called by the command line. It does nothing, and imports nothing, unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) is set. Then it imports the SDK of the ``otel`` extra, sets the
global tracer and meter providers with OTLP/HTTP exporters, installs the hooks of `otel.py`, and
returns the function that flushes and shuts them down at exit. The SDK reads the standard ``OTEL_*``
variables itself (service name, resource attributes, sampler, headers, timeouts, batch and export
intervals). Without the extra it warns once on stderr and the server runs without telemetry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from urllib.parse import unquote

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

    from tickets_mcp import __version__, otel

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
            handler.addFilter(otel.TraceContextFilter())
    if "metrics" in wanted:
        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(meter_provider)
        providers.append(meter_provider)
    uninstall = otel.install()
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
