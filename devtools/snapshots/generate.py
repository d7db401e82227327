"""Regenerate what is derived from the tool declarations, so a change to a tool is one command:

- ``tests/e2e/snapshots/<tool>.json``: each tool as ``tools/list`` shows it (the snapshot test
  compares against these; a diff is a reviewed change of the contract);
- the README's tool table, and the route table of ``docs/api.md``;
- the tools of ``manifest.json``;
- ``server.json`` (devtools/registry/server_json.py).

Run it with ``make snapshots``; the tests then check every generated file against the code.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

from mcp import Client
from pydantic import SecretStr

from tickets_mcp.mcp_server.server import build_server
from tickets_mcp.mcp_server.tools import all_tools
from tickets_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "e2e" / "snapshots"
TABLE_HEADER = "| Tool | Toolset | Read-only | Destructive | Idempotent | Asks consent | Description |"
ROUTE_HEADER = (
    "| Operation | Method | Path | Path seen | Re-sent after an ambiguous failure | Rate limit | Deprecated "
    "| Base URL |"
)
BASE_URLS = {"tickets": "Tickets API", "files": "Attachments API"}


def snapshot(tool: object) -> str:
    """One tool's snapshot text, exactly as the snapshot test renders it."""
    current = tool.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[attr-defined]
    return json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def listed_tools() -> list[object]:
    # Listing tools sends nothing to the API, so any credential and base URL will do.
    settings = Settings(token=SecretStr("snapshot"), base_url="http://127.0.0.1:9", toolsets="all")  # type: ignore[call-arg]
    async with Client(build_server(settings), mode="legacy") as client:
        return list((await client.list_tools()).tools)


def write_snapshots(tools: list[object]) -> list[str]:
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    wanted = {f"{t.name}.json": snapshot(t) for t in tools}  # type: ignore[attr-defined]
    changed = []
    for path in SNAPSHOTS.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
            changed.append(f"removed {path.relative_to(ROOT)}")
    for name, text in wanted.items():
        path = SNAPSHOTS / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(f"wrote {path.relative_to(ROOT)}")
    return changed


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def tool_rows() -> list[str]:
    return [
        f"| `{t.name}` | {t.toolset} | {_yn(t.read_only)} | {_yn(t.kind.destructive)} | "
        f"{_yn(t.kind.idempotent)} | {_yn(t.consent)} | {t.description} |"
        for t in all_tools()
    ]


def route_rows() -> list[str]:
    from tickets_mcp.api import ROUTES

    return [
        f"| `{r.name}` | {r.method} | `{r.path}` | {r.path_status} | {_yn(r.idempotent)} | {r.bucket or ''} | "
        f"{'yes' if r.deprecated else ''} | {BASE_URLS[r.api]} |"
        for r in ROUTES.values()
    ]


def write_table(path: Path, header: str, rows: list[str]) -> list[str]:
    """Replace the Markdown table that starts with ``header`` in ``path`` by ``rows``."""
    text = path.read_text(encoding="utf-8")
    match = re.compile(rf"^{re.escape(header)}\n\|[-|]+\|\n(?:\|.*\n?)*", re.M).search(text)
    if match is None:
        raise SystemExit(f"{path.relative_to(ROOT)} has no table with the header {header!r}")
    separator = match.group(0).split("\n")[1]
    table = "\n".join([header, separator, *rows]) + "\n"
    if table == match.group(0):
        return []
    path.write_text(text[: match.start()] + table + text[match.end() :], encoding="utf-8")
    return [f"wrote {path.relative_to(ROOT)} ({header.split('|')[1].strip().lower()} table)"]


def write_manifest() -> list[str]:
    path = ROOT / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    tools = [{"name": t.name, "description": t.description} for t in all_tools()]
    if manifest["tools"] == tools:
        return []
    manifest["tools"] = tools
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ["wrote manifest.json (tools)"]


def write_server_json() -> list[str]:
    before = (ROOT / "server.json").read_text(encoding="utf-8")
    script = ROOT / "devtools" / "registry" / "server_json.py"
    subprocess.run([sys.executable, str(script), "--write"], check=True, cwd=ROOT)
    return [] if (ROOT / "server.json").read_text(encoding="utf-8") == before else ["wrote server.json"]


def main() -> None:
    changed = write_snapshots(asyncio.run(listed_tools()))
    changed += write_table(ROOT / "README.md", TABLE_HEADER, tool_rows())
    changed += write_table(ROOT / "docs" / "api.md", ROUTE_HEADER, route_rows())
    changed += write_manifest() + write_server_json()
    print("\n".join(changed) if changed else "everything generated was already up to date")


if __name__ == "__main__":
    main()
