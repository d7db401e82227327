"""The documented rate limits, with the minute compressed to 1 s (time_scale = 1/60)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx2

from support.sandbox import FAST, v1_body, v2_body
from tickets_mcp.sandbox import run_sandbox


def count(client: httpx2.Client) -> int:
    return client.get("/v2/tickets/count").json()["items_count"]


def test_third_create_gets_429_with_delta_then_passes() -> None:
    with (
        run_sandbox(time_scale=FAST) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        assert c.post("/v2/tickets", json=v2_body()).status_code == 200
        assert c.post("/tickets", json=v1_body()).status_code == 200  # v1 and v2 share the bucket
        before = count(c)
        r = c.post("/v2/tickets", json=v2_body())
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        retry_after = r.headers["Retry-After"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        assert count(c) == before  # a 429 stores nothing
        assert c.post("/tickets", json=v1_body()).status_code == 429
        time.sleep(int(retry_after))
        assert c.post("/v2/tickets", json=v2_body()).status_code == 200
        assert count(c) == before + 1


def test_retry_after_as_http_date() -> None:
    with (
        run_sandbox(time_scale=FAST, retry_after_format="date") as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        for _ in range(2):
            assert c.post("/tickets", json=v1_body()).status_code == 200
        r = c.post("/tickets", json=v1_body())
        assert r.status_code == 429
        when = parsedate_to_datetime(r.headers["Retry-After"])
        assert r.headers["Retry-After"].endswith("GMT")
        wait = when.timestamp() - time.time()
        assert 0 < wait <= 2.5
        time.sleep(wait)
        assert c.post("/tickets", json=v1_body()).status_code == 200


def test_rejected_creates_do_not_count() -> None:
    with (
        run_sandbox(time_scale=FAST) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        for _ in range(3):
            assert c.post("/v2/tickets", json=v2_body(summary="")).status_code == 400
        assert c.post("/v2/tickets", json=v2_body()).status_code == 200
        assert c.post("/v2/tickets", json=v2_body()).status_code == 200
        assert c.post("/v2/tickets", json=v2_body()).status_code == 429


def test_comment_limit_and_reopen_is_not_counted() -> None:
    with (
        run_sandbox(time_scale=FAST, comments_per_minute=3) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        number = c.post("/v2/tickets", json=v2_body()).json()["number"]  # its first comment is not counted
        for i in range(3):
            assert c.post(f"/tickets/{number}/comments", json={"body": f"c{i}"}).status_code == 200
        r = c.post(f"/tickets/{number}/comments", json={"body": "one too many"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "one too many" not in [x["body"] for x in c.get(f"/tickets/{number}/comments").json()["items"]]
        assert c.post(f"/tickets/{number}/close", json={}).status_code == 200
        assert c.post(f"/tickets/{number}/reopen", json={"body": "reopening"}).status_code == 200
        time.sleep(int(r.headers["Retry-After"]))
        assert c.post(f"/tickets/{number}/comments", json={"body": "after the wait"}).status_code == 200


def test_limits_are_per_sliding_window() -> None:
    """Two creates spaced half a window apart: the third waits only for the first to age out."""
    with (
        run_sandbox(time_scale=FAST) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        assert c.post("/tickets", json=v1_body()).status_code == 200
        time.sleep(0.5)
        assert c.post("/tickets", json=v1_body()).status_code == 200
        assert c.post("/tickets", json=v1_body()).status_code == 429
        time.sleep(0.55)  # the first create left the 1 s window; the second is still in it
        assert c.post("/tickets", json=v1_body()).status_code == 200
        assert c.post("/tickets", json=v1_body()).status_code == 429
