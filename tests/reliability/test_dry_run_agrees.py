"""The dry run is the create's judge.

Hypothesis draws ticket drafts from the sandbox's own catalog (active and inactive categories, known
and unknown products, fields of the chosen and of other categories, allowed, unknown, free-text,
single and several values, access levels with and without projects). For each draft the server's
dry run (`create_ticket(dry_run=true)` through `mcp.Client`) gives a verdict, and the same draft,
as the exact body `create_ticket` would send, is posted straight to the sandbox. The two verdicts
must agree: no problems ⟺ 2xx. `make test` runs 300 drafts; TICKETS_MCP_DRY_RUN_EXAMPLES raises it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from support.mcp_client import text_of
from support.sandbox import make_settings
from tickets_mcp.api.auth import StaticToken
from tickets_mcp.api.client import TicketsClient
from tickets_mcp.api.errors import InvalidRequest
from tickets_mcp.api.models import CategoryField
from tickets_mcp.api.operations import NEW_TICKET_DEFAULTS, new_ticket_body
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

EXAMPLES = int(os.environ.get("TICKETS_MCP_DRY_RUN_EXAMPLES", "300"))


@dataclass
class Catalog:
    categories: list[str]  # active and inactive
    fields: dict[str, list[CategoryField]]
    products: list[str]  # top level and sub-products


@dataclass
class Judge:
    sb: SandboxHandle
    portal: BlockingPortal
    client: Client
    catalog: Catalog
    verdicts: Counter[str] = field(default_factory=Counter)

    def dry_run(self, draft: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, "create_ticket", {**draft, "dry_run": True})

    def post(self, draft: dict[str, Any]) -> httpx2.Response:
        """The draft straight to the sandbox: the body create_ticket sends, or (when the client's own
        check refuses it) the draft as it is, with the required arrays filled in."""
        try:
            body = new_ticket_body(**draft)
        except InvalidRequest:
            body = {**NEW_TICKET_DEFAULTS, **draft}
        headers = {"X-Token": self.sb.token}
        return httpx2.post(f"{self.sb.base_url}/v2/tickets", json=body, headers=headers, timeout=10)


async def _catalog(sb: SandboxHandle) -> Catalog:
    async with TicketsClient(sb.base_url, StaticToken(sb.token)) as api:
        categories = [c.key for c in await api.list_categories(is_only_active=False)]
        fields = {key: await api.get_category_fields(key) for key in categories}
        top = [p.key for p in await api.list_products()]
        subs = [p.key for parent in top for p in await api.list_products(parent=parent)]
    return Catalog(categories, fields, top + subs)


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    with run_sandbox(creates_per_minute=10**6, comments_per_minute=10**6) as sb:
        config = make_settings(sb, catalog_ttl=3600, poll_interval=3600)
        with start_blocking_portal() as portal:
            catalog = portal.call(_catalog, sb)
            client = portal.call(lambda: Client(build_server(config), raise_exceptions=True))
            with portal.wrap_async_context_manager(client) as connected:
                state = Judge(sb, portal, connected, catalog)
                yield state
                print(f"\ndry run vs sandbox: {dict(state.verdicts)}")


def _rarely(common: st.SearchStrategy[Any], *rare: Any) -> st.SearchStrategy[Any]:
    """``common`` about four times in five, else one of ``rare``."""
    return st.integers(0, 4).flatmap(lambda n: common if n else st.sampled_from(rare))


@st.composite
def drafts(draw: st.DrawFn, catalog: Catalog) -> dict[str, Any]:
    categories = draw(
        st.lists(_rarely(st.sampled_from(catalog.categories), "no_such_category"), min_size=1, max_size=3)
    )
    every_field = [f for fs in catalog.fields.values() for f in fs]
    mine = [f for c in categories for f in catalog.fields.get(c, [])]
    given = []
    for spec in draw(st.lists(_rarely(st.sampled_from(mine or every_field), *every_field), max_size=3)):
        allowed = [v.key for v in spec.values]
        value = st.sampled_from(allowed) if allowed else st.text("abz-19 ", min_size=1, max_size=8)
        count = draw(st.sampled_from([1, 1, 1, 2, 3, 0]))
        given.append(
            {
                "key": spec.key,
                "values": draw(st.lists(_rarely(value, "not_a_value", ""), min_size=count, max_size=count)),
            }
        )
    if draw(st.integers(0, 3)):  # most drafts fill in the required fields, or few would pass
        keys = {g["key"] for g in given}
        for spec in mine:
            if spec.is_required and spec.key not in keys:
                given.append(
                    {"key": spec.key, "values": [spec.values[0].key if spec.values else "free text"]}
                )
            keys.add(spec.key)
    draft: dict[str, Any] = {
        "summary": draw(st.sampled_from(["VM is slow", "Нет доступа к бакету"])),
        "categories": categories,
    }
    if given or draw(st.booleans()):
        draft["category_fields"] = given
    products = draw(st.lists(_rarely(st.sampled_from(catalog.products), "no_such_product"), max_size=2))
    if products or draw(st.booleans()):
        draft["products"] = products
    level = draw(st.sampled_from([None, "all_users", "account_users", "project_users"]))
    if level:
        draft["access_level"] = level
        draft["keystone_projects"] = draw(st.sampled_from([[], ["7d3f2c1b9a8e4f6d8c2b1a0e9f8d7c6b"]]))
    if draw(st.booleans()):
        draft["comment_body"] = "Since 10:00 UTC."
    return draft


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_dry_run_verdict_is_the_sandbox_verdict(judge: Judge, data: st.DataObject) -> None:
    draft = data.draw(drafts(judge.catalog), label="draft")
    result = judge.dry_run(draft)
    if result.is_error:  # refused before the dry run: only what the argument model itself refuses
        assert result.structured_content["code"] == "invalid_arguments", text_of(result)
        judge.verdicts["invalid_arguments"] += 1
        assert judge.post(draft).status_code == 400, (draft, text_of(result))
        return
    problems = result.structured_content["problems"]
    answer = judge.post(draft)
    judge.verdicts["accepted" if not problems else "refused"] += 1
    assert answer.is_success == (not problems), (draft, problems, answer.status_code, answer.text)


def test_both_verdicts_were_seen(judge: Judge) -> None:
    """Runs after the property test (file order): it must have exercised both sides."""
    assert judge.verdicts["accepted"] >= 10 and judge.verdicts["refused"] >= 10, judge.verdicts
