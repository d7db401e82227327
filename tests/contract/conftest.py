"""Contract tests: the real client against the sandbox over loopback (httpx2, real sockets).

One sandbox per module (time scale 1/60: the 60 s rate window lasts 1 s); every test starts
with an empty journal, no faults, fresh rate-limit windows and a fresh client process state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.api_client import TIME_SCALE
from tickets_mcp.sandbox import SandboxHandle, run_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(time_scale=TIME_SCALE) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sandbox" in request.fixturenames:
        handle: SandboxHandle = request.getfixturevalue("sandbox")
        handle.clear_faults()
        handle.reset_limits()
        handle.clear_journal()
    yield
