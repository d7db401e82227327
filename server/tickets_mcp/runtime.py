"""From settings to a working API client: the credential, the client, and the embedded sandbox.

Used by the command line, `doctor` and the MCP server alike, so each builds its client one way.
`embedded_sandbox` starts the sandbox's HTTP server when the settings ask for it (``--sandbox``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tickets_mcp.api import IamToken, PacingPolicy, RetryPolicy, ServiceUser, StaticToken
from tickets_mcp.settings import Settings

if TYPE_CHECKING:
    from tickets_mcp.api import TicketsClient
    from tickets_mcp.api.dedup import Dedup
    from tickets_mcp.api.windows import RateWindows


class MissingCredentials(RuntimeError):
    """No credential is configured and the sandbox is off."""


def build_auth(settings: Settings) -> StaticToken | IamToken | ServiceUser:
    mode = settings.auth_mode
    if mode in ("static", "sandbox") and settings.token is not None:
        return StaticToken(settings.token)
    if mode == "iam" and settings.iam_token is not None:
        return IamToken(settings.iam_token)
    if mode == "service_user" and settings.username and settings.password and settings.account_id:
        return ServiceUser(
            settings.username, settings.password, settings.account_id, identity_url=settings.identity_url
        )
    raise MissingCredentials(
        "no Tickets API credentials: set SELECTEL_TOKEN, or SELECTEL_IAM_TOKEN, or SELECTEL_USERNAME + "
        "SELECTEL_PASSWORD + SELECTEL_ACCOUNT_ID; or run with --sandbox to try the embedded sandbox"
    )


def build_client(
    settings: Settings,
    windows: RateWindows | None = None,
    dedup: Dedup | None = None,
    auth: StaticToken | IamToken | ServiceUser | None = None,
) -> TicketsClient:
    """A TicketsClient configured from the settings, with the pacing ``windows`` and ``dedup`` it shares
    (its own by default); ``auth`` is a caller's own credential (per-request credentials), else the
    settings' one."""
    from tickets_mcp.api import TicketsClient

    return TicketsClient(
        settings.base_url,
        auth or build_auth(settings),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retry=RetryPolicy(budget=settings.retry_budget),
        pacing=PacingPolicy(
            creates_per_minute=settings.creates_per_minute,
            comments_per_minute=settings.comments_per_minute,
            window_seconds=settings.rate_window,
            # A call waits for a free slot at most as long as it would sit out 429s; past that the
            # agent is told exactly when to come back instead of the call hanging for a minute.
            max_wait=settings.retry_budget,
        ),
        windows=windows,
        dedup=dedup,
        dedup_window=settings.dedup_window,
        files_url=settings.files_url,
    )


@contextlib.contextmanager
def embedded_sandbox(settings: Settings) -> Iterator[Settings]:
    """The settings to serve with. With ``--sandbox`` the embedded sandbox (an HTTP server on a loopback
    port, in a thread) runs for the block, and the settings point at it; otherwise they are as given."""
    if not settings.sandbox:
        yield settings
        return
    from pydantic import SecretStr

    from tickets_mcp.sandbox import run_sandbox

    with run_sandbox() as sb:
        logging.getLogger("tickets_mcp").warning(  # a log record, so --log-format json keeps stderr JSON
            "sandbox mode: serving the embedded Tickets API sandbox at %s with demo data; no real tickets "
            "are touched.",
            sb.base_url,
        )
        yield settings.model_copy(
            update={
                "token": SecretStr(sb.token),
                "base_url": sb.base_url,
                "files_url": sb.files_url,
                "identity_url": sb.identity_url,
            }
        )
