"""The structure of the package, enforced (see docs/architecture.md).

- the rooms import only what they may: api knows HTTP and nothing of MCP; the sandbox stands apart;
- no import cycle anywhere under server/, type-only imports included;
- a method or path of the Tickets API is written once, in `api/operations.py`;
- private names of the `mcp` SDK are used in `mcp_server/sdk.py` only, each one listed there and checked
  against the installed SDK, whose version range is pinned;
- a module past about 800 lines is split by concept.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
PACKAGE = SERVER / "tickets_mcp"
MODULES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN = {
    # api is a reusable client: nothing of MCP, of the replicas' Redis or of OpenTelemetry (cold start).
    "api": (
        "tickets_mcp.mcp_server",
        "tickets_mcp.sandbox",
        "tickets_mcp.cli",
        "tickets_mcp.runtime",
        "tickets_mcp.redis_state",
        "tickets_mcp.telemetry",
        "mcp",
        "opentelemetry",
        "redis",
    ),
    "sandbox": (
        "tickets_mcp.api",
        "tickets_mcp.mcp_server",
        "tickets_mcp.cli",
        "tickets_mcp.runtime",
        "tickets_mcp.redis_state",
    ),
    # OpenTelemetry only through the no-op hooks that `telemetry.py` fills in.
    "mcp_server": ("tickets_mcp.sandbox", "tickets_mcp.cli", "tickets_mcp.doctor", "opentelemetry"),
    "runtime.py": ("tickets_mcp.mcp_server", "tickets_mcp.cli", "tickets_mcp.doctor"),
    "doctor.py": ("tickets_mcp.mcp_server", "tickets_mcp.cli"),
    "redis_state.py": ("tickets_mcp.mcp_server", "tickets_mcp.cli", "tickets_mcp.sandbox"),
    "logs.py": ("tickets_mcp", "opentelemetry"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (in functions, under TYPE_CHECKING); for
    ``from package import name``, the module ``package.name`` when it is one."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


OURS = {module_name(p) for p in MODULES}


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_what_they_may(room: str) -> None:
    paths = [PACKAGE / room] if room.endswith(".py") else sorted((PACKAGE / room).rglob("*.py"))
    for path in paths:
        for name in imported(path):
            for banned in FORBIDDEN[room]:
                assert name != banned and not name.startswith(banned + "."), f"{path.name} imports {name}"


def test_no_import_cycles_type_only_imports_included() -> None:
    graph = {module_name(p): {n for n in imported(p) if n in OURS} - {module_name(p)} for p in MODULES}
    for module, deps in graph.items():  # a package's __init__ is not a cycle with its own submodules
        if module == "tickets_mcp" or PACKAGE.joinpath(*module.split(".")[1:], "__init__.py").exists():
            graph[module] = {d for d in deps if not d.startswith(module + ".")}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_api_paths_are_written_only_in_the_operations() -> None:
    path_literal = re.compile(
        r"""["'](/v2/tickets|/v2/categories|/v2/products|/tickets|/comments|/topics)\b"""
    )
    for path in MODULES:
        if path.name == "operations.py" or "sandbox" in path.parts:
            continue
        found = path_literal.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} writes API paths {found}; declare them in api/operations.py"


def test_a_module_past_800_lines_is_split_by_concept() -> None:
    for path in MODULES:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 800, f"{path.relative_to(ROOT)} has {lines} lines: split it by concept"


# -- the SDK adapter --------------------------------------------------------------------------------


def test_the_sdk_version_is_the_pinned_range() -> None:
    from tickets_mcp.mcp_server.sdk import SDK_VERSIONS

    pinned = [
        d
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("mcp")
    ]
    assert pinned == ["mcp==2.3.*"] and SDK_VERSIONS == (">=2.3", "<2.4")
    major, minor, *_ = importlib.metadata.version("mcp").split(".")
    assert (int(major), int(minor)) == (2, 3), (
        "mcp_server/sdk.py was written for mcp 2.3: review PRIVATE_NAMES first"
    )


def test_every_private_sdk_name_still_exists() -> None:
    from mcp.server import MCPServer
    from mcp.server.session import ServerSession

    from tickets_mcp.mcp_server.sdk import PRIVATE_NAMES

    server = MCPServer("probe")
    for dotted in PRIVATE_NAMES:
        owner_path, attr = dotted.rsplit(".", 1)
        module, cls_name = owner_path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), cls_name)
        if cls is MCPServer:
            found = hasattr(server, attr)
        elif cls.__name__ == "ToolManager":
            found = hasattr(server._tool_manager, attr)
        elif cls is ServerSession:
            found = attr in ServerSession.__init__.__code__.co_names
        else:
            found = hasattr(cls, attr)
        assert found, f"mcp {importlib.metadata.version('mcp')} has no {dotted}: update mcp_server/sdk.py"


def test_private_sdk_names_are_used_in_the_adapter_only() -> None:
    from tickets_mcp.mcp_server.sdk import PRIVATE_NAMES

    attributes = {dotted.rsplit(".", 1)[1] for dotted in PRIVATE_NAMES}
    private_attr = re.compile(r"\.(" + "|".join(map(re.escape, attributes)) + r")\b")
    private_import = re.compile(
        r"^\s*(?:from\s+mcp[\w.]*\s+import\s+.*\b_\w+|(?:from|import)\s+mcp[\w.]*\._)", re.M
    )
    for path in MODULES:
        if path.name == "sdk.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not private_attr.findall(text), (
            f"{path.name} uses {private_attr.findall(text)}: go through mcp_server/sdk.py"
        )
        assert not private_import.findall(text), f"{path.name} imports a private name of mcp"


def test_nothing_points_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|shared/reference|DESIGN\.md")
    for path in [*MODULES, *ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("prompts/*.md")]:
        assert not outside.search(path.read_text(encoding="utf-8")), (
            f"{path.relative_to(ROOT)} points outside"
        )


def test_the_api_page_lists_the_operations_as_declared() -> None:
    from tickets_mcp.api import ROUTES

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for route in ROUTES.values():
        row = f"| `{route.name}` | {route.method} | `{route.path}` | {route.path_status} |"
        assert row in page, f"docs/api.md does not list {row} (make snapshots)"
