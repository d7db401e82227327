"""Static tokens, IAM login (Keystone password body), expiry, wrong credentials."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx2
import pytest

from support.sandbox import v1_body, v2_body
from tickets_mcp.sandbox import SandboxHandle, run_sandbox


def login_body(
    user: str = "demo-user", password: str = "demo-password", account: str = "123456"
) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"name": account}, "password": password}},
            },
            "scope": {"domain": {"name": account}},
        }
    }


def login(sb: SandboxHandle, **kwargs: str) -> httpx2.Response:
    return httpx2.post(sb.identity_url + "/auth/tokens", json=login_body(**kwargs))


def test_static_token(sandbox: SandboxHandle) -> None:
    r = httpx2.get(sandbox.base_url + "/v2/tickets", headers={"X-Token": sandbox.token})
    assert r.status_code == 200 and r.json()["items"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Token": "wrong"}, {"X-Auth-Token": "gAAAAAforged"}, {"X-Token": ""}],
    ids=["missing", "unknown-static", "unknown-iam", "empty"],
)
def test_missing_or_unknown_token(sandbox: SandboxHandle, headers: dict[str, str]) -> None:
    r = httpx2.get(sandbox.base_url + "/v2/tickets", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized" and r.json()["error"]["message"]


OPERATIONS = [
    ("POST", "/v2/tickets", v2_body()),
    ("GET", "/v2/tickets", None),
    ("GET", "/v2/tickets/count", None),
    ("GET", "/v2/tickets/2401006", None),
    ("PATCH", "/v2/tickets/2401006", {"access_level": "all_users", "keystone_projects": []}),
    ("POST", "/tickets/2401006/close", {}),
    ("POST", "/tickets/2401001/reopen", {"body": "again"}),
    ("POST", "/tickets/2401006/vote", {"score": 5}),
    ("POST", "/tickets", v1_body()),
    ("GET", "/tickets", None),
    ("GET", "/tickets/2401006", None),
    ("PATCH", "/tickets/2401006", {"access_level": "all_users"}),
    ("POST", "/tickets/2401006/comments", {"body": "hi"}),
    ("GET", "/tickets/2401006/comments", None),
    ("GET", "/comments/9100002", None),
    ("POST", "/comments/9100002/vote", {"score": 1}),
    ("GET", "/topics", None),
    ("GET", "/v2/categories", None),
    ("GET", "/v2/categories/billing/fields", None),
    ("GET", "/v2/products", None),
]


def test_every_operation_requires_auth_and_stores_nothing(sandbox: SandboxHandle) -> None:
    assert len(OPERATIONS) == 20
    headers = {"X-Token": sandbox.token}
    before = httpx2.get(sandbox.base_url + "/v2/tickets/2401006", headers=headers).json()
    count = httpx2.get(sandbox.base_url + "/v2/tickets/count", headers=headers).json()
    for method, path, body in OPERATIONS:
        r = httpx2.request(method, sandbox.base_url + path, json=body)
        assert r.status_code == 401, (method, path, r.text)
    assert httpx2.get(sandbox.base_url + "/v2/tickets/2401006", headers=headers).json() == before
    assert httpx2.get(sandbox.base_url + "/v2/tickets/count", headers=headers).json() == count


def test_iam_login_and_use(sandbox: SandboxHandle) -> None:
    r = login(sandbox)
    assert r.status_code == 201
    token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert body["methods"] == ["password"]
    assert body["user"] == {"name": "demo-user", "domain": {"name": "123456"}}
    issued = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert body["expires_at"].endswith("Z")
    assert (
        abs((expires - issued).total_seconds() - sandbox.config.iam_token_ttl * sandbox.config.time_scale)
        < 0.01
    )
    created = httpx2.post(
        sandbox.base_url + "/tickets", headers={"X-Auth-Token": token}, json=v1_body(summary="via IAM")
    )
    assert created.status_code == 200
    # the same account: visible with the static token
    seen = httpx2.get(
        sandbox.base_url + f"/v2/tickets/{created.json()['number']}", headers={"X-Token": sandbox.token}
    )
    assert seen.json()["summary"] == "via IAM"
    assert [e["auth"] for e in sandbox.journal()[-2:]] == ["iam", "static"]


@pytest.mark.parametrize(
    "kwargs",
    [{"password": "nope"}, {"user": "someone"}, {"account": "999999"}],
    ids=["password", "user", "account"],
)
def test_wrong_credentials(sandbox: SandboxHandle, kwargs: dict[str, str]) -> None:
    r = login(sandbox, **kwargs)
    assert r.status_code == 401 and "X-Subject-Token" not in r.headers
    assert r.json()["error"]["code"] == "unauthorized"


def test_malformed_login_body(sandbox: SandboxHandle) -> None:
    r = httpx2.post(
        sandbox.identity_url + "/auth/tokens", json={"auth": {"identity": {"methods": ["token"]}}}
    )
    assert r.status_code == 400
    fields = [f["field"] for f in r.json()["error"]["fields"]]
    assert "auth.identity.methods" in fields and "auth.identity.password.user" in fields


def test_iam_token_expires() -> None:
    # 30 s of sandbox time at 1/60 scale: the token lives 0.5 s.
    with run_sandbox(iam_token_ttl=30, time_scale=1 / 60) as sb:
        token = login(sb).headers["X-Subject-Token"]
        headers = {"X-Auth-Token": token}
        assert httpx2.get(sb.base_url + "/topics", headers=headers).status_code == 200
        time.sleep(0.6)
        r = httpx2.get(sb.base_url + "/topics", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert "expired" in r.json()["error"]["message"]
        assert sb.journal()[-1]["auth"] is None
        fresh = login(sb).headers["X-Subject-Token"]
        assert httpx2.get(sb.base_url + "/topics", headers={"X-Auth-Token": fresh}).status_code == 200


def test_configured_static_tokens() -> None:
    with run_sandbox(static_tokens=("alpha", "beta")) as sb:
        assert sb.token == "alpha"
        for token, status in (("alpha", 200), ("beta", 200), ("sandbox-demo-token", 401)):
            assert httpx2.get(sb.base_url + "/topics", headers={"X-Token": token}).status_code == status


def test_static_tokens_of_other_accounts_have_their_own_rate_limits() -> None:
    """A token ending in ``_<account>`` counts its creates for that account: two accounts, 2 creates each."""
    import httpx2

    from tickets_mcp.sandbox import run_sandbox

    tokens = ("a-token_111", "b-token_222")
    body = {
        "summary": "limits per account",
        "categories": ["dns"],
        "category_fields": [{"key": "zone", "values": ["a.example"]}],
        "access_level": "account_users",
        "files": [],
        "keystone_projects": [],
        "products": [],
        "secrets": [],
    }
    with run_sandbox(static_tokens=tokens) as sb:
        statuses = {
            token: [
                httpx2.post(f"{sb.base_url}/v2/tickets", json=body, headers={"X-Token": token}).status_code
                for _ in range(3)
            ]
            for token in tokens
        }
    assert statuses == {"a-token_111": [200, 200, 429], "b-token_222": [200, 200, 429]}
