"""How attachments read: under each comment of a thread (UUIDs, names where the API gives them, within the
budget), and what kind `get_attachment` takes a downloaded file for."""

from __future__ import annotations

import support.tickets as fx
from tickets_mcp.api.models import Comment
from tickets_mcp.mcp_server.attachments import kind_of, text_part
from tickets_mcp.mcp_server.markdown import estimate_tokens
from tickets_mcp.mcp_server.outputs import comment_view
from tickets_mcp.mcp_server.threads import Selection, files_line, files_tokens, view

A, B = "3f2b8c1e-9a4d-4e7b-8c21-0d9e6f5a4b3c", "0d9e6f5a-4b3c-4e7b-8c21-3f2b8c1e9a4d"


def comment(files: list[object], body: str = "see attached") -> Comment:
    return Comment.model_validate({"id": 7, "body": body, "is_client_author": True, "files": files})


def test_a_thread_lists_uuids_and_the_names_the_api_gives() -> None:
    plain = comment([A, B])
    named = comment([{"uuid": A, "filename": "mtr\u202e.txt"}, B])
    text = view(fx.ticket_view(), [named], Selection(), budget=8000, howto=lambda **k: "").text
    assert f"[2 attachments: {A} (mtr.txt), {B}; read one with get_attachment(uuid=...)]" in text  # sanitized
    assert files_line(comment_view(plain).files or []) == (
        f"[2 attachments: {A}, {B}; read one with get_attachment(uuid=...)]"
    )
    assert comment_view(named).file_names == {A: "mtr.txt"}


def test_the_attachments_line_is_budgeted() -> None:
    for files in ([A], [A, B] * 5):
        shown = comment_view(comment(list(files)))
        assert files_tokens(shown) >= estimate_tokens(files_line(shown.files or []))
    assert files_tokens(comment_view(comment([]))) == 0


def test_a_file_is_text_image_or_binary() -> None:
    assert kind_of("boot.log", None, b"ok\n") == ("text", "text/plain")
    assert kind_of("x", "application/json; charset=utf-8", b"{}") == ("text", "application/json")
    assert kind_of("panel.png", "application/octet-stream", b"\x89PNG") == ("image", "image/png")
    assert kind_of(None, "image/jpeg", b"\xff\xd8") == ("image", "image/jpeg")
    assert kind_of("dump.zip", None, b"PK\x05\x06\x00") == ("binary", "application/zip")
    assert kind_of(None, None, "чтение\n".encode()) == ("text", "text/plain")  # no type, reads as UTF-8
    assert kind_of(None, None, b"\x00\x01\xff") == ("binary", "application/octet-stream")


def test_a_text_part_fits_its_budget_and_ends_at_a_break() -> None:
    text = "".join(f"line {i} of a long kernel log\n" for i in range(2000))
    part = text_part(text, 0, 500)
    assert estimate_tokens(part) <= 500 and part.endswith("\n") and text.startswith(part)
    assert text_part(text, len(text) - 10, 500) == text[-10:]
