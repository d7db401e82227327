"""Every write is planned before anything is asked or sent, and sends exactly what the user saw.

A write tool is declared once, by its planner (`write`):

```python
@write("comments", ADD, title="Add comment")
async def add_comment(ctx: Context, number: Number, body: Body, files: Files = None) -> Plan:
    "Post a comment to an open ticket."   # the description the model sees
    plan = await message_plan(...)        # the exact body, its texts cleaned and scanned
    return plan.then(
        lambda client, body: client.add_comment(number, **body),          # how it is sent
        lambda comment: (f"Comment {comment.id} added.", {"number": number}),  # what the result says
    )
```

The planner's parameters are the tool's. It returns a `Plan`: the exact JSON body, the outbound texts
cleaned (`safety.clean_outbound`) and scanned for secrets, and a `Refusal` when the request cannot
succeed (a closed ticket to close, a ticket that cannot be rated...). A refusal asks nothing and sends
nothing; it says why and what to do instead. `write` builds the rest, the same for every write:

- the planner runs as an SDK resolver (`Resolve`, before the tool body), so the consent question is
  built from the same plan the body then sends (the SDK runs one planner per call);
- ``consent``: the user's answer to a question showing that exact body. It is asked when the tool
  always asks (close, access, votes), or when an outbound text looks like it holds a secret and the
  call did not pass ``allow_secrets=true``;
- the body: nothing sent on a refusal, a decline or a missing consent (`not_sent`); otherwise the
  plan is sent with the API's progress forwarded, and the result says what was done (`done`).

The era-portable way of `mcp` 2.3: a resolver returning `Elicit(...)`; on 2025-11-25 it travels as a
live `elicitation/create`, on 2026-07-28 as an input-required round trip. A client that cannot elicit:
a consent tool proceeds unless ``--require-consent``; a text with a secret is refused unless
``allow_secrets=true``.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from anyio import get_cancelled_exc_class
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from tickets_mcp.api import TicketsApiError, TicketsClient
from tickets_mcp.mcp_server.attachments import Attachments, NotAttachable, over_http, prepare
from tickets_mcp.mcp_server.declare import Kind, ToolSpec, subject_of
from tickets_mcp.mcp_server.outputs import WriteOutcome, ticket_view
from tickets_mcp.mcp_server.results import fail, from_api_error, ok
from tickets_mcp.mcp_server.safety import clean_outbound, describe_secrets, find_secrets
from tickets_mcp.mcp_server.state import caller_of, progress_to, writer_of
from tickets_mcp.settings import Toolset

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
    details: dict[str, Any] = field(default_factory=dict)  # more structured content (retry_after_seconds...)


Send = Callable[[TicketsClient, dict[str, Any]], Awaitable[Any]]  # (client, the body without nulls)
Report = Callable[[Any], tuple[str, dict[str, Any]]]  # the API's answer -> the text, the result's fields


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
    send: Send | None = None
    report: Report | None = None
    before: dict[str, Any] = field(default_factory=dict)  # what the write replaces, for its undo (journal)
    attachments: Attachments | None = None  # checked; uploaded before the send, their UUIDs added to files

    @property
    def asks(self) -> bool:
        return self.refusal is None and (
            self.always_ask or (self.secrets is not None and not self.allow_secrets)
        )

    def then(self, send: Send, report: Report) -> Plan:
        """This plan with how it is sent and what its result says (a refusal stays as it is)."""
        return self if self.refusal is not None else replace(self, send=send, report=report)

    def preview(self) -> CallToolResult | None:
        """The result to give instead of sending (a dry run's verdict), or None to go on."""
        return None

    def finished(self, answer: Any) -> CallToolResult:
        """The result of the write once the API has answered."""
        assert self.report is not None, f"{self.action}: the planner did not say what its result is"
        text, fields = self.report(answer)
        return done(text, self, answer, **fields)


def refused(action: str, why: str, code: str) -> Plan:
    """A plan that sends nothing: ``why`` (and what to do instead), with its error code."""
    return Plan(action=action, refusal=Refusal(f"Not sent: {why}", code))


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


def scan_also(about: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """``about`` (from `outbound`) with the secrets found in more texts, which are sent as given (keys
    and structured values: cleaning them could change what they mean)."""
    found = [describe_secrets(hits, name) for name, text in texts.items() if (hits := find_secrets(text))]
    if not found:
        return about
    return {**about, "secrets": "; ".join([about["secrets"], *found] if about.get("secrets") else found)}


async def message_plan(
    ctx: Context,
    number: int,
    body: str,
    files: list[Any] | None,
    allow_secrets: bool,
    *,
    reopen: bool,
    attachments: list[Any] | None = None,
) -> Plan:
    """The plan of a message to a ticket's thread: a comment (the ticket must be open) or a reopening
    (it must be closed). The ticket is read first, asked or not: a message that cannot succeed is
    refused here, naming the next call, and never sent."""
    if reopen:
        action = f"Reopen ticket {number}"
        why = f"ticket {number} is not closed, so there is nothing to reopen: add_comment(number={number}, body=...) instead."
        code = "ticket_not_closed"
    else:
        action = f"Add a comment to ticket {number}"
        why = f"ticket {number} is closed: reopen_ticket(number={number}, body=...) to continue its conversation."
        code = "ticket_closed"
    texts, about = outbound({"body": body}, allow_secrets=allow_secrets)
    if "refusal" in about:
        return Plan(action=action, **about)
    try:
        attached = await attachments_of(ctx, attachments, files)
    except NotAttachable as exc:
        return refused(action, exc.message, exc.code)
    if ticket_view(await caller_of(ctx).client.get_ticket(number)).closed != reopen:
        return refused(action, why, code)
    sent = {"body": texts["body"], **({"files": [str(f) for f in files]} if files else {})}
    return Plan(action=action, body=sent, **with_attachments(about, attached))


async def attachments_of(
    ctx: Context, given: list[Any] | None, files: list[Any] | None
) -> Attachments | None:
    """The checked attachments of a write (`attachments.prepare`); raises `NotAttachable`."""
    caller = caller_of(ctx)
    return await prepare(caller, given, files, http=over_http(caller, ctx))


def with_attachments(about: dict[str, Any], attached: Attachments | None) -> dict[str, Any]:
    """The plan fields about the texts (`outbound`), with the attachments and the secrets found in them."""
    if attached is None:
        return about
    found = [about["secrets"]] if about.get("secrets") else []
    if attached.secrets:
        found.append(attached.secrets)
    cleaned = {**about.get("cleaned", {}), **{a.where: a.cleaned for a in attached.items if a.cleaned}}
    more = {"secrets": "; ".join(found)} if found else {}
    return {**about, "attachments": attached, "cleaned": cleaned, **more}


def vote_plan(action: str, score: int, texts: dict[str, str], about: dict[str, Any]) -> Plan:
    """The plan of a vote (on a ticket or a comment) that may be asked about and sent."""
    body = {k: v for k, v in {"score": score, **texts}.items() if v is not None}
    return Plan(action=action, body=body, always_ask=True, **about)


async def access_plan(
    ctx: Context, number: int, access_level: str | None, keystone_projects: list[str] | None, *, v1: bool
) -> Plan:
    """The plan of a change of who can see a ticket, through the v2 API (which takes both fields) or
    the deprecated v1 one (which takes what is given). A field not given keeps the ticket's value."""
    action = f"Change who can see ticket {number}" + (" (v1 API)" if v1 else "")
    if access_level is None and keystone_projects is None:
        return refused(action, "give access_level, keystone_projects or both.", "invalid_arguments")
    client = caller_of(ctx).client
    ticket = await (client.get_ticket_legacy(number) if v1 else client.get_ticket(number))
    level = access_level or ticket.access_level
    projects = keystone_projects if keystone_projects is not None else list(ticket.keystone_projects)
    if level == "project_users" and not projects:
        why = "access_level project_users needs keystone_projects, and the ticket has none: pass the IAM project ids."
        return refused(action, why, "invalid_arguments")
    if level == ticket.access_level and sorted(projects) == sorted(ticket.keystone_projects):
        return refused(action, f"ticket {number} already has this access; nothing would change.", "no_change")
    given = {"access_level": access_level, "keystone_projects": keystone_projects}
    body = (
        {k: v for k, v in given.items() if v is not None}
        if v1
        else {"access_level": level, "keystone_projects": projects}
    )
    before = {"access_level": ticket.access_level, "keystone_projects": list(ticket.keystone_projects)}
    return Plan(action=action, body=body, always_ask=True, before=before)


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
    text = f"{plan.action}?" + (
        f"\nThis will be sent to the Selectel Tickets API: {sent}" if plan.body else ""
    )
    if plan.secrets and not plan.allow_secrets:
        text += f"\nWarning: it looks like it contains {plan.secrets} (masked above). Send it anyway?"
    if plan.attachments is not None:
        text += plan.attachments.question()
    return text


# Arguments that identify what a write is about, repeated in its result.
IDS = ("number", "comment_id")
Planner = Callable[..., Awaitable[Plan]]


def write(
    toolset: Toolset, kind: Kind, *, title: str, consent: bool = False, out: type[BaseModel] = WriteOutcome
) -> Callable[[Planner], ToolSpec]:
    """Declare a write tool by its planner (see the module docstring): the planner's parameters are the
    tool's, its docstring the description; ``consent`` says the tool always asks the user first."""

    def declare(planner: Planner) -> ToolSpec:
        name = planner.__name__
        signature = inspect.signature(planner, eval_str=True)
        assert next(iter(signature.parameters), None) == "ctx", f"{name}: the planner takes ctx first"
        plan_of = _planning(planner)
        consent_of = consent_to(plan_of)
        for resolver, role in ((plan_of, "plan"), (consent_of, "consent")):
            # The SDK keys a resolver's recorded answer by module and qualname (stable across replicas).
            resolver.__module__, resolver.__qualname__ = planner.__module__, f"{name}.{role}"

        async def handler(**arguments: Any) -> CallToolResult:
            ids = {k: arguments[k] for k in IDS if arguments.get(k) is not None}
            ctx, plan = arguments["ctx"], arguments["plan"]
            changes, writer = caller_of(ctx).changes, lambda: writer_of(ctx)  # the journal and audit log
            try:
                result = await carry_out(ctx, plan, arguments["consent"], ids)
            except TicketsApiError as exc:  # answered here, so that its record is made here too
                result = from_api_error(exc, subject=subject_of(arguments))
            except get_cancelled_exc_class():  # the caller went away mid-write: it may have been sent
                await changes.interrupted(writer, name, plan, ids)
                raise
            await changes.note(writer, name, plan, ids, result)
            return result

        resolved = [
            inspect.Parameter(
                "plan", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Plan, Resolve(plan_of)]
            ),
            inspect.Parameter(
                "consent",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[ElicitationResult[Confirm], Resolve(consent_of)],
            ),
        ]
        parameters = [*signature.parameters.values(), *resolved]
        returns = Annotated[CallToolResult, out]
        handler.__signature__ = signature.replace(parameters=parameters, return_annotation=returns)  # type: ignore[attr-defined]
        handler.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
        handler.__name__ = handler.__qualname__ = name
        handler.__module__, handler.__doc__ = planner.__module__, planner.__doc__
        return ToolSpec(name, toolset, title, kind, handler, consent)

    return declare


def _planning(planner: Planner) -> Planner:
    """The planner as a resolver whose reads may fail: a Tickets API error becomes a refusal naming its
    subject (an error raised in a resolver would reach the client as an internal error)."""

    @functools.wraps(planner)
    async def plan(**arguments: Any) -> Plan:
        try:
            return await planner(**arguments)
        except TicketsApiError as exc:
            error = from_api_error(exc, subject=subject_of(arguments))
            text = (
                error.content[0].text if error.content and isinstance(error.content[0], TextContent) else ""
            )
            details = {k: v for k, v in (error.structured_content or {}).items() if k != "error"}
            code = str(details.pop("code", "api_error"))
            return Plan(action=planner.__name__, refusal=Refusal(text, code, details))

    return plan


async def carry_out(
    ctx: Context, plan: Plan, consent: ElicitationResult[Any], ids: dict[str, int]
) -> CallToolResult:
    """The body every write tool shares: nothing sent on a refusal, a decline or a missing consent;
    a dry run's verdict; else the plan's body sent (progress forwarded) and its result."""
    if (refusal := not_sent(ctx, plan, consent, **ids)) is not None:
        return refusal
    if (preview := plan.preview()) is not None:
        return preview
    if (unaudited := caller_of(ctx).changes.unaudited()) is not None:  # TICKETS_MCP_AUDIT_REQUIRED
        return unaudited
    assert plan.send is not None, f"{plan.action}: the planner did not say how to send it"
    body = {k: v for k, v in plan.body.items() if v is not None}
    with progress_to(ctx):
        if plan.attachments is not None:  # uploaded first; a failed upload sends nothing
            return await plan.attachments.carry_out(
                caller_of(ctx).client, body, plan.send, plan.finished, ids
            )
        answer = await plan.send(caller_of(ctx).client, body)
    return plan.finished(answer)


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
        return fail(
            plan.refusal.message, **{**plan.refusal.details, "code": plan.refusal.code, "sent": False, **ids}
        )
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
