"""OGC API – Features: landing page, conformance, collections, paged items, bbox, one item."""

from __future__ import annotations

import shapely


def test_landing_conformance_collections(api):
    landing = api.client.get("/ogc/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = api.client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    # anonymous callers are not shown what they may not read
    ids = [c["id"] for c in api.client.get("/ogc/collections").json()["collections"]]
    assert ids == ["grids"]
    signed = api.client.get("/ogc/collections", headers=api.as_("grid_worker")).json()
    assert [c["id"] for c in signed["collections"]] == ["grids", "houses"]
    assert api.client.get("/ogc/collections/grids").json()["itemType"] == "feature"
    missing = api.client.get("/ogc/collections/roads")
    assert missing.status_code == 404 and "roads" in missing.json()["detail"]
    assert missing.json()["code"] == "NotFound" and missing.json()["description"]


def test_houses_page_through_with_next_links_and_numbers(api):
    headers = api.as_("admin")
    first = api.client.get("/ogc/collections/houses/items", params={"limit": 40}, headers=headers)
    assert first.headers["content-type"].startswith("application/geo+json")
    page = first.json()
    total = page["numberMatched"]
    assert total >= 100
    seen = []
    while True:
        seen += [f["id"] for f in page["features"]]
        assert page["numberReturned"] == len(page["features"]) <= 40
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        page = api.client.get(nxt[0], headers=headers).json()
        assert any(link["rel"] == "prev" for link in page["links"])
    assert len(seen) == total and seen == sorted(seen) and len(set(seen)) == total
    assert api.client.get("/ogc/collections/houses/items").status_code == 401
    for params in ({"limit": 0}, {"limit": "unlimited"}, {"offset": -1}, {"ooga": "booga"}):
        bad = api.client.get("/ogc/collections/houses/items", params=params, headers=headers)
        assert bad.status_code == 400, params
        assert bad.json()["code"] == "InvalidParameterValue"
        assert next(iter(params)) in bad.json()["description"]


def test_bbox_and_single_item(api):
    headers = api.as_("admin")
    everything = api.client.get(
        "/ogc/collections/houses/items", params={"limit": 1000}, headers=headers
    ).json()
    points = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in everything["features"]}
    xs = sorted(p.x for p in points.values())
    ys = sorted(p.y for p in points.values())
    box = (xs[len(xs) // 4], ys[len(ys) // 4], xs[3 * len(xs) // 4], ys[3 * len(ys) // 4])
    inside = {fid for fid, p in points.items() if shapely.box(*box).intersects(p)}
    got = api.client.get(
        "/ogc/collections/houses/items",
        headers=headers,
        params={"bbox": ",".join(repr(float(v)) for v in box), "limit": 1000},
    ).json()
    assert {f["id"] for f in got["features"]} == inside and got["numberMatched"] == len(inside)
    fid = min(inside)
    one = api.client.get(f"/ogc/collections/houses/items/{fid}", headers=headers).json()
    assert one["id"] == fid and shapely.geometry.shape(one["geometry"]).equals(points[fid])
    assert (
        api.client.get("/ogc/collections/houses/items/99999999", headers=headers).status_code == 404
    )
    grid = api.client.get("/ogc/collections/grids/items", params={"limit": 1}).json()["features"][0]
    same = api.client.get(f"/ogc/collections/grids/items/{grid['id']}").json()
    assert same["properties"]["code"] == grid["properties"]["code"]


def test_grid_worker_sees_houses_of_their_grid_only(api):
    from tests.api.routes.conftest import DEMO_GRIDS

    got = api.client.get(
        "/ogc/collections/houses/items", params={"limit": 1000}, headers=api.as_("grid_worker")
    ).json()
    assert got["numberMatched"] > 0
    assert {f["properties"]["grid_code"] for f in got["features"]} == {DEMO_GRIDS[0]}
