"""`tickets-mcp doctor`: ✓ / ✗ lines, the auth mode, categories, budget and clock skew; exit 0 / 1 / 2;
never a secret in its output."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from support.cli import run
from tickets_mcp.api.operations import ROUTES
from tickets_mcp.doctor import Report, check_clock, run_doctor
from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings

CANARY = "doctor-canary-secret-7b1e"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox() as sb:
        yield sb


def doctor(**values: object) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(Settings(**values), out=out)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_sandbox_all_checks_pass_via_the_command() -> None:
    proc = run("--sandbox", "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line[:2] in ("✓ ", "! ", "✗ ")]
    assert lines and all(line.startswith("✓ ") for line in lines), proc.stdout
    for part in ("auth mode: sandbox", "auth OK", "rate-limit budget", "clock skew", "OpenTelemetry export"):
        assert part in proc.stdout, part
    for route in ROUTES.values():  # every read route answered; every write route listed, never called
        entry = f"{route.name} {route.method} {route.path}"
        if route.method == "GET":
            assert f"✓ {entry}: answered (" in proc.stdout, entry
        else:
            assert re.search(
                rf"^ +{route.name} +{route.method} +{re.escape(route.path)} +path ", proc.stdout, re.M
            )
    assert "list_categories GET /v2/categories: answered (10 categories: cloud_servers" in proc.stdout
    assert "all checks passed (exit 0)" in proc.stdout


def test_no_credentials_is_bad_configuration_exit_2() -> None:
    proc = run("doctor")
    assert proc.returncode == 2
    assert "✗ no credentials" in proc.stdout and "SELECTEL_TOKEN" in proc.stdout


def test_static_token_against_the_api(sandbox: SandboxHandle) -> None:
    code, out = doctor(token=SecretStr(sandbox.token), base_url=sandbox.base_url)
    assert code == 0, out
    assert "auth mode: static token from SELECTEL_TOKEN" in out and sandbox.token not in out
    assert "(SELECTEL_TICKETS_URL, not the default)" in out


def test_refused_token_fails_with_exit_1_and_no_secret(sandbox: SandboxHandle) -> None:
    code, out = doctor(token=SecretStr(CANARY), base_url=sandbox.base_url)
    assert code == 1 and "✗ auth refused" in out, out
    assert CANARY not in out


def test_refused_token_via_the_command_prints_no_secret(sandbox: SandboxHandle) -> None:
    proc = run("doctor", SELECTEL_TOKEN=CANARY, SELECTEL_TICKETS_URL=sandbox.base_url)
    assert proc.returncode == 1 and "✗" in proc.stdout
    assert CANARY not in proc.stdout + proc.stderr


def test_service_user_login(sandbox: SandboxHandle) -> None:
    code, out = doctor(
        username=sandbox.username,
        password=SecretStr(sandbox.password),
        account_id=sandbox.account_id,
        base_url=sandbox.base_url,
        identity_url=sandbox.identity_url,
    )
    assert code == 0, out
    assert "auth mode: service user" in out and "auth OK (service_user)" in out
    assert sandbox.password not in out and "IAM token expiry is checked" in out


def test_unreachable_api_fails_with_exit_1() -> None:
    code, out = doctor(
        token=SecretStr(CANARY), base_url="http://127.0.0.1:9/support", retry_budget=0, connect_timeout=1
    )
    assert code == 1 and "✗ API unreachable" in out and CANARY not in out


def test_exposed_http_bind_without_token_is_exit_2() -> None:
    code, out = doctor(sandbox=True, transport="http", host="0.0.0.0")
    assert code == 2 and "✗ HTTP would listen on 0.0.0.0 with no auth gate" in out
    code, out = doctor(sandbox=True, transport="http", host="0.0.0.0", http_token=SecretStr(CANARY))
    assert code == 0 and "bearer token required" in out and CANARY not in out


def test_budget_above_the_api_limits_is_a_warning(sandbox: SandboxHandle) -> None:
    code, out = doctor(token=SecretStr(sandbox.token), base_url=sandbox.base_url, creates_per_minute=5)
    assert code == 0 and "! rate-limit budget: 5 ticket creates" in out


@pytest.mark.parametrize(
    ("mode", "skew", "mark"),
    [("iam", 600.0, "✗"), ("iam", 45.0, "!"), ("iam", 1.0, "✓"), ("static", 600.0, "!"), ("iam", None, "!")],
)
def test_clock_skew_matters_for_expiring_tokens(mode: str, skew: float | None, mark: str) -> None:
    settings = Settings(iam_token=SecretStr(CANARY)) if mode == "iam" else Settings(token=SecretStr(CANARY))
    report = Report(io.StringIO())
    check_clock(settings, report, skew)
    assert report.out.getvalue().startswith(f"{mark} ")  # type: ignore[attr-defined]
    assert report.exit_code == (1 if mark == "✗" else 0)
