"""The attachments of the client (`list_file_extensions`, `upload_file`, `download_file`) against the sandbox's
Attachments API: the shapes it must tolerate, the checks, pacing, dedup, the ambiguous upload, the errors
that name a route-table entry, and the Tickets API taking only this account's uploads. The sandbox's journal
and its stored files say what happened."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from support.api_client import WINDOW, make_client, settled
from support.sandbox import make_settings
from tickets_mcp.api import (
    AuthError,
    DownloadedFile,
    InvalidRequest,
    NotFound,
    ServerError,
    ServiceUser,
    StaticToken,
    TicketsClient,
    TransportError,
    UploadedFile,
)
from tickets_mcp.api.dedup import MemoryDedup
from tickets_mcp.api.windows import MemoryWindows
from tickets_mcp.runtime import build_client
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

pytestmark = pytest.mark.anyio

OPEN = 2401006  # an open ticket of the demo data
LOG = b"2026-12-01T10:00:01Z kernel: nvme0n1: I/O error, dev nvme0n1, sector 2048\r\n" * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16  # every byte value, CRLFs and a NUL included
OTHER_TOKEN = "other-account-token_777"


def uploads(sb: SandboxHandle) -> list[dict[str, Any]]:
    """The upload requests that reached the sandbox, oldest first."""
    entries = sorted(settled(sb), key=lambda e: e["time"])
    return [e for e in entries if e["method"] == "POST" and e["path"] == "/files/public/files"]


def stored(sb: SandboxHandle, sha256: str) -> list[dict[str, Any]]:
    return [f for f in sb.files() if f["sha256"] == sha256]


@pytest.fixture(scope="module")
def shaped() -> Iterator[dict[str, SandboxHandle]]:
    """One sandbox per answer shape the client must read (W18)."""
    with (
        run_sandbox(files_shape="strings") as strings,
        run_sandbox(files_shape="objects") as objects,
    ):
        yield {"strings": strings, "objects": objects}


# -- the answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["wrapped", "strings", "objects"])
async def test_each_answer_shape_reads_the_same(
    shape: str, sandbox: SandboxHandle, shaped: dict[str, SandboxHandle]
) -> None:
    sb = sandbox if shape == "wrapped" else shaped[shape]
    async with make_client(sb) as client:
        extensions = await client.list_file_extensions()
        uploaded = await client.upload_file(f"screen-{shape}.png", PNG)
    assert {"txt", "log", "png", "jpg", "pdf", "zip", "gz"} <= set(extensions)
    assert "exe" not in extensions
    assert all(e == e.lower() and not e.startswith(".") for e in extensions)
    assert [f["uuid"] for f in stored(sb, hashlib.sha256(PNG).hexdigest())][-1] == uploaded.uuid


async def test_a_log_and_a_png_upload_download_and_attach(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox, dedup_window=0) as client:
        log = await client.upload_file("dmesg.log", LOG)
        png = await client.upload_file("panel.png", PNG, content_type="image/png")
        comment = await client.add_comment(
            OPEN, body="The kernel log and a screenshot.", files=[log.uuid, png.uuid]
        )
        got_log, got_png = await client.download_file(log.uuid), await client.download_file(png.uuid)
        thread = await client.list_comments(OPEN)
    assert isinstance(log, UploadedFile) and isinstance(got_png, DownloadedFile)
    assert (log.filename, log.size, log.sha256, log.reused) == (
        "dmesg.log", len(LOG), hashlib.sha256(LOG).hexdigest(), False
    )  # fmt: skip
    assert got_log.content == LOG and got_log.filename == "dmesg.log"
    assert got_log.content_type is not None and got_log.content_type.startswith("text/")  # guessed from .log
    assert got_png.content == PNG and got_png.content_type == "image/png" and got_png.filename == "panel.png"
    assert comment.files == [log.uuid, png.uuid]
    assert next(c for c in thread if c.id == comment.id).files == [log.uuid, png.uuid]
    sent = uploads(sandbox)
    assert [e["body"]["file"] for e in sent] == [
        {"filename": "dmesg.log", "size": len(LOG), "sha256": log.sha256, "content_type": "text/plain"},
        {"filename": "panel.png", "size": len(PNG), "sha256": png.sha256, "content_type": "image/png"},
    ]
    assert "kernel: nvme0n1" not in repr(sandbox.journal())  # the journal never holds a file's content


async def test_a_new_ticket_and_a_reopen_carry_files(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox, dedup_window=0) as client:
        first = await client.upload_file("mtr.txt", b"HOST: web-01\n")
        created = await client.create_ticket(
            summary="Packet loss to web-01",
            categories=["cloud_servers"],
            category_fields=[{"key": "region", "values": ["ru-1"]}],
            comment_body="mtr attached",
            files=[first.uuid],
        )
        number = created.ticket.number
        await client.close_ticket(number)
        again = await client.upload_file("mtr-2.txt", b"HOST: web-01 again\n")
        await client.reopen_ticket(number, body="Again, mtr attached", files=[again.uuid])
        thread = await client.list_comments(number)
    assert [c.files for c in thread] == [[first.uuid], [again.uuid]]


# -- writes done once ----------------------------------------------------------------------------


async def test_an_identical_file_within_the_dedup_window_is_uploaded_once(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox, dedup=MemoryDedup(), dedup_window=600) as client:
        first = await client.upload_file("config.yaml", b"listen: 443\n")
        again = await client.upload_file("config.yaml", b"listen: 443\n")
        renamed = await client.upload_file("config-copy.yaml", b"listen: 443\n")
        changed = await client.upload_file("config.yaml", b"listen: 8443\n")
    assert again.uuid == first.uuid and again.reused and not first.reused
    assert len({first.uuid, renamed.uuid, changed.uuid}) == 3
    assert len(uploads(sandbox)) == 3


async def test_clients_given_one_dedup_share_it(sandbox: SandboxHandle) -> None:
    dedup = MemoryDedup()
    async with make_client(sandbox, dedup=dedup) as one, make_client(sandbox, dedup=dedup) as two:
        a, b = await one.upload_file("a.txt", b"same"), await two.upload_file("a.txt", b"same")
    assert a.uuid == b.uuid and b.reused and len(uploads(sandbox)) == 1


async def test_twenty_one_uploads_are_paced_without_a_single_429(sandbox: SandboxHandle) -> None:
    """20 per minute per account (the sandbox's minute is `WINDOW` s); two clients sharing the windows."""
    windows = MemoryWindows()
    started = time.monotonic()
    async with make_client(sandbox, windows=windows) as one, make_client(sandbox, windows=windows) as two:
        async with anyio.create_task_group() as group:
            for i in range(21):
                group.start_soon((one if i % 2 else two).upload_file, f"part-{i}.txt", f"{i}".encode())
    elapsed = time.monotonic() - started
    statuses = [e["status"] for e in uploads(sandbox)]
    assert statuses == [200] * 21
    assert elapsed >= WINDOW * 0.9  # the 21st waited for the first to leave the window


async def test_an_upload_that_fails_after_sending_is_never_resent(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["503"], "path_prefix": "/files/public/files", "methods": ["POST"]})
    async with make_client(sandbox) as client:
        with pytest.raises(ServerError) as raised:
            await client.upload_file("trace.log", b"trace")
    error = raised.value
    assert error.outcome_unknown and error.operation == "upload_file" and error.status == 503
    assert "cannot be checked" in error.message and "search for the result" not in error.message
    assert len(uploads(sandbox)) == 1


async def test_a_dropped_upload_answer_is_unknown_though_the_file_was_stored(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["drop"], "path_prefix": "/files/public/files"})
    content = b"stored, answer lost"
    async with make_client(sandbox) as client:
        with pytest.raises(TransportError) as raised:
            await client.upload_file("lost.txt", content)
    assert raised.value.outcome_unknown and "cannot be checked" in raised.value.message
    assert len(uploads(sandbox)) == 1
    assert len(stored(sandbox, hashlib.sha256(content).hexdigest())) == 1


async def test_a_429_on_upload_stores_nothing_and_is_retried(sandbox: SandboxHandle) -> None:
    sandbox.set_faults({"sequence": ["429"], "path_prefix": "/files/public/files", "retry_after": 0})
    async with make_client(sandbox) as client:
        uploaded = await client.upload_file("retry.txt", b"after a 429")
    assert [e["status"] for e in uploads(sandbox)] == [429, 200]
    assert [f["uuid"] for f in stored(sandbox, uploaded.sha256)] == [uploaded.uuid]


async def test_reads_of_the_files_api_are_retried_after_a_5xx(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as client:
        uploaded = await client.upload_file("again.txt", b"read twice")
        sandbox.set_faults({"sequence": ["502"], "methods": ["GET"], "path_prefix": "/files/"})
        got = await client.download_file(uploaded.uuid)
    assert got.content == b"read twice"


# -- refusals ------------------------------------------------------------------------------------


async def test_too_big_or_nameless_is_refused_before_sending(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as client:
        with pytest.raises(InvalidRequest) as big:
            await client.upload_file("huge.log", b"x" * 21_000_000)
        with pytest.raises(InvalidRequest) as nameless:
            await client.upload_file("  ", b"x")
        with pytest.raises(InvalidRequest) as not_a_uuid:
            await client.download_file("../extensions")
    assert big.value.sent is False and [f.field for f in big.value.fields] == ["content"]
    assert "20 MB" in big.value.message
    assert nameless.value.sent is False and not_a_uuid.value.sent is False
    assert uploads(sandbox) == [] and [e for e in settled(sandbox) if e["path"].startswith("/files")] == []


async def test_a_forbidden_extension_is_the_apis_400_with_the_allowed_list(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as client:
        with pytest.raises(InvalidRequest) as raised:
            await client.upload_file("setup.exe", b"MZ\x90\x00")
    error = raised.value
    assert error.status == 400 and error.code == "validation_error" and error.sent
    (field,) = error.fields
    assert field.field == "file" and ".exe" in field.reason and field.allowed and "log" in field.allowed
    assert stored(sandbox, hashlib.sha256(b"MZ\x90\x00").hexdigest()) == []


async def test_the_apis_413_names_the_limit() -> None:
    with run_sandbox(max_file_bytes=1000, seed=False) as sb:
        async with make_client(sb) as client:
            with pytest.raises(InvalidRequest) as raised:
                await client.upload_file("big.txt", b"x" * 1001)
        assert sb.files() == []
    assert raised.value.status == 413 and raised.value.code == "file_too_large"


async def test_the_tickets_api_takes_only_this_accounts_uploads() -> None:
    with run_sandbox(static_tokens=("sandbox-demo-token", OTHER_TOKEN)) as sb:
        async with make_client(sb) as mine, make_client(sb, auth=StaticToken(OTHER_TOKEN)) as theirs:
            other = await theirs.upload_file("theirs.txt", b"another account's file")
            with pytest.raises(InvalidRequest) as foreign:
                await mine.add_comment(OPEN, body="not mine", files=[other.uuid])
            with pytest.raises(InvalidRequest) as unknown:
                await mine.add_comment(OPEN, body="unknown", files=["497f6eca-6276-4993-bfeb-53cbbbba6f08"])
            with pytest.raises(NotFound):
                await mine.download_file(other.uuid)
            assert (await theirs.download_file(other.uuid)).content == b"another account's file"
    for raised in (foreign, unknown):
        assert [f.field for f in raised.value.fields] == ["files.0"]
        assert "upload it first" in raised.value.fields[0].reason
    comments = [e for e in sb.journal() if e["path"].endswith("/comments") and e["method"] == "POST"]
    assert [e["status"] for e in comments] == [400, 400]


async def test_eleven_files_are_refused_before_sending(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox) as client:
        with pytest.raises(InvalidRequest) as raised:
            await client.add_comment(
                OPEN, body="too many", files=["497f6eca-6276-4993-bfeb-53cbbbba6f08"] * 11
            )
    assert raised.value.sent is False and [f.field for f in raised.value.fields] == ["files"]


# -- errors that say what to do ------------------------------------------------------------------


async def test_an_unknown_file_names_the_uuid_and_the_route(sandbox: SandboxHandle) -> None:
    uuid = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
    async with make_client(sandbox) as client:
        with pytest.raises(NotFound) as raised:
            await client.download_file(uuid)
    assert uuid in raised.value.message and "download_file (GET /public/files/{uuid}" in raised.value.message


async def test_a_moved_route_names_its_route_table_entry() -> None:
    moved = {"/public/files/extensions": "/v2/extensions", "POST /public/files": "/v2/files"}
    with run_sandbox(moved_routes=moved, seed=False) as sb:
        async with make_client(sb) as client:
            with pytest.raises(NotFound) as listing:
                await client.list_file_extensions()
            with pytest.raises(NotFound) as uploading:
                await client.upload_file("a.txt", b"a")
        assert sb.files() == []
    assert listing.value.code == "route_not_found"
    assert "list_file_extensions (GET /public/files/extensions, path seen" in listing.value.message
    assert uploading.value.code == "route_not_found" and "upload_file (POST /public/files" in str(
        uploading.value
    )
    assert "SELECTEL_FILES_URL" in listing.value.message


async def test_an_iam_token_the_files_api_refuses_suggests_a_static_token() -> None:
    with run_sandbox(files_accept_iam=False) as sb:
        user = ServiceUser(sb.username, sb.password, sb.account_id, sb.identity_url)
        async with make_client(sb, auth=user) as client:
            assert await client.count_tickets() > 0  # the Tickets API takes it
            with pytest.raises(AuthError) as raised:
                await client.list_file_extensions()
        async with make_client(sb) as static:
            assert await static.list_file_extensions()
    assert raised.value.status == 403 and "this API may need a static token" in raised.value.message


async def test_an_iam_token_works_where_the_files_api_takes_it(sandbox: SandboxHandle) -> None:
    user = ServiceUser(sandbox.username, sandbox.password, sandbox.account_id, sandbox.identity_url)
    async with make_client(sandbox, auth=user) as client:
        uploaded = await client.upload_file("iam.txt", b"by a service user")
        assert (await client.download_file(uploaded.uuid)).content == b"by a service user"


# -- where the Attachments API is ----------------------------------------------------------------


async def test_the_files_url_derives_from_the_tickets_url_or_is_set(sandbox: SandboxHandle) -> None:
    assert make_client(sandbox).files_url == sandbox.files_url
    assert build_client(make_settings(sandbox)).files_url == sandbox.files_url
    wrong = build_client(make_settings(sandbox, files_url=sandbox.root_url + "/elsewhere/"))
    assert wrong.files_url == sandbox.root_url + "/elsewhere"
    async with wrong:
        with pytest.raises(NotFound) as raised:
            await wrong.list_file_extensions()
    assert raised.value.code == "route_not_found" and sandbox.root_url + "/elsewhere" in raised.value.message


def test_settings_read_selectel_files_url(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle) -> None:
    monkeypatch.setenv("SELECTEL_FILES_URL", "https://files.example/files")
    client = build_client(make_settings(sandbox))
    assert isinstance(client, TicketsClient) and client.files_url == "https://files.example/files"
