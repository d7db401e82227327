"""Every operation against the sandbox, with the wire details the client chose."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.api_client import CATEGORY, FIELDS, calls, make_client
from tickets_mcp.api import ROUTES, InvalidRequest, NotFound, models
from tickets_mcp.sandbox import SandboxHandle

pytestmark = pytest.mark.anyio


async def test_catalog(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        categories = await c.list_categories(is_only_active=True)
        assert CATEGORY in {x.key for x in categories} and all(
            isinstance(x, models.Category) for x in categories
        )
        fields = await c.get_category_fields(CATEGORY)
        region = next(f for f in fields if f.key == "region")
        assert region.values and region.is_required is True
        products = await c.list_products()
        assert products and all(x.key for x in products)
        children = await c.list_products(parent=products[0].key)
        assert all(isinstance(x, models.Product) for x in children)
        topics = await c.list_topics()
        assert topics[0].key and topics[0].names
        with pytest.raises(NotFound):
            await c.get_category_fields("no-such-category")
    paths = [e["path"] for e in calls(sandbox)]
    assert "/support/v2/categories" in paths and "/support/topics" in paths


async def test_v2_tickets(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        page = await c.search_tickets(
            is_only_opened=True, items_per_page=5, access_levels=["account_users", "all_users"]
        )
        assert isinstance(page, models.TicketV2Page) and 0 < len(page.items) <= 5 and page.page == 1
        total = await c.count_tickets(is_only_opened=True, access_levels=["account_users", "all_users"])
        assert total >= len(page.items)
        every = [t async for t in c.iter_tickets(is_only_opened=True, items_per_page=3)]
        assert len(every) == await c.count_tickets(is_only_opened=True)
        assert len({t.number for t in every}) == len(every)

        created = await c.create_ticket(
            summary="Contract: v2 ticket", categories=[CATEGORY], category_fields=FIELDS, comment_body="Body"
        )
        number = created.ticket.number
        assert (
            not created.recovered and not created.reused and created.ticket.summary == "Contract: v2 ticket"
        )
        ticket = await c.get_ticket(number)
        assert ticket.number == number and ticket.status in models.TICKET_STATUSES
        updated = await c.update_ticket(number, access_level="all_users", keystone_projects=[])
        assert updated.access_level == "all_users"
        found = await c.search_tickets(q="contract: V2 TICKET")
        assert number in {t.number for t in found.items}
    search = calls(sandbox, "GET", "/v2/tickets")[0]
    assert search["query"]["access_levels"] == ["account_users", "all_users"]  # W3: repeated keys
    assert search["query"]["is_only_opened"] == ["true"]
    assert calls(sandbox, "PATCH")[0]["body"] == {"access_level": "all_users", "keystone_projects": []}
    body = calls(sandbox, "POST", "/v2/tickets")[0]["body"]
    assert body["files"] == body["products"] == body["secrets"] == body["keystone_projects"] == []


async def test_comments_close_reopen_votes(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        number = (
            await c.create_ticket(summary="Contract: comments", categories=[CATEGORY], category_fields=FIELDS)
        ).ticket.number
        comment = await c.add_comment(number, body="First client comment")
        assert comment.body == "First client comment" and comment.is_client_author
        assert (await c.get_comment(comment.id)).id == comment.id
        reply = sandbox.support_reply(number, "Support answer")
        thread = await c.list_comments(number)
        assert [x.body for x in thread][-2:] == ["First client comment", "Support answer"]
        vote = await c.rate_comment(int(reply["id"]), score=1, comment="helpful")
        assert vote.score == 1
        vote = await c.rate_ticket(number, score=1)
        assert vote.score == 1
        closed = await c.close_ticket(number)
        assert closed.is_closed and closed.status_key == "closed" and isinstance(closed, models.TicketV1)
        with pytest.raises(InvalidRequest) as info:
            await c.add_comment(number, body="too late")
        assert info.value.code == "ticket_closed" and info.value.status == 400 and info.value.sent
        reopened = await c.reopen_ticket(number, body="Still broken")
        assert not reopened.is_closed
        with pytest.raises(InvalidRequest) as info:
            await c.reopen_ticket(number, body="again")
        assert info.value.code == "ticket_not_closed"


async def test_legacy(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        ticket = await c.create_ticket_legacy(summary="Contract: legacy", comment_body="Old style")
        assert isinstance(ticket, models.TicketV1) and isinstance(ticket.status, dict)
        assert (await c.get_ticket_legacy(ticket.number)).summary == "Contract: legacy"
        updated = await c.update_ticket_legacy(ticket.number, access_level="all_users")
        assert updated.access_level == "all_users"
        page = await c.list_tickets_legacy(
            q="legacy", items_per_page=5, sort_by="number", sort_by_order="asc"
        )
        assert ticket.number in {t.number for t in page.items} and page.item_count is not None
        opened = await c.list_tickets_legacy(only_opened=True)
        assert all(not t.is_closed for t in opened.items)
    assert calls(sandbox, "POST", "/tickets")[0]["body"] == {
        "summary": "Contract: legacy",
        "comment_body": "Old style",
    }


async def test_not_found_is_typed(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        with pytest.raises(NotFound) as info:
            await c.get_ticket(999_999_999)
    assert info.value.code == "not_found" and info.value.operation == "get_ticket"


async def test_server_validation_is_parsed(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as c:
        with pytest.raises(InvalidRequest) as info:
            await c.create_ticket(summary="Contract: no region", categories=[CATEGORY])
    assert info.value.status == 400 and info.value.code == "validation_error"
    assert any("region" in f.field for f in info.value.fields)


def test_every_operation_is_called_by_some_test() -> None:
    """Bookkeeping: some test calls each operation of the client at least once (checked by name)."""
    tests = Path(__file__).resolve().parents[1]
    source = "\n".join(p.read_text(encoding="utf-8") for p in tests.rglob("test_*.py"))
    for name in ROUTES:
        assert f".{name}(" in source, name
