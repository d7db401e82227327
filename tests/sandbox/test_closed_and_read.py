"""W11 and W14: a closed ticket's comments cannot be read or rated; reading has no side effects, and
only the admin endpoint ``POST /_sandbox/tickets/{number}/read`` marks support comments read."""

from __future__ import annotations

from typing import Any

import httpx2

from support.sandbox import create_v2
from tickets_mcp.sandbox import SandboxHandle

SEEDED_CLOSED = 2401001  # closed in the demo data (test_operations.test_4_get_ticket_v2)


def closed_body(number: int, verb: str = "read") -> dict[str, Any]:
    """The exact W4 body of a refused comment read (or rating) on a closed ticket."""
    message = f"Ticket {number} is closed: its comments cannot be {verb} until it is reopened"
    return {"error": {"code": "ticket_closed", "message": message}}


def ticket_with_replies(api: httpx2.Client, sb: SandboxHandle, replies: int = 1) -> tuple[int, list[int]]:
    """A new ticket (one client comment) with ``replies`` unread support comments; their ids."""
    number = create_v2(api)["number"]
    return number, [int(sb.support_reply(number, f"Support answer {i}")["id"]) for i in range(replies)]


def snapshot(api: httpx2.Client, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ticket as the v2 and v1 reads show it."""
    v2 = api.get(f"/v2/tickets/{number}")
    v1 = api.get(f"/tickets/{number}")
    assert v2.status_code == v1.status_code == 200
    return v2.json(), v1.json()


def test_comments_of_a_closed_ticket_are_not_readable(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number, (reply,) = ticket_with_replies(api, sandbox)
    own = api.get(f"/tickets/{number}/comments").json()["items"][0]["id"]
    assert api.post(f"/tickets/{number}/close", json={}).status_code == 200
    listed = api.get(f"/tickets/{number}/comments")
    assert listed.status_code == 400 and listed.json() == closed_body(number)
    for comment_id in (own, reply):
        got = api.get(f"/comments/{comment_id}")
        assert got.status_code == 400 and got.json() == closed_body(number)
    assert api.get("/comments/1").status_code == 404  # an unknown comment is still not found

    assert api.post(f"/tickets/{number}/reopen", json={"body": "Back again"}).status_code == 200
    listed = api.get(f"/tickets/{number}/comments")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]][:2] == [own, reply]
    assert listed.json()["items"][-1]["body"] == "Back again"
    got = api.get(f"/comments/{reply}")
    assert got.status_code == 200 and got.json()["body"] == "Support answer 0"


def test_seeded_closed_ticket_refuses_its_comments(api: httpx2.Client) -> None:
    r = api.get(f"/tickets/{SEEDED_CLOSED}/comments")
    assert r.status_code == 400 and r.json() == closed_body(SEEDED_CLOSED)
    assert api.get("/tickets/1/comments").status_code == 404  # unknown ticket: not_found, not closed


def test_rating_a_comment_of_a_closed_ticket_is_refused(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number, (reply,) = ticket_with_replies(api, sandbox)
    api.post(f"/tickets/{number}/close", json={})
    r = api.post(f"/comments/{reply}/vote", json={"score": 1, "comment": "helpful"})
    assert r.status_code == 400 and r.json() == closed_body(number, "rated")
    bad = api.post(f"/comments/{reply}/vote", json={"score": 7})  # validation still comes first
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert api.post("/comments/1/vote", json={"score": 1}).status_code == 404

    api.post(f"/tickets/{number}/reopen", json={"body": "Reopening"})
    assert api.get(f"/comments/{reply}").json()["vote"] is None  # the refused vote stored nothing
    r = api.post(f"/comments/{reply}/vote", json={"score": 1})
    assert r.status_code == 200 and r.json()["score"] == 1


def test_listing_and_getting_comments_change_nothing(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number, replies = ticket_with_replies(api, sandbox, replies=2)
    v2, v1 = snapshot(api, number)
    assert v2["unread_comments_count"] == 2 and v2["is_client_read"] is False
    assert v1["is_client_read"] is False
    thread = api.get(f"/tickets/{number}/comments").json()["items"]
    assert [c["is_client_read"] for c in thread] == [True, False, False]
    for _ in range(2):
        assert api.get(f"/tickets/{number}/comments").json()["items"] == thread
        for comment_id in replies:
            got = api.get(f"/comments/{comment_id}").json()
            assert got["is_client_read"] is False and got == thread[replies.index(comment_id) + 1]
    assert snapshot(api, number) == (v2, v1)
    listed = api.get("/v2/tickets", params={"items_per_page": 1000}).json()["items"]
    assert next(t for t in listed if t["number"] == number)["unread_comments_count"] == 2


def test_mark_read_endpoint(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number, replies = ticket_with_replies(api, sandbox, replies=2)
    before, _ = snapshot(api, number)
    sandbox.clear_journal()
    r = httpx2.post(f"{sandbox.admin_url}/tickets/{number}/read")  # no token: admin API
    assert r.status_code == 200
    view = r.json()
    assert view["number"] == number and "is_closed_by_system" in view  # the full v2 view
    assert view["unread_comments_count"] == 0 and view["is_client_read"] is True
    assert sandbox.journal() == []  # admin calls are never journaled
    after, v1 = snapshot(api, number)
    assert after == view and v1["is_client_read"] is True
    assert after["updated_at"] == before["updated_at"] and after["status"] == before["status"]
    thread = api.get(f"/tickets/{number}/comments").json()["items"]
    assert all(c["is_client_read"] for c in thread)
    assert [c["id"] for c in thread[1:]] == replies
    assert [e["path"] for e in sandbox.journal()] == [
        f"/support/v2/tickets/{number}",
        f"/support/tickets/{number}",
        f"/support/tickets/{number}/comments",
    ]

    sandbox.support_reply(number, "One more answer")  # a new support comment starts unread
    assert api.get(f"/v2/tickets/{number}").json()["unread_comments_count"] == 1
    assert httpx2.post(f"{sandbox.admin_url}/tickets/{number}/read").json()["unread_comments_count"] == 0


def test_mark_read_unknown_ticket_and_faults(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    r = httpx2.post(f"{sandbox.admin_url}/tickets/1/read")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert httpx2.get(f"{sandbox.admin_url}/tickets/1/read").status_code == 405
    number, _ = ticket_with_replies(api, sandbox)
    sandbox.set_faults(sequence=["503"])
    assert httpx2.post(f"{sandbox.admin_url}/tickets/{number}/read").status_code == 200  # never faulted
    assert api.get("/topics").status_code == 503  # the sequence was left for the API
    assert api.get(f"/v2/tickets/{number}").json()["unread_comments_count"] == 0


def test_handle_mark_read_and_closed_tickets(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    number, _ = ticket_with_replies(api, sandbox)
    api.post(f"/tickets/{number}/close", json={})
    assert api.get(f"/v2/tickets/{number}").json()["unread_comments_count"] == 1
    view = sandbox.mark_read(number)  # read in the control panel, even once closed
    assert view["status"] == "closed" and view["unread_comments_count"] == 0
    assert api.get(f"/v2/tickets/{number}").json() == view
    assert api.get(f"/tickets/{number}/comments").json() == closed_body(number)  # still not readable
    assert sandbox.journal()[-1]["status"] == 400
