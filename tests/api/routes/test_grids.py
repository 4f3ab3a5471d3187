"""Grids: the public locate agrees with gis.assign on the demo (edges included); lists page."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.assign import assign_points
from gis.crs import wgs84_to_bd09, wgs84_to_gcj02

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"


def _demo_points() -> gpd.GeoDataFrame:
    """Interior points, vertices shared by two grids, mid-points of shared edges, outside."""
    grids = gpd.read_file(DEMO / "grids.geojson")
    a, b = grids.geometry.iloc[0], grids.geometry.iloc[1]
    shared = [p for p in shapely.get_coordinates(a) if b.covers(shapely.Point(p))]
    pts = [g.representative_point() for g in grids.geometry]
    pts += [shapely.Point(p) for p in shared[:3]]
    _, _, xmax, ymax = grids.total_bounds
    pts += [shapely.Point(xmax + 0.01, ymax + 0.01)]
    return gpd.GeoDataFrame(geometry=pts, crs=4326), grids, len(shared)


def test_locate_agrees_with_assign_on_the_demo(api):
    points, grids, n_shared = _demo_points()
    assert n_shared >= 1
    expected = assign_points(points, grids, code_field="code")
    names = dict(zip(grids["code"], grids["name"], strict=True))
    for point, code in zip(points.geometry, expected, strict=True):
        r = api.client.get("/grids/locate", params={"lon": repr(point.x), "lat": repr(point.y)})
        assert r.status_code == 200, r.text
        body = r.json()
        if isinstance(code, str):
            assert body["grid_code"] == code and body["outside"] is False
            assert body["grid_name"] == names[code] and body["community"] == "外滩源社区"
        else:
            assert body == {
                "grid_code": None,
                "grid_name": None,
                "community": None,
                "outside": True,
                "staff": [],
            }


def test_shared_vertex_goes_to_the_smallest_code(api):
    grids = gpd.read_file(DEMO / "grids.geojson")
    a, b = grids.geometry.iloc[0], grids.geometry.iloc[1]
    xy = next(p for p in shapely.get_coordinates(a) if b.covers(shapely.Point(p)))
    covering = sorted(
        c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.covers(shapely.Point(xy))
    )
    assert len(covering) >= 2
    r = api.client.get(
        "/grids/locate", params={"lon": repr(float(xy[0])), "lat": repr(float(xy[1]))}
    )
    assert r.json()["grid_code"] == covering[0]


def test_locate_converts_gcj02_and_bd09_and_honours_the_date(api):
    grids = gpd.read_file(DEMO / "grids.geojson")
    p = grids.geometry.iloc[4].representative_point()
    code = grids["code"].iloc[4]
    for crs, (x, y) in {
        "gcj02": wgs84_to_gcj02(p.x, p.y),
        "bd09": wgs84_to_bd09(p.x, p.y),
        "cgcs2000": (p.x, p.y),
    }.items():
        r = api.client.get("/grids/locate", params={"lon": float(x), "lat": float(y), "crs": crs})
        assert r.json()["grid_code"] == code, crs
    # the demo division is in effect from 2026-01-01: before that the point is in no grid
    before = api.client.get("/grids/locate", params={"lon": p.x, "lat": p.y, "date": "2025-12-31"})
    assert before.json()["outside"] is True
    on = api.client.get("/grids/locate", params={"lon": p.x, "lat": p.y, "date": "2026-01-01"})
    assert on.json()["grid_code"] == code


def test_locate_lists_staff_with_published_phones_only(api):
    grids = gpd.read_file(DEMO / "grids.geojson")
    code = grids["code"].iloc[6]
    p = grids.geometry.iloc[6].representative_point()
    head = api.as_("community_head")
    for name, published in (("王网格长", True), ("李网格员", False)):
        r = api.client.post(
            "/staff",
            headers=head,
            json={
                "name": name,
                "role": "grid_leader" if published else "grid_worker",
                "phone": "13812345678",
                "phone_published": published,
                "grid_codes": [code],
            },
        )
        assert r.status_code == 201, r.text
    staff = api.client.get("/grids/locate", params={"lon": p.x, "lat": p.y}).json()["staff"]
    mine = {s["name"]: s for s in staff}
    assert mine["王网格长"] == {
        "name": "王网格长",
        "role": "grid_leader",
        "phone": "13812345678",
        "photo_url": None,  # no photo_path
    }
    assert mine["李网格员"]["phone"] is None


def test_locate_rejects_out_of_range_and_unknown_crs(api):
    for params in ({"lon": 181, "lat": 31}, {"lon": 121, "lat": -90.5}, {"lon": "x", "lat": 1}):
        r = api.client.get("/grids/locate", params=params)
        assert r.status_code == 422 and r.json()["detail"].startswith("请求无效")
    r = api.client.get("/grids/locate", params={"lon": 121, "lat": 31, "crs": "mercator"})
    assert r.status_code == 422 and "unknown input CRS" in r.json()["detail"]
    assert api.client.get("/grids/locate", params={"lon": 121}).status_code == 422


def test_grid_list_pages_by_id_with_links(api):
    first = api.client.get("/grids", params={"limit": 5}).json()
    assert first["type"] == "FeatureCollection"
    assert first["numberMatched"] == 12 and first["numberReturned"] == 5
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "next" in rels and "prev" not in rels
    second = api.client.get(rels["next"]).json()
    third = api.client.get({link["rel"]: link["href"] for link in second["links"]}["next"]).json()
    ids = [f["id"] for f in first["features"] + second["features"] + third["features"]]
    assert ids == sorted(ids) and len(set(ids)) == 12
    assert "next" not in {link["rel"] for link in third["links"]}
    codes = {
        f["properties"]["code"] for f in first["features"] + second["features"] + third["features"]
    }
    assert codes == set(gpd.read_file(DEMO / "grids.geojson")["code"])
    # the limit is capped, not refused
    capped = api.client.get("/grids", params={"limit": 100000}).json()
    assert capped["numberReturned"] == 12


def test_grid_list_bbox_matches_shapely(api):
    grids = gpd.read_file(DEMO / "grids.geojson")
    box = grids.geometry.iloc[0].centroid.buffer(0.001).bounds
    r = api.client.get("/grids", params={"bbox": ",".join(repr(float(v)) for v in box)})
    want = {
        c
        for c, g in zip(grids["code"], grids.geometry, strict=True)
        if g.intersects(shapely.box(*box))
    }
    assert {f["properties"]["code"] for f in r.json()["features"]} == want
    for bad in ("1,2,3", "a,b,c,d", "10,10,0,0", "0,0,200,1"):
        r = api.client.get("/grids", params={"bbox": bad})
        assert r.status_code == 400 and "bbox" in r.json()["detail"]


def test_read_grid_and_404(api):
    fc = api.client.get("/grids", params={"limit": 1}).json()
    fid = fc["features"][0]["id"]
    one = api.client.get(f"/grids/{fid}").json()
    assert (
        one["type"] == "Feature"
        and one["properties"]["code"] == fc["features"][0]["properties"]["code"]
    )
    geom = shapely.geometry.shape(one["geometry"])
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    missing = api.client.get("/grids/999999")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "网格 999999 不存在 / grid 999999 not found"
    }
    assert np.isfinite(geom.area)
