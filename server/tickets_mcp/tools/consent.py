"""Asking the user before an opinion or an exposure decision is sent (close, rate, access).

The era-portable way of `mcp` 2.3: a `Resolve(...)` dependency that returns `Elicit(...)`; on
2025-11-25 it travels as a live `elicitation/create`, on 2026-07-28 as an input-required round
trip. The question shows exactly the JSON that will be sent.

A client that cannot elicit: by default the call proceeds (the tool's annotations let the client
ask on its own); with `--require-consent` it is refused with a clear message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from tickets_mcp.tools.lifespan import state_of
from tickets_mcp.tools.outputs import WriteOutcome
from tickets_mcp.tools.results import ok

Decision = Literal["accepted", "declined", "cancelled", "unavailable"]


class Confirm(BaseModel):
    confirm: bool = Field(description="Send this to Selectel support?")


@dataclass(frozen=True)
class NoElicitation:
    """Resolver outcome when the client cannot be asked."""


def _can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None


def ask(ctx: Context, action: str, payload: dict[str, Any]) -> Elicit[Confirm] | NoElicitation:
    """The question for `action`, showing the exact payload, or NoElicitation."""
    if not _can_elicit(ctx):
        return NoElicitation()
    sent = json.dumps({k: v for k, v in payload.items() if v is not None}, ensure_ascii=False)
    return Elicit(f"{action}\nThis will be sent to the Selectel Tickets API: {sent}", Confirm)


def decide(outcome: ElicitationResult[Confirm]) -> Decision:
    if isinstance(outcome, AcceptedElicitation):
        if isinstance(outcome.data, NoElicitation):
            return "unavailable"
        return "accepted" if isinstance(outcome.data, Confirm) and outcome.data.confirm else "declined"
    return "cancelled" if outcome.action == "cancel" else "declined"


def refusal(decision: Decision, action: str, *, require_consent: bool) -> str | None:
    """None when the call may proceed; otherwise the text saying why nothing was sent."""
    if decision == "accepted" or (decision == "unavailable" and not require_consent):
        return None
    if decision == "unavailable":
        return (
            f"Not sent: {action} needs the user's consent, this server runs with --require-consent, "
            "and this client cannot ask the user (no elicitation support). Ask the user, then use a "
            "client with elicitation or restart the server without --require-consent."
        )
    verb = "declined" if decision == "declined" else "cancelled"
    return f"Not sent: the user {verb} ({action}). Nothing was changed."


def not_sent(
    ctx: Context, consent: ElicitationResult[Confirm], action: str, **ids: int
) -> CallToolResult | None:
    """None when the write may go ahead; otherwise the result saying nothing was sent, and why."""
    decision = decide(consent)
    strict = bool(state_of(ctx).settings.require_consent)
    why = refusal(decision, action, require_consent=strict)
    if why is None:
        return None
    outcome = "cancelled" if decision == "cancelled" else "declined"
    return ok(why, WriteOutcome(outcome=outcome, sent=False, **ids))
