"""The client's side of the Attachments API, in process (httpx2's MockTransport): the answer shapes it reads,
the files base URL, what goes on the wire for an upload, and the errors it turns into instructions."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from tickets_mcp.api import (
    DEFAULT_FILES_URL,
    AuthError,
    IamToken,
    InvalidRequest,
    NotFound,
    RetryPolicy,
    ServerError,
    StaticToken,
    TicketsClient,
    files_url_from,
)
from tickets_mcp.api.files import (
    MAX_FILE_BYTES,
    content_type_of,
    extension_of,
    extensions_of,
    filename_of,
    uuid_of,
)
from tickets_mcp.api.models import Comment

pytestmark = pytest.mark.anyio
UUID = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
NO_RETRY = RetryPolicy(backoff_base=0.001, backoff_cap=0.001, max_wait=0.01, budget=0.05)


@pytest.mark.parametrize(
    "answer",
    [
        ["txt", "LOG", ".png"],
        [{"extension": ".txt"}, {"ext": "log"}, {"name": "PNG"}],
        {"items": ["txt", "log", "png"]},
        {"extensions": [{"value": "txt"}, {"extension": "log"}, {"extension": ".png"}], "count": 3},
        {"items": ["txt", "txt", "log", "png"]},
    ],
    ids=["strings", "objects", "wrapped", "wrapped objects", "duplicates"],
)
def test_the_extensions_in_each_shape(answer: Any) -> None:
    assert extensions_of(answer) == ["txt", "log", "png"]


@pytest.mark.parametrize(
    "answer", [{"a": ["txt"], "b": ["log"]}, "txt", [{"size": 3}], ["../etc"], 7], ids=str
)
def test_an_extensions_answer_of_no_known_shape_is_refused(answer: Any) -> None:
    with pytest.raises(ValueError):
        extensions_of(answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"uuid": UUID},
        {"id": UUID, "name": "a.log"},
        {"file_uuid": UUID.upper()},
        {"file": {"id": UUID}},
        {"data": {"uuid": UUID}, "status": "ok"},
        {"items": [{"uuid": UUID}]},
        [{"id": UUID}],
        UUID,
        {"id": 42, "uuid": UUID},  # a numeric id next to the UUID
    ],
    ids=str,
)
def test_the_uploads_uuid_in_each_shape(answer: Any) -> None:
    assert uuid_of(answer) == UUID


@pytest.mark.parametrize("answer", [{"id": 42}, {"ok": True}, {"a": {"uuid": UUID}, "b": {"id": UUID}}, None])
def test_an_upload_answer_naming_no_uuid_is_refused(answer: Any) -> None:
    with pytest.raises(ValueError):
        uuid_of(answer)


def test_names_extensions_and_types() -> None:
    assert filename_of('attachment; filename="a.log"') == "a.log"
    assert filename_of("attachment; filename=\"x.png\"; filename*=UTF-8''%D0%BB%D0%BE%D0%B3.png") == "лог.png"
    assert filename_of(None) is None and filename_of("inline") is None
    assert [extension_of(n) for n in ("a.TXT", "a.tar.gz", ".bashrc", "Makefile", "x.")] == [
        "txt",
        "gz",
        "",
        "",
        "",
    ]
    assert content_type_of("dmesg.log") == content_type_of("nginx.conf") == "text/plain"
    assert content_type_of("a.png") == "image/png" and content_type_of("a.bin") == "application/octet-stream"


def test_the_files_url_sits_next_to_the_tickets_url() -> None:
    assert files_url_from("https://api.selectel.ru/support") == DEFAULT_FILES_URL
    assert files_url_from("https://api.servercore.com/support/") == "https://api.servercore.com/files"
    assert files_url_from("http://127.0.0.1:8765/support") == "http://127.0.0.1:8765/files"
    assert files_url_from("https://gw.example/selectel/support") == "https://gw.example/selectel/files"
    assert files_url_from("https://proxy.example/tickets") == "https://proxy.example/files"
    assert TicketsClient().files_url == DEFAULT_FILES_URL
    assert TicketsClient(files_url="https://f.example/files/").files_url == "https://f.example/files"


def test_comment_files_may_be_objects_with_names() -> None:
    comment = Comment.model_validate(
        {"id": 1, "files": [UUID, {"uuid": "u2", "filename": "dmesg.log"}, {"id": "u3"}, {"size": 1}]}
    )
    assert comment.files == [UUID, "u2", "u3"] and comment.file_names == {"u2": "dmesg.log"}
    assert Comment.model_validate(comment.model_dump(mode="json")) == comment
    assert Comment.model_validate({"id": 2}).files == []


class Recorder:
    """A MockTransport answering each request with the next of ``answers`` (status, body or bytes, headers)."""

    def __init__(self, *answers: tuple[int, Any, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, body, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(body, bytes):
            return httpx2.Response(status, content=body, headers=headers)
        return httpx2.Response(status, json=body, headers=headers)

    def client(self, auth: Any = None, **options: Any) -> TicketsClient:
        return TicketsClient(
            "https://api.example/support",
            auth or StaticToken("tok_123"),
            transport=httpx2.MockTransport(self),
            retry=NO_RETRY,
            **options,
        )


async def test_an_upload_is_one_multipart_file_part_to_the_files_url() -> None:
    wire = Recorder((200, {"uuid": UUID}, {}))
    async with wire.client() as client:
        uploaded = await client.upload_file("dmesg.log", b"line 1\r\nline 2\n")
    (request,) = wire.requests
    assert (request.method, str(request.url)) == ("POST", "https://api.example/files/public/files")
    assert request.headers["x-token"] == "tok_123"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'Content-Disposition: form-data; name="file"; filename="dmesg.log"' in body
    assert b"Content-Type: text/plain" in body and b"line 1\r\nline 2\n" in body
    assert body.count(b"Content-Disposition") == 1
    assert uploaded.uuid == UUID and uploaded.size == 15 and len(uploaded.sha256) == 64


async def test_a_download_reads_the_bytes_and_the_headers() -> None:
    headers = {
        "content-type": "text/plain; charset=utf-8",
        "content-disposition": 'attachment; filename="a.log"',
    }
    wire = Recorder((200, b"\x00\x01 raw", headers))
    async with wire.client() as client:
        got = await client.download_file(UUID.upper())
    assert str(wire.requests[0].url) == f"https://api.example/files/public/files/{UUID}"
    assert (got.uuid, got.filename, got.content_type, got.content, got.size) == (
        UUID, "a.log", "text/plain; charset=utf-8", b"\x00\x01 raw", 6
    )  # fmt: skip


async def test_nothing_is_sent_for_a_file_over_20_mb_or_without_a_name() -> None:
    wire = Recorder((200, {"uuid": UUID}, {}))
    async with wire.client() as client:
        assert MAX_FILE_BYTES == 20_000_000
        with pytest.raises(InvalidRequest) as big:
            await client.upload_file("a.log", b"x" * (MAX_FILE_BYTES + 1))
        with pytest.raises(InvalidRequest):
            await client.upload_file("", b"x")
        with pytest.raises(InvalidRequest):
            await client.download_file("not-a-uuid")
        await client.upload_file("edge.log", b"x" * MAX_FILE_BYTES)  # the limit itself is allowed
    assert big.value.sent is False and big.value.status is None
    assert len(wire.requests) == 1


async def test_an_iam_token_refused_by_the_files_api_suggests_a_static_token() -> None:
    wire = Recorder((403, {"error": {"code": "forbidden", "message": "Forbidden"}}, {}))
    async with wire.client(IamToken("iam-token")) as client:
        with pytest.raises(AuthError) as raised:
            await client.list_file_extensions()
    assert "this API may need a static token" in raised.value.message
    assert "iam-token" not in raised.value.message
    static = Recorder((403, {"error": {"code": "forbidden", "message": "Forbidden"}}, {}))
    async with static.client() as client:
        with pytest.raises(AuthError) as plain:
            await client.list_file_extensions()
    assert "static token" not in plain.value.message


async def test_a_405_names_the_route_table_entry() -> None:
    wire = Recorder((405, {"error": {"code": "method_not_allowed", "message": "no"}}, {}))
    async with wire.client() as client:
        with pytest.raises(InvalidRequest) as raised:
            await client.download_file(UUID)
    assert raised.value.code == "route_not_found" and raised.value.status == 405
    assert "method of the route-table entry download_file (GET /public/files/{uuid}" in raised.value.message


async def test_a_404_of_a_download_names_the_file_and_the_route() -> None:
    wire = Recorder((404, b"<html>not found</html>", {}))
    async with wire.client() as client:
        with pytest.raises(NotFound) as raised:
            await client.download_file(UUID)
    assert UUID in raised.value.message and "download_file" in raised.value.message


async def test_an_ambiguous_upload_is_sent_once_and_says_it_cannot_be_checked() -> None:
    for status, body in ((500, {"error": {"message": "boom"}}), (200, {"no": "uuid"})):
        wire = Recorder((status, body, {}))
        async with wire.client() as client:
            with pytest.raises(ServerError) as raised:
                await client.upload_file("a.txt", b"a")
        assert len(wire.requests) == 1, status
        assert raised.value.outcome_unknown and "cannot be checked" in raised.value.message


async def test_an_upload_is_paced_in_its_own_bucket() -> None:
    from tickets_mcp.api import PacingPolicy, RateLimited

    wire = Recorder((200, {"uuid": UUID}, {}), (200, {"uuid": UUID}, {}), (200, {"id": 7, "body": "c"}, {}))
    policy = PacingPolicy(uploads_per_minute=2, max_wait=0.0)
    async with wire.client(pacing=policy, dedup_window=0) as client:
        await client.upload_file("1.txt", b"1")
        await client.upload_file("2.txt", b"2")
        with pytest.raises(RateLimited) as raised:
            await client.upload_file("3.txt", b"3")
        await client.add_comment(1, body="comments have their own bucket")
    assert raised.value.sent is False and "attachment uploads" in raised.value.message
    assert len(wire.requests) == 3


def test_the_multipart_request_carries_no_json() -> None:
    from tickets_mcp.api.operations import Operations

    request = Operations._upload_file.prepare((), {"file": ("a.txt", b"\xff\x00", "text/plain")})  # type: ignore[attr-defined]
    assert request.body is None and request.query is None
    assert request.files == {"file": ("a.txt", b"\xff\x00", "text/plain")}
    assert json.dumps(request.path) == "{}"
