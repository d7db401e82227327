"""First-run checks see a clean environment: no credentials or settings leak in from the developer's shell."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SELECTEL_", "TICKETS_MCP_")):
            monkeypatch.delenv(name)
