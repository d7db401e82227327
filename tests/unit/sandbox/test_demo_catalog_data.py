"""The demo catalog as data: a JSON file shipped as package data, with the W9 extensions on some fields
only (W9, W16). That the sandbox serves it as stored is tests/sandbox/test_demo_catalog.py."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from typing import Any

import tickets_mcp.sandbox
from tickets_mcp.sandbox.errors import Problems
from tickets_mcp.sandbox.seed import CATALOG_FILE, TICKETS, load_demo_catalog
from tickets_mcp.sandbox.validate import category_fields

ROOT = Path(__file__).resolve().parents[3]


def _fields(catalog: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["key"], f["key"]): f for c in catalog["category"] for f in c["fields"]}


def test_loads_from_the_installed_package() -> None:
    installed = Path(tickets_mcp.sandbox.__file__).resolve().parent / CATALOG_FILE
    resource = resources.files("tickets_mcp.sandbox").joinpath(CATALOG_FILE)
    assert resource.is_file() and installed.is_file()
    data = json.loads(resource.read_text(encoding="utf-8"))
    assert data == json.loads(installed.read_text(encoding="utf-8"))
    catalog = load_demo_catalog()
    assert catalog == {"category": data["categories"], "product": data["products"], "topic": data["topics"]}
    assert not (installed.parent / "demo_catalog.py").exists()


def test_shipped_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["tickets_mcp"]
    assert any(fnmatch(f"sandbox/{CATALOG_FILE}", p) for p in patterns), patterns


def test_extensions_on_some_fields_only() -> None:
    """W9: a client cannot assume `is_required`/`type`; what was required stays required."""
    fields = _fields(load_demo_catalog())
    both = {
        ("cloud_servers", "region"),
        ("dedicated_servers", "location"),
        ("dedicated_servers", "server_id"),
    }
    both |= {("billing", "question_type")}
    for key in both:
        assert fields[key]["is_required"] is True and fields[key]["type"] in {"select", "text"}, key
    for key in (("object_storage", "bucket"), ("object_storage", "storage_class"), ("cloud_servers", "os")):
        assert "is_required" not in fields[key] and "type" not in fields[key], key
    assert "type" not in fields["billing", "contract_number"]
    assert (
        "is_required" not in fields["network", "regions"]
        and fields["network", "regions"]["type"] == "multiselect"
    )
    required = {k for k, f in fields.items() if f.get("is_required")}
    assert required == both | {
        ("dns", "zone"),
        ("kubernetes", "cluster_id"),
        ("kubernetes", "region"),
        ("abuse", "abuse_type"),
        ("pass_to_data_center", "visitor_name"),
        ("pass_to_data_center", "visit_date"),
    }


def test_extensions_are_consistent() -> None:
    for key, field in _fields(load_demo_catalog()).items():
        assert set(field) <= {"key", "names", "values", "is_required", "type"}, key
        assert isinstance(field.get("is_required", False), bool), key
        assert field.get("type") in {None, "select", "multiselect", "text"}, key
        assert (field.get("type") == "text") <= (field["values"] == []), key
        assert (field.get("type") in {"select", "multiselect"}) <= bool(field["values"]), key


def test_keys_kept() -> None:
    catalog = load_demo_catalog()
    categories = {c["key"]: c for c in catalog["category"]}
    assert [v["key"] for v in _fields(catalog)["cloud_servers", "region"]["values"]] == [
        "ru-1", "ru-2", "ru-3", "ru-7", "ru-9", "uz-1", "kz-1"
    ]  # fmt: skip
    assert "invoice" in [v["key"] for v in _fields(catalog)["billing", "question_type"]["values"]]
    assert categories["vds_legacy"]["is_active"] is False
    assert [c["id"] for c in catalog["category"]] == list(range(1, 11))
    assert len(catalog["product"]) == 19 and len(catalog["topic"]) == 5


def test_demo_tickets_follow_w9() -> None:
    categories = {c["key"]: c for c in load_demo_catalog()["category"]}
    for summary, keys, _products, fields, *_ in TICKETS:
        problems = Problems()
        raw = [{"key": k, "values": v} for k, v in fields.items()]
        category_fields(raw, [categories[k] for k in keys], problems)
        assert not problems, (summary, problems.items)
