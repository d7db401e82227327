"""THE route table: the only place an HTTP method or path of the Tickets API is written.

Every operation of the reference (`tickets-api.md` §4) is one `Route`. `path_status` says how sure
we are of the path: ``seen`` in the vendor spec, seen in working third-party ``code``, or
``inferred``. A wrong path is therefore a one-line fix here.

- ``idempotent``: safe to re-send after an ambiguous failure (timeout, 5xx, dropped connection).
  GETs and the "set field" updates are; creates, comments, close, reopen and votes are not.
- ``bucket``: the documented rate limit the operation draws from (reference §3): ``create``
  (2 per minute, shared by the v1 and v2 creates) or ``comment`` (60 per minute).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

DEFAULT_BASE_URL = "https://api.selectel.ru/support"
DEFAULT_IDENTITY_URL = "https://cloud.api.selcloud.ru/identity/v3"
BASE_URL_ENV = "SELECTEL_TICKETS_URL"

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
Bucket = Literal["create", "comment"]
PathStatus = Literal["seen", "inferred", "code"]


@dataclass(frozen=True, slots=True)
class Route:
    """One API operation: how it goes on the wire and how it may be retried and paced."""

    name: str
    method: Method
    path: str
    idempotent: bool
    bucket: Bucket | None = None
    path_status: PathStatus = "inferred"
    deprecated: bool = False

    def url(self, **params: object) -> str:
        """The path with its ``{placeholders}`` filled in; every value is percent-encoded."""
        return self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})


def _r(
    name: str,
    method: Method,
    path: str,
    *,
    idempotent: bool,
    bucket: Bucket | None = None,
    status: PathStatus = "inferred",
    deprecated: bool = False,
) -> Route:
    return Route(name, method, path, idempotent, bucket, status, deprecated)


ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        # Tickets (v2)
        _r("create_ticket", "POST", "/v2/tickets", idempotent=False, bucket="create", status="seen"),
        _r("search_tickets", "GET", "/v2/tickets", idempotent=True),
        _r("count_tickets", "GET", "/v2/tickets/count", idempotent=True),
        _r("get_ticket", "GET", "/v2/tickets/{number}", idempotent=True),
        _r("update_ticket", "PATCH", "/v2/tickets/{number}", idempotent=True),
        # Tickets (v1-style, current)
        _r("close_ticket", "POST", "/tickets/{ticket_number}/close", idempotent=False),
        _r("reopen_ticket", "POST", "/tickets/{ticket_number}/reopen", idempotent=False),
        _r("rate_ticket", "POST", "/tickets/{ticket_number}/vote", idempotent=False),
        # Tickets (v1, deprecated)
        _r("create_ticket_legacy", "POST", "/tickets", idempotent=False, bucket="create", deprecated=True),
        _r("list_tickets_legacy", "GET", "/tickets", idempotent=True, status="code", deprecated=True),
        _r("get_ticket_legacy", "GET", "/tickets/{ticket_number}", idempotent=True, deprecated=True),
        _r("update_ticket_legacy", "PATCH", "/tickets/{ticket_number}", idempotent=True, deprecated=True),
        # Comments
        _r("add_comment", "POST", "/tickets/{ticket_number}/comments", idempotent=False, bucket="comment"),
        _r("list_comments", "GET", "/tickets/{ticket_number}/comments", idempotent=True, status="code"),
        _r("get_comment", "GET", "/comments/{comment_id}", idempotent=True),
        _r("rate_comment", "POST", "/comments/{comment_id}/vote", idempotent=False),
        # Catalog
        _r("list_topics", "GET", "/topics", idempotent=True, deprecated=True),
        _r("list_categories", "GET", "/v2/categories", idempotent=True),
        _r("get_category_fields", "GET", "/v2/categories/{category}/fields", idempotent=True),
        _r("list_products", "GET", "/v2/products", idempotent=True),
    )
}

# Keystone password login (reference §2), relative to the identity URL, not to the Tickets base URL.
# Issuing a token twice is harmless, but a failed login is never retried (no retry storm on bad
# credentials).
LOGIN_ROUTE = Route("iam_login", "POST", "/auth/tokens", idempotent=False, path_status="seen")


def base_url_from_env(default: str = DEFAULT_BASE_URL) -> str:
    """The Tickets API base URL: ``SELECTEL_TICKETS_URL`` if set and non-empty, else ``default``."""
    return (os.environ.get(BASE_URL_ENV) or "").strip() or default
