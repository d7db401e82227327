"""Operations and models: strict requests with the documented bounds, tolerant responses, round-trips."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets_mcp.api import InvalidRequest, StaticToken, TicketsClient
from tickets_mcp.api import models as m
from tickets_mcp.api.operations import Operations
from tickets_mcp.api.types import ACCESS_LEVELS, TICKET_STATUSES

text = st.text(max_size=40)
opt_text = st.none() | text
stamps = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
localized = st.dictionaries(st.sampled_from(["en", "ru", "uz"]), text, max_size=3)

vote = st.builds(m.Vote, comment=opt_text, created_at=stamps, score=st.none() | st.integers(-1, 10))
ticket_v2 = st.builds(
    m.TicketV2,
    number=st.integers(1, 10**9),
    summary=opt_text,
    status=st.none() | st.sampled_from([*TICKET_STATUSES, "some_future_status"]),
    access_level=st.none() | st.sampled_from([*ACCESS_LEVELS, "new_level"]),
    categories=st.lists(text, max_size=3),
    created_at=stamps,
    updated_at=stamps,
    vote_score=st.none() | st.integers(-1, 10),
    split_from_ticket_number=st.none() | st.integers(1, 10**6) | text,
)
ticket_v1 = st.builds(
    m.TicketV1,
    number=st.integers(1, 10**9),
    status=st.none() | localized | text,
    status_key=opt_text,
    closed_at=stamps,
    vote=st.none() | vote,
    splitted_from_ticket_number=st.none() | st.integers(1, 10**6),
)
comment = st.builds(
    m.Comment,
    id=st.integers(1, 10**9),
    body=opt_text,
    files=st.lists(st.uuids().map(str), max_size=3),
    sent_at=stamps,
    vote=st.none() | vote,
    admin_author=st.none() | st.builds(m.AdminAuthor, name=opt_text),
)
category_field = st.builds(
    m.CategoryField,
    key=text,
    names=localized,
    values=st.lists(st.builds(m.CategoryFieldValue, key=text, localizations=localized), max_size=3),
)


@pytest.mark.parametrize(
    "strategy",
    [vote, ticket_v2, ticket_v1, comment, category_field],
    ids=["vote", "v2", "v1", "comment", "field"],
)
@given(data=st.data())
def test_response_round_trip(strategy: st.SearchStrategy[m.BaseModel], data: st.DataObject) -> None:
    model = data.draw(strategy)
    dumped = model.model_dump(mode="json")
    again = type(model).model_validate(dumped)
    assert again == model
    assert again.model_dump(mode="json") == dumped


@given(
    extra=st.dictionaries(st.from_regex(r"x_[a-z]{1,8}", fullmatch=True), st.integers() | text, max_size=4)
)
def test_unknown_fields_are_kept(extra: dict[str, object]) -> None:
    ticket = m.TicketV2.model_validate({"number": 1, "status": "waiting_for_godot", **extra})
    assert ticket.status == "waiting_for_godot"
    assert ticket.model_dump() | extra == ticket.model_dump()


@given(
    summary=st.text(min_size=1, max_size=300),
    # No control characters: Python's str.strip() takes \x1c-\x1f too, the validator (like the API) does not.
    categories=st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20).filter(str.strip),
        min_size=1,
        max_size=4,
    ),
    level=st.sampled_from(ACCESS_LEVELS),
    files=st.lists(st.uuids(), max_size=10),
)
def test_create_request_is_the_documented_body(
    summary: str, categories: list[str], level: str, files: list[object]
) -> None:
    request = Operations._create_ticket.prepare(  # type: ignore[attr-defined]
        (), {"summary": summary, "categories": categories, "access_level": level, "files": files}
    )
    assert request.query is None and request.path == {}
    assert request.body["files"] == [str(f) for f in files]
    assert request.body["summary"] == summary
    assert request.body["categories"] == [c.strip() for c in categories]  # keys lose surrounding spaces
    assert "comment_body" not in request.body


def test_timestamps_that_do_not_parse_stay_strings() -> None:
    ticket = m.TicketV1.model_validate(
        {"number": 3, "created_at": "yesterday", "closed_at": "2026-01-02T03:04:05Z"}
    )
    assert ticket.created_at == "yesterday"
    assert ticket.closed_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_topic_subtopics_object_or_list() -> None:
    assert isinstance(m.Topic.model_validate({"key": "a", "subtopics": {"key": "b"}}).subtopics, m.Subtopic)
    assert isinstance(m.Topic.model_validate({"key": "a", "subtopics": [{"key": "b"}]}).subtopics, list)


def _refusing_client() -> TicketsClient:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"nothing may be sent, but {request.method} {request.url} was")

    return TicketsClient(
        "https://api.invalid/support", StaticToken("t"), transport=httpx2.MockTransport(refuse)
    )


BAD_CALLS = [
    ("create_ticket", (), {"summary": "", "categories": ["a"]}),
    ("create_ticket", (), {"summary": "s", "categories": []}),
    ("create_ticket", (), {"summary": "s", "categories": ["a"], "access_level": "everyone"}),
    ("create_ticket", (), {"summary": "s", "categories": ["a"], "files": ["not-a-uuid"]}),
    ("create_ticket", (), {"summary": "s", "categories": ["a"], "comment_body": "x" * 50_001}),
    ("search_tickets", (), {"items_per_page": 1001}),
    ("search_tickets", (), {"page": 0}),
    ("search_tickets", (), {"sort_by": "number"}),
    ("search_tickets", (), {"no_such_filter": True}),
    ("count_tickets", (), {"access_levels": ["everyone"]}),
    ("close_ticket", (1,), {"score": 6}),
    ("rate_ticket", (1,), {"score": 0}),
    ("rate_comment", (1,), {"score": 2}),
    ("reopen_ticket", (1,), {"body": ""}),
    ("reopen_ticket", (1,), {"body": "b", "files": []}),
    ("create_ticket_legacy", (), {"summary": "x" * 256, "comment_body": "b"}),
    ("create_ticket_legacy", (), {"summary": "s", "comment_body": "b", "keystone_projects": ["a", "b"]}),
    ("list_tickets_legacy", (), {"sort_by": "resolved_at"}),
    ("add_comment", (1,), {"body": "b", "files": [str(i) for i in range(11)]}),
    ("get_ticket", (0,), {}),
    ("get_comment", (0,), {}),
    ("get_category_fields", ("",), {}),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "args", "kwargs"), BAD_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)]
)
async def test_documented_bounds_are_enforced_before_sending(
    method: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    async with _refusing_client() as client:
        with pytest.raises(InvalidRequest) as caught:
            await getattr(client, method)(*args, **kwargs)
    assert caught.value.sent is False and caught.value.status is None and caught.value.fields
