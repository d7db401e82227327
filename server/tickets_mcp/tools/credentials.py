"""Per-request upstream credentials (`--credentials per-request`, HTTP only).

Each MCP HTTP request carries its user's own Selectel credential: ``X-Selectel-Token`` (a static token,
sent upstream as ``X-Token``) or ``X-Selectel-Auth-Token`` (an IAM token, sent as ``X-Auth-Token``). The
HTTP layer refuses a request with neither (`http.CredentialGuard`), so a handler always finds one.

`ClientPool` keeps one API client, with its own catalog cache, per credential: keyed by the credential's
hash (``auth.identity``), never by the credential; at most ``size`` of them, the least recently used
closed first, and any unused for ``idle`` seconds closed too. Two users' calls never share a client, a
catalog entry or a dedup entry (dedup keys carry the credential's hash). Pacing is per account where
the token shows its account (a static token ends in ``_<account number>``), else per token.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from tickets_mcp.api import IamToken, StaticToken

STATIC_HEADER = "x-selectel-token"
IAM_HEADER = "x-selectel-auth-token"
HEADERS = ("X-Selectel-Token", "X-Selectel-Auth-Token")
POOL_SIZE = 256
IDLE_SECONDS = 900.0


class MissingCredential(ValueError):
    """A request without exactly one of the credential headers."""


def request_auth(headers: Mapping[str, str]) -> StaticToken | IamToken:
    """The credential a request carries (header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    static, iam = lowered.get(STATIC_HEADER, "").strip(), lowered.get(IAM_HEADER, "").strip()
    if bool(static) == bool(iam):
        raise MissingCredential(missing_message())
    return StaticToken(static) if static else IamToken(iam)


def missing_message() -> str:
    return (
        "this server takes each user's own Selectel credential: send exactly one of "
        "X-Selectel-Token: <static token> or X-Selectel-Auth-Token: <IAM token> with every request"
    )


class Entry(Protocol):
    used: float

    @property
    def client(self) -> Any: ...


E = TypeVar("E", bound=Entry)


class ClientPool(Generic[E]):
    """Entries (a client and its caches) per credential hash; bounded, least recently used first out."""

    def __init__(
        self,
        make: Callable[[StaticToken | IamToken], E],
        *,
        size: int = POOL_SIZE,
        idle: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make = make
        self._size = size
        self._idle = idle
        self._clock = clock
        self._entries: OrderedDict[str, E] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, auth: StaticToken | IamToken) -> E:
        now = self._clock()
        entry = self._entries.get(auth.identity)
        if entry is None:
            entry = self._entries[auth.identity] = self._make(auth)
        self._entries.move_to_end(auth.identity)
        entry.used = now
        self._evict(now)
        return entry

    def peek(self, key: str) -> E:
        """The entry of credential hash ``key`` (as if used now); `KeyError` when it is no longer held."""
        entry = self._entries[key]
        self._entries.move_to_end(key)
        entry.used = self._clock()
        return entry

    def _evict(self, now: float) -> None:
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if len(self._entries) <= self._size and now - oldest.used < self._idle:
                return
            del self._entries[key]
            self._close_later(oldest)

    def _close_later(self, entry: E) -> None:
        task = asyncio.get_running_loop().create_task(entry.client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            await entry.client.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
