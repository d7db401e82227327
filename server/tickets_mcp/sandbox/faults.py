"""Fault plans: which request gets which failure.

A plan is a list of rules, given as a rule object, ``{"rules": [...]}`` or a list. A rule is either
by probability, ``{"probability": 0.3, "kinds": ["503", "drop"], "seed": 7}``, or an exact
sequence consumed one item per matching request, ``{"sequence": ["429", null, "500"]}`` (``null``,
``"ok"`` or ``"none"`` let that request through). Optional filters: ``methods`` (e.g.
``["POST"]``) and ``path_prefix`` (a full path such as ``/support/v2/tickets`` or ``/files/public/files``; a
prefix not starting with ``/support``, ``/identity`` or ``/files`` is tried under ``/support`` too). Each rule or
sequence item may set ``applied`` (is the operation really performed before the faulty answer?),
``delay`` (seconds for ``timeout``, real time, default 35) and ``retry_after`` (seconds for the 429
faults, default 1). The first rule that yields a fault wins. Faults never touch ``/_sandbox``.

Kinds: ``429`` (Retry-After delta), ``429-date`` (HTTP-date), ``429-none`` (no Retry-After),
``500``, ``502``, ``503``, ``504``, ``drop`` (headers and part of the body, then the connection is
closed), ``timeout`` (sleep ``delay`` then answer; the real answer if applied, else 504) and
``malformed`` (200 with a broken JSON body). Default ``applied``: false for 429 and 5xx, true for
drop, timeout and malformed.

CLI shorthand for ``--fault``: JSON, or ``KIND[,KIND...]`` (a sequence), or ``P:KIND[,KIND...]``
(probability ``P`` over the kinds).
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("429", "429-date", "429-none", "500", "502", "503", "504", "drop", "timeout", "malformed")
APPLIED_BY_DEFAULT = {"drop", "timeout", "malformed"}
PASS = {None, "ok", "none", "pass"}
DEFAULT_DELAY = 35.0
FAULTED_PREFIXES = ("/support", "/identity", "/files")


class FaultSpecError(ValueError):
    """A fault plan that cannot be understood."""


@dataclass(frozen=True)
class Fault:
    kind: str
    applied: bool
    delay: float = DEFAULT_DELAY
    retry_after: int = 1


def _fault(item: Any, rule: dict[str, Any]) -> Fault | None:
    if isinstance(item, dict):
        options = {**rule, **item}
        kind = item.get("kind")
    else:
        options, kind = rule, item
    if kind in PASS:
        return None
    kind = str(kind)
    if kind not in KINDS:
        raise FaultSpecError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    applied = options.get("applied")
    try:
        return Fault(
            kind=kind,
            applied=(kind in APPLIED_BY_DEFAULT) if applied is None else bool(applied),
            delay=float(options.get("delay", DEFAULT_DELAY)),
            retry_after=int(options.get("retry_after", 1)),
        )
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"bad fault option: {exc}") from exc


class Rule:
    def __init__(self, spec: dict[str, Any]) -> None:
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault rule must be an object")
        self.spec = dict(spec)
        methods = spec.get("methods")
        if isinstance(methods, str):
            methods = [methods]
        self.methods = {m.upper() for m in methods} if methods else None
        self.path_prefix: str | None = spec.get("path_prefix")
        self.sequence: list[Any] | None = None
        self.kinds: list[str] = []
        self.probability = 0.0
        if "sequence" in spec:
            if not isinstance(spec["sequence"], list):
                raise FaultSpecError("'sequence' must be an array")
            self.sequence = list(spec["sequence"])
            for item in self.sequence:
                _fault(item, self.spec)  # validate up front
        elif "probability" in spec:
            try:
                self.probability = float(spec["probability"])
            except (TypeError, ValueError) as exc:
                raise FaultSpecError("'probability' must be a number") from exc
            if not 0.0 <= self.probability <= 1.0:
                raise FaultSpecError("'probability' must be between 0 and 1")
            kinds = spec.get("kinds") or ["500"]
            self.kinds = [str(k) for k in ([kinds] if isinstance(kinds, str) else kinds)]
            for kind in self.kinds:
                _fault(kind, self.spec)
        else:
            raise FaultSpecError("a fault rule needs 'sequence' or 'probability'")
        self.random = random.Random(spec.get("seed"))

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.path_prefix:
            prefix = self.path_prefix
            if path.startswith(prefix):
                return True
            return not prefix.startswith(FAULTED_PREFIXES) and path.startswith("/support" + prefix)
        return True

    def draw(self) -> Fault | None:
        if self.sequence is not None:
            if not self.sequence:
                return None
            return _fault(self.sequence.pop(0), self.spec)
        if self.random.random() < self.probability:
            return _fault(self.random.choice(self.kinds), self.spec)
        return None

    def describe(self) -> dict[str, Any]:
        out = dict(self.spec)
        if self.sequence is not None:
            out["sequence"] = list(self.sequence)
        return out


def parse_plan(plan: Any) -> list[Rule]:
    if plan is None:
        return []
    if isinstance(plan, dict) and "rules" in plan:
        plan = plan["rules"]
    if isinstance(plan, dict):
        plan = [plan]
    if not isinstance(plan, list):
        raise FaultSpecError("a fault plan is a rule, a list of rules, or {'rules': [...]}")
    return [Rule(spec) for spec in plan]


def parse_cli_spec(text: str) -> dict[str, Any]:
    """One ``--fault`` value: JSON, ``KIND[,KIND]`` (sequence) or ``P:KIND[,KIND]`` (probability)."""
    text = text.strip()
    if text.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultSpecError(f"bad JSON fault spec: {exc}") from exc
        return value if isinstance(value, dict) else {"rules": value}
    if ":" in text:
        prob, _, kinds = text.partition(":")
        try:
            probability = float(prob)
        except ValueError as exc:
            raise FaultSpecError(f"bad probability in {text!r}") from exc
        spec: dict[str, Any] = {"probability": probability, "kinds": [k for k in kinds.split(",") if k]}
    else:
        spec = {"sequence": [k for k in text.split(",") if k]}
    parse_plan(spec)
    return spec


class FaultPlan:
    """The live plan; thread-safe."""

    def __init__(self, plan: Any = None) -> None:
        self._lock = threading.Lock()
        self._rules = parse_plan(plan)

    def set(self, plan: Any) -> None:
        rules = parse_plan(plan)
        with self._lock:
            self._rules = rules

    def add(self, plan: Any) -> None:
        rules = parse_plan(plan)
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def pick(self, method: str, path: str) -> Fault | None:
        if not path.startswith(FAULTED_PREFIXES):
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    fault = rule.draw()
                    if fault is not None:
                        return fault
        return None
