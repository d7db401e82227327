"""How a tool is declared: its kind of effect, its toolset, title and handler, as one value.

```python
@tool("tickets", READ, title="Get ticket")
async def get_ticket(ctx: Context, number: Number) -> Annotated[CallToolResult, TicketDetail]:
    "Read one ticket; ..."          # the description the model sees (one or two sentences)
```

`tool` returns a `ToolSpec`; it registers nothing. Each toolset module lists its specs in a
``TOOLS`` tuple and `tools/__init__.py` lists the toolsets; write tools are declared with `writes.write`. The four MCP annotations of every tool come
from its `Kind`, declared once below.

The handler is wrapped at declaration time: a Tickets API error becomes an `isError` result that
names what the call was about (the ticket, comment, category or product of its own arguments).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.types import ToolAnnotations

from tickets_mcp.api import TicketsApiError
from tickets_mcp.mcp_server.results import from_api_error
from tickets_mcp.settings import Toolset

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools.base import Tool


@dataclass(frozen=True, slots=True)
class Kind:
    """What a tool does to the user's tickets, as the MCP annotations say it."""

    read_only: bool
    destructive: bool
    idempotent: bool


READ = Kind(read_only=True, destructive=False, idempotent=True)  # changes nothing
ADD = Kind(read_only=False, destructive=False, idempotent=False)  # a ticket, comment, vote or reopening
REPLACE = Kind(read_only=False, destructive=True, idempotent=True)  # overwrites a setting (access)
CLOSE = Kind(read_only=False, destructive=True, idempotent=False)  # ends a ticket's conversation

# Arguments that name what a call is about, in the words of an error message.
SUBJECTS = {
    "number": "ticket {}",
    "comment_id": "comment {}",
    "category": "category {!r}",
    "parent": "product {!r}",
    "product": "product {!r}",
}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    toolset: Toolset
    title: str
    kind: Kind
    handler: Callable[..., Awaitable[Any]]
    consent: bool = False
    open_world: bool = True

    @property
    def read_only(self) -> bool:
        return self.kind.read_only

    @property
    def description(self) -> str:
        return " ".join((self.handler.__doc__ or "").split())

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.kind.read_only,
            destructive_hint=self.kind.destructive,
            idempotent_hint=self.kind.idempotent,
            open_world_hint=self.open_world,
        )

    @functools.cached_property
    def sdk_tool(self) -> Tool:
        """The SDK's tool object (input and output schemas, argument model), built on first use:
        building them is most of what serving a tool costs, so a server starts without it."""
        from mcp.server.mcpserver.tools.base import Tool

        built = Tool.from_function(
            _answering_errors(self.handler),
            name=self.name,
            title=self.title,
            description=self.description,
            annotations=self.annotations,
        )
        built.parameters = compact(built.parameters)
        return built


TRIVIAL = {("maximum", 2**63 - 1), ("minLength", 1), ("additionalProperties", True)}


def _trivial(key: str, value: Any) -> bool:
    return isinstance(value, int | bool) and (key, value) in TRIVIAL


def compact(schema: Any) -> Any:
    """An input schema as the model needs it (its tokens are paid on every request): no ``title``s, an
    optional argument as its own type (``anyOf [T, null]`` with ``default null`` becomes ``T``), and none
    of the bounds a model never trips over (an int64 ``maximum``, ``minLength: 1``,
    ``additionalProperties: true``). The arguments are still validated against the full model."""
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: compact(v) for k, v in schema.items() if k != "title" and not _trivial(k, v)}
    if "properties" in schema:  # a property named "title" is an argument, not a title
        out["properties"] = {name: compact(sub) for name, sub in schema["properties"].items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and out.get("default", 0) is None and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1:
            del out["anyOf"], out["default"]
            out = {**rest[0], **out}
    return out


def _answering_errors(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The handler, with Tickets API errors turned into results about its own arguments."""

    @functools.wraps(handler)
    async def call(**arguments: Any) -> Any:
        try:
            return await handler(**arguments)
        except TicketsApiError as exc:
            return from_api_error(exc, subject=subject_of(arguments))

    return call


def subject_of(arguments: dict[str, Any]) -> str | None:
    """What a call is about, from its arguments: ``ticket 2401007``, ``comment 9100001``, ..."""
    for name, template in SUBJECTS.items():
        if arguments.get(name) is not None:
            return template.format(arguments[name])
    return None


def tool(
    toolset: Toolset,
    kind: Kind,
    *,
    title: str,
    consent: bool = False,
    name: str | None = None,
    open_world: bool = True,
) -> Callable[[Callable[..., Awaitable[Any]]], ToolSpec]:
    """Declare a handler as a tool; the description is its docstring. ``open_world=False``: it reads only
    what this server keeps, never the API."""

    def declare(handler: Callable[..., Awaitable[Any]]) -> ToolSpec:
        if not handler.__doc__:
            raise ValueError(f"tool {handler.__name__!r} has no description (docstring)")
        return ToolSpec(name or handler.__name__, toolset, title, kind, handler, consent, open_world)

    return declare
