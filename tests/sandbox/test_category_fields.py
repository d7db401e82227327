"""W9 category fields (an assumption: the reference is silent on required fields and value counts).

Demo catalog fields used here: cloud_servers ``region`` (is_required, select), ``server_id`` (not
required, text), ``os`` (no extensions, catalog values); object_storage ``bucket`` (no extensions, free
text) and ``storage_class`` (no extensions, catalog values); network ``regions`` (multiselect only);
dedicated_servers ``location`` and ``server_id`` (both required).
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from support.sandbox import field_names, v2_body
from tickets_mcp.sandbox import SandboxHandle

REGIONS = ["ru-1", "ru-2", "ru-3", "ru-7", "ru-9", "uz-1", "kz-1"]
REGION = {"key": "region", "values": ["ru-1"]}


def body(category: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return v2_body(categories=[category], category_fields=list(fields))


def count(api: httpx2.Client) -> int:
    return int(api.get("/v2/tickets/count").json()["items_count"])


# (name, body, offending field, reason contains, allowed list or None when there is none)
REJECTED: list[tuple[str, dict[str, Any], str, str, list[str] | None]] = [
    ("unknown key", body("cloud_servers", REGION, {"key": "zone", "values": ["a.ru"]}),
     "category_fields.1.key", "not a field", ["os", "region", "server_id"]),
    ("duplicate key", body("cloud_servers", REGION, {"key": "region", "values": ["ru-2"]}),
     "category_fields.1.key", "duplicate", None),
    ("empty values", body("cloud_servers", {"key": "region", "values": []}),
     "category_fields.0.values", "non-empty", None),
    ("empty string value", body("cloud_servers", {"key": "region", "values": [""]}),
     "category_fields.0.values", "non-empty", None),
    ("values not a list", body("cloud_servers", {"key": "region", "values": "ru-1"}),
     "category_fields.0.values", "non-empty", None),
    ("values missing", body("cloud_servers", {"key": "region"}), "category_fields.0.values", "non-empty", None),
    ("free text (typed) two values", body("cloud_servers", REGION, {"key": "server_id", "values": ["a", "b"]}),
     "category_fields.1.values", "exactly one", None),
    ("free text (untyped) two values", body("object_storage", {"key": "bucket", "values": ["a", "b"]}),
     "category_fields.0.values", "exactly one", None),
    ("select two values", body("cloud_servers", {"key": "region", "values": ["ru-1", "ru-2"]}),
     "category_fields.0.values", "exactly one", REGIONS),
    ("select value not allowed", body("cloud_servers", {"key": "region", "values": ["mars-1"]}),
     "category_fields.0.values.0", "not one of", REGIONS),
    ("untyped value not allowed", body("object_storage", {"key": "storage_class", "values": ["cold", "hot"]}),
     "category_fields.0.values.1", "not one of", ["standard", "cold", "ice"]),
    ("multiselect value not allowed", body("network", {"key": "regions", "values": ["ru-1", "mars-1"]}),
     "category_fields.0.values.1", "not one of", REGIONS),
    ("required select missing", body("cloud_servers"), "category_fields.region", "required", None),
    ("required text missing",
     body("dedicated_servers", {"key": "location", "values": ["spb_dubrovka"]}),
     "category_fields.server_id", "required", None),
    ("not a list", v2_body(category_fields={"region": ["ru-1"]}), "category_fields", "array", None),
    ("item not an object", body("cloud_servers", REGION, "os"), "category_fields.1", "object", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "field", "reason", "allowed"), [pytest.param(*case[1:], id=case[0]) for case in REJECTED]
)
def test_rejected(
    api: httpx2.Client, payload: dict[str, Any], field: str, reason: str, allowed: list[str] | None
) -> None:
    before = count(api)
    response = api.post("/v2/tickets", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert field in field_names(response), response.text
    item = next(i for i in response.json()["error"]["fields"] if i["field"] == field)
    assert reason in item["reason"]
    assert item.get("allowed") == allowed, item
    assert count(api) == before


def test_a_given_required_field_with_bad_values_is_not_also_missing(api: httpx2.Client) -> None:
    response = api.post("/v2/tickets", json=body("cloud_servers", {"key": "region", "values": []}))
    assert field_names(response) == ["category_fields.0.values"]


# (name, body, the category_fields stored)
ACCEPTED: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    ("multiselect two values", body("network", {"key": "regions", "values": ["ru-1", "kz-1"]}),
     [{"key": "regions", "values": ["ru-1", "kz-1"]}]),
    ("untyped field two values", body("cloud_servers", REGION, {"key": "os", "values": ["debian_12", "ubuntu_24_04"]}),
     [REGION, {"key": "os", "values": ["debian_12", "ubuntu_24_04"]}]),
    ("untyped field one value", body("object_storage", {"key": "storage_class", "values": ["ice"]}),
     [{"key": "storage_class", "values": ["ice"]}]),
    ("free text one value", body("object_storage", {"key": "bucket", "values": ["my bucket, any text"]}),
     [{"key": "bucket", "values": ["my bucket, any text"]}]),
    ("optional untyped fields missing", body("object_storage"), []),
    ("is_required false, no type, missing", body("billing", {"key": "question_type", "values": ["invoice"]}),
     [{"key": "question_type", "values": ["invoice"]}]),
    ("multiselect without is_required missing", body("network"), []),
    ("is_required false, typed, missing", body("cloud_servers", REGION), [REGION]),
    ("category_fields absent", {k: v for k, v in body("object_storage").items() if k != "category_fields"}, []),
    ("category_fields null", v2_body(categories=["object_storage"], category_fields=None), []),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "stored"), [pytest.param(*case[1:], id=case[0]) for case in ACCEPTED])
def test_accepted(
    sandbox: SandboxHandle, api: httpx2.Client, payload: dict[str, Any], stored: list[dict[str, Any]]
) -> None:
    response = api.post("/v2/tickets", json=payload)
    assert response.status_code == 200, response.text
    ticket, _ = sandbox.state.tickets.get(response.json()["number"])
    assert ticket["category_fields"] == stored


def test_shared_key_follows_the_first_chosen_category(api: httpx2.Client) -> None:
    """kubernetes' region offers ru-1..ru-9; cloud_servers' also uz-1 and kz-1."""
    fields = [{"key": "cluster_id", "values": ["k1"]}, {"key": "region", "values": ["kz-1"]}]
    first_k8s = api.post(
        "/v2/tickets", json=v2_body(categories=["kubernetes", "cloud_servers"], category_fields=fields)
    )
    assert "category_fields.1.values.0" in field_names(first_k8s)
    first_cloud = api.post(
        "/v2/tickets", json=v2_body(categories=["cloud_servers", "kubernetes"], category_fields=fields)
    )
    assert first_cloud.status_code == 200, first_cloud.text
