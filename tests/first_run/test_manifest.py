"""manifest.json (MCP Bundle 0.3) describes the server that actually runs: same tools, same prompts, and
user_config wired to real settings."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tickets_mcp import __version__
from tickets_mcp.sandbox import run_sandbox
from tickets_mcp.settings import Settings
from tickets_mcp.tools.prompt_files import load_prompts
from tickets_mcp.tools.registry import all_tools
from tickets_mcp.tools.server import build_server

ROOT = Path(__file__).resolve().parents[2]
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def _env_names() -> set[str]:
    return {info.validation_alias.choices[1] for info in Settings.model_fields.values()}  # type: ignore[union-attr]


def test_basics() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert MANIFEST["manifest_version"] == "0.3"
    assert MANIFEST["name"] == "tickets-mcp"
    assert MANIFEST["version"] == pyproject["project"]["version"] == __version__
    server = MANIFEST["server"]
    assert server["type"] == "python" and server["entry_point"] == "server/main.py"
    assert server["mcp_config"]["args"] == ["${__dirname}/server/main.py"]
    assert (ROOT / "devtools" / "bundle" / "main.py").is_file(), "make bundle copies it to server/main.py"


def test_tools_equal_the_registry() -> None:
    assert MANIFEST["tools"] == [{"name": t.name, "description": t.description} for t in all_tools()]


def test_prompts_equal_the_prompt_files() -> None:
    specs = load_prompts()
    got = [(p["name"], p["description"], p.get("arguments", [])) for p in MANIFEST["prompts"]]
    assert got == [(s.name, s.description, [a.name for a in s.arguments]) for s in specs]
    for prompt in MANIFEST["prompts"]:
        used = set(re.findall(r"\$\{arguments\.(\w+)\}", prompt["text"]))
        assert used <= set(prompt.get("arguments", [])), prompt["name"]


def test_user_config_is_wired_to_settings() -> None:
    config = MANIFEST["user_config"]
    env = MANIFEST["server"]["mcp_config"]["env"]
    assert set(env) <= _env_names(), "mcp_config.env sets a variable Settings does not read"
    referenced = {m for v in env.values() for m in re.findall(r"\$\{user_config\.(\w+)\}", v)}
    assert referenced == set(config)
    assert config["token"]["sensitive"] is True and config["password"]["sensitive"] is True
    assert env["SELECTEL_TOKEN"] == "${user_config.token}"
    for key in ("username", "password", "account_id"):
        assert (
            config[key]["required"] is False and env[f"SELECTEL_{key.upper()}"] == f"${{user_config.{key}}}"
        )
    assert (
        config["read_only"]["type"] == "boolean"
        and env["TICKETS_MCP_READ_ONLY"] == "${user_config.read_only}"
    )
    assert config["base_url"]["default"] == Settings.model_fields["base_url"].default


def test_empty_optional_fields_leave_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host substitutes "" for an unset optional field: that must not break the settings."""
    for name in MANIFEST["server"]["mcp_config"]["env"]:
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("TICKETS_MCP_SANDBOX", "true")
    settings = Settings()
    assert settings.auth_mode == "sandbox" and settings.base_url == Settings.model_fields["base_url"].default


@pytest.mark.anyio
async def test_manifest_matches_the_running_server() -> None:
    with run_sandbox() as sb:
        settings = Settings(token=sb.token, base_url=sb.base_url, toolsets="all")  # type: ignore[arg-type]
        async with Client(build_server(settings)) as client:
            tools = (await client.list_tools()).tools
            prompts = (await client.list_prompts()).prompts
    assert [{"name": t.name, "description": t.description} for t in tools] == MANIFEST["tools"]
    assert [(p.name, p.description) for p in prompts] == [
        (p["name"], p["description"]) for p in MANIFEST["prompts"]
    ]
