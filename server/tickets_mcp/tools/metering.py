"""Tool-call metering: a middleware that tells a `ToolMeter` each tools/call's tool, outcome and duration.

It runs before `ToolGate`, so a call the gate answers itself (a disabled tool, the session limit, bad
arguments) is counted too. The outcome is ``ok``, ``error`` (an `isError` result; its ``code`` is the
error type, ``tool_error`` when it has none) or ``exception`` (the exception's class is the error type).
The default meter does nothing and the middleware then only passes the call on; `tickets_mcp.otel`
installs one that records metrics.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult

OTHER = (
    "_OTHER"  # a tool name that is not declared (a metric attribute must not take any value a client sends)
)


class ToolMeter:
    """Receives one record per tools/call; this one ignores them."""

    def record(self, tool: str, outcome: str, error_type: str | None, seconds: float) -> None:
        """``tool`` was called: ``outcome`` is ok | error | exception, in ``seconds``."""


_NONE = ToolMeter()
_meter: ToolMeter = _NONE
_known: frozenset[str] | None = None


def install(meter: ToolMeter | None) -> None:
    """Install ``meter`` for the whole process; None puts the no-op one back."""
    global _meter
    _meter = _NONE if meter is None else meter


def outcome_of(result: Any) -> tuple[str, str | None]:
    """(outcome, error type) of a tools/call result, in either of the shapes a handler may return."""
    if isinstance(result, CallToolResult):
        is_error, structured = result.is_error, result.structured_content
    elif isinstance(result, dict):
        is_error, structured = result.get("isError") is True, result.get("structuredContent")
    else:
        return "ok", None
    if not is_error:
        return "ok", None
    code = structured.get("code") if isinstance(structured, dict) else None
    return "error", code if isinstance(code, str) and code else "tool_error"


def tool_label(name: object) -> str:
    """The tool's name when it is a declared tool, else `OTHER`."""
    global _known
    if _known is None:
        from tickets_mcp.tools.registry import all_tools

        _known = frozenset(spec.name for spec in all_tools())
    return name if isinstance(name, str) and name in _known else OTHER


async def metering(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Middleware: time each tools/call and report it to the installed `ToolMeter`."""
    meter = _meter
    if meter is _NONE or ctx.method != "tools/call":
        return await call_next(ctx)
    tool = tool_label((ctx.params or {}).get("name"))
    started = time.perf_counter()
    try:
        result = await call_next(ctx)
    except Exception as exc:
        meter.record(tool, "exception", type(exc).__qualname__, time.perf_counter() - started)
        raise
    outcome, error_type = outcome_of(result)
    meter.record(tool, outcome, error_type, time.perf_counter() - started)
    return result
