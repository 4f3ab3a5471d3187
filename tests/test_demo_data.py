"""The committed demo community in data/demo/ and its generator data/make_demo.py."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point

from gis.crs import metric_crs

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
CATEGORIES = ROOT / "data" / "codes" / "incident_categories.csv"
SCRIPT = ROOT / "data" / "make_demo.py"
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def boundary() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "boundary.geojson")


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "grids.geojson", columns=None)


@pytest.fixture(scope="module")
def defective() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "grids_defective.geojson")


@pytest.fixture(scope="module")
def crs(boundary):
    return metric_crs(boundary)


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return pd.read_csv(DEMO / "houses.csv", dtype={"house_id": str, "road": str})


@pytest.fixture(scope="module")
def categories() -> pd.DataFrame:
    return pd.read_csv(CATEGORIES, dtype=str, keep_default_na=False)


def _points(df: pd.DataFrame) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.points(df["lon"], df["lat"]), crs=4326)


def test_files_exist_and_load():
    for name in [
        "boundary.geojson", "grids.geojson", "grids_defective.geojson", "defects.json",
        "houses.csv", "incidents.csv", "osm_bund.gpkg", "../README.md",
    ]:  # fmt: skip
        assert (DEMO / name).is_file(), name
    for layer in ("roads", "buildings"):
        gdf = gpd.read_file(DEMO / "osm_bund.gpkg", layer=layer)
        assert len(gdf) > 100 and gdf.crs.to_epsg() == 4326
        assert {"osm_id", "name", "name_zh"} <= set(gdf.columns)
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in readme and "ODbL" in readme


def test_boundary_is_one_polygon_of_1_to_4_km2(boundary):
    assert len(boundary) == 1
    geom = boundary.geometry.iloc[0]
    assert geom.geom_type == "Polygon" and geom.is_valid and not geom.interiors
    area_m2 = abs(GEOD.geometry_area_perimeter(geom)[0])  # on the ellipsoid, independent
    assert 1e6 <= area_m2 <= 4e6
    row = boundary.iloc[0]
    assert re.fullmatch(r"\d{12}", row["code"]) and row["code"].startswith("310101")
    assert row["district_name"] == "黄浦区" and row["street_name"].endswith("街道")
    assert row["name"].endswith("社区")


def test_boundary_runs_along_roads(boundary, crs):
    roads = gpd.read_file(DEMO / "osm_bund.gpkg", layer="roads").to_crs(crs)
    ring = boundary.to_crs(crs).geometry.iloc[0].exterior
    lines = shapely.union_all(roads.geometry.values)
    # every vertex of the boundary lies on a road centreline (to numeric noise)
    vertices = shapely.points(shapely.get_coordinates(ring))
    assert shapely.distance(vertices, lines).max() < 0.01


def test_valid_division_tiles_the_boundary(grids, boundary, crs):
    assert 10 <= len(grids) <= 14
    g = grids.to_crs(crs).geometry.values
    b = boundary.to_crs(crs).geometry.iloc[0]
    assert all(x.geom_type == "Polygon" and x.is_valid for x in g)
    assert shapely.coverage_is_valid(g)
    union = shapely.union_all(g)
    assert shapely.symmetric_difference(union, b).area < 1e-6 * b.area
    # pairwise overlaps are empty (area below numeric noise)
    tree = shapely.STRtree(g)
    left, right = tree.query(g, predicate="intersects")
    keep = left < right
    assert shapely.area(shapely.intersection(g[left[keep]], g[right[keep]])).max() < 1e-6
    areas = np.array([abs(GEOD.geometry_area_perimeter(x)[0]) for x in grids.geometry])
    np.testing.assert_allclose(grids["area_m2"], areas, rtol=2e-3)


def test_grid_codes_and_numbering_rule(grids, boundary, crs):
    community = boundary["code"].iloc[0]
    codes = grids["code"].tolist()
    assert all(re.fullmatch(r"\d{15}", c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert all(c.startswith(community) for c in codes)
    # documented rule: rows of height sqrt(A/n) from the northern limit, west→east in a row
    g = grids.to_crs(crs)
    b = boundary.to_crs(crs).geometry.iloc[0]
    band = math.sqrt(b.area / len(g))
    north = b.bounds[3]
    keyed = sorted(
        (
            (math.floor((north - c.y) / band), c.x, code)
            for c, code in zip(g.centroid, codes, strict=True)
        )
    )
    expected = {code: f"{community}{k + 1:03d}" for k, (_, _, code) in enumerate(keyed)}
    assert all(expected[c] == c for c in codes)
    assert all(
        n.endswith(f"第{int(c[-3:])}网格") for n, c in zip(grids["name"], codes, strict=True)
    )


def test_households_per_grid_match_houses(grids, houses):
    pts = _points(houses)
    hit = gpd.sjoin(gpd.GeoDataFrame(houses, geometry=pts), grids[["code", "geometry"]])
    assert len(hit) == len(houses)  # houses are strictly inside blocks, never on an edge
    per_grid = hit.groupby("code")["households"].sum()
    assert per_grid.reindex(grids["code"]).tolist() == grids["households"].tolist()
    assert 3000 <= houses["households"].sum() <= 6000


def test_houses_inside_boundary_and_buildings(houses, boundary):
    pts = _points(houses)
    assert boundary.geometry.iloc[0].contains(pts).all()
    buildings = gpd.read_file(DEMO / "osm_bund.gpkg", layer="buildings")
    tree = shapely.STRtree(buildings.geometry.values)
    inside = tree.query(pts.values, predicate="within")
    assert set(inside[0]) == set(range(len(houses)))
    assert houses["house_id"].is_unique and houses["address"].is_unique
    assert (houses["households"] >= 1).all()
    assert houses["address"].str.fullmatch(r"上海市黄浦区\S+路\d+号|上海市黄浦区\S+\d+号").all()
    assert (
        houses["address"] == "上海市黄浦区" + houses["road"] + houses["number"].astype(str) + "号"
    ).all()
    assert set(houses["house_type"]) <= {"住宅", "商住", "商业", "办公"}
    roads = gpd.read_file(DEMO / "osm_bund.gpkg", layer="roads")
    assert set(houses["road"]) <= set(roads["name"].dropna())


def test_door_plate_parity_by_road_side(houses, crs):
    roads = gpd.read_file(DEMO / "osm_bund.gpkg", layer="roads")
    roads = roads[roads["kind"].isin(["major_road", "minor_road"]) & roads["is_tunnel"].ne(True)]
    roads = roads.to_crs(crs)
    pts = _points(houses).to_crs(crs)
    checked = 0
    for road, grp in houses.groupby("road"):
        line = shapely.union_all(roads.loc[roads["name"] == road].geometry.values)
        xy = shapely.get_coordinates(line)
        _, _, vt = np.linalg.svd(xy - xy.mean(axis=0))
        axis = vt[0] if vt[0][0] > 0 or (vt[0][0] == 0 and vt[0][1] > 0) else -vt[0]
        sides, along = [], []
        for p in pts.loc[grp.index]:
            d = line.project(p)
            a, b = line.interpolate(max(d - 1, 0)), line.interpolate(min(d + 1, line.length))
            t = np.array([b.x - a.x, b.y - a.y])
            t = t if t @ axis >= 0 else -t
            q = line.interpolate(d)
            sides.append(np.sign(t[0] * (p.y - q.y) - t[1] * (p.x - q.x)))
            along.append(np.array([p.x, p.y]) @ axis)
        sides, along, numbers = np.array(sides), np.array(along), grp["number"].to_numpy()
        odd = numbers % 2 == 1
        # odd numbers all on the left of the numbering direction, even ones on the right
        assert (sides[odd] > 0).all() and (sides[~odd] < 0).all(), road
        for mask in (odd, ~odd):
            order = np.argsort(along[mask])
            assert (np.diff(numbers[mask][order]) > 0).all(), road
        checked += len(grp)
    assert checked == len(houses)


def test_category_table_is_two_level(categories):
    # later work extends the table (e.g. gbt_class) but keeps the foundation's columns first
    assert list(categories.columns)[:6] == [
        "code",
        "name_zh",
        "name_en",
        "parent",
        "severity",
        "post",
    ]
    assert "gbt_class" in categories.columns
    assert categories["code"].is_unique
    top = categories[categories["parent"] == ""]
    sub = categories[categories["parent"] != ""]
    assert top["code"].tolist() == ["01", "02", "03", "04", "05", "06"]
    assert sub["code"].str.fullmatch(r"\d{4}").all()
    assert (sub["code"].str[:2] == sub["parent"]).all() and set(sub["parent"]) <= set(top["code"])
    assert set(categories["severity"]) == {"major", "general"}
    assert categories["post"].str.endswith("岗").all()
    major = set(categories.loc[categories["severity"] == "major", "name_en"])
    assert {"New illegal construction", "Risk of mass petition"} <= major


def test_incidents(categories, boundary):
    inc = pd.read_csv(DEMO / "incidents.csv", dtype={"category_code": str})
    assert 300 <= len(inc) <= 500 and inc["incident_id"].is_unique
    sub = set(categories.loc[categories["parent"] != "", "code"])
    assert set(inc["category_code"]) <= sub
    times = [datetime.fromisoformat(t) for t in inc["reported_at"]]
    assert all(t.utcoffset() == timedelta(hours=8) for t in times)
    end = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
    assert all(end - timedelta(days=100) <= t < end for t in times)
    in_hours = [t.weekday() < 5 and 8 <= t.hour < 18 for t in times]
    assert np.mean(in_hours) > 0.7
    assert inc["description"].str.len().min() > 0
    pts = _points(inc)
    assert boundary.geometry.iloc[0].contains(pts).all()


def _covering(defective: gpd.GeoDataFrame, p: Point) -> list:
    geoms = shapely.make_valid(defective.geometry.values)
    return [i for i, g in enumerate(geoms) if g.covers(p)]


def test_planted_defects_exist(defective, grids, boundary, crs):
    spec = json.loads((DEMO / "defects.json").read_text(encoding="utf-8"))["defects"]
    kinds = [d["kind"] for d in spec]
    for k in ("gap", "overlap", "sliver", "invalid", "outside", "multipart"):
        assert k in kinds
    dm = defective.to_crs(crs)
    dm_valid = shapely.make_valid(dm.geometry.values)
    b = boundary.to_crs(crs).geometry.iloc[0]
    holes = shapely.difference(b, shapely.union_all(dm_valid))
    codes = dm["code"].tolist()
    for d in spec:
        p_ll = Point(d["lon"], d["lat"])
        p = gpd.GeoSeries([p_ll], crs=4326).to_crs(crs).iloc[0]
        cover = [i for i, g in enumerate(dm_valid) if g.covers(p)]
        kind = d["kind"]
        # in the valid division the same place is covered by exactly one grid (or none outside)
        valid_cover = grids.geometry.covers(p_ll).sum()
        assert valid_cover == (0 if kind in ("outside", "invalid") else 1), kind
        if kind in ("gap", "sliver"):
            assert cover == [] and b.contains(p), kind
            piece = next(h for h in shapely.get_parts(holes) if h.distance(p) < 1e-6)
            assert piece.area == pytest.approx(d["area_m2"], rel=0.01)
            if kind == "gap":
                assert piece.area >= 100
            else:
                assert d["width_m"] < 1 and d["length_m"] >= 20
                assert piece.area / d["length_m"] == pytest.approx(d["width_m"], rel=0.02)
        elif kind == "overlap":
            assert sorted(codes[i] for i in cover) == sorted(d["grid_codes"])
            i, j = cover
            assert dm_valid[i].intersection(dm_valid[j]).area == pytest.approx(d["area_m2"], 0.01)
            assert d["area_m2"] >= 50
        elif kind == "outside":
            assert not b.covers(p) and [codes[i] for i in cover] == d["grid_codes"]
            spill = dm_valid[cover[0]].difference(b).area
            assert spill == pytest.approx(d["area_m2"], rel=0.01) and spill >= 100
        elif kind == "invalid":
            (code,) = d["grid_codes"]
            geom = dm.geometry[dm["code"] == code].iloc[0]
            assert not geom.is_valid
            assert "Self-intersection" in shapely.is_valid_reason(geom)
            assert geom.exterior.distance(p) < 0.01  # the point where the ring crosses itself
        elif kind == "multipart":
            a_code = d["grid_codes"][0]
            geom = dm.geometry[dm["code"] == a_code].iloc[0]
            assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
            assert geom.covers(p) and [codes[i] for i in cover] == [a_code]
        elif kind == "duplicate_code":
            (code,) = set(d["grid_codes"])
            assert codes.count(code) == 2
        elif kind == "missing_code":
            assert len(cover) == 1 and not isinstance(codes[cover[0]], str)
    # defects sit apart from one another
    pts = gpd.GeoSeries(shapely.points([d["lon"] for d in spec[:6]], [d["lat"] for d in spec[:6]]),
                        crs=4326).to_crs(crs)  # fmt: skip
    arr = np.asarray(pts.values, dtype=object)
    dist = shapely.distance(arr[:, None], arr[None, :])
    assert dist[~np.eye(len(pts), dtype=bool)].min() > 100


def test_demo_regeneration_is_identical(tmp_path):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=ROOT,
                   capture_output=True)  # fmt: skip
    for name in ["boundary.geojson", "grids.geojson", "grids_defective.geojson", "defects.json",
                 "houses.csv", "incidents.csv"]:  # fmt: skip
        assert (out / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_scaled_run_is_deterministic_and_valid(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"s{k}"
        subprocess.run(
            [sys.executable, str(SCRIPT), "--houses", "1000", "--grids", "20", "--out", str(out),
             "--seed", "5"],
            check=True, cwd=ROOT, capture_output=True,
        )  # fmt: skip
        outs.append(out)
    a = gpd.read_parquet(outs[0] / "grids.parquet")
    b = gpd.read_parquet(outs[1] / "grids.parquet")
    assert (
        a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
        and (a["code"] == b["code"]).all()
    )
    ha = gpd.read_parquet(outs[0] / "houses.parquet")
    hb = gpd.read_parquet(outs[1] / "houses.parquet")
    pd.testing.assert_frame_equal(ha.drop(columns="geometry"), hb.drop(columns="geometry"))
    assert len(a) == 20 and len(ha) == 1000
    assert shapely.coverage_is_valid(a.geometry.values)
    rect = gpd.read_parquet(outs[0] / "boundary.parquet").geometry.iloc[0]
    assert shapely.union_all(a.geometry.values).symmetric_difference(rect).area < 1e-12
    assert a["code"].str.fullmatch(r"\d{15}").all() and a["code"].is_unique
    # houses placed on shared edges are covered by two grids, on vertices by four
    n_cover = np.bincount(
        shapely.STRtree(a.geometry.values).query(ha.geometry.values, predicate="intersects")[0],
        minlength=len(ha),
    )
    place = ha["placement"].to_numpy()
    assert (n_cover[place == "edge"] == 2).all()
    assert (n_cover[place == "vertex"] == 4).all()
    assert (n_cover >= 1).all()


# --- people: staff and residents -----------------------------------------------------------


def test_residents_have_valid_id_numbers_agreeing_with_birth_and_gender():
    """Checked with python-stdnum's ``cn.ric`` (an implementation outside this project)."""
    from stdnum.cn import ric

    residents = pd.read_csv(DEMO / "residents.csv", dtype=str)
    houses = pd.read_csv(DEMO / "houses.csv")
    assert len(residents) > 500
    assert residents["id_number"].is_unique
    for row in residents.itertuples():
        assert ric.validate(row.id_number) == row.id_number
        assert ric.get_birth_date(row.id_number).isoformat() == row.birth_date
        assert ("男" if int(row.id_number[16]) % 2 else "女") == row.gender
    assert set(residents["door_plate"]) <= set(houses["address"])
    adults = residents[pd.to_datetime(residents["birth_date"]) < pd.Timestamp("2008-01-01")]
    assert adults["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    moved = residents["population_type"] != "户籍人口"
    assert residents.loc[moved, "inflow_date"].notna().all()
    assert (residents.loc[moved, "inflow_date"] >= residents.loc[moved, "birth_date"]).all()


def test_special_statuses_belong_to_residents_and_fill_required_fields():
    residents = pd.read_csv(DEMO / "residents.csv", dtype=str)
    specials = pd.read_csv(DEMO / "special_statuses.csv", dtype=str)
    fields = pd.read_csv(ROOT / "data" / "codes" / "special_status_fields.csv", dtype=str)
    assert len(specials) >= 30 and specials["category"].nunique() >= 8
    assert set(specials["id_number"]) <= set(residents["id_number"])
    for row in specials.itertuples():
        required = set(fields[(fields.category == row.category) & (fields.required == "1")].field)
        assert required <= set(json.loads(row.fields))


def test_several_staff_per_grid_with_numbers_and_own_duties():
    staff = pd.read_csv(DEMO / "staff.csv", dtype=str)
    codes = set(gpd.read_file(DEMO / "grids.geojson")["code"])
    served = staff.assign(grid=staff["grid_codes"].str.split(",")).explode("grid")
    per_grid = served.groupby("grid")["role"].apply(set)
    assert set(per_grid.index) == codes  # every grid has people
    for roles in per_grid:
        assert {"grid_leader", "grid_worker", "grid_police"} <= roles
    assert staff["staff_no"].notna().all() and staff["staff_no"].is_unique
    assert staff["duties"].nunique() > len(codes)  # their own duties, not one fixed list
    workers = staff[staff["role"] == "grid_worker"]
    assert (workers["is_4050"] == "False").sum() == len(codes)  # one counted worker a grid
    assert (workers["is_4050"] == "True").sum() >= 1
    assert all((DEMO / "staff_photos" / p).is_file() for p in staff["photo_path"])
