"""Every validation rule: a 400 ``validation_error`` naming the field, and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from support.sandbox import create_v2, field_names, upload, v1_body, v2_body
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

UUID = "c45035c7-27b3-4ed6-81aa-a57fc9112a35"
LONG = "x" * 50001


class Env:
    def __init__(self, sb: SandboxHandle, api: httpx2.Client) -> None:
        self.sb, self.api = sb, api
        self.open = create_v2(api)["number"]
        self.reply = sb.support_reply(self.open, "Support answer")["id"]
        self.closed = create_v2(api)["number"]
        api.post(f"/tickets/{self.closed}/close", json={})
        for number in (self.open, self.closed):
            api.get(f"/tickets/{number}/comments")  # mark read so snapshots are stable

    def snapshot(self) -> Any:
        api = self.api
        return (
            api.get("/v2/tickets/count").json(),
            [api.get(f"/v2/tickets/{n}").json() for n in (self.open, self.closed)],
            [api.get(f"/tickets/{n}/comments").json() for n in (self.open, self.closed)],
            api.get(f"/comments/{self.reply}").json(),
            self.sb.state.store.count_comments(),
        )


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with (
        run_sandbox(creates_per_minute=10_000, comments_per_minute=10_000) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}, timeout=10) as api,
    ):
        yield Env(sb, api)


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


# (name, method, path template, json body or raw bytes, expected field, expects "allowed")
BODY_CASES: list[tuple[str, str, str, Any, str, bool]] = [
    *[(f"v2 missing {k}", "POST", "/v2/tickets", without(v2_body(), k), k, k == "access_level")
      for k in ("access_level", "categories", "files", "keystone_projects", "products", "secrets", "summary")],
    ("v2 access_level enum", "POST", "/v2/tickets", v2_body(access_level="everyone"), "access_level", True),
    ("v2 categories empty", "POST", "/v2/tickets", v2_body(categories=[], category_fields=None), "categories", False),
    ("v2 unknown category", "POST", "/v2/tickets", v2_body(categories=["nope"]), "categories.0", True),
    ("v2 inactive category", "POST", "/v2/tickets", v2_body(categories=["vds_legacy"]), "categories.0", True),
    ("v2 unknown product", "POST", "/v2/tickets", v2_body(products=["nope"]), "products.0", True),
    ("v2 file not uuid", "POST", "/v2/tickets", v2_body(files=["abc"]), "files.0", False),
    ("v2 11 files", "POST", "/v2/tickets", v2_body(files=[UUID] * 11), "files", False),
    ("v2 comment empty", "POST", "/v2/tickets", v2_body(comment_body=""), "comment_body", False),
    ("v2 comment too long", "POST", "/v2/tickets", v2_body(comment_body=LONG), "comment_body", False),
    ("v2 summary empty", "POST", "/v2/tickets", v2_body(summary=""), "summary", False),
    ("v2 summary not string", "POST", "/v2/tickets", v2_body(summary=5), "summary", False),
    ("v2 secrets not ints", "POST", "/v2/tickets", v2_body(secrets=["s"]), "secrets", False),
    ("v2 project_users needs projects", "POST", "/v2/tickets", v2_body(access_level="project_users"),
     "keystone_projects", False),
    ("v2 field of other category", "POST", "/v2/tickets",
     v2_body(category_fields=[{"key": "zone", "values": ["a.ru"]}, {"key": "region", "values": ["ru-1"]}]),
     "category_fields.0.key", True),
    ("v2 select value not allowed", "POST", "/v2/tickets",
     v2_body(category_fields=[{"key": "region", "values": ["mars-1"]}]), "category_fields.0.values.0", True),
    ("v2 required field missing", "POST", "/v2/tickets", v2_body(category_fields=[]),
     "category_fields.region", False),
    ("v2 text field two values", "POST", "/v2/tickets",
     v2_body(category_fields=[{"key": "region", "values": ["ru-1"]}, {"key": "server_id", "values": ["a", "b"]}]),
     "category_fields.1.values", False),
    ("v2 body not object", "POST", "/v2/tickets", [v2_body()], "$", False),
    ("v2 invalid json", "POST", "/v2/tickets", b"{not json", "$", False),
    ("v1 missing comment_body", "POST", "/tickets", without(v1_body(), "comment_body"), "comment_body", False),
    ("v1 missing summary", "POST", "/tickets", without(v1_body(), "summary"), "summary", False),
    ("v1 summary 256", "POST", "/tickets", v1_body(summary="s" * 256), "summary", False),
    ("v1 summary empty", "POST", "/tickets", v1_body(summary=""), "summary", False),
    ("v1 comment too long", "POST", "/tickets", v1_body(comment_body=LONG), "comment_body", False),
    ("v1 files empty", "POST", "/tickets", v1_body(files=[]), "files", False),
    ("v1 two projects", "POST", "/tickets", v1_body(keystone_projects=["a", "b"]), "keystone_projects", False),
    ("v1 access_level enum", "POST", "/tickets", v1_body(access_level="root"), "access_level", True),
    ("v1 project_users needs projects", "POST", "/tickets", v1_body(access_level="project_users"),
     "keystone_projects", False),
    ("v1 unknown topic", "POST", "/tickets", v1_body(topic_key="nope"), "topic_key", True),
    ("v1 notice_id not int", "POST", "/tickets", v1_body(notice_id="x"), "notice_id", False),
    ("v2 update missing access_level", "PATCH", "/v2/tickets/{open}", {"keystone_projects": []}, "access_level", True),
    ("v2 update missing projects", "PATCH", "/v2/tickets/{open}", {"access_level": "all_users"},
     "keystone_projects", False),
    ("v2 update enum", "PUT", "/v2/tickets/{open}", {"access_level": "x", "keystone_projects": []}, "access_level", True),
    ("v2 update project_users empty", "PATCH", "/v2/tickets/{open}",
     {"access_level": "project_users", "keystone_projects": []}, "keystone_projects", False),
    ("v1 update enum", "PATCH", "/tickets/{open}", {"access_level": "x"}, "access_level", True),
    ("v1 update two projects", "PATCH", "/tickets/{open}", {"keystone_projects": ["a", "b"]}, "keystone_projects", False),
    ("v1 update project_users", "PATCH", "/tickets/{open}", {"access_level": "project_users"}, "keystone_projects", False),
    ("close score 0", "POST", "/tickets/{open}/close", {"score": 0}, "score", False),
    ("close score 6", "POST", "/tickets/{open}/close", {"score": 6}, "score", False),
    ("close score string", "POST", "/tickets/{open}/close", {"score": "5"}, "score", False),
    ("close comment empty", "POST", "/tickets/{open}/close", {"comment": "", "score": 5}, "comment", False),
    ("reopen missing body", "POST", "/tickets/{closed}/reopen", {}, "body", False),
    ("reopen empty body", "POST", "/tickets/{closed}/reopen", {"body": ""}, "body", False),
    ("reopen long body", "POST", "/tickets/{closed}/reopen", {"body": LONG}, "body", False),
    ("reopen 11 files", "POST", "/tickets/{closed}/reopen", {"body": "x", "files": [UUID] * 11}, "files", False),
    ("vote missing score", "POST", "/tickets/{open}/vote", {"comment": "ok"}, "score", False),
    ("vote score 0", "POST", "/tickets/{open}/vote", {"score": 0}, "score", False),
    ("vote score 11", "POST", "/tickets/{open}/vote", {"score": 11}, "score", False),
    ("vote score bool", "POST", "/tickets/{open}/vote", {"score": True}, "score", False),
    ("vote comment empty", "POST", "/tickets/{open}/vote", {"score": 5, "comment": ""}, "comment", False),
    ("comment missing body", "POST", "/tickets/{open}/comments", {}, "body", False),
    ("comment empty body", "POST", "/tickets/{open}/comments", {"body": ""}, "body", False),
    ("comment long body", "POST", "/tickets/{open}/comments", {"body": LONG}, "body", False),
    ("comment file not uuid", "POST", "/tickets/{open}/comments", {"body": "x", "files": ["f"]}, "files.0", False),
    ("comment files empty", "POST", "/tickets/{open}/comments", {"body": "x", "files": []}, "files", False),
    ("comment 11 files", "POST", "/tickets/{open}/comments", {"body": "x", "files": [UUID] * 11}, "files", False),
    ("rate comment missing", "POST", "/comments/{reply}/vote", {}, "score", False),
    ("rate comment 2", "POST", "/comments/{reply}/vote", {"score": 2}, "score", True),
    ("rate comment 0", "POST", "/comments/{reply}/vote", {"score": 0}, "score", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in BODY_CASES],
)
def test_body_rule(env: Env, method: str, path: str, body: Any, field: str, allowed: bool) -> None:
    url = path.format(open=env.open, closed=env.closed, reply=env.reply)
    before = env.snapshot()
    if isinstance(body, bytes):
        response = env.api.request(method, url, content=body, headers={"Content-Type": "application/json"})
    else:
        response = env.api.request(method, url, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert field in field_names(response), error
    item = next(i for i in error["fields"] if i["field"] == field)
    assert item["reason"]
    assert ("allowed" in item) is allowed, item
    assert env.snapshot() == before


QUERY_CASES: list[tuple[str, str, dict[str, Any], str, bool]] = [
    ("v2 items_per_page 0", "/v2/tickets", {"items_per_page": 0}, "items_per_page", False),
    ("v2 items_per_page 1001", "/v2/tickets", {"items_per_page": 1001}, "items_per_page", False),
    ("v2 items_per_page text", "/v2/tickets", {"items_per_page": "ten"}, "items_per_page", False),
    ("v2 page 0", "/v2/tickets", {"page": 0}, "page", False),
    ("v2 sort_by", "/v2/tickets", {"sort_by": "number"}, "sort_by", True),
    ("v2 sort_by_order", "/v2/tickets", {"sort_by_order": "up"}, "sort_by_order", True),
    ("v2 access_levels", "/v2/tickets", {"access_levels": "root"}, "access_levels.0", True),
    ("v2 bool flag", "/v2/tickets", {"is_only_opened": "maybe"}, "is_only_opened", True),
    ("count access_levels", "/v2/tickets/count", {"access_levels": "all_users,bad"}, "access_levels.1", True),
    ("count bool flag", "/v2/tickets/count", {"is_only_abuse": "yes"}, "is_only_abuse", True),
    ("v1 items_per_page 0", "/tickets", {"items_per_page": 0}, "items_per_page", False),
    ("v1 page 0", "/tickets", {"page": -1}, "page", False),
    ("v1 sort_by", "/tickets", {"sort_by": "resolved_at"}, "sort_by", True),
    ("v1 access_level", "/tickets", {"access_level": "root"}, "access_level", True),
    ("v1 q empty", "/tickets", {"q": ""}, "q", False),
    ("v1 two projects", "/tickets", {"keystone_projects": "a,b"}, "keystone_projects", False),
    ("categories sort_by", "/v2/categories", {"sort_by": "colour"}, "sort_by", True),
    ("categories is_only_active", "/v2/categories", {"is_only_active": "perhaps"}, "is_only_active", True),
    ("products sort_by_order", "/v2/products", {"sort_by_order": "sideways"}, "sort_by_order", True),
]


@pytest.mark.parametrize(
    ("path", "params", "field", "allowed"), [pytest.param(*case[1:], id=case[0]) for case in QUERY_CASES]
)
def test_query_rule(env: Env, path: str, params: dict[str, Any], field: str, allowed: bool) -> None:
    response = env.api.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "validation_error"
    item = next(i for i in response.json()["error"]["fields"] if i["field"] == field)
    assert ("allowed" in item) is allowed


def test_all_problems_are_named_at_once(env: Env) -> None:
    response = env.api.post("/v2/tickets", json=v2_body(summary="", access_level="x", files=["nope"]))
    assert {"summary", "access_level", "files.0"} <= set(field_names(response))


def test_bounds_are_inclusive(env: Env) -> None:
    """The edges of each range are accepted (so the rejections above are about the bound)."""
    api = env.api
    files = [upload(env.sb) for _ in range(10)]
    number = create_v2(api, comment_body="y" * 50000, files=files)["number"]
    assert api.post("/tickets", json=v1_body(summary="s" * 255, comment_body="c")).status_code == 200
    assert (
        api.post(f"/tickets/{number}/comments", json={"body": "b" * 50000, "files": files[:1]}).status_code
        == 200
    )
    env.sb.support_reply(number, "ok")
    assert api.post(f"/tickets/{number}/vote", json={"score": 10}).status_code == 200
    assert api.get("/v2/tickets", params={"items_per_page": 1000}).status_code == 200
    assert api.get("/v2/tickets", params={"items_per_page": 1}).status_code == 200
    assert api.post(f"/tickets/{number}/close", json={"score": 1}).status_code == 200
    text_field = v2_body(
        category_fields=[{"key": "region", "values": ["ru-1"]}, {"key": "server_id", "values": ["any text"]}]
    )
    assert api.post("/v2/tickets", json=text_field).status_code == 200
    projects = v2_body(access_level="project_users", keystone_projects=["p"])
    assert api.post("/v2/tickets", json=projects).status_code == 200
