"""Helpers shared by the sandbox tests (bodies, assertions)."""

from __future__ import annotations

from typing import Any

import httpx2

FAST = 1 / 60  # the rate-limit minute becomes 1 s


def v2_body(**overrides: Any) -> dict[str, Any]:
    """A valid v2 create body (cloud_servers needs its required `region` field)."""
    body: dict[str, Any] = {
        "access_level": "account_users",
        "categories": ["cloud_servers"],
        "category_fields": [{"key": "region", "values": ["ru-3"]}],
        "comment_body": "The server does not answer on port 443.",
        "files": [],
        "keystone_projects": [],
        "products": ["cloud_servers_standard"],
        "secrets": [],
        "summary": "HTTPS down on web-01",
    }
    body.update(overrides)
    return body


def v1_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"comment_body": "my first comment", "summary": "new test ticket"}
    body.update(overrides)
    return body


def field_names(response: httpx2.Response) -> list[str]:
    body = response.json()
    return [item["field"] for item in body["error"].get("fields", [])]


def create_v2(api: httpx2.Client, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v2/tickets", json=v2_body(**overrides))
    assert response.status_code == 200, response.text
    return response.json()
