"""A JWKS endpoint on loopback that fails on demand: it answers 500, hangs, or serves an issuer's keys, and
counts every fetch. The server under test fetches it over HTTP like any issuer's JWKS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from support.oauth_issuer import JWKS_PATH, Issuer, answer_json

Mode = Literal["ok", "500", "hang"]
HANG_LIMIT = 60.0  # seconds a hanging answer waits at most (the endpoint's stop ends it sooner)


@dataclass
class Jwks:
    """What the endpoint does now (``mode``), whose keys it serves when ``ok``, and how often it was asked."""

    issuer: Issuer
    mode: Mode = "ok"
    url: str = ""
    _fetches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def fetches(self) -> int:
        with self._lock:
            return self._fetches

    def fetched(self) -> None:
        with self._lock:
            self._fetches += 1


@contextmanager
def jwks_endpoint(issuer: Issuer, mode: Mode = "ok") -> Iterator[Jwks]:
    """A JWKS on 127.0.0.1 serving ``issuer``'s published keys while ``mode`` is ``ok``."""
    jwks = Jwks(issuer, mode)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            jwks.fetched()
            if jwks.mode == "hang":  # connected, never answered: the fetch can only time out
                jwks._stop.wait(HANG_LIMIT)
                return
            if jwks.mode == "500":
                self.send_error(500)
                return
            answer_json(self, jwks.issuer.jwks())

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    jwks.url = f"http://127.0.0.1:{httpd.server_address[1]}{JWKS_PATH}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks
    finally:
        jwks._stop.set()
        httpd.shutdown()
        httpd.server_close()
