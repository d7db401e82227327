"""`tickets-mcp doctor` checks the route table against the configured API (every read route probed, the
write routes listed and never called) and the OpenTelemetry export setup. A sandbox serving one route
under another path (`SandboxConfig.moved_routes`) stands in for an API whose real path differs from the
inferred one: doctor must name that route-table entry."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from support.cli import run
from tickets_mcp.api.operations import ROUTES
from tickets_mcp.doctor import Report, check_export, run_doctor
from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings

READS = [r for r in ROUTES.values() if r.method == "GET"]
WRITES = [r for r in ROUTES.values() if r.method != "GET"]
MOVED_FIELDS = {"/v2/categories/{category}/fields": "/v2/categories/{category}/attributes"}
MOVED_COMMENTS_GET = {"GET /tickets/{ticket_number:int}/comments": "/tickets/{ticket_number:int}/thread"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox() as sb:
        yield sb


def doctor(sb: SandboxHandle, **values: object) -> tuple[int, str]:
    out = io.StringIO()
    settings = Settings(token=SecretStr(sb.token), base_url=sb.base_url, **values)  # type: ignore[arg-type]
    return run_doctor(settings, out=out), out.getvalue()


def entry(name: str) -> str:
    route = ROUTES[name]
    return f"{route.name} {route.method} {route.path}"


def answered(out: str) -> set[str]:
    return {name for name in ROUTES if f"✓ {entry(name)}: answered (" in out}


def as_pattern(template: str, mount: str = "/support") -> re.Pattern[str]:
    return re.compile(mount + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


def test_every_read_route_is_called_and_no_write_is(sandbox: SandboxHandle) -> None:
    sandbox.clear_journal()
    code, out = doctor(sandbox)
    assert code == 0, out
    assert answered(out) == {r.name for r in READS}
    journal = sandbox.journal()
    assert not sandbox.writes() and journal
    for route in READS:  # each probe really reached the API on its own route
        mount = "/files" if route.api == "files" else "/support"
        assert any(as_pattern(route.path, mount).match(e["path"]) for e in journal), route.name
    assert "write routes, listed and never called" in out
    for route in WRITES:
        status = {"seen": "seen in the vendor's spec", "code": "seen in working third-party code"}
        line = rf"^ +{route.name} +{route.method} +{re.escape(route.path)} +path "
        assert re.search(line + re.escape(status.get(route.path_status, "inferred")) + "$", out, re.M)
    # Against an API URL (not --sandbox) the inferred write paths are worth knowing about.
    inferred = sum(r.path_status == "inferred" for r in WRITES)
    assert f"! {inferred} of {len(WRITES)} write routes have inferred paths" in out


def test_a_moved_route_is_flagged_by_the_command_with_its_entry() -> None:
    with run_sandbox(moved_routes=MOVED_FIELDS) as sb:
        sb.clear_journal()
        proc = run("doctor", SELECTEL_TOKEN=sb.token, SELECTEL_TICKETS_URL=sb.base_url)
        assert not sb.writes()
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert (
        "✗ get_category_fields GET /v2/categories/{category}/fields: HTTP 404: the path or method of this "
        "route-table entry is probably wrong (path inferred; declared in tickets_mcp/api/operations.py)"
    ) in out
    assert answered(out) == {r.name for r in READS} - {"get_category_fields"}
    assert [line[:1] for line in out.splitlines() if line.startswith("✗")] == ["✗"]  # only that route
    assert "a check failed (exit 1)" in out and sb.token not in out


def test_a_route_whose_method_moved_answers_405_and_is_flagged() -> None:
    with run_sandbox(moved_routes=MOVED_COMMENTS_GET) as sb:
        code, out = doctor(sb)
        assert not sb.writes()
    assert code == 1
    assert (
        f"✗ {entry('list_comments')}: HTTP 405: the path exists but not for GET: the method of this "
        "route-table entry is probably wrong (path seen in working third-party code; "  # `code`
    ) in out
    assert f"! {entry('get_comment')}: not probed: no comment id to read: list_comments failed" in out


def test_other_statuses_are_reported_as_what_they_are(sandbox: SandboxHandle) -> None:
    plan = {
        "rules": [
            {"sequence": ["503"], "methods": ["GET"], "path_prefix": "/support/v2/products"},
            {"sequence": ["malformed"], "methods": ["GET"], "path_prefix": "/support/topics"},
        ]
    }
    sandbox.set_faults(plan)
    try:
        code, out = doctor(sandbox, retry_budget=0)
    finally:
        sandbox.clear_faults()
    assert code == 1
    assert f"✗ {entry('list_products')}: HTTP 503: the API failed" in out
    assert f"✗ {entry('list_topics')}: HTTP 200 answered, but not in the expected shape" in out
    assert "probably wrong" not in out


def test_nothing_to_probe_with_is_a_skip_with_its_reason() -> None:
    with run_sandbox(seed=False) as sb:
        code, out = doctor(sb)
    for name in ("get_ticket", "get_ticket_legacy"):
        assert f"! {entry(name)}: not probed: no ticket to read: the account has none" in out
    assert f"! {entry('list_comments')}: not probed: no open ticket to read the comments of" in out
    assert f"! {entry('get_category_fields')}: not probed: no category key to read" in out
    assert "✗ list_categories answered no category" in out and code == 1
    assert {"search_tickets", "count_tickets", "list_categories", "list_products"} <= answered(out)


def test_the_sandbox_config_refuses_a_route_it_does_not_have() -> None:
    from tickets_mcp.sandbox import SandboxConfig, create_app

    with pytest.raises(ValueError, match="no API route"):
        create_app(SandboxConfig(moved_routes={"/v2/widgets": "/v3/widgets"}))


# -- OpenTelemetry ------------------------------------------------------------------------------------


def export_report(**environ: str) -> tuple[int, str]:
    report = Report(io.StringIO())
    check_export(report, environ)
    return report.exit_code, report.out.getvalue()  # type: ignore[attr-defined]


def test_no_exporter_configured_is_fine() -> None:
    code, out = export_report()
    assert code == 0 and out.startswith("✓ OpenTelemetry export: not configured")
    code, out = export_report(OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert code == 0 and "off (OTEL_SDK_DISABLED=true)" in out
    # what the server would export decides: both signals' exporters off means nothing to check
    code, out = export_report(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    )
    assert code == 0 and "not configured" in out


def test_a_listening_endpoint_is_reachable_and_its_credentials_are_not_shown() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code, out = export_report(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://otel-user:otel-secret-5d1@127.0.0.1:{port}/base",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{port}/v1/traces",  # same address: once
            OTEL_EXPORTER_OTLP_HEADERS="api-key=otel-secret-5d1",
        )
    assert code == 0, out
    assert out.count("reachable") == 1
    assert f"✓ OpenTelemetry export: endpoint 127.0.0.1:{port} (OTEL_EXPORTER_OTLP_ENDPOINT) reachable" in out
    assert "otel-secret" not in out and "otel-user" not in out


def test_an_unreachable_endpoint_fails_the_command(sandbox: SandboxHandle) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run(
        "doctor",
        SELECTEL_TOKEN=sandbox.token,
        SELECTEL_TICKETS_URL=sandbox.base_url,
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"127.0.0.1:{port}",
    )
    assert proc.returncode == 1
    assert (
        f"✗ OpenTelemetry export: endpoint 127.0.0.1:{port} (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) not reachable"
        in proc.stdout
    )


def test_an_endpoint_without_the_otel_extra_fails(tmp_path: Path, sandbox: SandboxHandle) -> None:
    shadow = tmp_path / "opentelemetry"  # a package named like the SDK's namespace, without the SDK
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    proc = run(
        "doctor",
        SELECTEL_TOKEN=sandbox.token,
        SELECTEL_TICKETS_URL=sandbox.base_url,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        PYTHONPATH=str(tmp_path),
    )
    assert proc.returncode == 1
    assert "the otel extra is not installed (opentelemetry.sdk, " in proc.stdout
    assert "pip install 'tickets-mcp[otel]'" in proc.stdout
