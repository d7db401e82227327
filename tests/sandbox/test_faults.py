"""Fault injection: each kind, applied vs not applied, sequences, probabilities, filters, admin API."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

import httpx2
import pytest

from support.sandbox import v2_body
from tickets_mcp.sandbox import SandboxHandle, run_sandbox


def count(api: httpx2.Client) -> int:
    return api.get("/v2/tickets/count").json()["items_count"]


def create_with_fault(sb: SandboxHandle, api: httpx2.Client, rule: dict) -> tuple[httpx2.Response, int]:
    """POST a create under a one-shot fault; return the answer and how many tickets were stored."""
    before = count(api)
    sb.set_faults({**rule, "methods": ["POST"], "path_prefix": "/support/v2/tickets"})
    response = api.post("/v2/tickets", json=v2_body())
    sb.clear_faults()
    return response, count(api) - before


@pytest.mark.parametrize("kind", ["429", "429-date", "429-none"])
def test_429_kinds_are_not_applied(sandbox: SandboxHandle, api: httpx2.Client, kind: str) -> None:
    r, stored = create_with_fault(sandbox, api, {"sequence": [kind], "retry_after": 3})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert stored == 0
    if kind == "429":
        assert r.headers["Retry-After"] == "3"
    elif kind == "429-date":
        wait = parsedate_to_datetime(r.headers["Retry-After"]).timestamp() - time.time()
        assert 1 < wait <= 4
    else:
        assert "Retry-After" not in r.headers


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_kinds(sandbox: SandboxHandle, api: httpx2.Client, status: int) -> None:
    r, stored = create_with_fault(sandbox, api, {"sequence": [str(status)]})
    assert r.status_code == status
    assert r.json()["error"]["code"] == "server_error"
    assert stored == 0
    r, stored = create_with_fault(sandbox, api, {"sequence": [{"kind": str(status), "applied": True}]})
    assert r.status_code == status and stored == 1


def test_drop_closes_the_connection_mid_body(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        create_with_fault(sandbox, api, {"sequence": ["drop"]})
    sandbox.clear_faults()
    entry = sandbox.journal()[-1]
    assert entry["fault"] == "drop" and entry["applied"] is True and entry["method"] == "POST"
    assert (
        api.get("/v2/tickets", params={"items_per_page": 1}).json()["items"][0]["summary"]
        == "HTTPS down on web-01"
    )
    before = count(api)
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        create_with_fault(sandbox, api, {"sequence": ["drop"], "applied": False})
    sandbox.clear_faults()
    assert count(api) == before


def test_drop_on_get(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    sandbox.set_faults(sequence=["drop"])
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        api.get("/v2/tickets")
    assert api.get("/v2/tickets").status_code == 200  # the sequence is used up


def test_timeout_applied_by_default(sandbox: SandboxHandle) -> None:
    with httpx2.Client(base_url=sandbox.base_url, headers={"X-Token": sandbox.token}, timeout=0.2) as quick:
        before = count(quick)
        sandbox.set_faults(sequence=[{"kind": "timeout", "delay": 0.6}])
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            quick.post("/v2/tickets", json=v2_body())
        assert time.monotonic() - started < 0.5
        assert count(quick) == before + 1  # performed, answer never seen
    time.sleep(0.5)  # the sandbox answers (to nobody) after its delay, then journals the request
    entry = next(e for e in sandbox.journal() if e["fault"] == "timeout")
    assert entry["method"] == "POST" and entry["applied"] is True and entry["status"] == 200
    assert entry["seq"] < sandbox.journal()[-1]["seq"]  # seq follows arrival, not completion


def test_timeout_answers_after_delay(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    sandbox.set_faults(sequence=[{"kind": "timeout", "delay": 0.3}])
    started = time.monotonic()
    r = api.get("/topics")
    assert time.monotonic() - started >= 0.3
    assert r.status_code == 200 and r.json()["items"]
    r, stored = create_with_fault(
        sandbox, api, {"sequence": [{"kind": "timeout", "delay": 0.2, "applied": False}]}
    )
    assert r.status_code == 504 and stored == 0


def test_malformed_json(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    r, stored = create_with_fault(sandbox, api, {"sequence": ["malformed"]})
    assert r.status_code == 200 and stored == 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    r, stored = create_with_fault(sandbox, api, {"sequence": ["malformed"], "applied": False})
    assert r.status_code == 200 and stored == 0
    with pytest.raises(ValueError):
        r.json()


def test_sequence_is_consumed_one_per_matching_request(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    sandbox.set_faults(sequence=["503", None, "500"], methods=["GET"], path_prefix="/v2/tickets")
    assert api.post("/tickets/2401006/comments", json={"body": "not matching: POST"}).status_code == 200
    assert api.get("/topics").status_code == 200  # other path
    statuses = [api.get("/v2/tickets/count").status_code for _ in range(4)]
    assert statuses == [503, 200, 500, 200]
    faults = [(e["path"], e["fault"]) for e in sandbox.journal() if e["path"].endswith("/count")]
    assert [f for _, f in faults] == ["503", None, "500", None]


def test_probability(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    sandbox.set_faults(probability=1.0, kinds=["502"])
    assert {api.get("/topics").status_code for _ in range(5)} == {502}
    sandbox.set_faults(probability=0.0, kinds=["502"])
    assert {api.get("/topics").status_code for _ in range(5)} == {200}
    sandbox.set_faults(probability=0.5, kinds=["500", "503"], seed=7)
    seen = {api.get("/topics").status_code for _ in range(40)}
    assert seen == {200, 500, 503}


def test_admin_api_and_identity(sandbox: SandboxHandle) -> None:
    admin = sandbox.admin_url
    r = httpx2.post(admin + "/faults", json={"sequence": ["504", "503"], "path_prefix": "/identity"})
    assert r.status_code == 200 and r.json()["rules"][0]["sequence"] == ["504", "503"]
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo-user", "domain": {"name": "123456"}, "password": "demo-password"}}}}}  # fmt: skip
    assert httpx2.post(sandbox.identity_url + "/auth/tokens", json=login).status_code == 504
    assert httpx2.get(admin + "/faults").json()["rules"][0]["sequence"] == ["503"]
    assert httpx2.delete(admin + "/faults").json() == {"rules": []}
    assert httpx2.post(sandbox.identity_url + "/auth/tokens", json=login).status_code == 201
    bad = httpx2.post(admin + "/faults", json={"sequence": ["418"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    # /_sandbox itself is never faulted
    httpx2.post(admin + "/faults", json={"probability": 1.0, "kinds": ["500"]})
    assert httpx2.get(admin + "/journal").status_code == 200
    assert httpx2.get(sandbox.base_url + "/topics", headers={"X-Token": sandbox.token}).status_code == 500
    httpx2.post(admin + "/faults?mode=add", json={"sequence": ["503"]})
    assert len(httpx2.get(admin + "/faults").json()["rules"]) == 2


def test_faults_at_start_up() -> None:
    with run_sandbox(faults={"sequence": ["503"]}) as sb:
        headers = {"X-Token": sb.token}
        assert httpx2.get(sb.base_url + "/topics", headers=headers).status_code == 503
        assert httpx2.get(sb.base_url + "/topics", headers=headers).status_code == 200
