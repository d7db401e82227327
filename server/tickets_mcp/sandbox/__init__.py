"""The embedded sandbox: an independent emulation of the Tickets API v1.2.0 for demos and tests.

It imports nothing from ``tickets_mcp.api`` or ``tickets_mcp.mcp_server`` (docs/architecture.md), and follows
``docs/wire-decisions.md`` (W1..W16) where the vendor reference is silent.

Mounts (W1): the API under ``/support`` (every operation of the vendor reference; updates
are ``PATCH``, ``PUT`` also accepted), the Attachments API under ``/files`` (W17..W20, `files.py`),
Keystone login at ``POST /identity/v3/auth/tokens``, and the unauthenticated admin API under ``/_sandbox``:

- ``GET``/``DELETE /_sandbox/journal``: the request journal;
- ``GET``/``POST``/``DELETE /_sandbox/faults``: the fault plan (``?mode=add`` appends);
- ``POST /_sandbox/tickets/{number}/support-reply`` ``{"body": ...}``: a support comment now;
- ``POST /_sandbox/tickets/{number}/read``: the user opened the ticket in the control panel: its
  support comments become read (W14; the client API never marks them); answers its v2 view;
- ``GET /_sandbox/files``: the stored attachments' metadata (never their content);
- ``DELETE /_sandbox/limits``: forget the rate-limit windows; ``GET /_sandbox/health``.

Error body (W4), for every 4xx and 5xx::

    {"error": {"code": "validation_error",
               "message": "Invalid request: summary, categories.0",
               "fields": [{"field": "summary", "reason": "required"},
                          {"field": "categories.0", "reason": "unknown or inactive category",
                           "allowed": ["billing", "cloud_servers", ...]}]}}

``fields`` appears only on validation errors (dotted paths, list indexes as numbers, ``$`` for the
whole body); ``allowed`` only where the valid values form a closed set. Codes:
``validation_error``, ``ticket_closed``, ``ticket_not_closed``, ``not_votable`` (400),
``unauthorized`` (401), ``forbidden`` (403, an IAM token where the Attachments API is told to refuse one),
``not_found`` (404), ``method_not_allowed`` (405), ``file_too_large`` (413), ``rate_limited`` (429,
with ``Retry-After``), ``server_error`` (5xx). A rejected request stores nothing: every check runs
before the first write. A closed ticket's comments can be neither added, listed, got nor rated
(``ticket_closed``, W11) until the ticket is reopened; reading never changes read state (W14).

Typical use in a test::

    with run_sandbox(time_scale=2 / 60) as sb:
        httpx2.get(sb.base_url + "/v2/tickets", headers={"X-Token": sb.token})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickets_mcp.sandbox.app import create_app
    from tickets_mcp.sandbox.config import SandboxConfig
    from tickets_mcp.sandbox.runner import RunningSandbox, SandboxHandle, run_sandbox

# Imported on first use: the MCP server's CLI parses `tickets-mcp sandbox` flags without paying for
# Starlette, sqlite and the seed data (cold start is a measured target).
_LAZY = {
    "create_app": "tickets_mcp.sandbox.app",
    "SandboxConfig": "tickets_mcp.sandbox.config",
    "RunningSandbox": "tickets_mcp.sandbox.runner",
    "SandboxHandle": "tickets_mcp.sandbox.runner",
    "run_sandbox": "tickets_mcp.sandbox.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RunningSandbox", "SandboxConfig", "SandboxHandle", "create_app", "run_sandbox"]
