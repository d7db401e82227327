"""Prompts loaded from ``prompts/*.md``: one file per prompt, so adding a file adds a prompt.

File format (a strict subset of YAML front matter, parsed here; PyYAML is not a dependency)::

    ---
    name: summarize_thread            # snake_case, unique
    title: Summarize a ticket thread
    description: One line for the client's prompt picker.
    arguments:                        # or: arguments: []
      - name: number
        description: Ticket number.
        required: true
      - name: intent
        description: What the reply should achieve.
        required: false
        default: not stated
    ---
    Template body with {{number}} and {{thread}} placeholders.

Rules: top-level keys are exactly ``name``, ``title``, ``description``, ``arguments``; argument keys are
``name``, ``description``, ``required`` (``true``/``false``) and an optional ``default``. Values are plain
text to the end of the line, or a JSON string in double quotes. Lines starting with ``#`` are comments.
Anything else is a :class:`PromptFileError` naming the file and line.

Placeholders are ``{{key}}`` where ``key`` is a declared argument or a data key:

- ``catalog``: categories with their fields (``PromptData.catalog_markdown(language)``);
- ``thread``: the trimmed thread of ticket ``number``; it must stand alone on a line and is sent as an
  **embedded resource** (uri ``tickets://N``, Markdown) between the text before and after it;
- ``thread_uri``: ``tickets://N``;
- ``awaiting_client``: the tickets that await the client (``PromptData.awaiting_client_markdown()``).

An unknown placeholder fails at load time, never as a silent blank. A missing optional argument takes its
``default`` (empty if none is declared), except ``language``, which falls back to the server's language.

The directory: by default the repository's ``prompts/`` next to ``server/`` (a source checkout or an
editable install, found relative to this file); for an installed wheel, a ``prompts`` folder shipped inside
the ``tickets_mcp`` package (``importlib.resources``) or under ``<prefix>/share/tickets-mcp/prompts``.
The first that exists wins, so packaging can choose either without code changes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context

__all__ = [
    "DATA_KEYS",
    "PromptArg",
    "PromptData",
    "PromptFileError",
    "PromptSpec",
    "default_prompts_dir",
    "load_prompt",
    "load_prompts",
    "register_prompts",
    "render_template",
]

DATA_KEYS = frozenset({"catalog", "thread", "thread_uri", "awaiting_client"})
RESOURCE_KEYS = frozenset({"thread"})
_NEEDS_NUMBER = frozenset({"thread", "thread_uri"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TOP_KEYS = ("name", "title", "description", "arguments")
_ARG_KEYS = frozenset({"name", "description", "required", "default"})


class PromptFileError(ValueError):
    """A prompt file is malformed; the message names the file and, where known, the line."""


@dataclass(frozen=True, slots=True)
class PromptArg:
    name: str
    description: str
    required: bool
    default: str | None = None


@dataclass(frozen=True, slots=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: list[PromptArg]
    template: str
    path: Path
    placeholders: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class PromptData(Protocol):
    """What prompts embed; implemented by the MCP app over the API client."""

    async def catalog_markdown(self, language: str) -> str: ...

    async def thread(self, number: int) -> tuple[str, str]:
        """Return ``(uri, markdown)``: ``tickets://N`` and the trimmed thread."""
        ...

    async def awaiting_client_markdown(self) -> str: ...


# --- parsing -------------------------------------------------------------------------------------------


def _value(raw: str, where: str) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise PromptFileError(f"{where}: bad quoted string: {exc}") from None
        if not isinstance(value, str):
            raise PromptFileError(f"{where}: expected a string")
        return value
    return raw


def _key_value(line: str, where: str) -> tuple[str, str]:
    key, sep, rest = line.partition(":")
    if not sep or not re.fullmatch(r"[a-z_]+", key.strip()):
        raise PromptFileError(f"{where}: expected 'key: value', got {line.strip()!r}")
    return key.strip(), rest


def _parse_front_matter(lines: list[str], path: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    top: dict[str, str] = {}
    args: list[dict[str, str]] = []
    in_args = False
    for number, line in enumerate(lines, start=2):
        where = f"{path}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            key, rest = _key_value(line, where)
            if key not in _TOP_KEYS:
                raise PromptFileError(f"{where}: unknown key {key!r} (allowed: {', '.join(_TOP_KEYS)})")
            if key in top:
                raise PromptFileError(f"{where}: duplicate key {key!r}")
            in_args = key == "arguments"
            if in_args and rest.strip() not in ("", "[]"):
                raise PromptFileError(f"{where}: 'arguments:' takes a list on the next lines, or []")
            top[key] = _value(rest, where) if not in_args else rest.strip()
            continue
        if not in_args:
            raise PromptFileError(f"{where}: unexpected indentation")
        stripped = line.strip()
        if stripped.startswith("- "):
            args.append({})
            stripped = stripped[2:]
        elif not args or not line.startswith("    "):
            raise PromptFileError(f"{where}: argument entries start with '  - name: ...'")
        key, rest = _key_value(stripped, where)
        if key not in _ARG_KEYS:
            raise PromptFileError(
                f"{where}: unknown argument key {key!r} (allowed: {', '.join(sorted(_ARG_KEYS))})"
            )
        if key in args[-1]:
            raise PromptFileError(f"{where}: duplicate argument key {key!r}")
        args[-1][key] = _value(rest, where)
    return top, args


def _check_placeholders(template: str, arg_names: set[str], path: Path) -> frozenset[str]:
    used = set(_PLACEHOLDER.findall(template))
    unknown = used - arg_names - DATA_KEYS
    if unknown:
        known = ", ".join(sorted(arg_names | DATA_KEYS))
        raise PromptFileError(f"{path}: unknown placeholder(s) {sorted(unknown)}; known: {known}")
    if used & _NEEDS_NUMBER and "number" not in arg_names:
        raise PromptFileError(f"{path}: {{{{thread}}}} and {{{{thread_uri}}}} need a 'number' argument")
    for key in used & RESOURCE_KEYS:
        for line in template.splitlines():
            if re.search(r"\{\{\s*" + key + r"\s*\}\}", line) and not re.fullmatch(
                r"\s*\{\{\s*" + key + r"\s*\}\}\s*", line
            ):
                raise PromptFileError(
                    f"{path}: {{{{{key}}}}} is embedded as a resource; put it alone on a line"
                )
    return frozenset(used)


def load_prompt(path: Path) -> PromptSpec:
    """Parse one prompt file; raise :class:`PromptFileError` with the file and line on any problem."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise PromptFileError(f"{path}:1: a prompt file starts with a '---' line")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise PromptFileError(f"{path}: front matter is not closed by a '---' line") from None
    top, raw_args = _parse_front_matter(lines[1:end], path)
    missing = [k for k in _TOP_KEYS if k not in top]
    if missing:
        raise PromptFileError(f"{path}: missing front matter key(s): {', '.join(missing)}")
    if not _NAME.fullmatch(top["name"]):
        raise PromptFileError(f"{path}: name {top['name']!r} must be snake_case")
    arguments: list[PromptArg] = []
    for i, raw in enumerate(raw_args, start=1):
        if not {"name", "description", "required"} <= raw.keys():
            raise PromptFileError(f"{path}: argument {i} needs name, description and required")
        if raw["required"] not in ("true", "false"):
            raise PromptFileError(f"{path}: argument {raw['name']!r}: required must be true or false")
        if not _NAME.fullmatch(raw["name"]) or raw["name"] in DATA_KEYS:
            raise PromptFileError(f"{path}: bad argument name {raw['name']!r}")
        arguments.append(
            PromptArg(raw["name"], raw["description"], raw["required"] == "true", raw.get("default"))
        )
    names = {a.name for a in arguments}
    if len(names) != len(arguments):
        raise PromptFileError(f"{path}: duplicate argument names")
    template = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    if not template.strip():
        raise PromptFileError(f"{path}: the template body is empty")
    used = _check_placeholders(template, names, path)
    return PromptSpec(top["name"], top["title"], top["description"], arguments, template, path, used)


def default_prompts_dir() -> Path:
    """The first existing prompts folder: source checkout, inside the package, or ``<prefix>/share``."""
    from importlib.resources import files

    candidates = [
        Path(__file__).resolve().parents[3] / "prompts",
        Path(str(files("tickets_mcp"))) / "prompts",
        Path(sys.prefix) / "share" / "tickets-mcp" / "prompts",
    ]
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

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"prompt {spec.name}: no value for {{{{{key}}}}}")
        return str(values[key])

    return _PLACEHOLDER.sub(fill, spec.template)


# --- registration --------------------------------------------------------------------------------------

Provider = PromptData | Callable[["Context"], PromptData | Awaitable[PromptData]]


async def _resolve(provider: Provider, ctx: Context) -> PromptData:
    if not isinstance(provider, type) and isinstance(provider, PromptData):
        return provider
    data = provider(ctx)
    if isinstance(data, Awaitable):
        data = await data
    return data  # type: ignore[return-value]


def _bad_argument(message: str) -> Exception:
    from mcp.shared.exceptions import MCPError
    from mcp_types.jsonrpc import INVALID_PARAMS

    return MCPError(INVALID_PARAMS, message)


def _number(raw: str | None) -> int:
    text = (raw or "").strip().lstrip("#")
    if not text.isdigit() or int(text) < 1:
        raise _bad_argument(f"number must be a positive ticket number, got {raw!r}")
    return int(text)


async def _values(
    spec: PromptSpec, args: Mapping[str, Any], data: PromptData, language: str
) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in spec.arguments:
        given = args.get(arg.name)
        values[arg.name] = str(given) if given not in (None, "") else (arg.default or "")
    if "language" in values and not values["language"]:
        values["language"] = language
    used = spec.placeholders
    if "catalog" in used:
        values["catalog"] = await data.catalog_markdown(values.get("language") or language)
    if used & _NEEDS_NUMBER:
        number = _number(values.get("number"))
        values["number"] = str(number)
        values["thread_uri"], values["thread"] = await data.thread(number)
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
            messages.append(UserMessage(_fill(spec, chunk, values)))
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


def _fill(spec: PromptSpec, chunk: str, values: Mapping[str, str]) -> str:
    return render_template(PromptSpec(spec.name, "", "", [], chunk, spec.path), values)


def register_prompts(
    server: MCPServer, specs: list[PromptSpec], provider: Provider, *, default_language: str = "en"
) -> None:
    """Register each spec with ``server`` under its declared arguments.

    ``provider`` is a :class:`PromptData` or a callable ``(ctx) -> PromptData`` (sync or async), asked at
    render time for only the data the template uses. Bad arguments become JSON-RPC invalid-params errors.
    """
    from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

    for spec in specs:
        arguments = [
            PromptArgument(name=a.name, description=a.description, required=a.required)
            for a in spec.arguments
        ]
        server.add_prompt(
            Prompt(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                arguments=arguments,
                fn=_renderer(spec, provider, default_language),
                context_kwarg="ctx",
            )
        )


def _renderer(
    spec: PromptSpec, provider: Provider, default_language: str
) -> Callable[..., Awaitable[list[Any]]]:
    declared = {a.name for a in spec.arguments}

    async def render(ctx: Context, **kwargs: Any) -> list[Any]:
        unknown = set(kwargs) - declared
        if unknown:
            raise _bad_argument(f"prompt {spec.name} has no argument(s) {sorted(unknown)}")
        data = await _resolve(provider, ctx)
        values = await _values(spec, kwargs, data, default_language)
        return _messages(spec, values)

    return render
