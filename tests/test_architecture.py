"""The rooms of DESIGN.md and who may import whom: tools → api; cli → tools, api, sandbox; sandbox alone.

Also: a method or path of the Tickets API is written once, in the route table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "tickets_mcp"
FORBIDDEN = {
    "api": ("tickets_mcp.tools", "tickets_mcp.sandbox", "tickets_mcp.cli", "mcp"),
    "sandbox": ("tickets_mcp.api", "tickets_mcp.tools", "tickets_mcp.cli"),
    "tools": ("tickets_mcp.sandbox", "tickets_mcp.cli"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_what_they_may(room: str) -> None:
    for path in sorted((PACKAGE / room).glob("*.py")):
        for name in _imports(path):
            for banned in FORBIDDEN[room]:
                assert name != banned and not name.startswith(banned + "."), f"{path.name} imports {name}"


def test_api_paths_are_written_only_in_the_route_table() -> None:
    path_literal = re.compile(
        r"""["'](/v2/tickets|/v2/categories|/v2/products|/tickets|/comments|/topics)\b"""
    )
    for room in ("api", "tools"):
        for path in sorted((PACKAGE / room).glob("*.py")):
            if path.name == "routes.py":
                continue
            found = path_literal.findall(path.read_text(encoding="utf-8"))
            assert not found, f"{room}/{path.name} writes API paths {found}; use the route table"
