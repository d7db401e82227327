"""The MCP Bundle with @anthropic-ai/mcpb 2.1.2: `mcpb validate` accepts manifest.json (0.4, server.type
"uv"), `mcpb pack` packs the staged bundle, and the packed bundle runs the way a host runs it: the manifest's
own mcp_config (`uv run --directory <bundle> server/main.py`) with user_config substituted, over stdio."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.node_tools import ROOT, require_tool, run_tool
from support.uv_runner import UV, uv_env

pytestmark = [pytest.mark.thirdparty, pytest.mark.packaging]  # packs the bundle and runs it with uv


def test_manifest_validates() -> None:
    mcpb = require_tool("mcpb")
    proc = run_tool([mcpb, "validate", ROOT / "manifest.json"], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validation passes" in proc.stdout


def _host_config(manifest: dict[str, Any], bundle: Path, **user: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment a host derives from mcp_config: ${__dirname} is the unpacked bundle,
    ${user_config.X} the user's value, else the option's default ("" for an unset optional field)."""
    options = manifest["user_config"]
    values = {
        key: user.get(
            key, json.dumps(o["default"]) if isinstance(o.get("default"), bool) else o.get("default", "")
        )
        for key, o in options.items()
    }

    def fill(text: str) -> str:
        text = text.replace("${__dirname}", str(bundle))
        return re.sub(r"\$\{user_config\.(\w+)\}", lambda m: str(values[m.group(1)]), text)

    config = manifest["server"]["mcp_config"]
    return [fill(config["command"]), *map(fill, config["args"])], {
        k: fill(v) for k, v in config["env"].items()
    }


@dataclass(frozen=True)
class Packed:
    folder: Path  # the .mcpb unpacked, as a host installs it
    names: list[str]  # the archive's members


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Packed:
    """`devtools/bundle/stage.py` (what `make bundle` runs), `mcpb validate` and `mcpb pack`, then unzip."""
    mcpb = require_tool("mcpb")
    base = tmp_path_factory.mktemp("bundle")
    staged, archive_path, folder = base / "stage", base / "tickets-mcp.mcpb", base / "installed"
    stage = subprocess.run(
        [sys.executable, ROOT / "devtools" / "bundle" / "stage.py", staged],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stage.returncode == 0, stage.stderr
    proc = run_tool([mcpb, "validate", staged / "manifest.json"], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_tool([mcpb, "pack", staged, archive_path], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(folder)
        return Packed(folder, archive.namelist())


def test_the_bundle_is_source_only_for_every_os(packed: Packed) -> None:
    names = packed.names
    assert "pyproject.toml" in names and "server/main.py" in names and "server/tickets_mcp/cli.py" in names
    assert not [n for n in names if n.startswith(("server/lib/", "server/venv/", ".venv/"))], "vendored deps"
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib", ".pyc"))], "compiled files"
    prompts = sorted(p.name for p in (ROOT / "prompts").glob("*.md"))
    assert (
        sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("server/tickets_mcp/prompts/")) == prompts
    )
    bundle = tomllib.loads((packed.folder / "pyproject.toml").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for key in ("name", "version", "requires-python", "dependencies"):
        assert bundle["project"][key] == project[key], key
    assert bundle["tool"]["uv"]["package"] is False, "uv installs the dependencies and builds nothing"


@pytest.mark.anyio
async def test_the_packed_bundle_runs_through_uv(packed: Packed, tmp_path: Path) -> None:
    manifest = json.loads((packed.folder / "manifest.json").read_text(encoding="utf-8"))
    argv, env = _host_config(manifest, packed.folder, sandbox="true")
    assert argv[0] == "uv"  # the host provides uv; here, the one from the dev dependencies
    base = uv_env()
    base["PATH"] = os.pathsep.join([str(UV.parent), base.get("PATH", "")])
    params = StdioServerParameters(command=str(UV), args=argv[1:], env={**base, **env}, cwd=str(tmp_path))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                prompts_served = [p.name for p in (await client.list_prompts()).prompts]
                count = await client.call_tool("count_tickets", {"is_only_opened": True})
        except BaseException:
            errlog.seek(0)
            print(errlog.read()[-3000:])  # uv's and the server's stderr, shown with the failure
            raise
    listed = [t["name"] for t in manifest["tools"]]
    assert tools and tools == [t for t in listed if t in tools], "served tools are the manifest's, in order"
    assert prompts_served == [p["name"] for p in manifest["prompts"]]
    assert not count.is_error, count
