"""The Tickets API client pointed at a sandbox, for the contract tests: a fast retry and pacing policy on
the sandbox's compressed minute, the cheapest valid create, and the journal once it has settled."""

from __future__ import annotations

import time
from typing import Any

from tickets_mcp.api import PacingPolicy, RetryPolicy, StaticToken, TicketsClient
from tickets_mcp.sandbox import SandboxHandle

TIME_SCALE = 1 / 60
WINDOW = 60 * TIME_SCALE
FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05, max_wait=5.0, budget=5.0)
# A category whose only required field is a select: the cheapest valid create.
CATEGORY = "cloud_servers"
FIELDS = [{"key": "region", "values": ["ru-1"]}]


def make_client(sb: SandboxHandle, **overrides: Any) -> TicketsClient:
    options: dict[str, Any] = {
        "auth": StaticToken(sb.token),
        "retry": FAST_RETRY,
        "pacing": PacingPolicy(window_seconds=WINDOW),
        "read_timeout": 5.0,
    }
    options.update(overrides)
    return TicketsClient(sb.base_url, **options)


def calls(sb: SandboxHandle, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
    """Journal entries of the Tickets API (not the identity mount), oldest first."""
    entries = sorted(settled(sb), key=lambda e: e["time"])
    return [
        e
        for e in entries
        if e["path"].startswith("/support")
        and (method is None or e["method"] == method)
        and (path is None or e["path"] == "/support" + path)
    ]


def logins(sb: SandboxHandle) -> list[dict[str, Any]]:
    return [e for e in settled(sb) if e["path"].endswith("/auth/tokens")]


def settled(sb: SandboxHandle, quiet: float = 0.12) -> list[dict[str, Any]]:
    """The journal once it stops growing for ``quiet`` seconds.

    The sandbox journals a request just after answering it, from its own thread, so the last
    entry can land a moment after the client already has its answer (longer on a busy machine).
    """
    entries = sb.journal()
    still_since = time.monotonic()
    while time.monotonic() - still_since < quiet:
        time.sleep(0.02)
        again = sb.journal()
        if len(again) != len(entries):
            entries, still_since = again, time.monotonic()
    return entries
