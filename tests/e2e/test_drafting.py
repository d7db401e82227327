"""The dry run judges like the API, the whole catalog is reachable, pacing and errors say what
happened, prompts behave like tools, and an ambiguous create is settled; in both protocol eras."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio


def problems(result: Any) -> dict[str, dict[str, Any]]:
    return {p["field"]: p for p in result.structured_content["problems"]}


# -- the dry run --------------------------------------------------------------------------------------


async def test_an_inactive_category_fails_the_dry_run_and_the_create(
    client: Client, sandbox: SandboxHandle
) -> None:
    sandbox.clear_journal()
    draft = {"summary": "Old VDS reboots", "categories": ["vds_legacy"]}
    dry = await client.call_tool("create_ticket", {**draft, "dry_run": True})
    found = problems(dry)["categories[0]"]
    assert "inactive" in found["message"] and "vds_legacy" not in found["allowed"]
    assert "cloud_servers" in found["allowed"]
    real = await client.call_tool("create_ticket", draft)
    assert real.structured_content["outcome"] == "refused" and real.structured_content["sent"] is False
    assert sandbox.writes() == []


async def test_what_the_catalog_does_not_say_is_reported_not_guessed(client: Client) -> None:
    result = await client.call_tool(
        "create_ticket",
        {
            "summary": "Cold bucket is slow",
            "categories": ["object_storage"],
            "category_fields": [{"key": "storage_class", "values": ["cold", "ice"]}],
            "dry_run": True,
        },
    )
    out = result.structured_content
    assert out["problems"] == []
    unchecked = " ".join(out["unchecked"])
    assert "whether bucket is required" in unchecked and "storage_class take(s) several values" in unchecked
    assert "not checked" in text_of(result)


async def test_the_catalogs_own_rules_are_checked(client: Client) -> None:
    result = await client.call_tool(
        "create_ticket",
        {
            "summary": "Two regions for one VM",
            "categories": ["cloud_servers", "network"],
            "category_fields": [
                {"key": "region", "values": ["ru-1", "ru-9"]},  # select: one value
                {"key": "regions", "values": ["ru-1", "ru-9"]},  # multiselect: several are fine
            ],
            "products": ["no_such_product"],
            "dry_run": True,
        },
    )
    found = problems(result)
    assert set(found) == {"category_fields[0].values", "products[0]"}
    assert "exactly one value" in found["category_fields[0].values"]["message"]
    assert "cloud_servers" in found["products[0]"]["allowed"]


# -- the catalog --------------------------------------------------------------------------------------


async def test_list_categories_shows_active_ones_unless_asked(client: Client) -> None:
    default = await client.call_tool("list_categories", {})
    keys = [c["key"] for c in default.structured_content["items"]]
    assert "vds_legacy" not in keys and "cloud_servers" in keys
    everything = await client.call_tool("list_categories", {"is_only_active": False})
    assert "vds_legacy" in [c["key"] for c in everything.structured_content["items"]]
    by_key = await client.call_tool("list_categories", {"sort_by": "key", "sort_by_order": "desc"})
    listed = [c["key"] for c in by_key.structured_content["items"]]
    assert listed == sorted(keys, reverse=True)


async def test_list_products_sorts(client: Client) -> None:
    asc = await client.call_tool("list_products", {"sort_by": "key", "sort_by_order": "asc"})
    desc = await client.call_tool("list_products", {"sort_by": "key", "sort_by_order": "desc"})
    keys = [p["key"] for p in asc.structured_content["items"]]
    assert keys == sorted(keys) and [p["key"] for p in desc.structured_content["items"]] == keys[::-1]
    bad = await client.call_tool("list_products", {"sort_by": "no_such_field"})
    assert bad.is_error and "view_priority" in text_of(bad)  # the API's allowed values, passed on


async def test_draft_ticket_embeds_active_categories_fields_and_products(client: Client) -> None:
    prompt = await client.get_prompt("draft_ticket", {"problem": "VM does not boot"})
    text = "\n".join(m.content.text for m in prompt.messages if m.content.type == "text")
    assert "- cloud_servers:" in text and "vds_legacy" not in text
    assert re.search(r"region\*.*ru-9", text), text  # a required field with its values
    assert "cloud_servers_gpu" in text  # a sub-product
    assert "in English" in text or "English" in text


# -- pacing and errors ------------------------------------------------------------------------------


async def test_a_locally_paced_create_says_this_server_held_it(sandbox: SandboxHandle, era: str) -> None:
    settings = make_settings(sandbox, creates_per_minute=1, retry_budget=0)
    async with Client(build_server(settings), mode=era) as c:
        sandbox.clear_journal()
        draft = {
            "categories": ["billing"],
            "category_fields": [{"key": "question_type", "values": ["refund"]}],
        }
        first = await c.call_tool("create_ticket", {"summary": f"paced one {uuid.uuid4().hex[:6]}", **draft})
        assert not first.is_error, text_of(first)
        second = await c.call_tool("create_ticket", {"summary": f"paced two {uuid.uuid4().hex[:6]}", **draft})
    text = text_of(second)
    assert second.is_error and second.structured_content["code"] == "paced"
    assert "this server held the ticket creation" in text and "Not sent" in text
    wait = second.structured_content["retry_after_seconds"]
    assert 1 <= wait <= 60 and f"retry after {wait} s" in text
    assert len([e for e in sandbox.writes() if e["path"].endswith("/v2/tickets")]) == 1


async def test_an_api_429_on_a_read_names_the_read(client: Client, sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": [{"kind": "429", "retry_after": 120}], "methods": ["GET"]})
    try:
        result = await client.call_tool("get_ticket", {"number": 2401006})
    finally:
        sandbox.clear_faults()
    text = text_of(result)
    assert result.structured_content["code"] == "rate_limited" and "get_ticket" in text
    assert "retry after 120 s" in text and "comments per minute" not in text and "new tickets" not in text


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("get_comment", {"comment_id": 987654321}, "comment 987654321"),
        ("get_category_fields", {"category": "no_such_category"}, "category 'no_such_category'"),
        ("list_products", {"parent": "no_such_product"}, "product 'no_such_product'"),
        ("get_ticket", {"number": 999999}, "ticket 999999"),
    ],
)
async def test_not_found_names_what_was_looked_for(
    client: Client, tool: str, args: dict[str, Any], named: str
) -> None:
    result = await client.call_tool(tool, args)
    assert result.structured_content["code"] == "not_found"
    assert f"Not found: {named} does not exist" in text_of(result)


# -- prompts -----------------------------------------------------------------------------------------


async def test_prompt_errors_are_invalid_params_without_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MCPError) as missing:
        await client.get_prompt("summarize_thread", {})
    assert missing.value.error.code == -32602 and "number" in missing.value.error.message
    with pytest.raises(MCPError) as unknown:
        await client.get_prompt("summarize_thread", {"number": "999999"})
    assert (
        unknown.value.error.code == -32602 and "ticket 999999 does not exist" in unknown.value.error.message
    )
    with pytest.raises(MCPError) as bad:
        await client.get_prompt("draft_ticket", {"problem": "x", "language": "klingon"})
    assert bad.value.error.code == -32602 and "language" in bad.value.error.message
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_read_only_lists_only_prompts_that_write_nothing(sandbox: SandboxHandle, era: str) -> None:
    async with Client(build_server(make_settings(sandbox, read_only=True)), mode=era) as c:
        names = {p.name for p in (await c.list_prompts()).prompts}
        assert names == {"summarize_thread", "triage_open_tickets"}
        with pytest.raises(MCPError):
            await c.get_prompt("draft_ticket", {"problem": "x"})


async def test_the_configured_language_reaches_every_prompt(sandbox: SandboxHandle, era: str) -> None:
    async with Client(build_server(make_settings(sandbox, language="ru")), mode=era) as c:
        for name, args in [
            ("draft_ticket", {"problem": "ВМ не загружается"}),
            ("summarize_thread", {"number": "2401007"}),
            ("reply_to_support", {"number": "2401007"}),
            ("triage_open_tickets", {}),
        ]:
            prompt = await c.get_prompt(name, args)
            text = "\n".join(m.content.text for m in prompt.messages if m.content.type == "text")
            assert "Russian" in text, name
        draft = await c.get_prompt("draft_ticket", {"problem": "x"})
        assert "Облачные серверы" in draft.messages[0].content.text  # category names in the language


# -- an ambiguous create is settled ---------------------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
async def test_an_ambiguous_create_is_settled_by_a_lookup(era: str, applied: bool) -> None:
    with run_sandbox() as sb:
        sb.set_faults({"sequence": [{"kind": "502", "applied": applied}], "methods": ["POST"]})
        summary = f"settle {uuid.uuid4().hex[:6]}"
        draft = {
            "summary": summary,
            "categories": ["dns"],
            "category_fields": [{"key": "zone", "values": ["a.example"]}],
        }
        async with Client(build_server(make_settings(sb)), mode=era) as c:
            result = await c.call_tool("create_ticket", draft)
            found = await c.call_tool("search_tickets", {"q": summary})
        if applied:
            assert not result.is_error and result.structured_content["recovered"] is True
        else:
            assert result.structured_content["code"] == "not_applied" and "again is safe" in text_of(result)
        assert len(found.structured_content["items"]) == (1 if applied else 0)
        assert len([e for e in sb.writes() if e["path"].endswith("/v2/tickets")]) == 1
