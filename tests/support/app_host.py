"""A test host for the MCP App views: the host side of MCP Apps, as a web page and its backend.

`AppHost` serves `app_host.html` on loopback. The page mounts a view in a sandboxed iframe under the
spec's default CSP, answers `ui/initialize`, asks the user (a dialog on the page) before it forwards a
write the view asks for, and forwards each `tools/call` here; this backend makes the call with a real
`mcp.Client` that advertises the Apps extension, over streamable HTTP to a real server. Consent
questions the server itself asks (elicitations) are answered by `elicitor` and recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mcp.client import advertise

from support.mcp_client import Elicitor, http_client

PAGE = Path(__file__).with_name("app_host.html")
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})


@contextmanager
def host_page(browser: Any, host: AppHost) -> Iterator[Any]:
    """A Playwright tab on ``host``'s page; ``tab.errors`` collects script errors and CSP violations."""
    context = browser.new_context(viewport={"width": 760, "height": 900}, device_scale_factor=1)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.goto(host.url)
    tab.errors = errors
    try:
        yield tab
    finally:
        context.close()


def dumped(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class AppHost:
    """The host backend: one `mcp.Client` (in ``era``) on its own event loop, behind a small HTTP server."""

    def __init__(self, mcp_url: str, era: str = "auto") -> None:
        self.mcp_url = mcp_url
        self.era = era
        self.elicitor = Elicitor()
        self.calls: list[dict[str, Any]] = []  # every tools/call forwarded, in order
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/"

    def __enter__(self) -> AppHost:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._stop = asyncio.Event()
        ready: Future[None] = Future()
        self._session = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        ready.result(timeout=30)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    async def _hold(self, ready: Future[None]) -> None:
        """The client, entered and left in this one task (anyio's cancel scopes require it)."""
        client = http_client(self.mcp_url, self.era, extensions=[APPS], elicitation_callback=self.elicitor)
        try:
            async with client as entered:
                self._client = entered
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._loop.call_soon_threadsafe(self._stop.set)
        self._session.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=60)

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        self.calls.append({"name": name, "arguments": arguments})
        return dumped(self.run(self._client.call_tool(name, arguments)))

    def tools(self) -> list[dict[str, Any]]:
        return [dumped(t) for t in self.run(self._client.list_tools()).tools]

    def resource(self, uri: str) -> dict[str, Any]:
        (content,) = self.run(self._client.read_resource(uri)).contents
        return dumped(content)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures
                pass

            def _send(self, body: bytes, kind: str = "application/json") -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/":
                    return self._send(PAGE.read_bytes(), "text/html; charset=utf-8")
                if parts.path == "/tools":
                    return self._send(json.dumps(host.tools()).encode())
                if parts.path == "/resource":
                    uri = parse_qs(parts.query)["uri"][0]
                    return self._send(json.dumps(host.resource(uri)).encode())
                if parts.path == "/favicon.ico":
                    return self._send(b"", "image/x-icon")
                self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                asked = json.loads(self.rfile.read(length) or b"{}")
                if urlsplit(self.path).path != "/call":
                    return self.send_error(404)
                result = host.call(asked["name"], asked.get("arguments") or {})
                self._send(json.dumps(result).encode())

        return Handler
