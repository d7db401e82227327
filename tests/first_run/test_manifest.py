"""manifest.json (MCP Bundle 0.4, a uv bundle) describes the server that actually runs: same tools, same
prompts, and user_config wired to real settings (every auth mode, read-only, sandbox)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tickets_mcp import __version__
from tickets_mcp.mcp_server.prompts import load_prompts
from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.sandbox import run_sandbox
from tickets_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def _env_names() -> set[str]:
    return {info.validation_alias.choices[1] for info in Settings.model_fields.values()}  # type: ignore[union-attr]


def test_basics() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert MANIFEST["manifest_version"] == "0.4" and "v0.4" in MANIFEST["$schema"]
    assert MANIFEST["name"] == "tickets-mcp"
    assert MANIFEST["version"] == pyproject["project"]["version"] == __version__
    server = MANIFEST["server"]
    # One portable bundle: the host runs the source with uv, which installs the dependencies per OS.
    assert server["type"] == "uv" and server["entry_point"] == "server/main.py"
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--directory", "${__dirname}", "server/main.py"]
    assert "platform_overrides" not in config and "PYTHONPATH" not in config["env"]
    assert MANIFEST["compatibility"]["runtimes"]["python"] == pyproject["project"]["requires-python"]
    assert set(MANIFEST["compatibility"]["platforms"]) == {"darwin", "win32", "linux"}
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
    # Every auth mode: a static token, an IAM token, a service user (name, password, account id).
    for key in ("token", "iam_token", "username", "password", "account_id"):
        assert (
            config[key]["required"] is False and env[f"SELECTEL_{key.upper()}"] == f"${{user_config.{key}}}"
        )
    secrets = {key for key, option in config.items() if option.get("sensitive")}
    assert secrets == {"token", "iam_token", "password"}
    secret_fields = {
        name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)
    }
    assert {key for key in config if key in secret_fields} == secrets, "a secret setting not marked sensitive"
    assert all(option.get("required") is False for option in config.values()), "every option is optional"
    for key in ("read_only", "sandbox"):
        assert config[key]["type"] == "boolean" and config[key]["default"] is False
        assert env[f"TICKETS_MCP_{key.upper()}"] == f"${{user_config.{key}}}"
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
