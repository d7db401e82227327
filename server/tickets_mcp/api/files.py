"""The Ticket attachments API ("files"): what an upload and a download return, and how its answers are read.

The vendor documents one route of it, ``GET /public/files/extensions`` ("the attachment extensions available
for download"), its ``X-Token`` auth and its limits (20 uploads per minute, 10 attachments per comment,
20 MB per file), never the shape of an answer. So every reader here is tolerant, and each choice is a wire
decision (docs/wire-decisions.md, W17..W20):

- the extensions: a list of strings, a list of objects (``extension``, ``ext``, ``name`` or ``value``), or
  either under one wrapper key; read as lower-case names without the dot;
- an upload's answer names the new file's UUID as ``uuid``, ``id`` or ``file_uuid``, at the top level or
  under one wrapper key;
- a download is the file's bytes; its name comes from ``Content-Disposition`` when the API sends one.
"""

from __future__ import annotations

import mimetypes
import re
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# The vendor's limits (its rate-limit page). "20 MB" is read as 20 x 10^6 bytes, the smaller reading, so a
# file the client lets through fits whichever one the API applies (W19).
MAX_FILE_BYTES = 20_000_000
MAX_FILES_PER_COMMENT = 10
UPLOADS_PER_MINUTE = 20

_UUID_KEYS = ("uuid", "id", "file_uuid")
_EXTENSION_KEYS = ("extension", "ext", "name", "value")
_EXTENSION = re.compile(r"^[a-z0-9][a-z0-9_+-]{0,31}$")


class UploadedFile(BaseModel):
    """A file the Attachments API stored: its UUID (for ``files`` of a create, reopen or comment), what was
    sent, and ``reused``: an identical file (same name and bytes) uploaded by this identity within the
    client's dedup window, whose UUID is returned instead of uploading it again."""

    model_config = ConfigDict(frozen=True)

    uuid: str
    filename: str
    size: int
    sha256: str
    reused: bool = False


class DownloadedFile(BaseModel):
    """A file read back from the Attachments API; ``filename`` and ``content_type`` as the API sent them
    (None when it did not)."""

    model_config = ConfigDict(frozen=True)

    uuid: str
    filename: str | None = None
    content_type: str | None = None
    content: bytes = Field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


def _unwrap(data: Any, looks_right: Any) -> Any:
    """``data`` itself if ``looks_right(data)``, else the one value under a wrapper key that does."""
    if looks_right(data):
        return data
    if isinstance(data, dict):
        inner = [value for value in data.values() if looks_right(value)]
        if len(inner) == 1:
            return inner[0]
    raise ValueError("not the expected shape")


def _extension(item: Any) -> str:
    if isinstance(item, dict):
        item = next((item[k] for k in _EXTENSION_KEYS if isinstance(item.get(k), str)), None)
    if not isinstance(item, str):
        raise ValueError("an extension is neither a string nor an object naming one")
    name = item.strip().lstrip(".").lower()
    if not _EXTENSION.match(name):
        raise ValueError(f"{item!r} is not a file extension")
    return name


def extensions_of(data: Any) -> list[str]:
    """The extensions in an answer of ``GET /public/files/extensions``, lower-case, no dot, no duplicates,
    in the API's order. ValueError when the answer has none of the accepted shapes."""
    items = _unwrap(data, lambda value: isinstance(value, list))
    names: list[str] = []
    for item in items:
        name = _extension(item)
        if name not in names:
            names.append(name)
    return names


def _has_uuid(value: Any) -> bool:
    return isinstance(value, dict) and any(_as_uuid(value.get(k)) for k in _UUID_KEYS)


def _as_uuid(value: Any) -> str | None:
    try:
        return str(UUID(str(value))) if isinstance(value, str) else None
    except ValueError:
        return None


def uuid_of(data: Any) -> str:
    """The new file's UUID in an upload's answer: ``uuid``, ``id`` or ``file_uuid``, at the top level or under
    one wrapper key (``{"file": {...}}``, ``{"items": [{...}]}`` with one item); also a bare UUID string or
    a list of one object. ValueError otherwise."""
    if isinstance(data, str) and (bare := _as_uuid(data)) is not None:  # the UUID alone
        return bare
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict):
        for value in list(data.values()):
            if isinstance(value, list) and len(value) == 1:
                data = {**data, "_one": value[0]}
    found = _unwrap(data, _has_uuid)
    return next(uuid for k in _UUID_KEYS if (uuid := _as_uuid(found.get(k))) is not None)


FileExtensions = Annotated[list[str], BeforeValidator(extensions_of)]
UploadAnswer = Annotated[str, BeforeValidator(uuid_of)]


def filename_of(content_disposition: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header gives (``filename*`` wins), or None."""
    if not content_disposition:
        return None
    message = Message()
    message["content-disposition"] = content_disposition
    values = [v for k, v in message.get_params([], header="content-disposition") if k.lower() == "filename"]
    values.sort(key=lambda v: not isinstance(v, tuple))  # the RFC 2231/5987 ``filename*`` form first
    if not values:
        return None
    name = collapse_rfc2231_value(values[0]).strip()
    return name or None


# Logs and configs, which `mimetypes` does not know, are text.
_TEXT_EXTENSIONS = frozenset({"log", "conf", "cfg", "ini", "yaml", "yml", "toml", "env", "out", "err"})


def content_type_of(filename: str) -> str:
    """The content type an upload of ``filename`` is sent with when none is given: `mimetypes`' guess,
    ``text/plain`` for logs and configs, else ``application/octet-stream``."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if guessed:
        return guessed
    return "text/plain" if extension_of(filename) in _TEXT_EXTENSIONS else "application/octet-stream"


def extension_of(filename: str) -> str:
    """A file name's extension as the allow-list names it: lower-case, without the dot ("" for none)."""
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem and ext else ""


__all__ = [
    "MAX_FILES_PER_COMMENT",
    "MAX_FILE_BYTES",
    "UPLOADS_PER_MINUTE",
    "DownloadedFile",
    "UploadedFile",
    "content_type_of",
    "extension_of",
    "extensions_of",
    "filename_of",
    "uuid_of",
]
