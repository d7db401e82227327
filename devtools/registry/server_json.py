"""server.json for the MCP Registry, generated from the project's own declarations so it cannot drift.

- ``name``: the README's ``<!-- mcp-name: ... -->`` marker (the Registry finds the same marker in the
  PyPI description to verify the package);
- ``version``, ``description``: pyproject.toml; ``title``: manifest.json's ``display_name``;
- the PyPI package (``runtimeHint: "uvx"``): one environment variable per Settings field, secret when the
  field is a ``SecretStr``, with its format, default and choices from the field's type and its description
  from the field's row in the README's configuration table;
- the MCPB package: the release asset ``tickets-mcp.mcpb`` (its ``fileSha256`` is added at release time:
  ``make bundle`` prints it).

The schema, ``devtools/registry/server.schema.json``, is the Registry's published 2025-12-11 schema.
tests/first_run/test_registry.py validates server.json against it and compares it with this output.

    .venv/bin/python devtools/registry/server_json.py           # print
    .venv/bin/python devtools/registry/server_json.py --write   # update server.json
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tickets_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = Path(__file__).resolve().parent / "server.schema.json"
MARKER = re.compile(r"<!--\s*mcp-name:\s*([^\s]+)\s*-->")
ROW = re.compile(r"^\|\s*`([A-Z0-9_]+)`\s*\|[^|]*\|[^|]*\|(.*)\|\s*$", re.M)


def mcp_name(readme: str) -> str:
    found = MARKER.findall(readme)
    if len(found) != 1:
        raise ValueError(f"README.md needs exactly one <!-- mcp-name: ... --> marker, found {len(found)}")
    return found[0]


def _plain(markdown: str) -> str:
    """A README table cell as plain text: links keep their words, code keeps its characters."""
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown).replace("`", "").strip()


def _kind(annotation: Any) -> tuple[str | None, list[str] | None, bool]:
    """(format, choices, secret) of a Settings field's type; ``X | None`` is read as ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return None, [str(v) for v in typing.get_args(annotation)], False
    if annotation is SecretStr:
        return None, None, True
    if annotation is bool:
        return "boolean", None, False
    if annotation in (int, float):
        return "number", None, False
    return None, None, False


def _default(value: Any) -> str | None:
    if value is None or value == ():
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def environment_variables(readme: str) -> list[dict[str, Any]]:
    meanings = {name: _plain(text) for name, text in ROW.findall(readme)}
    variables = []
    for field, info in Settings.model_fields.items():
        name = info.validation_alias.choices[1]  # type: ignore[union-attr]
        fmt, choices, secret = _kind(info.annotation)
        entry: dict[str, Any] = {"name": name, "description": meanings.get(name) or f"Setting {field}."}
        if fmt:
            entry["format"] = fmt
        if secret:
            entry["isSecret"] = True
        if (default := _default(info.default)) is not None:
            entry["default"] = default
        if choices:
            entry["choices"] = choices
        variables.append(entry)
    return variables


def server_json() -> dict[str, Any]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    name, version = mcp_name(readme), project["version"]
    owner, repo = name.removeprefix("io.github.").split("/")
    url = f"https://github.com/{owner}/{repo}"
    return {
        "$schema": schema["$id"],
        "name": name,
        "title": manifest["display_name"],
        "description": project["description"],
        "version": version,
        "repository": {"url": url, "source": "github"},
        "packages": [
            {
                "registryType": "pypi",
                "registryBaseUrl": "https://pypi.org",
                "identifier": project["name"],
                "version": version,
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "environmentVariables": environment_variables(readme),
            },
            {
                "registryType": "mcpb",
                "identifier": f"{url}/releases/download/v{version}/{manifest['name']}.mcpb",
                "version": version,
                "transport": {"type": "stdio"},
            },
        ],
    }


def render() -> str:
    return json.dumps(server_json(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        (ROOT / "server.json").write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
