"""Auth modes against the sandbox's Keystone, secrets in logs, and pacing under a short window."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from support.api_client import CATEGORY, FIELDS, WINDOW, calls, logins, make_client
from tickets_mcp.api import AuthError, IamToken, PacingPolicy, ServiceUser, StaticToken, reporting_progress
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio
TTL = 1.0  # IAM token lifetime in the auth sandbox (time scale 1)


@pytest.fixture(scope="module")
def iam_sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(iam_token_ttl=TTL) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean_iam(request: pytest.FixtureRequest) -> None:
    if "iam_sandbox" in request.fixturenames:
        handle: SandboxHandle = request.getfixturevalue("iam_sandbox")
        handle.clear_faults()
        handle.clear_journal()


def user(sb: SandboxHandle, password: str | None = None) -> ServiceUser:
    return ServiceUser(sb.username, password or sb.password, sb.account_id, sb.identity_url)


async def test_static_token(iam_sandbox: SandboxHandle) -> None:
    async with make_client(iam_sandbox) as c:
        await c.get_ticket_legacy(2401030)
    assert calls(iam_sandbox)[0]["auth"] == "static"


async def test_wrong_static_token_is_auth_error_without_retry(iam_sandbox: SandboxHandle) -> None:
    async with make_client(iam_sandbox, auth=StaticToken("wrong-token")) as c:
        with pytest.raises(AuthError) as info:
            await c.list_topics()
    assert info.value.status == 401 and "wrong-token" not in str(info.value)
    assert len(calls(iam_sandbox)) == 1


async def test_iam_token_header(iam_sandbox: SandboxHandle) -> None:
    auth = user(iam_sandbox)
    async with make_client(iam_sandbox, auth=auth) as c:
        token = await auth.token(c.http_client)
    async with make_client(iam_sandbox, auth=IamToken(token)) as c:
        assert await c.list_categories()
    assert calls(iam_sandbox)[-1]["auth"] not in (None, "static")


async def test_service_user_logs_in_once_and_refreshes_before_expiry(iam_sandbox: SandboxHandle) -> None:
    auth = user(iam_sandbox)
    async with make_client(iam_sandbox, auth=auth) as c:
        async with anyio.create_task_group() as tg:  # concurrent first calls: one login
            for _ in range(5):
                tg.start_soon(c.list_topics)
        assert len(logins(iam_sandbox)) == 1
        await anyio.sleep(TTL)
        await c.list_topics()
    assert len(logins(iam_sandbox)) == 2
    assert all(e["status"] == 200 for e in calls(iam_sandbox))  # refreshed in time: no 401


async def test_expired_token_one_relogin_then_replay(iam_sandbox: SandboxHandle) -> None:
    auth = user(iam_sandbox)
    async with make_client(iam_sandbox, auth=auth) as c:
        await c.list_topics()
        auth._deadline = math.inf  # pretend the cached token is still good
        await anyio.sleep(TTL + 0.2)
        assert await c.list_topics()
    statuses = [
        (e["path"].rsplit("/", 1)[-1], e["status"])
        for e in sorted(iam_sandbox.journal(), key=lambda e: e["seq"])
    ]
    assert statuses == [("tokens", 201), ("topics", 200), ("topics", 401), ("tokens", 201), ("topics", 200)]


async def test_wrong_password_is_one_login_attempt(
    iam_sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_client(iam_sandbox, auth=user(iam_sandbox, "not-the-password")) as c:
        with pytest.raises(AuthError) as info:
            await c.list_topics()
        assert len(logins(iam_sandbox)) == 1 and calls(iam_sandbox) == []  # exactly one login attempt
        with pytest.raises(AuthError):
            await c.list_topics()
    assert info.value.operation == "iam_login" and "password" in info.value.message
    assert len(logins(iam_sandbox)) == 2  # one attempt per call, never a storm
    assert "not-the-password" not in caplog.text + str(info.value) + repr(info.value)


async def test_secrets_never_logged(iam_sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = user(iam_sandbox)
    async with make_client(iam_sandbox, auth=auth) as c:
        await c.list_topics()
        auth._deadline = math.inf
        await anyio.sleep(TTL + 0.2)
        await c.list_topics()
        token = await auth.token(c.http_client)
    async with make_client(iam_sandbox, auth=StaticToken(iam_sandbox.token + "-x")) as c:
        with pytest.raises(AuthError):
            await c.list_topics()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (iam_sandbox.password, token, iam_sandbox.token):
        assert secret not in logged
    assert "logging in" in caplog.text  # there were log lines to check


async def test_six_creates_are_paced_without_a_single_429(sandbox: SandboxHandle) -> None:
    progress: list[tuple[float, str]] = []

    async def on_progress(done: float, total: float | None, message: str) -> None:
        progress.append((done, message))

    async with make_client(sandbox, pacing=PacingPolicy(creates_per_minute=2, window_seconds=WINDOW)) as c:
        with reporting_progress(on_progress):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(
                        lambda i=i: c.create_ticket(
                            summary=f"Contract: paced {i}", categories=[CATEGORY], category_fields=FIELDS
                        )
                    )
    posts = calls(sandbox, "POST", "/v2/tickets")
    assert len(posts) == 6 and all(e["status"] == 200 for e in posts)
    assert [e for e in calls(sandbox) if e["status"] == 429] == []
    assert any("waiting for the rate limit" in m for _, m in progress)


async def test_unpaced_burst_gets_429s_and_retries_them(sandbox: SandboxHandle) -> None:
    """The control experiment: without pacing the sandbox does refuse, and the client recovers."""
    async with make_client(sandbox, pacing=PacingPolicy(enabled=False)) as c:
        for i in range(3):
            await c.create_ticket(
                summary=f"Contract: unpaced {i}", categories=[CATEGORY], category_fields=FIELDS
            )
    statuses = [e["status"] for e in calls(sandbox, "POST")]
    assert statuses.count(200) == 3 and 429 in statuses


def test_raw_httpx2_sees_the_same_api(sandbox: SandboxHandle) -> None:
    """Sanity: the sandbox needs the token (the client is not the only thing that works)."""
    assert httpx2.get(sandbox.base_url + "/topics").status_code == 401
