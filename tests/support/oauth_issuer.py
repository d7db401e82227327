"""A stand-in OAuth issuer for the tests: its own RSA keys, a JWKS served on loopback, tokens minted on demand.

Nothing is mocked on the server's side: the server fetches this JWKS over HTTP like any issuer's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

JWKS_PATH = "/jwks.json"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Issuer:
    """The issuer's signing keys (kid → key), what its JWKS publishes, and how often it was fetched."""

    url: str = ""
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)  # the kids the JWKS lists
    fetches: int = 0
    down: bool = False  # the JWKS answers 503

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.keys[kid], kid) for kid in self.published]}

    def mint(
        self,
        audience: str | list[str],
        *,
        scope: str | None = "tickets:read tickets:write",
        issuer: str | None = None,
        expires_in: float = 300,
        kid: str = "k1",
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token; by default valid, for both scopes, signed with the published key k1."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer or self.url,
            "aud": audience,
            "sub": "user-42",
            "client_id": "test-client",
            "iat": now,
            "exp": int(now + expires_in),
            **claims,
        }
        if scope is not None:
            payload["scope"] = scope
        return jwt.encode(payload, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


def answer_json(handler: BaseHTTPRequestHandler, value: Any) -> None:
    """Answer a loopback stand-in's request with ``value`` as JSON, 200."""
    body = json.dumps(value).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    """An issuer with key ``k1`` published, serving its JWKS on 127.0.0.1."""
    issuer = Issuer()
    issuer.keys["k1"] = rsa_key()
    issuer.published.append("k1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            issuer.fetches += 1
            if issuer.down:
                self.send_error(503)
                return
            answer_json(self, issuer.jwks())

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        httpd.shutdown()
        httpd.server_close()
