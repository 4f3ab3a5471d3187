"""Divisions: public validation (same findings as gis.coverage), bad input, oversized bodies,
and storing a division through the API (then locate answers from it)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd

from api.db.models import Role
from gis.coverage import findings_to_geojson, validate
from tests.api.routes.conftest import add_users

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo"


def _fc(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _boundary() -> dict:
    return _fc(DEMO / "boundary.geojson")["features"][0]


def test_validate_defective_division_matches_gis_validate(api):
    body = {"grids": _fc(DEMO / "grids_defective.geojson"), "boundary": _boundary()}
    r = api.client.post("/divisions/validate", json=body)
    assert r.status_code == 200, r.text
    expected = findings_to_geojson(
        validate(
            gpd.read_file(DEMO / "grids_defective.geojson"),
            gpd.read_file(DEMO / "boundary.geojson"),
        )
    )
    got = r.json()
    assert got["type"] == "FeatureCollection"
    assert [f["properties"] for f in got["features"]] == [
        f["properties"] for f in expected["features"]
    ]
    assert len(got["features"]) > 0
    clean = api.client.post(
        "/divisions/validate", json={"grids": _fc(DEMO / "grids.geojson"), "boundary": _boundary()}
    )
    assert clean.json()["features"] == []


def test_validate_bad_input_is_4xx_with_a_clear_message(api):
    grids = _fc(DEMO / "grids.geojson")
    points = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "1"},
                "geometry": {"type": "Point", "coordinates": [121.48, 31.23]},
            }
        ],
    }
    cases = [
        ({"grids": points, "boundary": _boundary()}, "Point"),
        ({"grids": grids, "boundary": _boundary(), "code_field": "nope"}, "nope"),
        (
            {
                "grids": grids,
                "boundary": {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": "x"},
                },
            },
            "boundary",
        ),
        ({"grids": grids, "boundary": _boundary(), "tolerance_m": -1}, "tolerance_m"),
        ({"grids": {"type": "FeatureCollection"}, "boundary": _boundary()}, "features"),
    ]
    for body, word in cases:
        r = api.client.post("/divisions/validate", json=body)
        assert r.status_code == 422, (word, r.text)
        assert word in r.json()["detail"], (word, r.json())
    broken = api.client.post(
        "/divisions/validate", content=b'{"grids": [', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["detail"]


def test_oversized_body_is_413_and_nothing_is_written(fresh_db_url, make_api):
    add_users(fresh_db_url, {"pl": (Role.PLANNER, [])})
    api = make_api(fresh_db_url, max_body_bytes=20_000)
    token = api.as_("pl")
    before = api.count("grids", "divisions", "communities")
    big = json.dumps(
        {"grids": _fc(DEMO / "grids.geojson"), "boundary": _boundary(), "community": "外滩源社区"}
    ).encode()
    assert len(big) > 20_000
    r = api.client.post(
        "/divisions", content=big, headers={**token, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    def chunks():  # no Content-Length: counted while streamed
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    r = api.client.post(
        "/divisions", content=chunks(), headers={**token, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    files = {"grids": ("grids.geojson", big), "boundary": ("b.geojson", b"{}")}
    r = api.client.post(
        "/divisions/files", headers=token, files=files, data={"community": "外滩源社区"}
    )
    assert r.status_code == 413
    assert api.count("grids", "divisions", "communities") == before


def test_store_division_via_api_then_locate(fresh_db_url, make_api):
    add_users(fresh_db_url, {"pl": (Role.PLANNER, []), "gw": (Role.GRID_WORKER, [])})
    api = make_api(fresh_db_url)
    body = {
        "grids": _fc(DEMO / "grids.geojson"),
        "boundary": _boundary(),
        "community": "外滩源社区",
        "effective_date": "2026-01-01",
    }
    assert api.client.post("/divisions", json=body, headers=api.as_("gw")).status_code == 403
    assert api.client.post("/divisions", json=body).status_code == 401
    # a defective division is refused (422 with the findings) and writes nothing
    before = api.count("grids", "divisions", "communities")
    bad = body | {"grids": _fc(DEMO / "grids_defective.geojson")}
    r = api.client.post("/divisions", json=bad, headers=api.as_("pl"))
    assert r.status_code == 422 and r.json()["findings"]["features"], r.text
    assert api.count("grids", "divisions", "communities") == before
    r = api.client.post("/divisions", json=body, headers=api.as_("pl"))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["community"] == {
        "id": result["community"]["id"],
        "code": "310101002005",
        "name": "外滩源社区",
        "created": True,
    }
    assert result["division"]["version"] == 1 and result["grids"] == 12
    grids = gpd.read_file(DEMO / "grids.geojson")
    p = grids.geometry.iloc[2].representative_point()
    assert (
        api.client.get("/grids/locate", params={"lon": p.x, "lat": p.y}).json()["grid_code"]
        == grids["code"].iloc[2]
    )
    # uploading files: a second version replaces the first from a later date
    files = {
        "grids": ("grids.geojson", (DEMO / "grids.geojson").read_bytes()),
        "boundary": ("boundary.geojson", (DEMO / "boundary.geojson").read_bytes()),
    }
    r = api.client.post(
        "/divisions/files",
        headers=api.as_("pl"),
        files=files,
        data={"community": "外滩源社区", "effective_date": "2026-03-01"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["replaced"] == {"label": "v1", "effective_to": "2026-03-01"}
    assert r.json()["community"]["created"] is False
    listed = api.client.get("/divisions", headers=api.as_("pl")).json()
    assert [d["version"] for d in listed["data"]] == [1, 2]


def test_locate_follows_a_new_division_in_the_same_process(demo_api):
    """The in-memory locate index is rebuilt when a new division takes effect."""
    import datetime as dt

    from gis.edit import merge_grids

    api = demo_api
    add_users(api.url, {"pl2": (Role.PLANNER, [])})
    grids = gpd.read_file(DEMO / "grids.geojson")
    a, b = _adjacent_pair(grids)
    point = grids.geometry[grids["code"] == a].iloc[0].representative_point()
    params = {"lon": point.x, "lat": point.y}
    assert api.client.get("/grids/locate", params=params).json()["grid_code"] == a

    merged = merge_grids(grids, [b, a], keep_code=b)
    body = {
        "grids": json.loads(merged.to_json()),
        "boundary": _boundary(),
        "community": "外滩源社区",
        "effective_date": dt.date.today().isoformat(),
    }
    r = api.client.post("/divisions", json=body, headers=api.as_("pl2"))
    assert r.status_code == 201, r.text
    assert api.client.get("/grids/locate", params=params).json()["grid_code"] == b
    # the day before, the old division still answers
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    old = api.client.get("/grids/locate", params=params | {"date": yesterday}).json()
    assert old["grid_code"] == a


def _adjacent_pair(grids: gpd.GeoDataFrame) -> tuple[str, str]:
    metric = grids.to_crs(4549)
    for i in range(len(grids)):
        for j in range(i + 1, len(grids)):
            shared = metric.geometry[i].boundary.intersection(metric.geometry[j].boundary)
            if shared.length > 10:
                return grids["code"][i], grids["code"][j]
    raise AssertionError("no adjacent grids")


def _gcj02_grids() -> dict:
    """The demo grids as traced on an Amap base map: GCJ-02 by a published converter."""
    import coord_convert.transform as cc
    import numpy as np
    import shapely

    grids = gpd.read_file(DEMO / "grids.geojson")
    grids.geometry = shapely.transform(
        grids.geometry.to_numpy(), lambda xy: np.array([cc.wgs2gcj(x, y) for x, y in xy])
    )
    return json.loads(grids.to_json())


def test_grids_crs_converts_the_grids_only(api):
    body = {"grids": _gcj02_grids(), "boundary": _boundary()}
    as_wgs84 = api.client.post("/divisions/validate", json=body)
    assert as_wgs84.status_code == 200 and as_wgs84.json()["features"]  # ~500 m off: outside
    r = api.client.post("/divisions/validate", json=body | {"grids_crs": "gcj02"})
    assert r.status_code == 200 and r.json()["features"] == [], r.text
    # the boundary was not converted: saying it is GCJ-02 too moves it away from the grids
    r = api.client.post(
        "/divisions/validate", json=body | {"grids_crs": "gcj02", "boundary_crs": "gcj02"}
    )
    assert r.json()["features"]
    # input_crs names point input only: a division body refuses it
    r = api.client.post("/divisions/validate", json=body | {"input_crs": "gcj02"})
    assert r.status_code == 422 and "input_crs" in r.text


def test_division_files_read_each_file_in_its_own_crs(fresh_db_url, make_api, tmp_path):
    add_users(fresh_db_url, {"pl": (Role.PLANNER, [])})
    api = make_api(fresh_db_url)
    gpkg = tmp_path / "plan.gpkg"
    gpd.GeoDataFrame.from_features(_gcj02_grids()["features"], crs=4326).to_file(
        gpkg, layer="gcj", driver="GPKG"
    )
    gpd.read_file(DEMO / "grids.geojson").head(1).to_file(gpkg, layer="draft", driver="GPKG")
    files = {
        "grids": ("plan.gpkg", gpkg.read_bytes()),
        "boundary": ("boundary.geojson", (DEMO / "boundary.geojson").read_bytes()),
    }
    form = {"community": "310101002005"}
    before = api.count("grids", "divisions", "communities")
    r = api.client.post("/divisions/files", headers=api.as_("pl"), files=files, data=form)
    assert r.status_code == 422 and "grids_layer" in r.json()["detail"]
    assert "gcj, draft" in r.json()["detail"] or "draft, gcj" in r.json()["detail"]
    r = api.client.post("/divisions/files", headers=api.as_("pl"), files=files,
                        data=form | {"grids_layer": "gcj", "input_crs": "gcj02"})  # fmt: skip
    assert r.status_code == 422 and "grids_crs" in r.json()["detail"]
    assert api.count("grids", "divisions", "communities") == before
    r = api.client.post("/divisions/files", headers=api.as_("pl"), files=files,
                        data=form | {"grids_layer": "gcj", "grids_crs": "gcj02"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["community"]["name"] == "外滩源社区"  # named from the boundary


def test_division_files_in_a_projected_crs_are_judged_as_drawn(fresh_db_url, make_api, tmp_path):
    # Voronoi divisions of 6 km rotated squares (many grid vertices on each long straight
    # edge) uploaded as GeoPackages in their projected CRS: clean ones are stored, and an
    # outside tab is refused with exactly that finding; converted vertex by vertex to lon/lat
    # first, every one of them spilled over the bent boundary edges
    from tests.api.projected_tilings import CENTRES, tiling

    add_users(fresh_db_url, {"pl": (Role.PLANNER, [])})
    api = make_api(fresh_db_url)
    for i, epsg in enumerate(sorted(CENTRES)):
        for defect in ("outside", "none"):
            t = tiling(epsg, 6_000.0, 13.0 + i, 50, i, defect)
            grids, boundary = tmp_path / f"g{epsg}{defect}.gpkg", tmp_path / f"b{epsg}.gpkg"
            t.grids.to_file(grids, driver="GPKG")
            t.boundary.to_file(boundary, driver="GPKG")
            files = {
                "grids": ("grids.gpkg", grids.read_bytes()),
                "boundary": ("boundary.gpkg", boundary.read_bytes()),
            }
            form = {"community": f"3101010020{i + 10}", "effective_date": "2026-01-01"}
            r = api.client.post("/divisions/files", headers=api.as_("pl"), files=files, data=form)
            if defect == "none":
                assert r.status_code == 201, r.text
                assert r.json()["findings"]["features"] == [] and r.json()["grids"] == len(t.grids)
            else:
                assert r.status_code == 422, r.text
                kinds = [f["properties"]["kind"] for f in r.json()["findings"]["features"]]
                assert kinds == ["outside"]
