"""Installed as a tool, outside the checkout: the wheel is built (sdist first, then the wheel from the sdist,
as `uv build` does), installed with `uv tool install` into a fresh tool directory, and `tickets-mcp --sandbox`
is driven over stdio from an unrelated working directory. The same wheel is also run with `uvx --from` and
installed with `pipx install`. The prompts it serves come from the copy inside the installed package, never
from the checkout.

One build and one install per run (a module fixture); uv resolves from pip's indexes (tests/support/uv_runner.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.uv_runner import run_uv, uv_env
from tickets_mcp import __version__
from tickets_mcp.mcp_server.prompts import load_prompts
from tickets_mcp.mcp_server.tools import enabled_tools
from tickets_mcp.settings import DEFAULT_TOOLSETS

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]
PROMPTS = sorted(p.name for p in (ROOT / "prompts").glob("*.md"))


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    command: Path  # the tool's entry point, as `uv tool install` links it
    python: Path  # the tool environment's interpreter
    elsewhere: Path  # a working directory unrelated to the checkout
    env: dict[str, str]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    src, dist = base / "src", base / "dist"
    # Build from a copy, so build/ and egg-info never land in the checkout.
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "server", src / "server", ignore=ignore)
    shutil.copytree(ROOT / "prompts", src / "prompts")
    env = uv_env(UV_TOOL_DIR=base / "tools", UV_TOOL_BIN_DIR=base / "bin")
    run_uv("build", "--out-dir", dist, src, env=env)  # the sdist, then the wheel built from it
    (wheel,) = dist.glob("tickets_mcp-*.whl")
    (sdist,) = dist.glob("tickets_mcp-*.tar.gz")
    run_uv("tool", "install", wheel, env=env)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Installed(
        wheel,
        sdist,
        base / "bin" / "tickets-mcp",
        base / "tools" / "tickets-mcp" / "bin" / "python",
        elsewhere,
        env,
    )


def test_the_wheel_and_sdist_carry_the_prompts_inside_the_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        shipped = {n.rsplit("/", 1)[1]: wheel.read(n) for n in names if n.startswith("tickets_mcp/prompts/")}
    assert sorted(shipped) == PROMPTS
    assert all(shipped[name] == (ROOT / "prompts" / name).read_bytes() for name in PROMPTS)
    assert not [n for n in names if ".data/" in n], "nothing ships outside the package (no data files)"
    views = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("tickets_mcp/mcp_server/views/"))
    assert views == ["bridge.js", "draft.html", "theme.css", "thread.html"], (
        "the MCP App views are package data"
    )
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = sorted(
            n.rsplit("/", 1)[1] for n in sdist.getnames() if "/prompts/" in n and n.endswith(".md")
        )
    assert in_sdist == PROMPTS


def test_the_installed_tool_runs_its_own_code_and_prompts(installed: Installed) -> None:
    probe = (
        "import tickets_mcp; from tickets_mcp.mcp_server.prompts import default_prompts_dir, load_prompts;"
        "print(tickets_mcp.__file__); print(default_prompts_dir()); print(len(load_prompts()))"
    )
    env = {k: v for k, v in installed.env.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(installed.python), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed.elsewhere,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    module, folder, count = proc.stdout.split()
    package = Path(module).parent
    assert package.parent.name == "site-packages" and ROOT not in package.parents
    assert Path(folder) == package / "prompts"
    assert int(count) == len(PROMPTS)
    version = subprocess.run(
        [str(installed.command), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed.elsewhere,
        env=env,
    )
    assert version.stdout.strip() == f"tickets-mcp {__version__}"


def test_uvx_runs_the_wheel(installed: Installed) -> None:
    """`uvx --from <wheel> tickets-mcp`: an ephemeral environment, from uv's cache the install filled."""
    proc = run_uv(
        "tool", "run", "--from", installed.wheel, "tickets-mcp", "--version", env=installed.env, timeout=120
    )
    assert proc.stdout.strip() == f"tickets-mcp {__version__}"


@pytest.mark.anyio
async def test_the_installed_command_serves_stdio_from_another_directory(installed: Installed) -> None:
    env = {k: v for k, v in installed.env.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    params = StdioServerParameters(
        command=str(installed.command), args=["--sandbox"], env=env, cwd=str(installed.elsewhere)
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                prompts = [p.name for p in (await client.list_prompts()).prompts]
                triage = await client.get_prompt("triage_open_tickets", {})
                found = await client.call_tool(
                    "search_tickets", {"is_only_opened": True, "items_per_page": 5}
                )
                items = (found.structured_content or {}).get("items") or []
                number = int(items[0]["number"]) if items else 0
                comment = await client.call_tool(
                    "add_comment", {"number": number, "body": "Still reproducible after the update."}
                )
        except BaseException:
            errlog.seek(0)
            print(errlog.read()[-3000:])  # the server's stderr, shown with the failure
            raise
    assert tools == [t.name for t in enabled_tools(DEFAULT_TOOLSETS, read_only=False)]
    assert prompts == [s.name for s in load_prompts()]
    assert triage.messages, "the prompt rendered from the installed prompt file"
    assert not found.is_error and items, found
    assert not comment.is_error, comment
    outcome = comment.structured_content or {}
    assert outcome.get("outcome") == "done" and outcome.get("sent") is True and outcome.get("comment_id"), (
        outcome
    )
    assert not list(installed.elsewhere.iterdir()), "the server wrote nothing into its working directory"


@pytest.fixture
def pipx_command(installed: Installed, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """`pipx install <wheel>`: its own venv and pip (which reads the same index configuration as pip)."""
    pipx = Path(sys.executable).parent / "pipx"
    env = {k: v for k, v in installed.env.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
    )
    done = subprocess.run(
        [str(pipx), "install", str(installed.wheel)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path / "bin" / "tickets-mcp", env


@pytest.mark.anyio
async def test_pipx_installs_the_wheel_and_it_serves_stdio(
    installed: Installed, pipx_command: tuple[Path, dict[str, str]]
) -> None:
    command, env = pipx_command
    params = StdioServerParameters(
        command=str(command), args=["--sandbox"], env=env, cwd=str(installed.elsewhere)
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            read = await client.call_tool("count_tickets", {})
    assert tools == [t.name for t in enabled_tools(DEFAULT_TOOLSETS, read_only=False)]
    assert prompts == [s.name for s in load_prompts()]
    assert not read.is_error, read
