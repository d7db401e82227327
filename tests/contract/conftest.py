"""Contract tests: the real client against the sandbox over loopback (httpx2, real sockets).

One sandbox per module (time scale 1/60: the 60 s rate window lasts 1 s); every test starts
with an empty journal, no faults, fresh rate-limit windows and a fresh client process state.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import tickets_mcp.api  # noqa: F401
except ModuleNotFoundError:  # the project is not installed into the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

from api_contract_helpers import TIME_SCALE

from tickets_mcp.sandbox import SandboxHandle, run_sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with run_sandbox(time_scale=TIME_SCALE) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sb" in request.fixturenames:
        handle: SandboxHandle = request.getfixturevalue("sb")
        handle.clear_faults()
        handle.reset_limits()
        handle.clear_journal()
    yield
