"""The demo catalog, served as stored (W9, W16); the catalog file itself is checked in
tests/unit/sandbox/test_demo_catalog_data.py."""

from __future__ import annotations

import httpx2

from tickets_mcp.sandbox.seed import load_demo_catalog

SANDBOX_ONLY = {"category": {"view_priority", "is_active", "fields"}, "product": {"view_priority", "parent"}}


def test_served_as_stored(api: httpx2.Client) -> None:
    catalog = load_demo_catalog()
    categories = api.get("/v2/categories").json()["items"]
    assert categories == [
        {k: v for k, v in c.items() if k not in SANDBOX_ONLY["category"]} for c in catalog["category"]
    ]
    for category in catalog["category"]:
        served = api.get(f"/v2/categories/{category['key']}/fields").json()["items"]
        assert served == category["fields"]
    products = api.get("/v2/products").json()["items"]
    products += [
        p for top in products for p in api.get("/v2/products", params={"parent": top["key"]}).json()["items"]
    ]
    expected = [{k: v for k, v in p.items() if k not in SANDBOX_ONLY["product"]} for p in catalog["product"]]
    assert sorted(products, key=lambda p: p["id"]) == expected
    assert api.get("/topics").json()["items"] == catalog["topic"]
