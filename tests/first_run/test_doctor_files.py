"""`tickets-mcp doctor` probes the Attachments API like the other read routes: the extensions route, and a
download of a file a comment names; a moved route or an IAM token the API refuses is named, and nothing is
ever uploaded."""

from __future__ import annotations

import io

import httpx2
from pydantic import SecretStr

from support.sandbox import upload
from tickets_mcp.api.operations import ROUTES
from tickets_mcp.doctor import run_doctor
from tickets_mcp.sandbox import SandboxHandle, run_sandbox
from tickets_mcp.settings import Settings


def doctor(sb: SandboxHandle, **values: object) -> tuple[int, str]:
    out = io.StringIO()
    values.setdefault("token", SecretStr(sb.token))
    settings = Settings(base_url=sb.base_url, **values)  # type: ignore[arg-type]
    return run_doctor(settings, out=out), out.getvalue()


def entry(name: str) -> str:
    route = ROUTES[name]
    return f"{route.name} {route.method} {route.path}"


def test_the_extensions_and_a_download_of_an_attached_file_are_probed() -> None:
    with run_sandbox() as sb:
        uuid = upload(sb, "dmesg.log", b"nvme0n1: I/O error\n")
        with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as api:
            ticket = api.post(
                "/v2/tickets",
                json={
                    "access_level": "account_users",
                    "categories": ["cloud_servers"],
                    "category_fields": [{"key": "region", "values": ["ru-1"]}],
                    "comment_body": "log attached",
                    "files": [uuid],
                    "keystone_projects": [],
                    "products": [],
                    "secrets": [],
                    "summary": "Disk errors",
                },
            )
            assert ticket.status_code == 200, ticket.text
        sb.clear_journal()
        code, out = doctor(sb)
        files = [e for e in sb.journal() if e["path"].startswith("/files")]
    assert code == 0, out
    assert f"✓ {entry('list_file_extensions')}: answered (" in out and "txt, log" in out
    assert f"✓ {entry('download_file')}: answered (file dmesg.log, 19 bytes)" in out
    assert f"Attachments API base URL: {sb.files_url} (derived from the Tickets API URL)" in out
    assert [(e["method"], e["path"]) for e in files] == [
        ("GET", "/files/public/files/extensions"),
        ("GET", f"/files/public/files/{uuid}"),
    ]
    assert "upload_file" in out and "POST" in out  # listed with the write routes, never called


def test_a_moved_extensions_route_is_named() -> None:
    with run_sandbox(moved_routes={"/public/files/extensions": "/public/extensions"}) as sb:
        code, out = doctor(sb)
    assert code == 1
    assert f"✗ {entry('list_file_extensions')}: HTTP 404: the path or method of this route-table entry" in out


def test_an_iam_token_the_attachments_api_refuses_is_said_so() -> None:
    with run_sandbox(files_accept_iam=False) as sb:
        code, out = doctor(
            sb,
            token=None,
            username=sb.username,
            password=SecretStr(sb.password),
            account_id=sb.account_id,
            identity_url=sb.identity_url,
        )
    assert code == 1
    line = next(line for line in out.splitlines() if entry("list_file_extensions") in line)
    assert line.startswith("✗") and "this API may need a static token" in line


def test_selectel_files_url_is_reported() -> None:
    with run_sandbox() as sb:
        code, out = doctor(sb, files_url=sb.files_url)
    assert code == 0, out
    assert f"Attachments API base URL: {sb.files_url} (SELECTEL_FILES_URL)" in out


def test_without_an_attached_file_the_download_is_skipped_not_faked() -> None:
    with run_sandbox() as sb:
        with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as api:
            body = {"summary": "no files here", "comment_body": "plain text only"}
            assert api.post("/tickets", json=body).status_code == 200  # the newest open ticket: no files
        sb.clear_journal()
        code, out = doctor(sb)
        downloads = [
            e for e in sb.journal() if e["path"].startswith("/files/public/files/") and "ext" not in e["path"]
        ]
    assert code == 0, out  # a skip is worth knowing, not a failure
    assert f"! {entry('download_file')}: not probed: no attachment in the comments read" in out
    assert downloads == []
