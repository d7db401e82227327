"""The per-session call limit over its rate windows, in process: idle sessions are forgotten."""

from __future__ import annotations

import anyio
import pytest

from tickets_mcp.api.windows import MemoryWindows
from tickets_mcp.mcp_server.state import CallLimit


@pytest.mark.anyio
async def test_session_limit_forgets_idle_callers() -> None:
    windows = MemoryWindows()
    limit = CallLimit(windows, 5, window=0.05)
    for key in range(1100):
        assert await limit.check(key) is None
    await anyio.sleep(0.1)  # the window and its safety margin
    assert await limit.check("new") is None
    assert len(windows) == 1  # idle sessions were dropped, the live one kept
