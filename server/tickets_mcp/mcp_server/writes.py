"""Every write is planned before anything is asked or sent, and sends exactly what the user saw.

A write tool takes two resolved parameters (the SDK's `Resolve`, run before the tool body):

- ``plan``: a `Plan`, built by the tool's planner from its arguments and, where it matters, a read
  of the ticket or comment: the exact JSON body, the outbound texts cleaned (`safety.clean_outbound`)
  and scanned for secrets, and a `Refusal` when the request cannot succeed (a closed ticket to close,
  a ticket that cannot be rated, a score with nothing to score...). A refusal asks nothing and sends
  nothing; it says why and what to do instead.
- ``consent``: the user's answer to a question showing that exact body. It is asked when the tool
  always asks (close, access, votes), or when an outbound text looks like it holds a secret and the
  call did not pass ``allow_secrets=true``. The question is built from the same plan the body then
  sends (the SDK runs one planner per call), so what is sent is what was shown.

The era-portable way of `mcp` 2.3: a resolver returning `Elicit(...)`; on 2025-11-25 it travels as a
live `elicitation/create`, on 2026-07-28 as an input-required round trip. A client that cannot elicit:
a consent tool proceeds unless ``--require-consent``; a text with a secret is refused unless
``allow_secrets=true``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from tickets_mcp.api import TicketsApiError
from tickets_mcp.mcp_server.declare import subject_of
from tickets_mcp.mcp_server.outputs import WriteOutcome, ticket_view
from tickets_mcp.mcp_server.results import fail, from_api_error, ok
from tickets_mcp.mcp_server.safety import clean_outbound, describe_secrets, find_secrets
from tickets_mcp.mcp_server.state import caller_of

# What to do about a suspected secret. The API takes secret ids on a create, but documents no way to
# make or list them, so the advice does not lead there.
SECRET_ADVICE = (
    "Remove it from the text (support asks for access through its own channel when it needs it), or, "
    "once the user has agreed to send it, call again with allow_secrets=true."
)

Decision = Literal["accepted", "declined", "cancelled", "unavailable", "not_asked"]


class Confirm(BaseModel):
    confirm: bool = Field(description="Send this to Selectel support?")


@dataclass(frozen=True)
class Refusal:
    """Why a request cannot succeed, and what to do instead; nothing is asked or sent."""

    message: str
    code: str


@dataclass(frozen=True)
class Plan:
    """One write, decided before anything is asked or sent."""

    action: str  # what the user is asked about, e.g. "Close ticket 2401007"
    body: dict[str, Any] = field(default_factory=dict)  # exactly what goes on the wire
    always_ask: bool = False
    refusal: Refusal | None = None
    cleaned: dict[str, int] = field(default_factory=dict)  # characters removed per text field
    secrets: str | None = None  # which secrets were found where, never their values
    allow_secrets: bool = False

    @property
    def asks(self) -> bool:
        return self.refusal is None and (
            self.always_ask or (self.secrets is not None and not self.allow_secrets)
        )


@dataclass(frozen=True)
class NotAsked:
    """The resolver's answer when no question is needed, or the client cannot be asked."""

    can_ask: bool


def outbound(texts: dict[str, str | None], *, allow_secrets: bool) -> tuple[dict[str, str], dict[str, Any]]:
    """Clean each outbound text; return the cleaned texts and the plan fields about them
    (``cleaned``, ``secrets``, ``allow_secrets``), or a refusal for a text that nothing is left of."""
    kept: dict[str, str] = {}
    removed: dict[str, int] = {}
    found: list[str] = []
    for name, text in texts.items():
        if text is None:
            continue
        result = clean_outbound(text)
        if result.removed:
            removed[name] = result.removed
        if not result.text.strip():
            refusal = Refusal(
                f"Not sent: {name} has no visible text once control and invisible characters are removed.",
                "invalid_arguments",
            )
            return {}, {"refusal": refusal}
        kept[name] = result.text
        findings = find_secrets(result.text)
        if findings:
            found.append(describe_secrets(findings, name))
    details: dict[str, Any] = {"cleaned": removed, "allow_secrets": allow_secrets}
    if found:
        details["secrets"] = "; ".join(found)
    return kept, details


async def message_plan(
    ctx: Context,
    action: str,
    number: int,
    given: dict[str, Any],
    allow_secrets: bool,
    *,
    closed: bool,
    refusal: tuple[str, str],
) -> Plan:
    """The plan of a message to a ticket's thread (a comment, or a reopening), which needs the ticket
    closed or open as ``closed`` says. The ticket is read only when the user is going to be asked (a
    secret): otherwise the API's own refusal says the same without an extra read."""
    texts, about = outbound({"body": given["body"]}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    files = given.get("files")
    body = {"body": texts["body"], "files": [str(f) for f in files] if files else None}
    plan = Plan(action=action, body=body, **about)
    if plan.asks and ticket_view(await caller_of(ctx).client.get_ticket(number)).closed != closed:
        return Plan(action=action, refusal=Refusal(f"Not sent: {refusal[0]}", refusal[1]))
    return plan


def vote_plan(action: str, score: int, texts: dict[str, str], about: dict[str, Any]) -> Plan:
    """The plan of a vote (on a ticket or a comment) that may be asked about and sent."""
    body = {k: v for k, v in {"score": score, **texts}.items() if v is not None}
    return Plan(action=action, body=body, always_ask=True, **about)


def masked(value: Any) -> Any:
    """``value`` (a body, or one of its texts) with every suspected secret replaced by its kind."""
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if not isinstance(value, str):
        return value
    for finding in sorted(find_secrets(value), key=lambda f: f.start, reverse=True):
        value = f"{value[: finding.start]}[{finding.kind}]{value[finding.end :]}"
    return value


def question(plan: Plan) -> str:
    """The consent question: the exact body, a suspected secret masked by its kind."""
    sent = json.dumps(masked(plan.body), ensure_ascii=False)
    text = f"{plan.action}?\nThis will be sent to the Selectel Tickets API: {sent}"
    if plan.secrets and not plan.allow_secrets:
        text += f"\nWarning: it looks like it contains {plan.secrets} (masked above). Send it anyway?"
    return text


P = TypeVar("P", bound=Plan)


def planner(action: str) -> Callable[[Callable[..., Awaitable[P]]], Callable[..., Awaitable[P | Plan]]]:
    """A tool's planner, whose reads may fail: a Tickets API error becomes a refusal naming its subject
    (an error raised in a resolver would reach the client as an internal error)."""

    def wrap(fn: Callable[..., Awaitable[P]]) -> Callable[..., Awaitable[P | Plan]]:
        @functools.wraps(fn)
        async def plan(**arguments: Any) -> P | Plan:
            try:
                return await fn(**arguments)
            except TicketsApiError as exc:
                error = from_api_error(exc, subject=subject_of(arguments))
                text = (
                    error.content[0].text
                    if error.content and isinstance(error.content[0], TextContent)
                    else ""
                )
                code = (error.structured_content or {}).get("code", "api_error")
                return Plan(action=action, refusal=Refusal(text, str(code)))

        return plan

    return wrap


def consent_to(plan_of: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The consent resolver of a tool whose plan comes from the resolver ``plan_of``."""

    async def consent(ctx: Context, plan: Plan) -> Elicit[Confirm] | NotAsked:
        return ask(ctx, plan)

    consent.__annotations__ = {"ctx": Context, "plan": Annotated[Plan, Resolve(plan_of)], "return": Any}
    return consent


def ask(ctx: Context, plan: Plan) -> Elicit[Confirm] | NotAsked:
    """The consent question for ``plan``, or `NotAsked` when none is needed or the client cannot elicit."""
    if not plan.asks:
        return NotAsked(can_ask=True)
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return NotAsked(can_ask=False)
    return Elicit(question(plan), Confirm)


def decide(outcome: ElicitationResult[Any]) -> Decision:
    if isinstance(outcome, AcceptedElicitation):
        if isinstance(outcome.data, NotAsked):
            return "not_asked" if outcome.data.can_ask else "unavailable"
        return "accepted" if isinstance(outcome.data, Confirm) and outcome.data.confirm else "declined"
    return "cancelled" if outcome.action == "cancel" else "declined"


def not_sent(ctx: Context, plan: Plan, consent: ElicitationResult[Any], **ids: int) -> CallToolResult | None:
    """None when ``plan.body`` may be sent; otherwise the result saying that nothing was sent, and why."""
    if plan.refusal is not None:
        return fail(plan.refusal.message, code=plan.refusal.code, sent=False, **ids)
    decision = decide(consent)
    if decision in ("accepted", "not_asked"):
        return None
    if decision == "unavailable":
        if plan.secrets and not plan.allow_secrets:
            return fail(
                f"Not sent: it looks like it contains {plan.secrets}, and this client cannot ask the user. "
                + SECRET_ADVICE,
                code="secret_in_text",
                sent=False,
                **ids,
            )
        if not caller_of(ctx).settings.require_consent:
            return None
        return fail(
            f"Not sent: {plan.action.lower()} needs the user's consent, this server runs with "
            "--require-consent, and this client cannot ask the user (no elicitation support). Ask the user, "
            "then use a client with elicitation or restart the server without --require-consent.",
            code="consent_required",
            sent=False,
            **ids,
        )
    verb = "declined" if decision == "declined" else "cancelled"
    outcome: Literal["declined", "cancelled"] = verb  # type: ignore[assignment]
    return ok(
        f"Not sent: the user {verb} ({plan.action.lower()}). Nothing was changed.",
        WriteOutcome(outcome=outcome, sent=False, **ids),
    )


def done(text: str, plan: Plan, answer: Any, **fields: Any) -> CallToolResult:
    """The result of a write that went through: ``text``, then whether it was found after an ambiguous
    failure (``answer.recovered``) and what cleaning removed."""
    recovered = bool(getattr(answer, "recovered", False))
    note = (
        " (it had already gone through on an earlier attempt, confirmed by reading it back or by this "
        "server's memory of it; it was not sent twice)"
        if recovered
        else ""
    )
    out = WriteOutcome(
        outcome="done", sent=True, cleaned=plan.cleaned or None, recovered=recovered or None, **fields
    )
    return ok(text + note + cleaned_note(plan), out)


def cleaned_note(plan: Plan) -> str:
    """What the result says about the text cleaned before sending."""
    if not plan.cleaned:
        return ""
    parts = ", ".join(f"{n} from {field_}" for field_, n in plan.cleaned.items())
    return f" Removed control or invisible characters before sending: {parts}."
