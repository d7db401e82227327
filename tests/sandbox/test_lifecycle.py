"""Persistence, the CLI subcommand, the async starter, the auto-responder and the demo data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from support.sandbox import v2_body
from support.servers import SANDBOX_API, SANDBOX_PROBE, ServerProcess
from tickets_mcp.sandbox import SandboxConfig, run_sandbox
from tickets_mcp.sandbox.seed import TICKETS

SERVER_DIR = Path(__file__).resolve().parents[2] / "server"


def test_persistence_across_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    with (
        run_sandbox(db_path=db) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        seeded = c.get("/v2/tickets/count").json()["items_count"]
        number = c.post("/v2/tickets", json=v2_body(summary="survives a restart")).json()["number"]
        c.post(f"/tickets/{number}/comments", json={"body": "second comment"})
        c.post("/tickets/2401006/close", json={})
    with (
        run_sandbox(SandboxConfig(db_path=db)) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        assert c.get("/v2/tickets/count").json()["items_count"] == seeded + 1  # not seeded twice
        assert c.get(f"/v2/tickets/{number}").json()["summary"] == "survives a restart"
        bodies = [x["body"] for x in c.get(f"/tickets/{number}/comments").json()["items"]]
        assert bodies == ["The server does not answer on port 443.", "second comment"]
        assert c.get("/v2/tickets/2401006").json()["status"] == "closed"
        assert c.post("/v2/tickets", json=v2_body()).json()["number"] == number + 1


def test_in_memory_sandboxes_are_independent() -> None:
    with run_sandbox() as a, run_sandbox(seed=False) as b:
        assert a.port != b.port
        assert httpx2.get(a.base_url + "/v2/tickets/count", headers={"X-Token": a.token}).json()[
            "items_count"
        ] == len(TICKETS)
        assert (
            httpx2.get(b.base_url + "/v2/tickets/count", headers={"X-Token": b.token}).json()["items_count"]
            == 0
        )


def test_handle_urls_and_credentials() -> None:
    with run_sandbox() as sb:
        assert sb.root_url.startswith("http://127.0.0.1:") and sb.base_url == sb.root_url + "/support"
        assert sb.identity_url == sb.root_url + "/identity/v3" and sb.admin_url == sb.root_url + "/_sandbox"
        assert (sb.token, sb.username, sb.password, sb.account_id) == (
            "sandbox-demo-token", "demo-user", "demo-password", "123456",
        )  # fmt: skip
        port = sb.port
    with pytest.raises(httpx2.ConnectError):  # stopped means stopped
        httpx2.get(f"http://127.0.0.1:{port}/support/topics")


@pytest.mark.anyio
async def test_async_context_manager() -> None:
    async with run_sandbox(time_scale=1 / 60) as sb, httpx2.AsyncClient(base_url=sb.base_url) as client:
        r = await client.get("/v2/products", headers={"X-Token": sb.token})
        assert r.status_code == 200 and r.json()["items"]
        reply = sb.support_reply(2401016, "Support answers from the test's event loop")
        assert reply["ticket_number"] == 2401016
        assert sb.journal()[-1]["path"] == "/support/v2/products"


def test_auto_reply_after_a_scaled_delay() -> None:
    # 30 sandbox seconds at 1/60 scale: support answers 0.5 s after each client comment.
    with (
        run_sandbox(time_scale=1 / 60, auto_reply_after=30) as sb,
        httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c,
    ):
        number = c.post("/v2/tickets", json=v2_body()).json()["number"]
        assert c.get(f"/v2/tickets/{number}").json()["status"] == "in_progress"
        time.sleep(0.8)
        ticket = c.get(f"/v2/tickets/{number}").json()
        assert ticket["status"] == "awaiting_client" and ticket["unread_comments_count"] == 1
        c.post(f"/tickets/{number}/comments", json={"body": "still broken"})
        c.post(f"/tickets/{number}/close", json={})  # closed before the reply is due: no reply
        time.sleep(0.8)
        assert c.get(f"/v2/tickets/{number}").json()["unread_comments_count"] == 1
        thread = sb.state.store.comments_of(number)  # W11: a closed ticket's comments are not served
        assert [x["is_client_author"] for x in thread] == [True, False, True]


def test_cli_sandbox_subcommand(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(SERVER_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [
        "--db",
        str(tmp_path / "cli.db"),
        "--fault",
        '{"sequence": ["503"], "path_prefix": "/v2/products"}',
    ]
    server = ServerProcess(env, args, command=SANDBOX_API, probe=SANDBOX_PROBE)
    port = server.port
    try:
        server.start(timeout=15)
        r = httpx2.get(
            f"http://127.0.0.1:{port}/support/v2/tickets", headers={"X-Token": "sandbox-demo-token"}
        )
        assert r.status_code == 200 and len(r.json()["items"]) == 10
        products = f"http://127.0.0.1:{port}/support/v2/products"
        assert httpx2.get(products, headers={"X-Token": "sandbox-demo-token"}).status_code == 503
        assert httpx2.get(products, headers={"X-Token": "sandbox-demo-token"}).status_code == 200
    finally:
        returncode = server.interrupt()  # Ctrl-C
    out, err = server.stdout(), server.stderr()
    assert returncode == 0, err
    assert out == ""  # everything goes to stderr
    assert f"http://127.0.0.1:{port}/support" in err and f"http://127.0.0.1:{port}/identity/v3" in err
    assert "sandbox-demo-token" in err and "demo-user" in err
    assert (tmp_path / "cli.db").exists()


def test_cli_rejects_a_bad_fault_spec() -> None:
    env = {**os.environ, "PYTHONPATH": str(SERVER_DIR)}
    proc = subprocess.run(
        [sys.executable, "-m", "tickets_mcp", "sandbox", "--port", "0", "--fault", "teapot"],
        capture_output=True, text=True, env=env, timeout=15,
    )  # fmt: skip
    assert proc.returncode == 2 and "unknown fault kind" in proc.stderr


def test_demo_data() -> None:
    with run_sandbox() as sb, httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as c:
        tickets = c.get("/tickets", params={"items_per_page": 1000}).json()["items"]
        assert 25 <= len(tickets) <= 40
        statuses = {t["status_key"] for t in tickets}
        assert statuses == {"in_progress", "awaiting_client", "closed"}
        summaries = " ".join(t["summary"] for t in tickets)
        assert any("а" <= ch <= "я" for ch in summaries) and "server" in summaries.lower()
        categories = c.get("/v2/categories").json()["items"]
        kinds = set()
        for category in categories:
            for field in c.get(f"/v2/categories/{category['key']}/fields").json()["items"]:
                kinds.add((field.get("type"), field.get("is_required")))
        # W9: the extensions are on some fields only (None = the key is absent), so clients cannot rely on them
        assert kinds == {
            ("select", True), ("text", True), ("text", False), (None, False), (None, None), ("multiselect", None)
        }  # fmt: skip
        assert c.get("/v2/products", params={"parent": "s3"}).json()["items"]
        assert c.get("/topics").json()["items"]
        threads = {t["number"]: c.get(f"/tickets/{t['number']}/comments") for t in tickets}
        closed = {t["number"] for t in tickets if t["status_key"] == "closed"}
        assert {n for n, r in threads.items() if r.status_code == 400} == closed  # W11
        assert all(threads[n].json()["error"]["code"] == "ticket_closed" for n in closed)
        mixed = [[x["is_client_author"] for x in sb.state.store.comments_of(t["number"])] for t in tickets]
        assert sum(1 for m in mixed if True in m and False in m) >= 15
        injected = c.get("/v2/tickets", params={"q": "ignore previous instructions"}).json()["items"]
        assert len(injected) == 1
        thread = c.get(f"/tickets/{injected[0]['number']}/comments").json()["items"]
        body = next(x["body"] for x in thread if "SYSTEM:" in x["body"])
        for ch in ("\u200b", "\u200d", "\ufeff", "\u202e", "\u2066", "\U000e0041"):
            assert ch in body, repr(ch)
        assert "\n```\n" in body


def test_seeding_is_fast() -> None:
    started = time.perf_counter()
    with run_sandbox():
        pass
    assert time.perf_counter() - started < 0.5
