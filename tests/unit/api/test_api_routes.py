"""The route table: every operation, one place for every method and path."""

from __future__ import annotations

import inspect

import pytest

from support.expected import OPERATIONS
from tickets_mcp.api import DEFAULT_BASE_URL, ROUTES, TicketsClient, base_url_from_env


def test_every_expected_operation_is_declared() -> None:
    assert set(ROUTES) == OPERATIONS
    assert all(name == route.name for name, route in ROUTES.items())


def test_every_operation_has_a_client_method() -> None:
    for name in ROUTES:
        assert inspect.iscoroutinefunction(getattr(TicketsClient, name)), name


def test_only_the_create_and_extensions_paths_were_seen() -> None:
    seen = [r.name for r in ROUTES.values() if r.path_status == "seen"]
    assert seen == ["create_ticket", "list_file_extensions"]
    assert {r.name for r in ROUTES.values() if r.path_status == "code"} == {
        "list_tickets_legacy",
        "list_comments",
    }


def test_writes_and_buckets() -> None:
    idempotent = {r.name for r in ROUTES.values() if r.idempotent}
    assert all(ROUTES[n].method == "GET" or n.startswith("update_") for n in idempotent)
    never_resent = {"create_ticket", "create_ticket_legacy", "add_comment", "close_ticket", "reopen_ticket"}
    assert not never_resent & idempotent
    assert not {"rate_ticket", "rate_comment"} & idempotent
    assert {r.name: r.bucket for r in ROUTES.values() if r.bucket} == {
        "create_ticket": "create",
        "create_ticket_legacy": "create",
        "add_comment": "comment",
        "upload_file": "upload",
    }
    assert "upload_file" not in idempotent


def test_the_attachment_routes_are_of_the_files_api() -> None:
    files = {r.name: (r.method, r.path, r.path_status) for r in ROUTES.values() if r.api == "files"}
    assert files == {
        "list_file_extensions": ("GET", "/public/files/extensions", "seen"),
        "upload_file": ("POST", "/public/files", "inferred"),
        "download_file": ("GET", "/public/files/{uuid}", "inferred"),
    }
    assert ROUTES["upload_file"].form and ROUTES["download_file"].answer == "bytes"


def test_deprecated_are_the_documented_five() -> None:
    deprecated = {r.name for r in ROUTES.values() if r.deprecated}
    assert deprecated == {
        "create_ticket_legacy", "list_tickets_legacy", "get_ticket_legacy", "update_ticket_legacy", "list_topics"
    }  # fmt: skip


def test_url_fills_and_escapes_placeholders() -> None:
    assert ROUTES["get_ticket"].url(number=42) == "/v2/tickets/42"
    assert ROUTES["add_comment"].url(number=7) == "/tickets/7/comments"
    assert ROUTES["get_category_fields"].url(category="../x y") == "/v2/categories/..%2Fx%20y/fields"


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELECTEL_TICKETS_URL", raising=False)
    assert base_url_from_env() == DEFAULT_BASE_URL == "https://api.selectel.ru/support"
    monkeypatch.setenv("SELECTEL_TICKETS_URL", "http://127.0.0.1:9/support")
    assert base_url_from_env() == "http://127.0.0.1:9/support"
    monkeypatch.setenv("SELECTEL_TICKETS_URL", "  ")
    assert base_url_from_env() == DEFAULT_BASE_URL
