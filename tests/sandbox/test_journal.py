"""The request journal: contents, redaction, clearing; and the admin support-reply endpoint."""

from __future__ import annotations

import json

import httpx2

from support.sandbox import v2_body
from tickets_mcp.sandbox import SandboxHandle


def test_entries_describe_each_request(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    api.post("/v2/tickets", json=v2_body(summary="journal me"))
    api.get(
        "/v2/tickets", params=[("access_levels", "all_users"), ("access_levels", "account_users"), ("q", "x")]
    )
    httpx2.get(sandbox.base_url + "/topics")  # no token
    entries = httpx2.get(sandbox.admin_url + "/journal").json()["items"]
    assert entries == sandbox.journal()
    post, listing, anonymous = entries
    assert post["seq"] < listing["seq"] < anonymous["seq"]
    assert post["method"] == "POST" and post["path"] == "/support/v2/tickets"
    assert post["body"]["summary"] == "journal me" and post["status"] == 200
    assert post["fault"] is None and post["applied"] is True and post["auth"] == "static"
    assert isinstance(post["time"], float) and post["time_iso"].endswith("Z")
    assert listing["query"] == {"access_levels": ["all_users", "account_users"], "q": ["x"]}
    assert listing["body"] is None
    assert anonymous["status"] == 401 and anonymous["auth"] is None


def test_exactly_once(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    api.post("/tickets/2401006/comments", json={"body": "once"})
    posts = [e for e in sandbox.journal() if e["method"] == "POST" and e["path"].endswith("/comments")]
    assert len(posts) == 1


def test_no_secrets_in_journal(sandbox: SandboxHandle) -> None:
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo-user", "domain": {"name": "123456"}, "password": "demo-password"}}}}}  # fmt: skip
    r = httpx2.post(sandbox.identity_url + "/auth/tokens", json=login)
    iam = r.headers["X-Subject-Token"]
    httpx2.get(sandbox.base_url + "/topics", headers={"X-Auth-Token": iam})
    httpx2.get(sandbox.base_url + "/topics", headers={"X-Token": sandbox.token})
    entries = sandbox.journal()
    dump = json.dumps(entries)
    assert "demo-password" not in dump and iam not in dump and sandbox.token not in dump
    user = entries[0]["body"]["auth"]["identity"]["password"]["user"]
    assert user == {"name": "demo-user", "domain": {"name": "123456"}, "password": "***"}
    assert entries[0]["path"] == "/identity/v3/auth/tokens" and entries[0]["status"] == 201
    assert [e["auth"] for e in entries[1:]] == ["iam", "static"]


def test_clear_and_admin_not_journaled(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    api.get("/topics")
    assert len(sandbox.journal()) == 1
    httpx2.get(sandbox.admin_url + "/faults")
    assert len(sandbox.journal()) == 1
    assert httpx2.delete(sandbox.admin_url + "/journal").json() == {"items": []}
    assert sandbox.journal() == []
    api.get("/topics")
    sandbox.clear_journal()
    assert sandbox.journal() == []


def test_support_reply_endpoint(sandbox: SandboxHandle, api: httpx2.Client) -> None:
    number = api.post("/v2/tickets", json=v2_body()).json()["number"]
    r = httpx2.post(
        f"{sandbox.admin_url}/tickets/{number}/support-reply", json={"body": "Hello from support"}
    )
    assert r.status_code == 200
    assert r.json()["is_client_author"] is False and r.json()["admin_author"]["name"]
    assert api.get(f"/v2/tickets/{number}").json()["status"] == "awaiting_client"
    assert httpx2.post(f"{sandbox.admin_url}/tickets/1/support-reply", json={"body": "x"}).status_code == 404
    assert httpx2.post(f"{sandbox.admin_url}/tickets/{number}/support-reply", json={}).status_code == 400
    api.post(f"/tickets/{number}/close", json={})
    closed = httpx2.post(f"{sandbox.admin_url}/tickets/{number}/support-reply", json={"body": "late"})
    assert closed.status_code == 400 and closed.json()["error"]["code"] == "ticket_closed"
