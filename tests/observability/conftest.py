"""In-memory OpenTelemetry for in-process tests, and the sandbox and MCP clients they drive.

The mcp SDK's server spans go to the *global* tracer provider, which OpenTelemetry lets a process set
once: the SDK's provider is set (or joined) once per session, and a switch hands finished spans to the
running test's `InMemorySpanExporter` only. Each test gets its own `InMemoryMetricReader`, and the
hooks of `tickets_mcp.telemetry` are installed for that test alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.mcp_client import Elicitor
from support.sandbox import make_settings
from tickets_mcp import telemetry
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

TOKEN = "otel-canary-token-5b1f9c2e7a"  # the sandbox's only credential: every request carries it


class SpanSwitch(SpanProcessor):
    """Hands finished spans to the current test's exporter; drops them between tests."""

    def __init__(self) -> None:
        self.exporter: InMemorySpanExporter | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self.exporter is not None:
            self.exporter.export((span,))

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@pytest.fixture(scope="session")
def span_switch() -> SpanSwitch:
    switch = SpanSwitch()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(switch)
    return switch


@dataclass
class Recorded:
    """What one test recorded: finished spans and the metrics collected so far."""

    spans_exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def client_spans(self, operation: str | None = None) -> list[ReadableSpan]:
        found = [
            s for s in self.spans() if s.kind == trace.SpanKind.CLIENT and "tickets.operation" in s.attributes
        ]
        return [s for s in found if operation is None or s.attributes["tickets.operation"] == operation]

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every point of metric ``name``."""
        data = self.reader.get_metrics_data()
        found = []
        for resource_metrics in data.resource_metrics if data else []:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes), p) for p in metric.data.data_points]
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of a counter's points, or of a histogram's counts, whose attributes include these."""
        return sum(
            p.value if hasattr(p, "value") else p.count
            for attrs, p in self.points(name)
            if all(attrs.get(k) == v for k, v in attributes.items())
        )

    def dump(self) -> str:
        """Every span and metric as text: names, attributes, events, resource."""
        data = self.reader.get_metrics_data()
        return "\n".join([*(s.to_json() for s in self.spans()), data.to_json() if data else ""])


@pytest.fixture
def recorded(span_switch: SpanSwitch) -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    span_switch.exporter = exporter
    uninstall = telemetry.install(trace.get_tracer_provider(), meter_provider)
    try:
        yield Recorded(exporter, reader)
    finally:
        uninstall()
        span_switch.exporter = None
        meter_provider.shutdown()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(static_tokens=(TOKEN,), creates_per_minute=10_000, comments_per_minute=10_000) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sandbox" in request.fixturenames:
        sb: SandboxHandle = request.getfixturevalue("sandbox")
        sb.clear_faults()
        sb.clear_journal()
    yield


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    sandbox: SandboxHandle, era: str, recorded: Recorded, settings_overrides: dict[str, Any]
) -> AsyncIterator[Client]:
    settings = make_settings(sandbox, **settings_overrides)
    assert settings.token is not None and settings.token.get_secret_value() == TOKEN
    server = build_server(settings)
    async with Client(server, raise_exceptions=True, mode=era, elicitation_callback=Elicitor()) as c:  # type: ignore[arg-type]
        yield c
