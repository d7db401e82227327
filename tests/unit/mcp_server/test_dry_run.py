"""Unit tests of the dry run: `drafts.check_draft` against a stubbed catalog, and `DraftPlan` (what
create_ticket plans, previews and asks). In process, no sockets."""

from __future__ import annotations

import typing
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.mcpserver import AcceptedElicitation

from tickets_mcp.api.models import Category, CategoryField, Product, TicketV2Page
from tickets_mcp.mcp_server.arguments import CategoryFieldArg
from tickets_mcp.mcp_server.drafts import check_draft
from tickets_mcp.mcp_server.outputs import Problem
from tickets_mcp.mcp_server.state import Caller, CatalogCache, ServerState
from tickets_mcp.mcp_server.subscriptions import IdentityBus
from tickets_mcp.mcp_server.tools.tickets import DraftPlan, create_ticket
from tickets_mcp.mcp_server.writes import NotAsked
from tickets_mcp.settings import Settings

pytestmark = pytest.mark.anyio

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
CATEGORIES = [{"key": "servers"}, {"key": "billing"}]
FIELDS: dict[str, list[dict[str, Any]]] = {
    "servers": [
        {
            "key": "region",
            "is_required": True,
            "type": "select",
            "values": [{"key": "ru-1"}, {"key": "ru-2"}],
        },
        {"key": "hostname", "is_required": False},  # free text
        {"key": "os", "values": [{"key": "linux"}, {"key": "windows"}]},  # the catalog says nothing more
    ],
    "billing": [],
}
PRODUCTS: dict[str | None, list[dict[str, Any]]] = {
    None: [{"key": "cloud"}, {"key": "dedicated"}],
    "cloud": [{"key": "cloud-vps"}],
    "dedicated": [],
}


class FakeClient:
    """The catalog reads and the duplicate search of a create; nothing can be sent (no write methods)."""

    def __init__(self, open_tickets: list[dict[str, Any]] | None = None) -> None:
        self.open_tickets = open_tickets or []
        self.reads: list[str] = []

    async def list_categories(self, is_only_active: bool = True, **sort: Any) -> list[Category]:
        self.reads.append("list_categories")
        return [Category.model_validate(c) for c in CATEGORIES]

    async def get_category_fields(self, category: str) -> list[CategoryField]:
        self.reads.append(f"get_category_fields:{category}")
        return [CategoryField.model_validate(f) for f in FIELDS.get(category, [])]

    async def list_products(self, parent: str | None = None, **sort: Any) -> list[Product]:
        self.reads.append(f"list_products:{parent}")
        return [Product.model_validate(p) for p in PRODUCTS.get(parent, [])]

    async def search_tickets(self, **query: Any) -> TicketV2Page:
        self.reads.append("search_tickets")
        return TicketV2Page.model_validate({"items": self.open_tickets})


def caller(client: FakeClient) -> Caller:
    """A real Caller (and catalog cache) of a real ServerState, reading through ``client``."""
    state = ServerState(Settings(), IdentityBus())
    return Caller(state, "server", lambda: client, CatalogCache(lambda: client, 300.0))


def context(client: FakeClient) -> SimpleNamespace:
    own = caller(client)
    state = SimpleNamespace(caller=lambda request: own)
    return SimpleNamespace(lifespan_context=state)


async def draft(**body: Any) -> list[Problem]:
    verdict = await check_draft(caller(FakeClient()), {"categories": ["servers"], **body})
    return verdict.problems


REGION = {"key": "region", "values": ["ru-1"]}


async def plan(client: FakeClient | None = None, **arguments: Any) -> DraftPlan:
    resolver = typing.get_type_hints(create_ticket.handler, include_extras=True)["plan"].__metadata__[0].fn
    given = {"summary": "Server down", "categories": ["servers"], "category_fields": None, **arguments}
    made = await resolver(ctx=context(client or FakeClient()), **given)
    assert isinstance(made, DraftPlan)
    return made


def fields(*items: dict[str, Any]) -> list[CategoryFieldArg]:
    return [CategoryFieldArg.model_validate(i) for i in items]


# --- check_draft -----------------------------------------------------------------------------------


async def test_a_valid_draft_has_no_problems() -> None:
    assert await draft(category_fields=[REGION], products=["cloud"]) == []


async def test_an_unknown_category_is_a_problem_listing_the_active_ones() -> None:
    problems = await draft(categories=["nope"])
    assert problems == [
        Problem(
            field="categories[0]",
            message='unknown or inactive category "nope"',
            allowed=["billing", "servers"],
        )
    ]


async def test_an_unknown_category_beside_a_known_one_still_checks_the_known_ones_fields() -> None:
    problems = await draft(categories=["servers", "gone"])
    assert [p.field for p in problems] == ["categories[1]", "category_fields"]


async def test_a_missing_required_field_is_a_problem_with_its_values() -> None:
    problems = await draft()
    assert problems == [
        Problem(
            field="category_fields", message="required field 'region' is missing", allowed=["ru-1", "ru-2"]
        )
    ]


async def test_a_value_not_in_the_catalog_is_a_problem_with_the_allowed_values() -> None:
    problems = await draft(category_fields=[{"key": "region", "values": ["mars-1"]}])
    assert len(problems) == 1
    assert problems[0].field == "category_fields[0].values"
    assert '"mars-1"' in problems[0].message and "'region'" in problems[0].message
    assert problems[0].allowed == ["ru-1", "ru-2"]


async def test_a_select_field_takes_exactly_one_value() -> None:
    problems = await draft(category_fields=[{"key": "region", "values": ["ru-1", "ru-2"]}])
    assert [(p.field, p.message) for p in problems] == [
        ("category_fields[0].values", "field 'region' takes exactly one value")
    ]


async def test_a_free_text_field_takes_one_value() -> None:
    problems = await draft(category_fields=[REGION, {"key": "hostname", "values": ["a", "b"]}])
    assert [(p.field, p.message, p.allowed) for p in problems] == [
        ("category_fields[1].values", "field 'hostname' takes one free-text value", None)
    ]


async def test_an_unknown_field_key_lists_the_fields_of_the_chosen_categories() -> None:
    problems = await draft(category_fields=[REGION, {"key": "colour", "values": ["red"]}])
    assert len(problems) == 1
    assert problems[0].field == "category_fields[1].key"
    assert problems[0].allowed == ["hostname", "os", "region"]


async def test_a_field_given_twice_is_a_problem() -> None:
    problems = await draft(category_fields=[REGION, REGION])
    assert [(p.field, p.message) for p in problems] == [
        ("category_fields[1].key", "field 'region' is given twice")
    ]


async def test_an_unknown_product_is_a_problem_listing_products_and_sub_products() -> None:
    problems = await draft(category_fields=[REGION], products=["cloud-vps", "toaster"])
    assert problems == [
        Problem(
            field="products[1]",
            message='unknown product "toaster"',
            allowed=["cloud", "cloud-vps", "dedicated"],
        )
    ]


async def test_project_users_without_projects_is_a_problem() -> None:
    problems = await draft(category_fields=[REGION], access_level="project_users", keystone_projects=[])
    assert [p.field for p in problems] == ["keystone_projects"]


async def test_what_the_catalog_does_not_say_is_unchecked_not_a_problem() -> None:
    verdict = await check_draft(
        caller(FakeClient()),
        {
            "categories": ["servers"],
            "category_fields": [REGION, {"key": "os", "values": ["linux", "windows"]}],
        },
    )
    assert verdict.problems == []
    assert verdict.unchecked == ["the catalog does not say whether os take(s) several values"]
    silent = await check_draft(caller(FakeClient()), {"categories": ["servers"], "category_fields": [REGION]})
    assert silent.unchecked == ["the catalog does not say whether os is required"]


# --- DraftPlan: preview and asking ------------------------------------------------------------------


async def test_a_dry_run_without_problems_previews_dry_run_and_never_asks() -> None:
    made = await plan(dry_run=True, category_fields=fields(REGION))
    assert made.problems == [] and made.dry_run
    assert not made.asks
    result = made.preview()
    assert result is not None and not result.is_error
    out = result.structured_content or {}
    assert out["outcome"] == "dry_run" and out["sent"] is False
    assert out["preview"]["summary"] == "Server down"
    assert result.content[0].text.startswith("Draft is valid; nothing was sent.")  # type: ignore[union-attr]


async def test_a_draft_with_problems_previews_refused_with_the_problems() -> None:
    made = await plan()  # the required region is missing
    assert not made.asks
    result = made.preview()
    assert result is not None
    out = result.structured_content or {}
    assert out["outcome"] == "refused" and out["sent"] is False
    assert out["problems"] == [
        {
            "field": "category_fields",
            "message": "required field 'region' is missing",
            "allowed": ["ru-1", "ru-2"],
        }
    ]
    text = result.content[0].text  # type: ignore[union-attr]
    # Not a dry run: a create that was not done is an error, with the code and the next call.
    assert result.is_error and out["code"] == "draft_invalid"
    assert text.startswith("Not sent: the draft has problems") and "call create_ticket again" in text
    assert "(allowed: ru-1, ru-2)" in text
    dry = (await plan(dry_run=True)).preview()
    assert dry is not None and not dry.is_error  # a dry run's verdict stays a normal result
    assert dry.content[0].text.startswith("Draft has problems; nothing was sent.")  # type: ignore[union-attr]


async def test_a_dry_run_with_a_secret_does_not_ask_but_warns_and_masks_the_preview() -> None:
    made = await plan(dry_run=True, category_fields=fields(REGION), comment_body=f"key {AWS_KEY}")
    assert made.secrets is not None and not made.asks
    result = made.preview()
    assert result is not None
    out = result.structured_content or {}
    assert out["preview"]["comment_body"] == "key [aws_access_key]"
    assert out["warnings"] and "AWS access key" in out["warnings"][0]
    assert AWS_KEY not in str(out) and AWS_KEY not in result.content[0].text  # type: ignore[union-attr]


async def test_a_real_create_asks_only_for_a_secret_and_only_without_problems() -> None:
    made = await plan(category_fields=fields(REGION))
    assert made.preview() is None and not made.asks
    secret = await plan(category_fields=fields(REGION), comment_body=f"key {AWS_KEY}")
    assert secret.preview() is None and secret.asks
    broken = await plan(comment_body=f"key {AWS_KEY}")  # region missing: refused, so nothing to ask
    assert broken.problems and broken.secrets is not None and not broken.asks


async def test_the_tool_body_of_a_dry_run_sends_nothing() -> None:
    client = FakeClient()
    ctx = context(client)
    made = await plan(client, dry_run=True, category_fields=fields(REGION))
    consent = AcceptedElicitation[Any].model_construct(data=NotAsked(can_ask=True))  # as the SDK wraps it
    result = await create_ticket.handler(ctx=ctx, plan=made, consent=consent)
    assert not result.is_error and (result.structured_content or {})["outcome"] == "dry_run"
    # FakeClient has no create_ticket: any send would have raised.


async def test_possible_duplicates_are_listed_in_the_preview() -> None:
    client = FakeClient(
        open_tickets=[{"number": 11, "summary": "Server down again"}, {"number": 12, "summary": "Invoice"}]
    )
    made = await plan(client, dry_run=True, category_fields=fields(REGION), summary="Server down again today")
    assert [d.number for d in made.duplicates] == [11]
    result = made.preview()
    assert result is not None
    assert "possible duplicate: #11" in result.content[0].text  # type: ignore[union-attr]


async def test_the_catalog_is_read_once_per_key_across_checks() -> None:
    client = FakeClient()
    state = caller(client)
    for _ in range(3):
        await check_draft(state, {"categories": ["servers"], "category_fields": [REGION]})
    assert client.reads.count("list_categories") == 1
    assert client.reads.count("get_category_fields:servers") == 1
