"""Everything one sandbox instance holds, shared by the app and the in-process handle."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from tickets_mcp.sandbox.auth import Auth
from tickets_mcp.sandbox.config import SandboxConfig
from tickets_mcp.sandbox.errors import ApiError
from tickets_mcp.sandbox.faults import FaultPlan
from tickets_mcp.sandbox.journal import Journal
from tickets_mcp.sandbox.limits import WINDOW_SECONDS, RateLimiter
from tickets_mcp.sandbox.store import Store
from tickets_mcp.sandbox.tickets import AUTO_REPLY_TEXT, Tickets, comment_view, ticket_v2

log = logging.getLogger("tickets_mcp.sandbox")


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        if config.seed and self.store.is_empty():
            from tickets_mcp.sandbox.seed import seed_store

            seed_store(self.store)
        self.tickets = Tickets(self.store)
        self.limiter = RateLimiter(
            {
                "create": config.creates_per_minute,
                "comment": config.comments_per_minute,
                "upload": config.uploads_per_minute,
            },
            window=config.scaled(WINDOW_SECONDS),
            retry_after_format=config.retry_after_format,
        )
        self.faults = FaultPlan(config.faults)
        self.journal = Journal()
        self.auth = Auth(config)
        self.stopping = threading.Event()
        self._timers: set[asyncio.TimerHandle] = set()

    def schedule_auto_reply(self, number: int) -> None:
        """W: after ``auto_reply_after x time_scale`` s, support answers (skipped if closed by then)."""
        if self.config.auto_reply_after is None:
            return
        loop = asyncio.get_running_loop()
        delay = self.config.scaled(self.config.auto_reply_after)

        def fire() -> None:
            self._timers.discard(handle)
            if self.stopping.is_set():
                return
            try:
                self.tickets.support_reply(number, AUTO_REPLY_TEXT)
            except ApiError as exc:
                log.debug("auto-reply to %s skipped: %s", number, exc.message)
            except Exception:  # a closed store at shutdown, for instance
                log.debug("auto-reply to %s failed", number, exc_info=True)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def close(self) -> None:
        self.stopping.set()
        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()
        self.store.close()

    def support_reply(self, number: int, body: str) -> dict[str, Any]:
        return comment_view(self.tickets.support_reply(number, body))

    def mark_read(self, number: int) -> dict[str, Any]:
        """W14: the user read the ticket in the control panel; returns the ticket's v2 view."""
        with self.store.transaction():
            self.tickets.mark_read(number)
            return ticket_v2(*self.tickets.get(number))
