"""Maps served by the API, and geocoding from the stored door plates, on both databases."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from maps.assets import STATIC_DIR, remote_links

DATA = Path(__file__).resolve().parents[3] / "data" / "demo"
HOUSES = pd.read_csv(DATA / "houses.csv")
GRIDS = gpd.read_file(DATA / "grids.geojson")


def _grid_of(lon: float, lat: float) -> str | None:
    point = shapely.Point(lon, lat)
    covering = sorted(
        c for c, g in zip(GRIDS["code"], GRIDS.geometry, strict=True) if g.covers(point)
    )
    return covering[0] if covering else None


def test_division_map_is_served_with_local_assets(api):
    response = api.client.get("/maps/division/外滩源社区")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert remote_links(html) == []
    assert all(code in html for code in GRIDS["code"])
    assert not any(address in html for address in HOUSES["address"])
    # every asset the page links is served by the app
    for url in ("/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"):
        assert url in html
        served = api.client.get(url)
        assert served.status_code == 200
        assert served.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()


def test_house_layer_only_for_signed_in_staff(api):
    assert api.client.get("/maps/division/外滩源社区", params={"staff": "true"}).status_code == 403
    response = api.client.get(
        "/maps/division/外滩源社区", params={"staff": "true"}, headers=api.as_("planner")
    )
    assert response.status_code == 200
    assert HOUSES["address"].iloc[0] in response.text


@pytest.mark.parametrize("style", ["heatmap", "choropleth", "hotspots"])
def test_incident_maps(api, style):
    response = api.client.get(
        "/maps/incidents",
        params={"community": "310101002005", "style": style, "category": "03",
                "from": "2026-08-01", "to": "2026-11-01"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert remote_links(response.text) == []


def test_maps_bad_input_is_4xx(api):
    assert api.client.get("/maps/division/nowhere").status_code in (404, 422)
    response = api.client.get("/maps/incidents", params={"community": "外滩源社区", "from": "x"})
    assert response.status_code == 422
    response = api.client.get("/maps/incidents", params={"community": "外滩源社区", "style": "3d"})
    assert response.status_code == 422


def test_geocode_one_address_gives_the_door_plate_and_its_grid(api):
    sample = HOUSES.sample(8, random_state=11)
    for row in sample.itertuples():
        written = row.address.replace("上海市黄浦区", "黄浦区 ")
        response = api.client.get("/geocode", params={"address": written})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["match_level"] == "doorplate" and body["confident"] is True
        assert (body["lon"], body["lat"]) == pytest.approx((row.lon, row.lat))
        assert body["grid_code"] == _grid_of(row.lon, row.lat)
        assert "owner" not in body


def test_geocode_unknown_and_contradicting_addresses_do_not_match(api):
    for address in ("北京市东城区九江路1号", "南京西路100号", "随便写写"):
        body = api.client.get("/geocode", params={"address": address}).json()
        assert body["match_level"] == "none" and body["lon"] is None and body["confident"] is False


def test_geocode_batch_needs_sign_in_and_keeps_order(api):
    addresses = [*HOUSES["address"].head(5), "不存在的地址"]
    assert api.client.post("/geocode/batch", json={"addresses": addresses}).status_code == 401
    response = api.client.post(
        "/geocode/batch", json={"addresses": addresses}, headers=api.as_("grid_worker")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    assert [r["matched_address"] for r in body["data"][:5]] == list(HOUSES["address"].head(5))
    assert body["data"][5]["match_level"] == "none"
    assert body["by_level"] == {"doorplate": 5, "none": 1}


def test_reverse_geocode(api):
    row = HOUSES.iloc[10]
    body = api.client.get("/geocode/reverse", params={"lon": row.lon, "lat": row.lat}).json()
    assert body["door_plates"][0]["address"] == row.address
    assert body["door_plates"][0]["distance_m"] == pytest.approx(0, abs=0.01)
    assert body["grid_code"] == _grid_of(row.lon, row.lat)
    assert all(p["distance_m"] <= 50 for p in body["door_plates"])
    assert api.client.get("/geocode/reverse", params={"lon": 121.5, "lat": 95}).status_code == 422


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_reverse_geocode_takes_the_point_crs(api, crs):
    """A point read off an Amap/Baidu map (made by a published converter) finds the same
    door plate and grid as its WGS84 position; the answer is in WGS84."""
    import coord_convert.transform as cc

    row = HOUSES.iloc[10]
    lon, lat = {"gcj02": cc.wgs2gcj, "bd09": cc.wgs2bd}[crs](row.lon, row.lat)
    params = {"lon": lon, "lat": lat, "crs": crs}
    body = api.client.get("/geocode/reverse", params=params).json()
    assert body["door_plates"][0]["address"] == row.address
    assert body["door_plates"][0]["distance_m"] == pytest.approx(0, abs=0.05)
    assert body["lon"] == pytest.approx(row.lon, abs=1e-6)
    assert body["grid_code"] == _grid_of(row.lon, row.lat)
    moon = api.client.get("/geocode/reverse", params=params | {"crs": "moon"})
    assert moon.status_code == 422 and "moon" in moon.json()["detail"]


def test_geocode_a_road_crossing_grids_gives_no_single_grid(api):
    # the grids each road's door plates lie in, from the demo files with shapely
    grids_of_road = {
        road: sorted({_grid_of(r.lon, r.lat) for r in rows.itertuples()} - {None})
        for road, rows in HOUSES.groupby("road")
    }
    crossing = sorted(road for road, codes in grids_of_road.items() if len(codes) > 1)
    inside_one = sorted(road for road, codes in grids_of_road.items() if len(codes) == 1)
    assert crossing and inside_one
    for road in (crossing[0], inside_one[0]):
        body = api.client.get("/geocode", params={"address": road}).json()
        assert body["match_level"] == "road", body
        if road in crossing:
            assert body["grid_code"] is None
            assert body["grid_candidates"] == grids_of_road[road]
            assert body["confident"] is False  # the pages ask for a point instead
        else:
            assert body["grid_code"] == grids_of_road[road][0]
            assert body["grid_candidates"] == []
            assert body["confident"] is True
    # a door plate on the crossing road still gets the grid of its point
    row = HOUSES[HOUSES["road"] == crossing[0]].iloc[0]
    body = api.client.get("/geocode", params={"address": row.address}).json()
    assert body["match_level"] == "doorplate"
    assert body["grid_code"] == _grid_of(row.lon, row.lat)
    assert body["grid_candidates"] == []
