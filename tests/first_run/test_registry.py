"""server.json (MCP Registry metadata) is valid against the Registry's published schema (2025-12-11,
vendored in devtools/registry/) and cannot drift: its name is the README's mcp-name marker, its version and
description are pyproject.toml's, and its environment variables are the settings, secrets marked."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import jsonschema
import pytest
from pydantic import SecretStr

from tickets_mcp import __version__
from tickets_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = json.loads(
    (ROOT / "devtools" / "registry" / "server.schema.json").read_text("utf-8")
)
SERVER: dict[str, Any] = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def _validator() -> jsonschema.Draft7Validator:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    return jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _package(kind: str) -> dict[str, Any]:
    (package,) = [p for p in SERVER["packages"] if p["registryType"] == kind]
    return package


def _settings_env() -> dict[str, Any]:
    """Each setting's environment variable → its field (the one source of both lists)."""
    return {info.validation_alias.choices[1]: info for info in Settings.model_fields.values()}  # type: ignore[union-attr]


def test_server_json_is_valid_against_the_registry_schema() -> None:
    assert SCHEMA["$id"] == SCHEMA_URL == SERVER["$schema"]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(SERVER)]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("description",), "x" * 101),  # the Registry's 100-character limit
        (("name",), "tickets-mcp"),  # reverse-DNS namespace/name
        (("packages", 0, "version"), "latest"),  # a package pins its version
        (("packages", 0, "transport", "type"), "carrier-pigeon"),
    ],
)
def test_the_vendored_schema_rejects_what_the_registry_rejects(path: tuple[Any, ...], value: Any) -> None:
    broken = copy.deepcopy(SERVER)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(_validator().iter_errors(broken)), f"{path} = {value!r} passed the schema"


def test_name_version_and_description_match_their_sources() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    markers = re.findall(r"<!--\s*mcp-name:\s*(\S+)\s*-->", readme)
    assert markers == [SERVER["name"]], "the README carries the name once (PyPI ownership check)"
    assert re.fullmatch(r"io\.github\.[\w-]+/tickets-mcp", SERVER["name"])
    assert SERVER["version"] == PROJECT["version"] == __version__ == MANIFEST["version"]
    assert {p["version"] for p in SERVER["packages"]} == {SERVER["version"]}
    assert SERVER["description"] == PROJECT["description"] and len(SERVER["description"]) <= 100
    assert SERVER["title"] == MANIFEST["display_name"]


def test_the_pypi_package_runs_with_uvx_and_lists_every_setting() -> None:
    pypi = _package("pypi")
    assert pypi["identifier"] == PROJECT["name"] and pypi["runtimeHint"] == "uvx"
    assert pypi["transport"] == {"type": "stdio"}
    variables = pypi["environmentVariables"]
    settings = _settings_env()
    assert [v["name"] for v in variables] == list(settings), "one entry per setting, in the settings' order"
    assert {"SELECTEL_TOKEN", "SELECTEL_IAM_TOKEN", "SELECTEL_USERNAME", "SELECTEL_PASSWORD"} <= set(settings)
    secrets = {
        name for name, info in settings.items() if SecretStr in (info.annotation, *get_args(info.annotation))
    }
    assert {"SELECTEL_TOKEN", "SELECTEL_IAM_TOKEN", "SELECTEL_PASSWORD", "TICKETS_MCP_HTTP_TOKEN"} <= secrets
    assert {v["name"] for v in variables if v.get("isSecret")} == secrets
    for v in variables:
        info = settings[v["name"]]
        assert v["description"].strip() and not v.get("isRequired"), v["name"]
        if info.annotation is bool:
            assert v["format"] == "boolean" and v["default"] == str(info.default).lower(), v["name"]
        if info.annotation in (int, float):
            assert v["format"] == "number" and float(v["default"]) == info.default, v["name"]
        if v.get("isSecret"):
            assert "default" not in v, v["name"]


def test_the_mcpb_package_is_the_release_bundle() -> None:
    mcpb = _package("mcpb")
    repo = SERVER["repository"]["url"]
    assert SERVER["name"] == "io.github." + repo.removeprefix("https://github.com/")
    assert mcpb["identifier"] == f"{repo}/releases/download/v{SERVER['version']}/{MANIFEST['name']}.mcpb"
    assert mcpb["transport"] == {"type": "stdio"}
    # Added at release time from the built file (`make bundle` prints it); if present, well-formed.
    assert re.fullmatch(r"[a-f0-9]{64}", mcpb.get("fileSha256", "0" * 64))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "server_json", ROOT / "devtools" / "registry" / "server_json.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _without_variable_descriptions(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for package in doc["packages"]:
        for variable in package.get("environmentVariables", []):
            variable.pop("description")
        package.pop("fileSha256", None)
    return doc


def test_server_json_is_what_the_generator_writes() -> None:
    """Descriptions come from the README's configuration table and may be reworded there; everything else
    (names, secrets, formats, defaults, choices) must match: `devtools/registry/server_json.py --write`."""
    generated = _generator().server_json()
    assert _without_variable_descriptions(SERVER) == _without_variable_descriptions(generated), (
        "server.json is stale: run .venv/bin/python devtools/registry/server_json.py --write"
    )
