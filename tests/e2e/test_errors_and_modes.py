"""Errors an agent can act on, progress during waits, consent modes, language, legacy tools, prompts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import Implementation
from pydantic import SecretStr

from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def faulty(sandbox: SandboxHandle) -> Iterator[SandboxHandle]:
    yield sandbox
    sandbox.clear_faults()


async def test_rate_limit_past_budget_says_when_to_come_back(faulty: SandboxHandle, era: str) -> None:
    faulty.set_faults({"sequence": [{"kind": "429", "retry_after": 31}], "methods": ["POST"]})
    server = build_server(make_settings(faulty, retry_budget=1))
    async with Client(server, mode=era) as c:
        result = await c.call_tool("add_comment", {"number": 2401006, "body": "Any news on the node group?"})
    assert result.is_error
    assert "retry after 31 s" in text_of(result)
    assert result.structured_content["retry_after_seconds"] == 31


async def test_progress_is_reported_while_backing_off(faulty: SandboxHandle, era: str) -> None:
    faulty.set_faults({"sequence": ["429", "503"], "methods": ["GET"]})
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    server = build_server(make_settings(faulty))
    async with Client(server, mode=era) as c:
        result = await c.call_tool("search_tickets", {"q": "backup"}, progress_callback=on_progress)
    assert not result.is_error
    assert progress and any("wait" in (m or "").lower() or "retry" in (m or "").lower() for *_, m in progress)


async def test_an_applied_write_behind_a_502_is_found_not_repeated(faulty: SandboxHandle) -> None:
    faulty.clear_journal()
    faulty.set_faults({"sequence": [{"kind": "502", "applied": True}], "methods": ["POST"]})
    server = build_server(make_settings(faulty))
    async with Client(server) as c:
        result = await c.call_tool("add_comment", {"number": 2401011, "body": "Lag is 20 minutes now."})
    assert len([e for e in faulty.journal() if e["method"] == "POST"]) == 1
    assert not result.is_error and result.structured_content["recovered"] is True
    assert "not sent twice" in text_of(result)


async def test_an_unsettled_write_stays_unknown_and_says_what_to_read(faulty: SandboxHandle) -> None:
    faulty.clear_journal()
    # The planner's read of the ticket goes through; then the POST and the reads that would settle it fail.
    faulty.set_faults({"sequence": ["pass", {"kind": "502", "applied": True}] + ["503"] * 6})
    server = build_server(make_settings(faulty))
    async with Client(server) as c:
        result = await c.call_tool("add_comment", {"number": 2401011, "body": "Lag is 30 minutes now."})
    assert len([e for e in faulty.journal() if e["method"] == "POST"]) == 1
    assert result.is_error and result.structured_content["code"] == "outcome_unknown"
    assert "list_comments" in text_of(result)


async def test_require_consent_refuses_without_elicitation(sandbox: SandboxHandle) -> None:
    sandbox.clear_journal()
    server = build_server(make_settings(sandbox, require_consent=True))
    async with Client(server) as c:  # no elicitation callback: the client cannot ask
        result = await c.call_tool("rate_ticket", {"number": 2401007, "score": 9})
    assert result.structured_content["sent"] is False and "--require-consent" in text_of(result)
    assert not sandbox.writes()


async def test_without_elicitation_the_default_is_to_proceed() -> None:
    with run_sandbox() as sb:
        server = build_server(make_settings(sb))
        async with Client(server) as c:
            result = await c.call_tool("close_ticket", {"number": 2401006})
        assert result.structured_content["sent"] is True
        assert [e["path"] for e in sb.journal() if e["method"] == "POST"] == [
            "/support/tickets/2401006/close"
        ]


async def test_language_ru_shows_russian_names(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, language="ru"))
    async with Client(server) as c:
        result = await c.call_tool("list_categories", {})
    names = {i["key"]: i["name"] for i in result.structured_content["items"]}
    assert names["cloud_servers"] == "Облачные серверы"


async def test_catalog_is_cached_with_a_ttl(sandbox: SandboxHandle) -> None:
    server = build_server(make_settings(sandbox, catalog_ttl=300))
    async with Client(server) as c:
        sandbox.clear_journal()
        for _ in range(3):
            await c.call_tool("list_categories", {})
    assert len([e for e in sandbox.journal() if e["path"] == "/support/v2/categories"]) == 1


async def test_legacy_toolset(sandbox: SandboxHandle, era: str) -> None:
    server = build_server(make_settings(sandbox, toolsets="legacy"))
    async with Client(server, mode=era) as c:
        topics = await c.call_tool("list_topics", {})
        assert topics.structured_content["items"]
        listed = await c.call_tool("list_tickets_legacy", {"only_opened": True, "items_per_page": 5})
        assert listed.structured_content["item_count"] >= len(listed.structured_content["items"]) > 0
        one = await c.call_tool("get_ticket_legacy", {"number": 2401007})
        assert one.structured_content["ticket"]["status"] == "in_progress"
        created = await c.call_tool(
            "create_ticket_legacy", {"summary": "Legacy path check", "comment_body": "Created via v1."}
        )
        number = created.structured_content["number"]
        updated = await c.call_tool("update_ticket_legacy", {"number": number, "access_level": "all_users"})
        assert updated.structured_content["ticket"]["access_level"] == "all_users"


async def test_every_prompt_renders_with_real_data(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"draft_ticket", "summarize_thread", "reply_to_support", "triage_open_tickets"}
    args: dict[str, dict[str, Any]] = {
        "draft_ticket": {"problem": "my server does not boot"},
        "summarize_thread": {"number": "2401007"},
        "reply_to_support": {"number": "2401006"},
        "triage_open_tickets": {},
    }
    for name, arguments in args.items():
        result = await client.get_prompt(name, arguments)
        assert result.messages, name
    summary = await client.get_prompt("summarize_thread", {"number": "2401007"})
    resources = [m.content for m in summary.messages if getattr(m.content, "type", "") == "resource"]
    assert resources and str(resources[0].resource.uri) == "tickets://2401007"
    assert "\u200b" not in resources[0].resource.text and "\n```client " in resources[0].resource.text
    draft = await client.get_prompt("draft_ticket", {"problem": "my server does not boot"})
    text = " ".join(getattr(m.content, "text", "") for m in draft.messages)
    assert "region" in text and "dry_run" in text
    triage = await client.get_prompt("triage_open_tickets", {})
    text = " ".join(getattr(m.content, "text", "") for m in triage.messages)
    assert "2401028" in text  # seeded: awaiting the client


async def test_per_session_call_limit_counts_each_session_apart(sandbox: SandboxHandle, era: str) -> None:
    server = build_server(make_settings(sandbox, calls_per_minute=3))
    async with Client(server, mode=era) as first:
        sandbox.clear_journal()
        results = [await first.call_tool("count_tickets", {}) for _ in range(4)]
        assert [r.is_error for r in results] == [False, False, False, True]
        assert results[-1].structured_content["retry_after_seconds"] >= 1
        assert "retry after" in text_of(results[-1])
        assert len(sandbox.journal()) == 3  # the refused call sent nothing
    other = Implementation(name="another-agent", version="1")
    async with Client(server, mode=era, client_info=other) as second:
        assert not (await second.call_tool("count_tickets", {})).is_error


async def test_a_create_past_the_local_pacing_budget_says_when_to_come_back() -> None:
    with run_sandbox(creates_per_minute=2) as sb:
        server = build_server(make_settings(sb, creates_per_minute=2, rate_window=60, retry_budget=1))
        async with Client(server) as c:
            draft = {
                "summary": "Pacing check",
                "categories": ["billing"],
                "category_fields": [{"key": "question_type", "values": ["invoice"]}],
            }
            results = [
                await c.call_tool("create_ticket", {**draft, "summary": f"Pacing check {i}"})
                for i in range(3)
            ]
        posts = [e for e in sb.journal() if e["method"] == "POST"]
    assert [r.is_error for r in results] == [False, False, True]
    assert results[2].structured_content["retry_after_seconds"] > 1
    assert "retry after" in text_of(results[2])
    assert len(posts) == 2 and all(e["status"] == 200 for e in posts)  # the third never left, no 429


async def test_service_user_and_iam_token_modes_through_the_server(sandbox: SandboxHandle) -> None:
    sandbox.clear_journal()
    service_user = make_settings(
        sandbox,
        token=None,
        username=sandbox.username,
        password=SecretStr(sandbox.password),
        account_id=sandbox.account_id,
    )
    assert service_user.auth_mode == "service_user"
    async with Client(build_server(service_user)) as c:
        assert not (await c.call_tool("count_tickets", {})).is_error
        assert not (await c.call_tool("list_categories", {})).is_error
    entries = sandbox.journal()
    logins = [e for e in entries if e["path"] == "/identity/v3/auth/tokens"]
    assert len(logins) == 1 and logins[0]["body"]["auth"]["identity"]["password"]["user"]["password"] == "***"
    assert {e["auth"] for e in entries if e["path"].startswith("/support")} == {"iam"}

    token = httpx2.post(
        f"{sandbox.identity_url}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": sandbox.username,
                            "domain": {"name": sandbox.account_id},
                            "password": sandbox.password,
                        }
                    },
                },
                "scope": {"domain": {"name": sandbox.account_id}},
            }
        },
    ).headers["X-Subject-Token"]
    iam = make_settings(sandbox, token=None, iam_token=SecretStr(token))
    assert iam.auth_mode == "iam"
    async with Client(build_server(iam)) as c:
        assert not (await c.call_tool("count_tickets", {})).is_error
