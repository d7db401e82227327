"""Prompts: one file each in ``prompts/*.md`` (adding a file adds a prompt), parsed and served.

A file is TOML front matter between ``+++`` lines (the Hugo convention), read with :mod:`tomllib` and
validated into the pydantic models :class:`PromptFile` and :class:`PromptArgument`, then the template::

    +++
    name = "summarize_thread"          # snake_case, unique across files
    title = "Summarize a ticket thread"
    description = "One line for the client's prompt picker."

    [[arguments]]                      # one table per argument, in order; no arguments: no tables
    name = "number"
    description = "Ticket number."
    required = true                    # a TOML boolean; an optional argument may add default = "..."
    +++
    Template body with {{number}} and {{thread}} placeholders.

Top-level keys are ``name``, ``title``, ``description``, ``writes`` (optional: ``true`` for a prompt that
leads the model to a write, such as creating a ticket or commenting; read-only servers do not list it) and
``arguments`` (optional), before the first ``[[arguments]]``; argument keys are ``name``, ``description``, ``required`` and an optional
``default``. Types are strict (``required = "yes"`` is an error); argument names are unique and not data
keys. Any problem is a :class:`PromptFileError` naming the file and the line (TOML) or field (pydantic).

Placeholders are ``{{key}}`` where ``key`` is a declared argument or a data key:

- ``catalog``: the active categories with their fields, and the products (``prompts.PromptData``);
- ``thread``: the trimmed thread of ticket ``number`` (its latest comments, and the opening comment
  when it is not among them); it must stand alone on a line and is sent as an **embedded resource**
  (uri ``tickets://N``, Markdown) between the text before and after it;
- ``thread_uri``: ``tickets://N``;
- ``awaiting_client``: the tickets that await the client, each with support's latest message;
- ``answer_language``: the language to answer in (``English``, ``Russian``): the ``language`` argument
  when the prompt has one and it is given, else the server's ``--language``.

An unknown placeholder fails at load time, never as a silent blank. A missing optional argument takes its
``default`` (empty if none is declared), except ``language``, which falls back to the server's language.

The directory: in a source checkout (or an editable install) the repository's ``prompts/`` next to
``server/``, found relative to this file; in an installed wheel or the MCP bundle, the copy inside the
package, ``tickets_mcp/prompts`` (``setup.py`` copies the files there at build time), whatever the working
directory.

**Serving.** `PromptData` reads what a template embeds, through the same client, cache and session limit as the
tools: ``catalog``, ``thread`` (the opening and the latest comments, sent as an embedded resource) and
``awaiting_client``. Only the data a template uses is read. A missing or invalid argument is a
JSON-RPC invalid-params error that names it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Self

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tickets_mcp.api import NotFound, TicketsApiError
from tickets_mcp.mcp_server.results import api_words, shown
from tickets_mcp.mcp_server.state import Caller, caller_of, charge_session

# The renderers (markdown, outputs, threads, tokens: ~38 ms of models and regexes) are imported where a prompt is got,
# not here: registering the prompts is on the path to answering `initialize`.

if TYPE_CHECKING:
    from tickets_mcp.settings import Settings

DATA_KEYS = frozenset({"catalog", "thread", "thread_uri", "awaiting_client", "answer_language"})
RESOURCE_KEYS = frozenset({"thread"})
NEEDS_NUMBER = frozenset({"thread", "thread_uri"})
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_DELIMITER = "+++"

SnakeCase = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1)]


class PromptFileError(ValueError):
    """A prompt file is malformed; the message names the file and, where known, the line or field."""


class PromptArgument(BaseModel):
    """One ``[[arguments]]`` table of the front matter."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: SnakeCase
    description: Text
    required: bool
    default: str | None = None

    @field_validator("name")
    @classmethod
    def _not_a_data_key(cls, name: str) -> str:
        if name in DATA_KEYS:
            raise ValueError(f"{name!r} is a data key ({', '.join(sorted(DATA_KEYS))}), not an argument")
        return name


class PromptFile(BaseModel):
    """The front matter of one prompt file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: SnakeCase
    title: Text
    description: Text
    writes: bool = False  # leads the model to a write (create, comment): not listed in read-only mode
    arguments: list[PromptArgument] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_argument_names(self) -> Self:
        names = [a.name for a in self.arguments]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate argument names {sorted({n for n in names if names.count(n) > 1})}")
        return self


@dataclass(frozen=True, slots=True)
class PromptSpec:
    """A loaded prompt: its validated front matter, template body, file, and the placeholders it uses."""

    meta: PromptFile
    template: str
    path: Path
    placeholders: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def description(self) -> str:
        return self.meta.description

    @property
    def arguments(self) -> list[PromptArgument]:
        return self.meta.arguments


# --- parsing -------------------------------------------------------------------------------------------


def _parse_toml(front: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        at = re.search(r"\s*\(at line (\d+), column (\d+)\)$", reason)
        where = f"{path}:{int(at[1]) + 1}:{at[2]}" if at else str(path)  # +1: the '+++' line
        reason = reason[: at.start()] if at else reason
        raise PromptFileError(f"{where}: TOML syntax error in the front matter: {reason}") from exc


def _where(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """``arguments[1] (intent).required`` for pydantic's ``('arguments', 1, 'required')``."""
    if len(loc) < 2 or loc[0] != "arguments":
        return ".".join(map(str, loc)) or "front matter"
    entry = data["arguments"][loc[1]]  # pydantic only goes this deep into a list it was given
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"arguments[{loc[1]}]" + (f" ({name})" if isinstance(name, str) else "")
    return ".".join([label, *map(str, loc[2:])])


def _problem(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """One pydantic error as a line a prompt author can act on."""
    loc, kind, got = tuple(error["loc"]), error["type"], error["input"]
    if kind == "missing":
        return f"{_where(loc[:-1], data)}: missing key {loc[-1]!r}"
    if kind == "extra_forbidden":
        model = PromptArgument if len(loc) > 1 else PromptFile
        moved = model is PromptArgument and loc[-1] in PromptFile.model_fields
        hint = "; top-level keys go before the first [[arguments]]" if moved else ""
        allowed = ", ".join(model.model_fields)
        return f"{_where(loc[:-1], data)}: unknown key {loc[-1]!r} (allowed: {allowed}){hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = f"{got!r} must be snake_case (a-z, 0-9 and _, a letter first, up to 64 characters)"
    elif kind.endswith("_type"):
        message += f", got {type(got).__name__} {got!r}"
    return f"{_where(loc, data)}: {message}"


def _check_placeholders(template: str, arg_names: set[str], path: Path) -> frozenset[str]:
    used = set(PLACEHOLDER.findall(template))
    unknown = used - arg_names - DATA_KEYS
    if unknown:
        known = ", ".join(sorted(arg_names | DATA_KEYS))
        raise PromptFileError(f"{path}: unknown placeholder(s) {sorted(unknown)}; known: {known}")
    if used & NEEDS_NUMBER and "number" not in arg_names:
        raise PromptFileError(f"{path}: {{{{thread}}}} and {{{{thread_uri}}}} need a 'number' argument")
    for key in used & RESOURCE_KEYS:
        mark = re.compile(r"\{\{\s*" + key + r"\s*\}\}")
        if any(mark.search(line) and not mark.fullmatch(line.strip()) for line in template.splitlines()):
            raise PromptFileError(f"{path}: {{{{{key}}}}} is embedded as a resource; put it alone on a line")
    return frozenset(used)


def load_prompt(path: Path) -> PromptSpec:
    """Parse one prompt file; raise :class:`PromptFileError` naming the file and the line or field."""
    lines = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
    if lines[0].strip() != _DELIMITER:
        hint = "; '---' YAML front matter is no longer read" if lines[0].strip() == "---" else ""
        raise PromptFileError(f"{path}:1: a prompt file starts with a '+++' line (TOML front matter){hint}")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == _DELIMITER)
    except StopIteration:
        raise PromptFileError(f"{path}: front matter is not closed by a '+++' line") from None
    data = _parse_toml("\n".join(lines[1:end]) + "\n", path)
    try:
        meta = PromptFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e, data) for e in exc.errors(include_url=False))
        raise PromptFileError(f"{path}: {problems}") from None
    template = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    if not template.strip():
        raise PromptFileError(f"{path}: the template body is empty")
    used = _check_placeholders(template, {a.name for a in meta.arguments}, path)
    return PromptSpec(meta, template, path, used)


def default_prompts_dir() -> Path:
    """The checkout's ``prompts/`` in a source tree (``server/`` next to ``pyproject.toml``: a checkout or an
    editable install), else the copy inside the installed package, ``tickets_mcp/prompts``."""
    package = Path(__file__).resolve().parents[1]
    candidates = [package / "prompts"]
    if package.parent.name == "server" and (package.parent.parent / "pyproject.toml").is_file():
        candidates.insert(0, package.parent.parent / "prompts")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no prompts folder found; looked in " + ", ".join(map(str, candidates)))


def load_prompts(directory: Path | None = None) -> list[PromptSpec]:
    """Load every ``*.md`` prompt in ``directory`` (default: :func:`default_prompts_dir`), sorted by name."""
    folder = directory if directory is not None else default_prompts_dir()
    specs = [load_prompt(p) for p in sorted(folder.glob("*.md"))]
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen:
            raise PromptFileError(f"{spec.path}: prompt name {spec.name!r} already used by {seen[spec.name]}")
        seen[spec.name] = spec.path
    return specs


def render_template(spec: PromptSpec, values: Mapping[str, str]) -> str:
    """Fill every ``{{key}}`` of the template; a key missing from ``values`` raises ``KeyError``."""
    return fill(spec, spec.template, values)


def fill(spec: PromptSpec, text: str, values: Mapping[str, str]) -> str:
    """Fill every ``{{key}}`` of ``text`` (a part of ``spec``'s template)."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"prompt {spec.name}: no value for {{{{{key}}}}}")
        return str(values[key])

    return PLACEHOLDER.sub(one, text)


# --- serving -------------------------------------------------------------------------------------------


class PromptData:
    """The data prompts embed, read through the same client and cache as the tools."""

    def __init__(self, state: Caller, charge: Callable[[], Awaitable[float | None]]) -> None:
        self._state = state
        self._charge = charge

    @classmethod
    def from_context(cls, ctx: Context) -> PromptData:
        return cls(caller_of(ctx), charge_session(ctx))

    async def catalog_markdown(self, language: str) -> str:
        """The active categories with their fields, then the products with their sub-products."""
        from tickets_mcp.mcp_server.markdown import render_categories, render_category_fields, render_products
        from tickets_mcp.mcp_server.outputs import field_view, named

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
        """The ticket, its opening comment (when it is not among the latest) and its latest comments;
        earlier ones are named with the tool call that reads them."""
        from tickets_mcp.mcp_server.threads import Selection, read_thread, tool_howto

        howto = tool_howto("get_ticket", number=number, include_comments=True)
        thread = await read_thread(self._state, number, Selection(), howto, opening=True)
        return f"tickets://{number}", thread.text

    async def awaiting_client_markdown(self) -> str:
        """The open tickets awaiting the client, each with the latest support message."""
        from tickets_mcp.mcp_server.markdown import render_ticket_list
        from tickets_mcp.mcp_server.outputs import brief, ticket_view
        from tickets_mcp.mcp_server.threads import read_latest, render_latest, tool_howto
        from tickets_mcp.mcp_server.tokens import estimate_tokens

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
    a default toolset is off: only then is the tool registry (imports worth deferring to the first
    `tools/list`) loaded at start-up. --read-only alone is covered by the prompts' ``writes``."""
    from tickets_mcp.settings import DEFAULT_TOOLSETS

    if not (settings.tools or settings.exclude_tools) and set(DEFAULT_TOOLSETS) <= set(settings.toolsets):
        return frozenset()
    from tickets_mcp.mcp_server.tools import select_tools

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
        return MCPError(INVALID_PARAMS, f"prompt {spec.name}: not found: {api_words(exc)}")
    return MCPError(INTERNAL_ERROR, f"prompt {spec.name}: the Tickets API failed: {api_words(exc)}")
