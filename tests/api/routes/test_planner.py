"""The planner's page and endpoints over HTTP, on SpatiaLite and PostGIS.

Truths are computed here independently: households by brute-force ``covers`` per grid over
``data/demo/houses.csv``, areas on the ellipsoid (pyproj.Geod), Polsby-Popper from those.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely
import shapely.ops
import sqlalchemy as sa
from shapely.geometry import shape

from api.db.engine import make_engine
from gis.coverage import validate
from gis.defaults import DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from maps.assets import remote_links

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"
COMMUNITY = "外滩源社区"
BASE = f"/planner/{COMMUNITY}"
GEOD = pyproj.Geod(ellps="WGS84")
TESTIDS = (
    "login-username", "login-password", "login-submit", "draw", "split", "merge",
    "move-boundary", "validate", "findings-list", "household-balance", "repair", "divide",
    "preview-accept", "preview-discard", "effective-date", "save", "versions-list", "undo",
    "redo", "split-road", "snap-help",
)  # fmt: skip


def _houses() -> gpd.GeoDataFrame:
    table = pd.read_csv(DEMO / "houses.csv")
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)


def _geod_area_m2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _features(fc: dict) -> dict[str, shapely.Geometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in fc["features"]}


def _fc(grids: dict[str, shapely.Geometry]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c}, "geometry": shapely.geometry.mapping(g)}
            for c, g in grids.items()
        ],
    }


def _data(api) -> dict:
    r = api.client.get(f"{BASE}/data", headers=api.as_("planner"))
    assert r.status_code == 200, r.text
    return r.json()


def test_page_is_public_offline_and_carries_the_test_ids(api):
    r = api.client.get(BASE)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert remote_links(html) == []
    assert json.dumps(COMMUNITY, ensure_ascii=False) in html
    for testid in TESTIDS:
        assert f'data-testid="{testid}"' in html, testid
    # every local script and stylesheet it links is served
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("leaflet-geoman" in link for link in links)
    for link in links:
        assert api.client.get(link).status_code == 200, link
    js = api.client.get("/static/planner/planner.js").text
    assert "http://" not in js and "https://" not in js


def test_endpoints_need_a_planner(api):
    for method, path, body in [
        ("get", "/data", None),
        ("post", "/validate", {"grids": {"type": "FeatureCollection", "features": []}}),
        ("get", "/versions", None),
        ("post", "/save", {"grids": {}, "effective_date": "2026-12-01"}),
    ]:
        kwargs = {} if body is None else {"json": body}
        anonymous = getattr(api.client, method)(BASE + path, **kwargs)
        assert anonymous.status_code == 401, path
        worker = getattr(api.client, method)(BASE + path, headers=api.as_("grid_worker"), **kwargs)
        assert worker.status_code == 403, path
    assert (
        api.client.get("/planner/没有这个社区/data", headers=api.as_("planner")).status_code == 422
    )


def test_data_has_boundary_context_houses_and_current_division(api):
    d = _data(api)
    assert d["community"] == {"code": "310101002005", "name": COMMUNITY}
    boundary = shape(d["boundary"]["geometry"])
    expected = gpd.read_file(DEMO / "boundary.geojson").geometry.iloc[0]
    assert boundary.symmetric_difference(expected).area < 1e-12
    division = d["division"]
    assert division["version"] == 1 and division["in_effect"]
    grids = _features(division["grids"])
    demo = gpd.read_file(DEMO / "grids.geojson")
    assert sorted(grids) == sorted(demo["code"])
    # every house of the community: the demo's, and any other test on this database added
    shown = d["houses"]["features"]
    engine = make_engine(api.url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT count(*) FROM houses h JOIN communities c ON c.id = h.community_id "
                "WHERE c.code = '310101002005'"
            )
        ).scalar_one()
    engine.dispose()
    assert len(shown) == stored >= len(_houses())
    # roads and buildings are the OSM layers reaching the community
    outline = boundary.buffer(0)
    assert d["roads"]["features"] and d["buildings"]["features"]
    assert all(shape(f["geometry"]).intersects(outline) for f in d["roads"]["features"])


@pytest.mark.parametrize(
    "setting",
    [None, (120, 0.35)],
    ids=["library defaults", "WANGGE_TARGET_HOUSEHOLDS and WANGGE_TARGET_BAND"],
)
def test_validate_without_a_target_uses_the_settings(api, monkeypatch, setting):
    # one setting for households per grid: the page is given it (gis.defaults when unset),
    # and a request naming no target or band is judged against it
    from api.core.config import get_settings

    target, band = setting or (DEFAULT_TARGET_HOUSEHOLDS, DEFAULT_HOUSEHOLD_BAND)
    if setting is not None:
        monkeypatch.setenv("WANGGE_TARGET_HOUSEHOLDS", str(target))
        monkeypatch.setenv("WANGGE_TARGET_BAND", str(band))
    get_settings.cache_clear()
    try:
        d = _data(api)
        assert (d["defaults"]["target_households"], d["defaults"]["band"]) == (target, band)
        r = api.client.post(
            f"{BASE}/validate", headers=api.as_("planner"), json={"grids": d["division"]["grids"]}
        )
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["target_households"], v["band"]) == (target, band)
    low, high = target * (1 - band), target * (1 + band)
    assert v["households_range"] == pytest.approx([low, high])
    for row in v["balance"]:
        h = row["households"]
        assert row["flag"] == ("under" if h < low else "over" if h > high else "ok"), row


def test_validate_counts_households_and_compactness_independently(api):
    d = _data(api)
    grids = _features(d["division"]["grids"])
    r = api.client.post(
        f"{BASE}/validate",
        headers=api.as_("planner"),
        json={"grids": d["division"]["grids"], "target_households": 400, "band": 0.25},
    )
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["valid"] and v["findings"]["features"] == [] and v["households_range"] == [300, 500]
    houses = _houses()
    by_code = {row["code"]: row for row in v["balance"]}
    for code, geom in grids.items():
        # houses on a shared edge go to the smallest covering code (the documented tie-break)
        covering = [
            min(c for c, g in grids.items() if g.covers(p)) if geom.covers(p) else None
            for p in houses.geometry
        ]
        expected = int(houses["households"][[c == code for c in covering]].sum())
        assert by_code[code]["households"] == expected
        flag = "under" if expected < 300 else "over" if expected > 500 else "ok"
        assert by_code[code]["flag"] == flag
        area, perimeter = GEOD.geometry_area_perimeter(geom)
        assert by_code[code]["area_m2"] == pytest.approx(abs(area), rel=2e-3)
        pp = 4 * math.pi * abs(area) / perimeter**2
        assert by_code[code]["compactness"] == pytest.approx(pp, rel=5e-3)

    # one vertex moved into the neighbour: an overlap between exactly those two grids
    code = "310101002005005"
    ring = list(grids[code].exterior.coords)
    centre = grids[code].centroid
    x, y = ring[1]
    ring[1] = (x + (x - centre.x) * 0.3, y + (y - centre.y) * 0.3)
    ring[-1] = ring[0]
    moved = dict(grids, **{code: shapely.Polygon(ring)})
    r = api.client.post(f"{BASE}/validate", headers=api.as_("planner"), json={"grids": _fc(moved)})
    v = r.json()
    assert not v["valid"]
    kinds = {f["properties"]["kind"] for f in v["findings"]["features"]}
    assert kinds & {"overlap", "outside"}
    for f in v["findings"]["features"]:
        assert code in f["properties"]["grid_codes"]


def test_edits_keep_the_division_valid(api):
    d = _data(api)
    grids = _features(d["division"]["grids"])
    total = sum(_geod_area_m2(g) for g in grids.values())
    head = api.as_("planner")
    # split 010 with a straight line across it (3 m past its outline)
    g = grids["310101002005010"]
    c = g.representative_point()
    minx, miny, maxx, maxy = g.bounds
    line = shapely.LineString([(minx - 1, c.y), (maxx + 1, c.y)])
    inside = line.intersection(g)
    if inside.geom_type != "LineString":
        line = shapely.LineString([(c.x, miny - 1), (c.x, maxy + 1)])
        inside = line.intersection(g)
    assert inside.geom_type == "LineString"
    (x0, y0), (x1, y1) = inside.coords[0], inside.coords[-1]
    dx, dy = (x1 - x0) * 0.01, (y1 - y0) * 0.01
    cut = {"type": "LineString", "coordinates": [[x0 - dx, y0 - dy], [x1 + dx, y1 + dy]]}
    r = api.client.post(f"{BASE}/edit/split", headers=head, json={"grids": _fc(grids), "line": cut})
    assert r.status_code == 200, r.text
    split = _features(r.json()["grids"])
    assert r.json()["split"] == "310101002005010" and "310101002005013" in split
    assert sum(_geod_area_m2(g) for g in split.values()) == pytest.approx(total, abs=1.0)
    pieces = _geod_area_m2(split["310101002005010"]) + _geod_area_m2(split["310101002005013"])
    assert pieces == pytest.approx(_geod_area_m2(g), abs=0.5)
    boundary = gpd.GeoDataFrame(geometry=[shape(d["boundary"]["geometry"])], crs=4326)
    frame = gpd.GeoDataFrame({"code": list(split)}, geometry=list(split.values()), crs=4326)
    assert len(validate(frame, boundary)) == 0

    # merge them back
    r = api.client.post(
        f"{BASE}/edit/merge",
        headers=head,
        json={"grids": r.json()["grids"], "codes": ["310101002005010", "310101002005013"]},
    )
    merged = _features(r.json()["grids"])
    assert sorted(merged) == sorted(grids)
    assert _geod_area_m2(merged["310101002005010"]) == pytest.approx(_geod_area_m2(g), abs=0.5)

    # merging grids that share no edge is refused with a message
    r = api.client.post(
        f"{BASE}/edit/merge",
        headers=head,
        json={"grids": _fc(grids), "codes": ["310101002005001", "310101002005012"]},
    )
    assert r.status_code == 422 and "adjacent" in r.json()["detail"]

    # a line that does not run between the ends of a shared edge is refused
    r = api.client.post(
        f"{BASE}/edit/move-boundary",
        headers=head,
        json={"grids": _fc(grids), "line": cut},
    )
    assert r.status_code == 422 and "neighbouring grids share" in r.json()["detail"]


def test_repair_and_divide_propose_without_saving(api):
    head = api.as_("planner")
    before = api.client.get(f"{BASE}/versions", headers=head).json()["count"]
    defective = json.loads((DEMO / "grids_defective.geojson").read_text(encoding="utf-8"))
    r = api.client.post(f"{BASE}/repair", headers=head, json={"grids": defective})
    assert r.status_code == 200, r.text
    assert r.json()["changes"]["features"]
    boundary = gpd.read_file(DEMO / "boundary.geojson")
    repaired = gpd.GeoDataFrame.from_features(r.json()["grids"]["features"], crs=4326)
    assert len(validate(repaired, boundary)) == 0

    r = api.client.post(
        f"{BASE}/divide", headers=head, json={"target_households": 400, "band": 0.25}
    )
    assert r.status_code == 200, r.text
    proposed = gpd.GeoDataFrame.from_features(r.json()["grids"]["features"], crs=4326)
    assert len(validate(proposed, boundary)) == 0
    assert all(re.fullmatch(r"310101002005\d{3}", c) for c in proposed["code"])
    houses = _houses()
    inside = houses[houses.geometry.within(boundary.geometry.iloc[0].buffer(0))]
    report = r.json()["report"]
    assert sum(row["households"] for row in report) == inside["households"].sum()
    assert api.client.get(f"{BASE}/versions", headers=head).json()["count"] == before


def test_save_refuses_invalid_then_stores_versions_and_restores(demo_api):
    api, head = demo_api, demo_api.as_("planner")
    d = _data(api)
    grids = _features(d["division"]["grids"])
    today = api.clock.now.date()

    overlap = dict(grids, **{"310101002005013": grids["310101002005003"].buffer(-0.0002)})
    r = api.client.post(
        f"{BASE}/save",
        headers=head,
        json={"grids": _fc(overlap), "effective_date": today.isoformat()},
    )
    assert r.status_code == 422
    body = r.json()
    assert "overlap" in body["kinds"] and body["findings"]["features"]
    assert api.count("divisions")["divisions"] == 1

    # a valid edit (a merge) saved from today: version 2 in effect, version 1 closed today
    merged = api.client.post(
        f"{BASE}/edit/merge",
        headers=head,
        json={"grids": _fc(grids), "codes": ["310101002005001", "310101002005002"]},
    ).json()["grids"]
    r = api.client.post(
        f"{BASE}/save", headers=head, json={"grids": merged, "effective_date": today.isoformat()}
    )
    assert r.status_code == 201, r.text
    assert r.json()["division"]["version"] == 2
    assert r.json()["replaced"]["effective_to"] == today.isoformat()
    assert _data(api)["division"]["version"] == 2
    versions = api.client.get(f"{BASE}/versions", headers=head).json()["data"]
    assert [(v["version"], v["in_effect"], v["grids"]) for v in versions] == [
        (2, True, 11),
        (1, False, 12),
    ]
    # households stored per grid: recounted from the houses (1 and 2 together)
    v1 = {r["code"]: r for r in api.client.post(
        f"{BASE}/validate", headers=head, json={"grids": d["division"]["grids"]}
    ).json()["balance"]}  # fmt: skip
    stored = api.client.get(f"{BASE}/versions/2", headers=head).json()
    assert len(stored["grids"]["features"]) == 11
    old = api.client.get(f"{BASE}/versions/1", headers=head).json()
    assert _features(old["grids"]).keys() == grids.keys()
    assert old["effective_to"] == today.isoformat()
    engine = make_engine(api.url)
    with engine.connect() as conn:
        stored_households = dict(
            conn.execute(
                sa.text(
                    "SELECT g.code, g.households FROM grids g JOIN divisions d "
                    "ON d.id = g.division_id WHERE d.version = 2"
                )
            ).all()
        )
    engine.dispose()
    merged_households = v1["310101002005001"]["households"] + v1["310101002005002"]["households"]
    assert stored_households["310101002005001"] == merged_households
    assert stored_households["310101002005005"] == v1["310101002005005"]["households"]

    # restore version 1 from tomorrow: version 3, scheduled; an earlier date is refused
    tomorrow = today + dt.timedelta(days=1)
    r = api.client.post(
        f"{BASE}/versions/1/restore", headers=head, json={"effective_date": tomorrow.isoformat()}
    )
    assert r.status_code == 201, r.text
    assert r.json()["division"]["version"] == 3
    versions = api.client.get(f"{BASE}/versions", headers=head).json()["data"]
    assert versions[0]["version"] == 3 and versions[0]["scheduled"] and not versions[0]["in_effect"]
    restored = api.client.get(f"{BASE}/versions/3", headers=head).json()
    for code, geom in _features(restored["grids"]).items():
        assert geom.symmetric_difference(grids[code]).area < 1e-14
    r = api.client.post(
        f"{BASE}/versions/1/restore", headers=head, json={"effective_date": today.isoformat()}
    )
    assert r.status_code == 422
    assert api.client.get(f"{BASE}/versions/9", headers=head).status_code == 404


def test_split_along_a_road_of_the_data_keeps_the_division_valid(api):
    d = _data(api)
    grids = _features(d["division"]["grids"])
    head = api.as_("planner")
    code = "310101002005007"
    ways = [shape(f["geometry"]) for f in d["roads"]["features"]
            if f["properties"]["name"] == "金陵东路"]  # fmt: skip
    assert ways, "the demo's 金陵东路 is in the planner's data"
    road = shapely.line_merge(shapely.union_all(ways))
    body = {"grids": _fc(grids), "code": code, "road": shapely.geometry.mapping(road)}
    r = api.client.post(f"{BASE}/edit/split-along-road", headers=head, json=body)
    assert r.status_code == 200, r.text
    out = _features(r.json()["grids"])
    new = r.json()["new_codes"]
    assert r.json()["split"] == code and new and new[0] == "310101002005013"
    assert sorted(out) == sorted([*grids, *new])
    # truth: GEOS's own split of the grid by the road, areas on the ellipsoid; where the
    # road runs along the outline it cuts off slivers, which the planner must not get
    parts = [_geod_area_m2(p) for p in shapely.ops.split(grids[code], road).geoms]
    slivers = sum(a for a in parts if a < 1.0)
    truth = sorted(a for a in parts if a >= 1.0)
    got = sorted(_geod_area_m2(out[c]) for c in [code, *new])
    assert len(got) == len(truth) >= 2
    assert got == pytest.approx(truth, abs=slivers + 0.01)
    assert sum(got) == pytest.approx(_geod_area_m2(grids[code]), abs=0.01)
    assert _geod_area_m2(out[code]) == pytest.approx(truth[-1], abs=slivers + 0.01)  # largest
    for other in set(grids) - {code}:
        assert _geod_area_m2(out[other]) == pytest.approx(_geod_area_m2(grids[other]), abs=1e-3)
    boundary = gpd.GeoDataFrame(geometry=[shape(d["boundary"]["geometry"])], crs=4326)
    frame = gpd.GeoDataFrame({"code": list(out)}, geometry=list(out.values()), crs=4326)
    assert len(validate(frame, boundary)) == 0

    # a hand-made code: the new piece is numbered after it
    renamed = {("A" if c == code else c): g for c, g in grids.items()}
    r = api.client.post(f"{BASE}/edit/split-along-road", headers=head,
                        json=body | {"grids": _fc(renamed), "code": "A"})  # fmt: skip
    assert r.status_code == 200 and r.json()["new_codes"] == ["A-2"], r.text
    assert sorted(_features(r.json()["grids"])) == sorted([*renamed, "A-2"])

    # a road that does not cross the grid, and a point, are refused with a reason
    far = shapely.LineString([(121.40, 31.10), (121.41, 31.11)])
    r = api.client.post(f"{BASE}/edit/split-along-road", headers=head,
                        json=body | {"road": shapely.geometry.mapping(far)})  # fmt: skip
    assert r.status_code == 422 and "does not cut grid 310101002005007" in r.json()["detail"]
    point = {"type": "Point", "coordinates": [121.49, 31.24]}
    r = api.client.post(f"{BASE}/edit/split-along-road", headers=head,
                        json=body | {"road": point})  # fmt: skip
    assert r.status_code == 422 and "LineString" in r.json()["detail"]
    r = api.client.post(f"{BASE}/edit/split-along-road", json=body)
    assert r.status_code == 401


def test_data_falls_back_to_the_base_map_tiles_without_the_osm_layers(
    api, make_api, tmp_path, monkeypatch
):
    from api.core.config import get_settings
    from gis.osm import read_osm_layers
    from maps.basemap import build_basemap

    archive = tmp_path / "base.pmtiles"
    build_basemap(read_osm_layers([DEMO / "osm_bund.gpkg"]), archive, processes=1)
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path / "no-osm-here"))
    get_settings.cache_clear()
    try:
        bare = _data(make_api(api.url))
        tiled = _data(make_api(api.url, basemap=archive))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert bare["roads"]["features"] == [] and bare["buildings"]["features"] == []
    roads = [shape(f["geometry"]) for f in tiled["roads"]["features"]]
    names = {f["properties"].get("name") for f in tiled["roads"]["features"]}
    assert len(roads) > 50 and "金陵东路" in names
    assert len(tiled["buildings"]["features"]) > 50
    # every vertex on an OSM road of the extract, within the tiles' quantisation (≤ 25 cm)
    source = gpd.read_file(DEMO / "osm_bund.gpkg", layer="roads").to_crs(4549)
    points = gpd.GeoSeries(shapely.points(shapely.get_coordinates(roads)), crs=4326)
    off = shapely.distance(points.to_crs(4549).to_numpy(), source.union_all())
    assert off.max() <= 0.25
