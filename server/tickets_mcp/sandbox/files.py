"""The Ticket attachments API, mounted under ``/files`` (W17..W20 of docs/wire-decisions.md).

The vendor documents ``GET /public/files/extensions``, the ``X-Token`` auth and the limits (20 uploads per
minute, 10 attachments per comment, 20 MB per file); the upload and the download are inferred:

- ``GET /public/files/extensions``: the allow-list (``SandboxConfig.file_extensions``), as
  ``{"items": ["txt", ...]}`` (``files_shape="wrapped"``), ``["txt", ...]`` (``"strings"``) or
  ``[{"extension": ".TXT"}, ...]`` (``"objects"``);
- ``POST /public/files``: ``multipart/form-data`` with exactly one ``file`` part. 400 ``validation_error``
  for a missing part, an empty name or an extension not on the list (with the list as ``allowed``), 413
  ``file_too_large`` over ``max_file_bytes``, 429 past 20 uploads per account per minute (× time scale,
  counted only when stored). Answers ``{"uuid", "filename", "size", "content_type", "sha256",
  "created_at"}`` (``"strings"``: the same under ``"file"`` with ``id`` for ``uuid``; ``"objects"``:
  ``file_uuid``);
- ``GET /public/files/{uuid}``: the bytes, with ``Content-Type`` and ``Content-Disposition`` (the name);
  404 for an unknown file and for another account's.

A file belongs to the account that uploaded it: the Tickets API refuses, in ``files`` of a create, reopen or
comment, a UUID that is unknown or another account's (`check_files`), as it refuses more than 10.
"""

from __future__ import annotations

import hashlib
import time
import uuid as uuids
from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tickets_mcp.sandbox.auth import Principal
from tickets_mcp.sandbox.errors import ApiError, Problems
from tickets_mcp.sandbox.state import SandboxState
from tickets_mcp.sandbox.tickets import iso

UPLOAD_HINT = "upload it first: POST /files/public/files"


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _principal(request: Request, state: SandboxState) -> Principal:
    principal = state.auth.require(request.headers)
    if principal.mode == "iam" and not state.config.files_accept_iam:
        raise ApiError("forbidden", "The Attachments API takes a static token (X-Token), not an IAM token")
    return principal


def extension_of(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem and ext else ""


async def extensions(request: Request) -> Response:
    state = _state(request)
    _principal(request, state)
    names = list(state.config.file_extensions)
    shape = state.config.files_shape
    if shape == "strings":
        return JSONResponse(names)
    if shape == "objects":
        return JSONResponse([{"extension": "." + name.upper()} for name in names])
    return JSONResponse({"items": names})


async def _the_file(request: Request) -> UploadFile:
    """The one ``file`` part of a multipart body, or a 400."""
    problems = Problems()
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        problems.add("file", "the body must be multipart/form-data with one `file` part")
        problems.raise_if_any()
    try:
        form = await request.form(max_files=10, max_fields=10)
    except Exception as exc:  # python-multipart's errors, an unreadable body: a client error either way
        raise ApiError(
            "validation_error",
            f"Unreadable multipart body: {exc}",
            fields=[{"field": "file", "reason": "unreadable multipart body"}],
        ) from exc
    parts = [part for part in form.getlist("file") if isinstance(part, UploadFile)]
    if len(parts) != 1:
        problems.add("file", "exactly one `file` part (a file) is required")
        problems.raise_if_any()
    return parts[0]


async def upload(request: Request) -> Response:
    state = _state(request)
    principal = _principal(request, state)
    part = await _the_file(request)
    name = (part.filename or "").strip()
    content = await part.read()
    problems = Problems()
    if not name:
        problems.add("file", "the file part needs a non-empty filename")
        problems.raise_if_any()
    limit = state.config.max_file_bytes
    if len(content) > limit:
        raise ApiError(
            "file_too_large",
            f"{name} is {len(content)} bytes: at most {limit} bytes (20 MB) per file",
            fields=[{"field": "file", "reason": f"at most {limit} bytes"}],
        )
    allowed = list(state.config.file_extensions)
    ext = extension_of(name)
    if ext not in allowed:
        shown = f".{ext}" if ext else "no extension"
        problems.add("file", f"{shown} is not an allowed attachment extension", allowed)
        problems.raise_if_any()
    state.limiter.check(principal.account_id, "upload")
    meta = {
        "uuid": str(uuids.uuid4()),
        "account": principal.account_id,
        "filename": name,
        "size": len(content),
        "content_type": part.content_type or "application/octet-stream",
        "sha256": hashlib.sha256(content).hexdigest(),
        "created_at": iso(time.time()),
    }
    state.store.insert_file(meta, content)
    state.limiter.record(principal.account_id, "upload")
    return JSONResponse(answer(meta, state.config.files_shape))


def answer(meta: dict[str, Any], shape: str) -> dict[str, Any]:
    """An upload's answer in the configured shape (W18)."""
    view = {k: meta[k] for k in ("uuid", "filename", "size", "content_type", "sha256", "created_at")}
    if shape == "strings":
        view["id"] = view.pop("uuid")
        return {"file": view}
    if shape == "objects":
        view["file_uuid"] = view.pop("uuid")
    return view


async def download(request: Request) -> Response:
    state = _state(request)
    principal = _principal(request, state)
    key = str(request.path_params["uuid"]).lower()
    found = state.store.get_file(key)
    if found is None or found[0]["account"] != principal.account_id:  # another account's: not there
        raise ApiError("not_found", f"File {key} not found")
    meta, content = found
    name = meta["filename"]
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=meta["content_type"], headers={"Content-Disposition": disposition})


def check_files(state: SandboxState, principal: Principal, files: list[str], problems: Problems) -> None:
    """Each UUID of a write's ``files`` must be a file this account uploaded (W20)."""
    owners = state.store.file_accounts(files)
    for i, uuid in enumerate(files):
        if owners.get(uuid.lower()) != principal.account_id:
            problems.add(f"files.{i}", f"no such file for this account; {UPLOAD_HINT}")


ROUTES = [
    Route("/public/files/extensions", extensions, methods=["GET"]),
    Route("/public/files", upload, methods=["POST"]),
    Route("/public/files/{uuid:uuid}", download, methods=["GET"]),
]
