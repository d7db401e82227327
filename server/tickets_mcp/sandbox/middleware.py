"""ASGI middleware in front of ``/support`` and ``/identity``: fault injection and the journal."""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tickets_mcp.sandbox.auth import Auth
from tickets_mcp.sandbox.errors import error_body
from tickets_mcp.sandbox.faults import FAULTED_PREFIXES, Fault, FaultPlan
from tickets_mcp.sandbox.journal import Journal

Recorder = Callable[[int | None], None]
REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


class Captured:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class Gate:
    def __init__(
        self, app: ASGIApp, faults: FaultPlan, journal: Journal, auth: Auth, stopping: threading.Event
    ) -> None:
        self.app = app
        self.faults = faults
        self.journal = journal
        self.auth = auth
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(FAULTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.time()
        seq = self.journal.reserve()
        raw = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        principal = self.auth.identify(headers)
        query_string = scope.get("query_string", b"").decode("latin-1")
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": parse_qs(query_string, keep_blank_values=True),
            "query_string": query_string,
            "body": _parse_body(raw, headers.get("content-type", "")),
            "status": None,
            "fault": None,
            "applied": True,
            "auth": principal.mode if principal else None,
            "account": principal.account_id if principal else None,
        }
        fault = self.faults.pick(scope["method"], scope["path"])
        recorded = False

        def record(status: int | None = None) -> None:
            """Journal the request before its last byte leaves, so a client never outruns the journal."""
            nonlocal recorded
            if status is not None:
                entry["status"] = status
            if not recorded:
                recorded = True
                self.journal.append(entry, started, seq)

        try:
            if fault is None:

                async def watch(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        entry["status"] = message["status"]
                    elif message["type"] == "http.response.body" and not message.get("more_body"):
                        record()
                    await send(message)

                await self.app(scope, replay, watch)
            else:
                entry["fault"] = fault.kind
                entry["applied"] = fault.applied
                captured = Captured()
                if fault.applied:
                    await self.app(scope, replay, captured.send)
                await self._answer(fault, captured, send, record)
        finally:
            record()

    async def _answer(self, fault: Fault, captured: Captured, send: Send, record: Recorder) -> int:
        kind = fault.kind
        if kind.startswith("429"):
            headers = []
            if kind == "429":
                headers.append((b"retry-after", str(fault.retry_after).encode()))
            elif kind == "429-date":
                date = formatdate(math.ceil(time.time() + fault.retry_after), usegmt=True)
                headers.append((b"retry-after", date.encode()))
            body = _json_bytes(error_body("rate_limited", "Too many requests (injected fault)"))
            return await _respond(record, send, 429, body, headers)
        if kind in ("500", "502", "503", "504"):
            status = int(kind)
            body = _json_bytes(error_body("server_error", f"{status} {REASONS[status]} (injected fault)"))
            return await _respond(record, send, status, body)
        if kind == "timeout":
            await self._sleep(fault.delay)
            if fault.applied:
                return await _respond(record, send, captured.status, captured.body, _extra(captured.headers))
            body = _json_bytes(error_body("server_error", "504 Gateway Timeout (injected fault)"))
            return await _respond(record, send, 504, body)
        if kind == "malformed":
            body = captured.body if fault.applied and len(captured.body) > 2 else b'{"items": [{"number": 1'
            half = body[: max(2, len(body) // 2)].decode("utf-8", "ignore").encode()
            return await _respond(record, send, 200, half + b',"unterminated')
        # drop: announce a full body, send part of it, then return without finishing.
        status = captured.status if fault.applied and captured.status else 200
        body = captured.body if fault.applied and captured.body else b'{"items": [], "page": 1}'
        declared = max(len(body), 64)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(declared).encode()),
                ],
            }
        )
        record(status)
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return status

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(0.05, remaining))


def _extra(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]


async def _respond(
    record: Recorder, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> int:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    record(status)
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return status


def _parse_body(raw: bytes, content_type: str = "") -> Any:
    if not raw:
        return None
    if content_type.lower().startswith("multipart/"):
        return _describe_parts(raw, content_type)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw[:2000].decode("utf-8", "replace")


def _describe_parts(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart body as the journal keeps it: per part its file name, size, sha256 and content type,
    never the content (an attachment may be a log full of secrets)."""
    try:
        message = BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw
        )
        parts: dict[str, Any] = {}
        for part in message.iter_parts() if message.is_multipart() else ():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            described = {
                "filename": part.get_filename(),
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "content_type": part.get_content_type(),
            }
            key = str(name) if name else f"part{len(parts)}"
            parts[key] = described if key not in parts else [parts[key], described]
        if parts:
            return parts
    except (ValueError, TypeError, LookupError):  # an unreadable body: described by its size only
        pass
    return {"unreadable_multipart": {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}}
