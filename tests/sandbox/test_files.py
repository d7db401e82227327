"""The sandbox's Attachments API over raw HTTP (W17..W20): the extensions, the multipart upload and its
refusals, the download, the per-account limit on the sandbox's minute, faults, the journal (never the
content), and the Tickets API refusing files that are unknown, another account's or more than 10."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from support.sandbox import create_v2, field_names, upload, v2_body
from tickets_mcp.sandbox import SandboxHandle, run_sandbox

OTHER = "other-account-token_777"
OPEN = 2401006
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def files(sandbox: SandboxHandle) -> Iterator[httpx2.Client]:
    """A client of the Attachments API (``/files``) with the demo token."""
    with httpx2.Client(base_url=sandbox.files_url, headers={"X-Token": sandbox.token}, timeout=30) as client:
        yield client


def post_file(client: httpx2.Client, name: str, content: bytes, kind: str = "text/plain") -> httpx2.Response:
    return client.post("/public/files", files={"file": (name, content, kind)})


def file_entries(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in sb.journal() if e["path"].startswith("/files")]


def test_the_extensions_are_text_logs_images_pdf_and_archives(files: httpx2.Client) -> None:
    response = files.get("/public/files/extensions")
    assert response.status_code == 200
    names = response.json()["items"]
    assert {"txt", "log", "conf", "png", "jpg", "pdf", "zip", "gz", "tar"} <= set(names)
    assert "exe" not in names and "sh" not in names


@pytest.mark.parametrize(
    ("shape", "read"),
    [
        ("strings", lambda body: body),
        ("objects", lambda body: [item["extension"].lstrip(".").lower() for item in body]),
    ],
)
def test_the_other_answer_shapes(shape: str, read: Any) -> None:
    with run_sandbox(files_shape=shape) as sb:
        headers = {"X-Token": sb.token}
        names = read(httpx2.get(sb.files_url + "/public/files/extensions", headers=headers).json())
        answer = httpx2.post(
            sb.files_url + "/public/files", files={"file": ("a.txt", b"a", "text/plain")}, headers=headers
        ).json()
    assert "txt" in names and "exe" not in names
    uuid = answer["file"]["id"] if shape == "strings" else answer["file_uuid"]
    assert len(uuid) == 36


def test_an_upload_answers_its_uuid_and_the_download_gives_the_bytes_back(
    files: httpx2.Client, sandbox: SandboxHandle
) -> None:
    response = post_file(files, "Скриншот панели.png", PNG, "image/png")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"uuid", "filename", "size", "content_type", "sha256", "created_at"}
    assert answer["size"] == len(PNG) and answer["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert answer["created_at"].endswith("Z")
    got = files.get(f"/public/files/{answer['uuid']}")
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert (
        "filename*=UTF-8''%D0%A1%D0%BA%D1%80%D0%B8%D0%BD%D1%88%D0%BE%D1%82"
        in got.headers["content-disposition"]
    )
    (stored,) = [f for f in sandbox.files() if f["uuid"] == answer["uuid"]]
    assert stored["account"] == sandbox.account_id and stored["filename"] == "Скриншот панели.png"


@pytest.mark.parametrize(
    ("request_kwargs", "reason"),
    [
        ({"json": {"file": "x"}}, "multipart/form-data"),
        ({"files": {"attachment": ("a.txt", b"a", "text/plain")}}, "exactly one"),
        (
            {"files": [("file", ("a.txt", b"a", "text/plain")), ("file", ("b.txt", b"b", "text/plain"))]},
            "exactly one",
        ),
        ({"files": {"file": ("", b"a", "text/plain")}}, "exactly one"),  # no filename: a field, not a file
        ({"files": {"file": ("setup.exe", b"MZ", "application/octet-stream")}}, ".exe is not allowed"),
        ({"files": {"file": ("Makefile", b"all:", "text/plain")}}, "no extension is not allowed"),
    ],
    ids=["not multipart", "no file part", "two file parts", "no name", "exe", "no extension"],
)
def test_a_bad_upload_is_a_400_that_stores_nothing(
    files: httpx2.Client, sandbox: SandboxHandle, request_kwargs: dict[str, Any], reason: str
) -> None:
    before = len(sandbox.files())
    response = files.post("/public/files", **request_kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field_names(response) == ["file"]
    assert reason in error["fields"][0]["reason"].replace("an allowed attachment extension", "allowed")
    if "extension" in reason:
        assert "log" in error["fields"][0]["allowed"]
    assert len(sandbox.files()) == before


def test_twenty_megabytes_pass_and_one_byte_more_is_a_413(
    files: httpx2.Client, sandbox: SandboxHandle
) -> None:
    limit = sandbox.config.max_file_bytes
    assert limit == 20_000_000
    assert post_file(files, "edge.log", b"x" * limit).status_code == 200
    before = len(sandbox.files())
    response = post_file(files, "over.log", b"x" * (limit + 1))
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    assert len(sandbox.files()) == before


def test_twenty_uploads_per_minute_per_account_on_the_time_scale() -> None:
    with run_sandbox(time_scale=1 / 60, static_tokens=("sandbox-demo-token", OTHER), seed=False) as sb:

        def send(token: str, i: int) -> httpx2.Response:
            return httpx2.post(
                sb.files_url + "/public/files",
                files={"file": (f"{i}.txt", b"x", "text/plain")},
                headers={"X-Token": token},
            )

        started = time.monotonic()
        assert [send(sb.token, i).status_code for i in range(20)] == [200] * 20
        refused = send(sb.token, 20)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited" and "attachment uploads" in refused.text
        assert send(OTHER, 0).status_code == 200  # another account has its own minute
        assert len(sb.files()) == 21
        time.sleep(max(0.0, started + 1.05 - time.monotonic()))  # the scaled minute is 1 s
        assert send(sb.token, 21).status_code == 200


def test_another_accounts_file_and_an_unknown_one_are_not_found() -> None:
    with run_sandbox(static_tokens=("sandbox-demo-token", OTHER)) as sb:
        theirs = upload(sb, "theirs.txt", b"not yours", token=OTHER)
        mine = httpx2.get(sb.files_url + f"/public/files/{theirs}", headers={"X-Token": sb.token})
        unknown = httpx2.get(
            sb.files_url + "/public/files/497f6eca-6276-4993-bfeb-53cbbbba6f08", headers={"X-Token": sb.token}
        )
        owner = httpx2.get(sb.files_url + f"/public/files/{theirs}", headers={"X-Token": OTHER})
    assert mine.status_code == unknown.status_code == 404
    assert mine.json()["error"]["code"] == "not_found" and owner.content == b"not yours"


def test_the_files_api_needs_a_token_and_may_refuse_an_iam_one() -> None:
    with run_sandbox(files_accept_iam=False) as sb:
        login = httpx2.post(
            sb.identity_url + "/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": sb.username,
                                "password": sb.password,
                                "domain": {"name": sb.account_id},
                            }
                        },
                    }
                }
            },
        )
        iam = {"X-Auth-Token": login.headers["x-subject-token"]}
        assert httpx2.get(sb.base_url + "/v2/tickets/count", headers=iam).status_code == 200
        refused = httpx2.get(sb.files_url + "/public/files/extensions", headers=iam)
        anonymous = httpx2.get(sb.files_url + "/public/files/extensions")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert anonymous.status_code == 401


def test_the_journal_keeps_name_size_and_sha256_never_the_content(
    files: httpx2.Client, sandbox: SandboxHandle
) -> None:
    secret = b"password=hunter2-do-not-journal\r\n" + PNG
    post_file(files, "creds.log", secret)
    (entry,) = [e for e in file_entries(sandbox) if e["method"] == "POST"]
    assert entry["body"] == {
        "file": {
            "filename": "creds.log",
            "size": len(secret),
            "sha256": hashlib.sha256(secret).hexdigest(),
            "content_type": "text/plain",
        }
    }
    assert entry["status"] == 200 and entry["account"] == sandbox.account_id
    assert "hunter2" not in repr(sandbox.journal())


def test_an_unreadable_multipart_body_is_journaled_by_size(
    files: httpx2.Client, sandbox: SandboxHandle
) -> None:
    raw = b"--nope\r\nsecret-bytes-here"
    response = files.post(
        "/public/files", content=raw, headers={"Content-Type": "multipart/form-data; boundary=b0undary"}
    )
    assert response.status_code == 400
    (entry,) = [e for e in file_entries(sandbox) if e["method"] == "POST"]
    assert "secret-bytes-here" not in repr(entry)


def test_faults_apply_to_the_files_api(files: httpx2.Client, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(
        {"sequence": ["503", {"kind": "500", "applied": True}], "path_prefix": "/files/public/files"}
    )
    before = len(sandbox.files())
    assert post_file(files, "a.txt", b"first").status_code == 503
    assert len(sandbox.files()) == before  # not applied
    assert post_file(files, "b.txt", b"second").status_code == 500
    assert len(sandbox.files()) == before + 1  # applied, then the answer failed
    assert [e["fault"] for e in file_entries(sandbox)] == ["503", "500"]


# -- the Tickets API and the files --------------------------------------------------------------


def test_a_write_takes_only_this_accounts_uploaded_files() -> None:
    with run_sandbox(static_tokens=("sandbox-demo-token", OTHER), creates_per_minute=100) as sb:
        mine, theirs = upload(sb, "mine.txt"), upload(sb, "theirs.txt", token=OTHER)
        unknown = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
        with httpx2.Client(base_url=sb.base_url, headers={"X-Token": sb.token}) as client:
            before = len(sb.journal())
            cases = {
                "comment": client.post(
                    f"/tickets/{OPEN}/comments", json={"body": "x", "files": [mine, theirs]}
                ),
                "create": client.post("/v2/tickets", json=v2_body(files=[unknown])),
                "legacy": client.post(
                    "/tickets", json={"summary": "s", "comment_body": "c", "files": [theirs]}
                ),
            }
            closed = create_v2(client)["number"]
            client.post(f"/tickets/{closed}/close", json={})
            cases["reopen"] = client.post(f"/tickets/{closed}/reopen", json={"body": "x", "files": [unknown]})
            accepted = client.post(f"/tickets/{OPEN}/comments", json={"body": "mine", "files": [mine]})
            thread = client.get(f"/tickets/{OPEN}/comments").json()["items"]
        assert len(sb.journal()) > before
    for name, response in cases.items():
        assert response.status_code == 400, name
        wanted = ["files.1"] if name == "comment" else ["files.0"]
        assert field_names(response) == wanted, name
        assert "upload it first" in response.json()["error"]["fields"][0]["reason"]
    assert accepted.status_code == 200 and accepted.json()["files"] == [mine]
    assert [c["files"] for c in thread if c["body"] in ("x", "mine")] == [
        [mine]
    ]  # the refused one stored nothing


def test_more_than_ten_files_per_comment_are_refused(api: httpx2.Client, sandbox: SandboxHandle) -> None:
    eleven = [upload(sandbox, f"{i}.txt") for i in range(11)]
    response = api.post(f"/tickets/{OPEN}/comments", json={"body": "x", "files": eleven})
    assert response.status_code == 400 and "files" in field_names(response)
    assert (
        api.post(f"/tickets/{OPEN}/comments", json={"body": "ten", "files": eleven[:10]}).status_code == 200
    )
