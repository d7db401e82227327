"""The prompts of `prompt_files.py`, served: their arguments checked, their data read through the API.

`PromptData` reads what a template embeds, through the same client, cache and session limit as the
tools: ``catalog``, ``thread`` (the latest comments, sent as an embedded resource) and
``awaiting_client``. Only the data a template uses is read. A missing or invalid argument is a
JSON-RPC invalid-params error that names it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context

from tickets_mcp.api import NotFound, TicketsApiError
from tickets_mcp.tools.lifespan import UserState, charge_session, state_of
from tickets_mcp.tools.prompt_files import NEEDS_NUMBER, RESOURCE_KEYS, PromptSpec, fill
from tickets_mcp.tools.reading import read_latest, read_thread, render_latest, tool_howto
from tickets_mcp.tools.render import (
    estimate_tokens,
    render_categories,
    render_category_fields,
    render_products,
    render_ticket_list,
)
from tickets_mcp.tools.results import shown
from tickets_mcp.tools.threads import Selection
from tickets_mcp.tools.views import brief, field_view, named, ticket_view

if TYPE_CHECKING:
    from tickets_mcp.settings import Settings


class PromptData:
    """The data prompts embed, read through the same client and cache as the tools."""

    def __init__(self, state: UserState, charge: Callable[[], Awaitable[float | None]]) -> None:
        self._state = state
        self._charge = charge

    @classmethod
    def from_context(cls, ctx: Context) -> PromptData:
        return cls(state_of(ctx), charge_session(ctx))

    async def catalog_markdown(self, language: str) -> str:
        """The active categories with their fields, then the products with their sub-products."""
        state = self._state
        categories = await state.catalog.categories()
        parts = [render_categories([named(c, language) for c in categories])]
        for c in categories:
            fields = [field_view(f, language) for f in await state.catalog.fields(c.key)]
            if fields:
                parts.append(render_category_fields(c.key, fields))
        products = await state.catalog.products()
        parts.append(render_products([named(p, language) for p in products]))
        for product in products:
            subs = await state.catalog.products(product.key)
            if subs:
                parts.append(
                    f"Sub-products of {product.key}:\n" + render_products([named(p, language) for p in subs])
                )
        return "\n\n".join(parts)

    async def thread(self, number: int) -> tuple[str, str]:
        """The ticket and its latest comments; earlier ones are named with the tool call that reads them."""
        howto = tool_howto("get_ticket", number=number, include_comments=True)
        return f"tickets://{number}", (await read_thread(self._state, number, Selection(), howto)).text

    async def awaiting_client_markdown(self) -> str:
        """The open tickets awaiting the client, each with the latest support message."""
        state = self._state
        page = await state.client.search_tickets(
            is_only_opened=True, items_per_page=100, sort_by="updated_at"
        )
        waiting = [v for v in map(ticket_view, page.items) if v.awaiting == "client"]
        budget = state.settings.token_budget
        table = render_ticket_list(
            [brief(v) for v in waiting], page=1, items_per_page=100, budget_tokens=budget
        )
        if not waiting:
            return table.text
        latest, _ = await read_latest(state, waiting[: table.shown], 1, charge=self._charge, role="support")
        howto = lambda n: tool_howto("get_ticket", number=n, include_comments=True)  # noqa: E731
        text, _ = render_latest(latest, budget - estimate_tokens(table.text), howto)
        return f"{table.text}\n\nThe latest support message of each:\n{text}"


Provider = Callable[[Context], Any]  # (ctx) -> the data a template embeds (`PromptData`, or a test's own)


def _bad_argument(message: str) -> Exception:
    from mcp.shared.exceptions import MCPError
    from mcp_types.jsonrpc import INVALID_PARAMS

    return MCPError(INVALID_PARAMS, message)


def _number(raw: str | None) -> int:
    text = (raw or "").strip().lstrip("#")
    if not text.isdigit() or int(text) < 1:
        raise _bad_argument(f"number must be a positive ticket number, got {shown(raw)}")
    return int(text)


LANGUAGES = {"en": "English", "ru": "Russian"}


async def _values(spec: PromptSpec, args: Mapping[str, Any], data: Any, language: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in spec.arguments:
        given = args.get(arg.name)
        values[arg.name] = str(given) if given not in (None, "") else (arg.default or "")
    if "language" in values:
        values["language"] = values["language"].strip().lower() or language
        if values["language"] not in LANGUAGES:
            raise _bad_argument(
                f"language must be one of {', '.join(LANGUAGES)}, got {shown(values['language'])}"
            )
        language = values["language"]
    values["answer_language"] = LANGUAGES.get(language, language)
    used = spec.placeholders
    if "catalog" in used:
        values["catalog"] = await data.catalog_markdown(language)
    if used & NEEDS_NUMBER:
        number = _number(values.get("number"))
        values["number"] = str(number)
        try:
            values["thread_uri"], values["thread"] = await data.thread(number)
        except NotFound:
            raise _bad_argument(
                f"ticket {number} does not exist or is not visible to this account; "
                "search_tickets finds the numbers"
            ) from None
    if "awaiting_client" in used:
        values["awaiting_client"] = await data.awaiting_client_markdown()
    return values


def _messages(spec: PromptSpec, values: Mapping[str, str]) -> list[Any]:
    from mcp.server.mcpserver.prompts.base import UserMessage
    from mcp_types import EmbeddedResource, TextResourceContents

    messages: list[Any] = []
    text: list[str] = []

    def flush() -> None:
        chunk = "\n".join(text).strip("\n")
        if chunk.strip():
            messages.append(UserMessage(fill(spec, chunk, values)))
        text.clear()

    for line in spec.template.split("\n"):
        m = re.fullmatch(r"\s*\{\{\s*([a-z_]+)\s*\}\}\s*", line)
        if m and m.group(1) in RESOURCE_KEYS:
            flush()
            resource = TextResourceContents(
                uri=values["thread_uri"], mime_type="text/markdown", text=values[m.group(1)]
            )
            messages.append(UserMessage(EmbeddedResource(type="resource", resource=resource)))
        else:
            text.append(line)
    flush()
    return messages


def unserved_tools(settings: Settings) -> frozenset[str]:
    """The tools this server does not serve, for `register_prompts`. Empty unless a tool filter is set or
    a default toolset is off: only then is the tool registry (~50 ms of imports, deferred to the first
    `tools/list` on purpose) loaded at start-up. --read-only alone is covered by the prompts' ``writes``."""
    from tickets_mcp.settings import DEFAULT_TOOLSETS

    if not (settings.tools or settings.exclude_tools) and set(DEFAULT_TOOLSETS) <= set(settings.toolsets):
        return frozenset()
    from tickets_mcp.tools.registry import select_tools

    return frozenset(select_tools(settings)[1])


def register_prompts(
    server: MCPServer[Any],
    specs: list[PromptSpec],
    *,
    language: str,
    read_only: bool = False,
    unserved: frozenset[str] = frozenset(),
    provider: Provider = PromptData.from_context,
) -> None:
    """Serve each spec under its declared arguments; ``language`` is the server's (``--language``). In
    read-only mode a prompt that leads to a write (``writes = true``) is not served, nor is a prompt whose
    text tells the model to call a tool in ``unserved`` (`unserved_tools`: --tools, --exclude-tools, a
    toolset off). A middleware checks `prompts/get` first: a missing required argument is an
    invalid-params error that names it."""
    from mcp.server.mcpserver.prompts import base

    def names_unserved(spec: PromptSpec) -> bool:
        return any(re.search(rf"\b{re.escape(tool)}\b", spec.template) for tool in unserved)

    served = {
        spec.name: spec for spec in specs if not (read_only and spec.meta.writes) and not names_unserved(spec)
    }
    for spec in served.values():
        arguments = [
            base.PromptArgument(name=a.name, description=a.description, required=a.required)
            for a in spec.arguments
        ]
        server.add_prompt(
            base.Prompt(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                arguments=arguments,
                fn=_renderer(spec, provider, language),
                context_kwarg="ctx",
            )
        )

    async def check_arguments(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "prompts/get":
            params = ctx.params or {}
            spec = served.get(str(params.get("name")))
            given = params.get("arguments") or {}
            if spec is not None and (
                missing := [a for a in spec.arguments if a.required and not given.get(a.name)]
            ):
                listed = "; ".join(f"{a.name} ({a.description})" for a in missing)
                raise _bad_argument(f"prompt {spec.name} needs the argument(s): {listed}")
        return await call_next(ctx)

    server.middleware.append(check_arguments)


def _renderer(spec: PromptSpec, provider: Provider, language: str) -> Callable[..., Awaitable[list[Any]]]:
    declared = {a.name for a in spec.arguments}

    async def render(ctx: Context, **kwargs: Any) -> list[Any]:
        unknown = set(kwargs) - declared
        if unknown:
            raise _bad_argument(f"prompt {spec.name} has no argument(s) {sorted(unknown)}")
        try:
            values = await _values(spec, kwargs, provider(ctx), language)
        except TicketsApiError as exc:
            raise _api_error(spec, exc) from None
        return _messages(spec, values)

    return render


def _api_error(spec: PromptSpec, exc: TicketsApiError) -> Exception:
    """A Tickets API error while reading a prompt's data, as a JSON-RPC error (no traceback is logged)."""
    from mcp.shared.exceptions import MCPError
    from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

    if isinstance(exc, NotFound):
        return MCPError(INVALID_PARAMS, f"prompt {spec.name}: not found: {exc.message}")
    return MCPError(INTERNAL_ERROR, f"prompt {spec.name}: the Tickets API failed: {exc.message}")
