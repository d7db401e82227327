"""Fake creates for the dedup tests: a create that blocks on a gate per call, one that answers at once,
and a runner that records a call's result or its error."""

from __future__ import annotations

from typing import Any

import anyio

from tickets_mcp.api.dedup import Dedup


class Creator:
    """A fake create: each call blocks on its own gate, then returns a ticket or raises."""

    def __init__(self, *fail: int) -> None:
        self.fail = set(fail)  # which calls (1-based) fail
        self.calls = 0
        self.gates: dict[int, anyio.Event] = {}

    def gate(self, call: int) -> anyio.Event:
        return self.gates.setdefault(call, anyio.Event())

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        call = self.calls
        await self.gate(call).wait()
        if call in self.fail:
            raise RuntimeError(f"create {call} failed")
        return {"ticket": {"number": 100 + call, "tags": ["a"]}, "recovered": False}


def instant(number: int) -> Any:
    async def create() -> dict[str, Any]:
        return {"ticket": {"number": number}}

    return create


async def run(dedup: Dedup, creator: Any, into: list[Any], key: str = "k", window: float = 600) -> None:
    try:
        into.append(await dedup.run_once(key, window, creator))
    except RuntimeError as exc:
        into.append(exc)


def creator_result(number: int) -> dict[str, Any]:
    return {"ticket": {"number": number, "tags": ["a"]}, "recovered": False}
