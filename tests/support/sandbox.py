"""A sandbox for the tests: the settings of a server pointed at one, and request bodies for its HTTP API.

The fixture itself is named ``sandbox`` everywhere (a `SandboxHandle` from `run_sandbox`, one per module
or per session, set up by each folder's conftest with the options its tests need).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from pydantic import SecretStr

from support.servers import ServerProcess
from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings

FAST = 1 / 60  # a time scale: the rate-limit minute becomes 1 s


def upstream_env(sb: SandboxHandle, token: str | None = None) -> dict[str, str]:
    """The environment that points a server process at ``sb``, with its demo token (or ``token``)."""
    return {
        "SELECTEL_TOKEN": token or sb.token,
        "SELECTEL_TICKETS_URL": sb.base_url,
        "SELECTEL_IDENTITY_URL": sb.identity_url,
    }


@dataclass
class Served:
    """A sandbox and the URL of a real server process in front of it."""

    sb: SandboxHandle
    url: str


@contextmanager
def served_sandbox(**env: str) -> Iterator[Served]:
    """A sandbox and one ``tickets-mcp --transport http`` process on it (no call limit), with ``env`` added."""
    with run_sandbox() as sb:
        process = ServerProcess({**upstream_env(sb), **env}, ["--calls-per-minute", "0"]).start()
        try:
            yield Served(sb, process.url)
        finally:
            process.stop()


def make_settings(sb: SandboxHandle, **overrides: Any) -> Settings:
    """A server pointed at `sb` with generous limits, so tests don't pace or limit each other."""
    values: dict[str, Any] = {
        "token": SecretStr(sb.token),
        "base_url": sb.base_url,
        "identity_url": sb.identity_url,
        "creates_per_minute": 10_000,
        "comments_per_minute": 10_000,
        "calls_per_minute": 0,
        "catalog_ttl": 0,
        "dedup_window": 0,
        "poll_interval": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


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


def upload(
    sb: SandboxHandle,
    name: str = "mtr.log",
    content: bytes = b"HOST: web-01 Loss% 0.0\n",
    *,
    token: str | None = None,
) -> str:
    """Store one file through the sandbox's Attachments API (``token``: another account's); its UUID."""
    response = httpx2.post(
        sb.files_url + "/public/files",
        files={"file": (name, content, "text/plain")},
        headers={"X-Token": token or sb.token},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["uuid"])


def create_v2(api: httpx2.Client, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v2/tickets", json=v2_body(**overrides))
    assert response.status_code == 200, response.text
    return response.json()
