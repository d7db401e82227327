"""The sandbox's fault specs as the CLI takes them (``--fault``) and as plans: parsed and refused in process."""

from __future__ import annotations

import pytest

from tickets_mcp.sandbox.faults import FaultSpecError, parse_cli_spec, parse_plan


def test_cli_fault_specs() -> None:
    assert parse_cli_spec("503,drop") == {"sequence": ["503", "drop"]}
    assert parse_cli_spec("0.3:500,timeout") == {"probability": 0.3, "kinds": ["500", "timeout"]}
    assert parse_cli_spec('{"sequence": ["429-date"], "methods": ["POST"]}')["methods"] == ["POST"]
    for bad in ("teapot", "2:500", "x:500", "{oops"):
        with pytest.raises(FaultSpecError):
            parse_cli_spec(bad)
    with pytest.raises(FaultSpecError):
        parse_plan({"kinds": ["500"]})
