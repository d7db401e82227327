"""Settings defaults that security rests on, read from the model (no server started)."""

from __future__ import annotations

from tickets_mcp.settings import Settings


def test_default_bind_setting_is_loopback() -> None:
    assert Settings.model_fields["host"].default == "127.0.0.1"
