"""Tool declarations as data: name, toolset, title, the four annotations, consent, handler.

Handlers in `tickets.py`, `comments.py`, `catalog.py` and `legacy.py` declare themselves with
`@declare(...)`; the description is the handler's docstring (one or two sentences). `app.py`
registers the declarations that the settings enable. The README table, `manifest.json` and
the tests check against `all_tools()`, so a tool is described in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mcp.types import ToolAnnotations

Toolset = Literal["tickets", "comments", "catalog", "legacy"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    toolset: Toolset
    title: str
    handler: Callable[..., Any]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True
    consent: bool = False

    @property
    def description(self) -> str:
        return " ".join((self.handler.__doc__ or "").split())

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


_REGISTRY: dict[str, ToolSpec] = {}


def declare(
    *,
    toolset: Toolset,
    title: str,
    read_only: bool,
    destructive: bool,
    idempotent: bool,
    open_world: bool = True,
    consent: bool = False,
    name: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record a handler as a tool. Every annotation is an explicit, required argument."""

    def record(handler: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or handler.__name__
        if tool_name in _REGISTRY:
            raise ValueError(f"tool {tool_name!r} declared twice")
        if not handler.__doc__:
            raise ValueError(f"tool {tool_name!r} has no description (docstring)")
        _REGISTRY[tool_name] = ToolSpec(
            name=tool_name,
            toolset=toolset,
            title=title,
            handler=handler,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            open_world=open_world,
            consent=consent,
        )
        return handler

    return record


def all_tools() -> list[ToolSpec]:
    """Every declared tool, in a stable order (toolset, then declaration order)."""
    from tickets_mcp.tools import catalog, comments, legacy, tickets  # noqa: F401  (declarations)

    order = {"tickets": 0, "comments": 1, "catalog": 2, "legacy": 3}
    return sorted(_REGISTRY.values(), key=lambda spec: order[spec.toolset])


def enabled_tools(toolsets: tuple[str, ...], *, read_only: bool) -> list[ToolSpec]:
    """The tools a server with these settings lists and serves."""
    return [s for s in all_tools() if s.toolset in toolsets and (s.read_only or not read_only)]
