"""The happy path of every operation, plus the ticket semantics."""

from __future__ import annotations

import httpx2

from support.sandbox import create_v2, upload, v1_body, v2_body
from tickets_mcp.sandbox import SandboxHandle

V2_LIST_KEYS = {
    "access_level", "categories", "created_at", "is_await_client", "is_await_support", "is_can_be_voted",
    "is_client_read", "is_from_mailing", "keystone_projects", "notice_id", "notification_categories",
    "number", "products", "status", "summary", "unread_comments_count", "updated_at", "vote_created_at",
    "vote_score", "vote_type",
}  # fmt: skip
V1_KEYS = {
    "closed_at", "created_at", "is_client_author", "is_client_read", "is_closed", "is_resolved", "number",
    "status", "status_key", "summary", "updated_at", "vote", "access_level", "keystone_projects", "notice_id",
}  # fmt: skip
COMMENT_KEYS = {
    "files", "body", "id", "is_client_author", "is_client_read", "sent_at", "splitted_at",
    "splitted_to_ticket_number", "vote", "ticket_number", "client_author_id", "admin_author",
}  # fmt: skip


def test_1_create_ticket_v2(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    before = api.get("/v2/tickets/count").json()["items_count"]
    file = upload(sandbox)
    ticket = create_v2(api, files=[file])
    assert set(ticket) == V2_LIST_KEYS | {"is_closed_by_system", "split_from_ticket_number"}
    assert ticket["summary"] == "HTTPS down on web-01"
    assert ticket["status"] == "in_progress" and ticket["is_await_support"] and not ticket["is_await_client"]
    assert ticket["created_at"].endswith("Z")
    assert api.get("/v2/tickets/count").json()["items_count"] == before + 1
    comments = api.get(f"/tickets/{ticket['number']}/comments").json()["items"]
    assert [c["body"] for c in comments] == ["The server does not answer on port 443."]
    assert comments[0]["files"] == [file]
    assert comments[0]["is_client_author"] is True


def test_ticket_numbers_increase(api: httpx2.Client) -> None:
    first = create_v2(api)["number"]
    second = api.post("/tickets", json=v1_body()).json()["number"]
    third = create_v2(api)["number"]
    assert first < second < third


def test_2_list_tickets_v2(api: httpx2.Client) -> None:
    body = api.get("/v2/tickets", params={"items_per_page": 5, "page": 2}).json()
    assert set(body) == {"items", "items_per_page", "page"}
    assert body["page"] == 2 and body["items_per_page"] == 5 and len(body["items"]) == 5
    assert set(body["items"][0]) == V2_LIST_KEYS


def test_3_count(api: httpx2.Client) -> None:
    assert api.get("/v2/tickets/count").json() == {
        "items_count": len(api.get("/v2/tickets?items_per_page=1000").json()["items"])
    }


def test_4_get_ticket_v2(api: httpx2.Client) -> None:
    ticket = api.get("/v2/tickets/2401001").json()
    assert ticket["number"] == 2401001 and ticket["status"] == "closed"
    assert "is_closed_by_system" in ticket
    assert api.get("/v2/tickets/1").status_code == 404
    assert api.get("/v2/tickets/1").json()["error"]["code"] == "not_found"


def test_5_update_ticket_v2_patch_and_put(api: httpx2.Client) -> None:
    number = create_v2(api)["number"]
    r = api.patch(
        f"/v2/tickets/{number}", json={"access_level": "project_users", "keystone_projects": ["p1"]}
    )
    assert r.status_code == 200 and r.json()["access_level"] == "project_users"
    assert r.json()["keystone_projects"] == ["p1"]
    r = api.put(f"/v2/tickets/{number}", json={"access_level": "all_users", "keystone_projects": []})
    assert r.status_code == 200 and r.json()["access_level"] == "all_users"
    assert api.get(f"/v2/tickets/{number}").json()["keystone_projects"] == []


def test_6_7_close_and_reopen(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number = create_v2(api)["number"]
    sandbox.support_reply(number, "Please check again.")
    closed = api.post(f"/tickets/{number}/close", json={"score": 5, "comment": "fast"})
    assert closed.status_code == 200
    body = closed.json()
    assert set(body) == V1_KEYS | {"splitted_from_ticket_number"}
    assert body["status_key"] == "closed" and body["is_closed"] and body["closed_at"]
    assert body["status"] == {"en": "Closed", "ru": "Закрыт"}
    assert body["vote"]["score"] == 5 and body["vote"]["comment"] == "fast"
    refused = api.post(f"/tickets/{number}/comments", json={"body": "one more"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "ticket_closed"
    assert api.post(f"/tickets/{number}/close", json={}).json()["error"]["code"] == "ticket_closed"
    reopened = api.post(f"/tickets/{number}/reopen", json={"body": "It broke again"})
    assert reopened.status_code == 200
    assert reopened.json()["status_key"] == "in_progress" and reopened.json()["closed_at"] is None
    thread = api.get(f"/tickets/{number}/comments").json()["items"]
    assert thread[-1]["body"] == "It broke again" and thread[-1]["is_client_author"]
    again = api.post(f"/tickets/{number}/reopen", json={"body": "x"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "ticket_not_closed"


def test_close_without_body(api: httpx2.Client) -> None:
    number = create_v2(api)["number"]
    r = api.post(f"/tickets/{number}/close")
    assert r.status_code == 200 and r.json()["is_closed"] and r.json()["vote"] is None


def test_8_rate_ticket(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number = create_v2(api)["number"]
    assert api.get(f"/v2/tickets/{number}").json()["is_can_be_voted"] is False
    r = api.post(f"/tickets/{number}/vote", json={"score": 9})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_votable"
    sandbox.support_reply(number, "Fixed on our side.")
    assert api.get(f"/v2/tickets/{number}").json()["is_can_be_voted"] is True
    r = api.post(f"/tickets/{number}/vote", json={"score": 9, "comment": "thanks"})
    assert r.status_code == 200
    assert set(r.json()) == {"comment", "created_at", "score"} and r.json()["score"] == 9
    ticket = api.get(f"/v2/tickets/{number}").json()
    assert ticket["vote_score"] == 9 and ticket["vote_created_at"] and ticket["is_can_be_voted"] is False
    assert api.post(f"/tickets/{number}/vote", json={"score": 9}).json()["error"]["code"] == "not_votable"


def test_9_create_ticket_v1(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    r = api.post("/tickets", json=v1_body(topic_key="order_consultation", files=[upload(sandbox)]))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == V1_KEYS | {"splitted_from_ticket_number"}
    assert body["summary"] == "new test ticket" and body["status_key"] == "in_progress"
    assert body["access_level"] == "account_users"
    comments = api.get(f"/tickets/{body['number']}/comments").json()["items"]
    assert comments[0]["body"] == "my first comment"


def test_10_list_tickets_v1(api: httpx2.Client) -> None:
    body = api.get("/tickets", params={"page": 1, "items_per_page": 4}).json()
    assert set(body) == {"item_count", "items", "items_per_page", "page", "page_count"}
    assert len(body["items"]) == 4 and body["page_count"] == -(-body["item_count"] // 4)
    assert set(body["items"][0]) == V1_KEYS
    only_closed = api.get("/tickets", params={"only_closed": "true", "items_per_page": 1000}).json()
    assert only_closed["items"] and all(t["is_closed"] for t in only_closed["items"])
    opened = api.get("/tickets", params={"only_opened": "True", "items_per_page": 1000}).json()
    assert opened["item_count"] + only_closed["item_count"] == body["item_count"]


def test_11_get_ticket_v1(api: httpx2.Client) -> None:
    body = api.get("/tickets/2401006").json()
    assert body["number"] == 2401006 and body["status_key"] == "awaiting_client"
    assert body["status"]["en"] and body["status"]["ru"]
    assert api.get("/tickets/99").status_code == 404


def test_12_update_ticket_v1(api: httpx2.Client) -> None:
    number = create_v2(api)["number"]
    r = api.patch(
        f"/tickets/{number}", json={"access_level": "project_users", "keystone_projects": ["proj-a"]}
    )
    assert r.status_code == 200 and r.json()["access_level"] == "project_users"
    r = api.put(f"/tickets/{number}", json={"access_level": "account_users"})
    assert r.status_code == 200 and r.json()["access_level"] == "account_users"


def test_13_14_add_and_list_comments(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number = create_v2(api)["number"]
    r = api.post(
        f"/tickets/{number}/comments",
        json={"body": "My second comment", "files": [upload(sandbox)]},
    )
    assert r.status_code == 200
    comment = r.json()
    assert set(comment) == COMMENT_KEYS
    assert comment["body"] == "My second comment" and comment["ticket_number"] == number
    assert (
        comment["is_client_author"] and comment["admin_author"] is None and comment["sent_at"].endswith("Z")
    )
    sandbox.support_reply(number, "We are on it.")
    ticket = api.get(f"/v2/tickets/{number}").json()
    assert (
        ticket["status"] == "awaiting_client" and ticket["is_await_client"] and not ticket["is_await_support"]
    )
    assert ticket["unread_comments_count"] == 1 and ticket["is_client_read"] is False
    items = api.get(f"/tickets/{number}/comments").json()["items"]
    assert [c["body"] for c in items][-2:] == ["My second comment", "We are on it."]
    assert items[-1]["admin_author"]["name"] and items[-1]["is_client_author"] is False
    assert items[-1]["is_client_read"] is False
    ticket = api.get(f"/v2/tickets/{number}").json()  # W14: listing marks nothing read
    assert ticket["unread_comments_count"] == 1 and ticket["is_client_read"] is False
    assert sandbox.mark_read(number)["unread_comments_count"] == 0  # the user read it in the panel
    ticket = api.get(f"/v2/tickets/{number}").json()
    assert ticket["unread_comments_count"] == 0 and ticket["is_client_read"] is True
    api.post(f"/tickets/{number}/comments", json={"body": "thanks"})
    assert api.get(f"/v2/tickets/{number}").json()["status"] == "in_progress"


def test_15_16_get_and_rate_comment(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number = create_v2(api)["number"]
    reply = sandbox.support_reply(number, "Try rebooting.")
    assert api.get(f"/comments/{reply['id']}").json()["body"] == "Try rebooting."
    assert api.get("/comments/1").status_code == 404
    r = api.post(f"/comments/{reply['id']}/vote", json={"score": -1, "comment": "did not help"})
    assert r.status_code == 200 and r.json()["score"] == -1
    assert api.get(f"/comments/{reply['id']}").json()["vote"]["score"] == -1
    assert (
        api.post(f"/comments/{reply['id']}/vote", json={"score": 1}).json()["error"]["code"] == "not_votable"
    )
    own = api.get(f"/tickets/{number}/comments").json()["items"][0]
    r = api.post(f"/comments/{own['id']}/vote", json={"score": 1})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_votable"


def test_17_topics(api: httpx2.Client) -> None:
    items = api.get("/topics").json()["items"]
    first = items[0]
    assert first["key"] == "order_consultation"
    assert first["names"] == {"en": "Pre-Order consultation", "ru": "Консультация перед заказом"}
    assert first["subtopics"]["key"] == "servers" and first["subtopics"]["names"]["ru"] == "Серверы"


def test_18_categories(api: httpx2.Client) -> None:
    items = api.get("/v2/categories").json()["items"]
    assert set(items[0]) == {"descriptions", "id", "key", "names"}
    assert all(set(c["names"]) == {"en", "ru"} for c in items)
    active = api.get("/v2/categories", params={"is_only_active": "true"}).json()["items"]
    assert "vds_legacy" in {c["key"] for c in items} and "vds_legacy" not in {c["key"] for c in active}
    desc = api.get("/v2/categories", params={"sort_by_order": "desc"}).json()["items"]
    assert [c["key"] for c in desc] == [c["key"] for c in reversed(items)]


def test_19_category_fields(api: httpx2.Client) -> None:
    items = api.get("/v2/categories/cloud_servers/fields").json()["items"]
    by_key = {f["key"]: f for f in items}
    region = by_key["region"]
    assert region["type"] == "select" and region["is_required"] is True
    assert {
        "key": "ru-1",
        "localizations": {"en": "St. Petersburg (ru-1)", "ru": "Санкт-Петербург (ru-1)"},
    } in region["values"]
    assert by_key["server_id"] == {**by_key["server_id"], "type": "text", "values": [], "is_required": False}
    assert set(by_key["os"]) == {"key", "names", "values"}  # W9: no extensions on this field
    assert api.get("/v2/categories/nope/fields").status_code == 404


def test_20_products(api: httpx2.Client) -> None:
    top = api.get("/v2/products").json()["items"]
    assert set(top[0]) == {"id", "key", "names"}
    assert "cloud_servers" in {p["key"] for p in top} and "cloud_servers_gpu" not in {p["key"] for p in top}
    subs = api.get("/v2/products", params={"parent": "cloud_servers"}).json()["items"]
    assert {p["key"] for p in subs} == {
        "cloud_servers_standard",
        "cloud_servers_gpu",
        "cloud_servers_dedicated_cores",
    }
    assert api.get("/v2/products", params={"parent": "nope"}).status_code == 404


def test_filters_access_levels_and_projects(api: httpx2.Client) -> None:
    number = create_v2(api, access_level="project_users", keystone_projects=["proj-filter-x"])["number"]
    hits = api.get("/v2/tickets", params={"keystone_projects": "proj-filter-x"}).json()["items"]
    assert [t["number"] for t in hits] == [number]
    levels = api.get(
        "/v2/tickets",
        params=[("access_levels", "all_users"), ("access_levels", "project_users"), ("items_per_page", 1000)],
    ).json()["items"]
    assert levels and {t["access_level"] for t in levels} <= {"all_users", "project_users"}
    assert {"all_users", "project_users"} <= {t["access_level"] for t in levels}
    comma = api.get("/v2/tickets/count", params={"access_levels": "all_users,project_users"}).json()[
        "items_count"
    ]
    assert comma == len(levels)
    v1 = api.get("/tickets", params={"keystone_projects": "proj-filter-x"}).json()
    assert v1["item_count"] == 1 and v1["items"][0]["number"] == number
    v1_level = api.get("/tickets", params={"access_level": "all_users", "items_per_page": 1000}).json()[
        "items"
    ]
    assert v1_level and {t["access_level"] for t in v1_level} == {"all_users"}


def test_q_searches_summaries_and_comments(api: httpx2.Client) -> None:
    by_summary = api.get("/v2/tickets", params={"q": "KUBERNETES", "items_per_page": 100}).json()["items"]
    assert {2401006, 2401029} <= {t["number"] for t in by_summary}
    assert 2401001 not in {t["number"] for t in by_summary}
    by_comment = api.get("/v2/tickets", params={"q": "restic"}).json()["items"]
    assert [t["number"] for t in by_comment] == [2401007]  # only in a comment body
    russian = api.get("/v2/tickets/count", params={"q": "ПЛАТЁЖ"}).json()["items_count"]
    assert russian >= 1
    assert api.get("/v2/tickets/count", params={"q": "no-such-text-anywhere"}).json() == {"items_count": 0}


def test_flags_opened_closed_abuse(api: httpx2.Client) -> None:
    total = api.get("/v2/tickets/count").json()["items_count"]
    opened = api.get("/v2/tickets/count", params={"is_only_opened": "true"}).json()["items_count"]
    closed = api.get("/v2/tickets/count", params={"is_only_closed": "1"}).json()["items_count"]
    assert opened + closed == total and closed > 0 and opened > 0
    abuse = api.get("/v2/tickets", params={"is_only_abuse": "true"}).json()["items"]
    assert len(abuse) >= 2 and all("abuse" in t["categories"] for t in abuse)


def test_sort_and_paging(api: httpx2.Client) -> None:
    asc = api.get(
        "/v2/tickets", params={"sort_by": "created_at", "sort_by_order": "asc", "items_per_page": 1000}
    ).json()["items"]
    stamps = [t["created_at"] for t in asc]
    assert stamps == sorted(stamps)
    desc = api.get("/v2/tickets", params={"sort_by": "updated_at", "items_per_page": 1000}).json()["items"]
    assert [t["updated_at"] for t in desc] == sorted((t["updated_at"] for t in desc), reverse=True)
    by_closed = api.get(
        "/v2/tickets", params={"sort_by": "closed_at", "sort_by_order": "asc", "items_per_page": 1000}
    ).json()["items"]
    statuses = [t["status"] for t in by_closed]
    assert statuses.index("in_progress") > max(i for i, s in enumerate(statuses) if s == "closed")
    pages = [
        api.get("/v2/tickets", params={"items_per_page": 7, "page": p}).json()["items"] for p in range(1, 10)
    ]
    numbers = [t["number"] for page in pages for t in page]
    count = api.get("/v2/tickets/count").json()["items_count"]
    assert len(numbers) == len(set(numbers)) == count
    v1 = api.get(
        "/tickets", params={"sort_by": "number", "sort_by_order": "asc", "items_per_page": 1000}
    ).json()["items"]
    assert [t["number"] for t in v1] == sorted(t["number"] for t in v1)
    v1s = api.get(
        "/tickets", params={"sort_by": "summary", "sort_by_order": "asc", "items_per_page": 1000}
    ).json()["items"]
    assert [t["summary"].casefold() for t in v1s] == sorted(t["summary"].casefold() for t in v1s)


def test_unknown_route_and_method_use_error_body(api: httpx2.Client) -> None:
    r = api.get("/v3/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.delete("/v2/tickets")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_v2_body_helper_is_valid(api: httpx2.Client) -> None:
    assert api.post("/v2/tickets", json=v2_body()).status_code == 200
