"""One rule for the CRS of inputs, through the real ``wangge`` app.

Every file is read in its own declared CRS; ``--input-crs`` names the point/address input
only; grids, boundaries, roads and buildings have their own ``--…-crs``. The GCJ-02/BD-09
inputs are made with a published converter (``coord-convert``), not with gis.crs, and the
grid each point should land in is decided by shapely on the point's true WGS84 position.
"""

from __future__ import annotations

import json
from pathlib import Path

import coord_convert.transform as cc
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from gis.crs import metric_crs

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
GRIDS = DEMO / "grids.geojson"
BOUNDARY = DEMO / "boundary.geojson"
FORWARD = {"gcj02": cc.wgs2gcj, "bd09": cc.wgs2bd}

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def shifted(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat → ``crs`` by the published converter, point by point."""
    pairs = [FORWARD[crs](x, y) for x, y in zip(lon, lat, strict=True)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def true_grid(lon, lat, grids: gpd.GeoDataFrame) -> list[str | None]:
    """The code of the grid that covers each WGS84 point (shapely), None outside."""
    pts = shapely.points(lon, lat)
    codes = []
    for p in pts:
        hits = grids["code"][shapely.covers(grids.geometry.to_numpy(), p)].tolist()
        codes.append(min(hits) if hits else None)
    return codes


def clear_of_edges(lon, lat, grids: gpd.GeoDataFrame, metres: float = 1.0) -> np.ndarray:
    """True where a point is more than ``metres`` from every grid edge (no tie to break)."""
    crs = metric_crs(grids)
    edges = shapely.union_all(grids.to_crs(crs).boundary.to_numpy())
    pts = gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(crs)
    return pts.distance(edges).to_numpy() > metres


@pytest.fixture(scope="module")
def grids_gpkg(tmp_path_factory) -> Path:
    """The demo grids in a GeoPackage that declares EPSG:4326."""
    path = tmp_path_factory.mktemp("grids") / "grids.gpkg"
    gpd.read_file(GRIDS).to_file(path, driver="GPKG")
    assert gpd.read_file(path).crs.to_epsg() == 4326
    return path


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    table = pd.read_csv(DEMO / "houses.csv", dtype={"house_id": str})
    grids = gpd.read_file(GRIDS)
    keep = clear_of_edges(table["lon"], table["lat"], grids)
    table = table[keep].head(120).reset_index(drop=True)
    table["truth"] = true_grid(table["lon"], table["lat"], grids)
    assert table["truth"].notna().sum() > 50  # most demo houses are inside the grids
    return table


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_assign_converts_the_points_only_and_keeps_every_input_column(
    crs, ext, houses, grids_gpkg, tmp_path
):
    table = houses.drop(columns="truth").copy()
    table["lon"], table["lat"] = shifted(houses["lon"], houses["lat"], crs)
    src = tmp_path / f"points_{crs}.{ext}"
    if ext == "csv":
        table.to_csv(src, index=False)
    else:
        table.to_excel(src, index=False)
    out = tmp_path / "assigned.csv"
    result = run("assign", src, "--grids", grids_gpkg, "--input-crs", crs, "--out", out, "--json")
    assert result.exit_code == 0, result.output

    assigned = pd.read_csv(out, dtype={"house_id": str, "grid_code": str})
    assert list(assigned.columns) == [
        *table.columns, "grid_code", "outside", "lon_wgs84", "lat_wgs84"
    ]  # fmt: skip
    # the input columns as they were: the GCJ-02/BD-09 lon/lat are not overwritten
    assert np.allclose(assigned["lon"], table["lon"], rtol=0, atol=1e-9)
    assert np.allclose(assigned["lat"], table["lat"], rtol=0, atol=1e-9)
    assert (assigned["house_id"] == table["house_id"]).all()
    # the WGS84 position the grid was found for is the house's true position (within 5 cm)
    crs_m = metric_crs(gpd.read_file(GRIDS))
    found = gpd.GeoSeries(
        shapely.points(assigned["lon_wgs84"], assigned["lat_wgs84"]), crs=4326
    ).to_crs(crs_m)
    truth = gpd.GeoSeries(shapely.points(houses["lon"], houses["lat"]), crs=4326).to_crs(crs_m)
    assert found.distance(truth).max() < 0.05
    # and each lands in the grid holding its true position
    expected = houses["truth"].where(houses["truth"].notna(), None).tolist()
    got = assigned["grid_code"].where(assigned["grid_code"].notna(), None).tolist()
    assert got == expected
    assert (assigned["outside"] == houses["truth"].isna()).all()


def test_grids_drawn_in_gcj02_are_converted_with_grids_crs(houses, tmp_path):
    """A GeoJSON of grids traced on an Amap base map: --grids-crs gcj02, WGS84 points."""
    grids = gpd.read_file(GRIDS)

    def to_gcj(xy: np.ndarray) -> np.ndarray:
        return np.array([cc.wgs2gcj(x, y) for x, y in xy])

    gcj = grids.copy()
    gcj.geometry = shapely.transform(grids.geometry.to_numpy(), to_gcj)
    gcj_path = tmp_path / "grids_gcj.geojson"
    gcj.to_file(gcj_path, driver="GeoJSON")
    src = tmp_path / "points.csv"
    houses.drop(columns="truth").to_csv(src, index=False)

    out = tmp_path / "assigned.csv"
    result = run("assign", src, "--grids", gcj_path, "--grids-crs", "gcj02", "--out", out)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, dtype={"grid_code": str})["grid_code"]
    assert got.where(got.notna(), None).tolist() == houses["truth"].tolist()

    # without --grids-crs the same file is WGS84 (RFC 7946): hundreds of metres off
    result = run("assign", src, "--grids", gcj_path, "--out", out)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, dtype={"grid_code": str})["grid_code"]
    assert got.where(got.notna(), None).tolist() != houses["truth"].tolist()


def test_input_crs_does_not_apply_to_grids(houses, grids_gpkg, tmp_path):
    """WGS84 points and --input-crs wgs84 against grids in their file's CRS: the truth.

    And giving --grids-crs wgs84 to a GeoPackage that declares 4326 changes nothing.
    """
    src = tmp_path / "points.csv"
    houses.drop(columns="truth").to_csv(src, index=False)
    for extra in ((), ("--grids-crs", "wgs84")):
        out = tmp_path / "a.csv"
        result = run("assign", src, "--grids", grids_gpkg, "--input-crs", "wgs84", "--out", out,
                     *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        got = pd.read_csv(out, dtype={"grid_code": str})["grid_code"]
        assert got.where(got.notna(), None).tolist() == houses["truth"].tolist()


def test_assign_json_and_geojson_output_carry_wgs84_columns(houses, grids_gpkg, tmp_path):
    table = houses.drop(columns="truth").copy()
    table["lon"], table["lat"] = shifted(houses["lon"], houses["lat"], "gcj02")
    src = tmp_path / "p.csv"
    table.to_csv(src, index=False)
    out = tmp_path / "a.geojson"
    result = run("assign", src, "-g", grids_gpkg, "--input-crs", "gcj02", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points"] == len(table)
    back = gpd.read_file(out)
    # GeoJSON geometry is the WGS84 position, equal to the lon_wgs84/lat_wgs84 columns
    assert np.allclose(back.geometry.x, back["lon_wgs84"], atol=1e-12)
    assert np.allclose(back["lon"], table["lon"], atol=1e-9)  # the GCJ-02 column kept


# --- divide -----------------------------------------------------------------------------

OSM = DEMO / "osm_bund.gpkg"


def divide_args(houses_path: Path, out: Path, *extra) -> list:
    return [
        "divide", "--boundary", BOUNDARY, "--roads", OSM, "--roads-layer", "roads",
        "--houses", houses_path, "--buildings", OSM, "--buildings-layer", "buildings",
        "--target", "60", "--out", out, "--report", out.with_suffix(".csv"), "--json", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def divided_wgs84(tmp_path_factory) -> tuple[dict, gpd.GeoDataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("divide") / "wgs84.geojson"
    result = run(*divide_args(DEMO / "houses.csv", out))
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), gpd.read_file(out), pd.read_csv(out.with_suffix(".csv"))


def test_divide_summary_in_band_means_inside_the_band(divided_wgs84):
    """At target 60 some grids are one building of 100+ households: not in band."""
    summary, grids, report = divided_wgs84
    low, high = 0.8 * 60, 1.2 * 60
    inside = report["households"].between(low, high)
    assert summary["in_band"] == int(inside.sum()) < summary["grids"]
    assert summary["over_unsplittable"] == int((report["status"] == "over-unsplittable").sum()) > 0
    assert (
        summary["in_band"] + summary["under"] + summary["over"] + summary["over_unsplittable"]
        == summary["grids"]
        == len(grids)
    )
    # household counts are integers everywhere: JSON, report, grids file
    for key in ("households_min", "households_max"):
        assert type(summary[key]) is int
    assert summary["households_max"] == report["households"].max() > high
    assert pd.api.types.is_integer_dtype(report["households"])
    assert pd.api.types.is_integer_dtype(grids["households"])
    raw = json.loads(Path(summary["out"]).read_text(encoding="utf-8"))
    assert all(type(f["properties"]["households"]) is int for f in raw["features"])


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_divide_converts_the_houses_only(crs, divided_wgs84, tmp_path):
    """Houses in GCJ-02/BD-09 with --input-crs: the same division as with WGS84 houses.

    Boundary (GeoJSON), roads and buildings (GeoPackage, EPSG:4326) are not converted.
    """
    summary, grids, _ = divided_wgs84
    table = pd.read_csv(DEMO / "houses.csv")
    table["lon"], table["lat"] = shifted(table["lon"], table["lat"], crs)
    src = tmp_path / f"houses_{crs}.csv"
    table.to_csv(src, index=False)
    out = tmp_path / "shifted.geojson"
    result = run(*divide_args(src, out, "--input-crs", crs))
    assert result.exit_code in (0, 1), result.output
    again = gpd.read_file(out)
    assert json.loads(result.stdout)["grids"] == summary["grids"]
    assert again["households"].tolist() == grids["households"].tolist()
    crs_m = metric_crs(grids)
    moved = again.to_crs(crs_m).geometry.symmetric_difference(grids.to_crs(crs_m).geometry)
    assert moved.area.max() < 1.0  # m²: the same grids


# --- geocode ----------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_geocode_gazetteer_crs_is_input_crs_and_grids_keep_their_own(
    crs, houses, grids_gpkg, tmp_path
):
    gazetteer = houses.drop(columns="truth").copy()
    gazetteer["lon"], gazetteer["lat"] = shifted(houses["lon"], houses["lat"], crs)
    gaz_path = tmp_path / f"plates_{crs}.csv"
    gazetteer.to_csv(gaz_path, index=False)
    addresses = tmp_path / "addresses.csv"
    pd.DataFrame({"地址": houses["address"]}).to_csv(addresses, index=False)
    out = tmp_path / "geocoded.csv"
    result = run(
        "geocode", addresses, "--column", "地址", "--gazetteer", gaz_path, "--grids", grids_gpkg,
        "--input-crs", crs, "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, dtype={"grid_code": str})
    matched = got["match_level"] == "doorplate"
    assert matched.mean() > 0.9
    crs_m = metric_crs(gpd.read_file(GRIDS))
    found = gpd.GeoSeries(shapely.points(got["lon"][matched], got["lat"][matched]), crs=4326)
    truth = gpd.GeoSeries(shapely.points(houses["lon"][matched], houses["lat"][matched]), crs=4326)
    assert found.to_crs(crs_m).distance(truth.to_crs(crs_m)).max() < 0.05
    codes = got["grid_code"][matched]
    assert codes.where(codes.notna(), None).tolist() == houses["truth"][matched].tolist()


# --- patrol -----------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_patrol_track_crs_is_input_crs_and_grids_keep_their_own(crs, tmp_path):
    from tests.common import grids_frame, rect_m
    from tests.gis.test_patrol import (
        CODE_A,
        CODE_B,
        EXPECTED_A_S,
        EXPECTED_B_S,
        LEGS,
        MAY6_8AM,
        lonlat,
        walk,
    )

    grids = tmp_path / "grids.gpkg"
    grids_frame([CODE_A, CODE_B], [rect_m(0, 0, 100, 100), rect_m(100, 0, 200, 100)]).to_file(
        grids, driver="GPKG"
    )
    rows = ["time,lon,lat"]
    for t, x, y in walk(MAY6_8AM, LEGS):
        lon, lat = FORWARD[crs](*lonlat(x, y))
        rows.append(f"{t.isoformat()},{lon!r},{lat!r}")
    track = tmp_path / f"track_{crs}.csv"
    track.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = run("patrol", "hours", track, "--worker", "张三", "--grids", grids,
                 "--input-crs", crs, "--json")  # fmt: skip
    assert result.exit_code == 1, result.output  # a few minutes walked: the week is short
    hours = {d["grid_code"]: d["hours"] for d in json.loads(result.stdout)["days"]}
    assert hours == {CODE_A: round(EXPECTED_A_S / 3600, 3), CODE_B: round(EXPECTED_B_S / 3600, 3)}

    # --gcj02 and another --input-crs contradict each other
    if crs == "bd09":
        both = run("patrol", "hours", track, "--worker", "张三", "--grids", grids,
                   "--input-crs", crs, "--gcj02")  # fmt: skip
        assert both.exit_code == 2 and "contradicts" in both.stderr


# --- validate / repair ------------------------------------------------------------------


@pytest.fixture(scope="module")
def grids_gcj02_geojson(tmp_path_factory) -> Path:
    """The demo grids traced on an Amap base map: GCJ-02 lon/lat in a GeoJSON."""
    grids = gpd.read_file(GRIDS)
    gcj = grids.copy()
    gcj.geometry = shapely.transform(
        grids.geometry.to_numpy(), lambda xy: np.array([cc.wgs2gcj(x, y) for x, y in xy])
    )
    path = tmp_path_factory.mktemp("gcj") / "grids_gcj.geojson"
    gcj.to_file(path, driver="GeoJSON")
    return path


def test_validate_and_repair_convert_only_the_file_their_option_names(
    grids_gcj02_geojson, tmp_path
):
    base = ["validate", grids_gcj02_geojson, "--boundary", BOUNDARY, "--json"]
    assert run(*base).exit_code == 1  # read as WGS84 (RFC 7946): hundreds of metres off
    assert run(*base, "--grids-crs", "gcj02").exit_code == 0
    both = run(*base, "--grids-crs", "gcj02", "--boundary-crs", "gcj02")
    assert both.exit_code == 1  # the boundary was WGS84 all along
    out = tmp_path / "repaired.gpkg"
    result = run("repair", grids_gcj02_geojson, "--boundary", BOUNDARY, "--grids-crs", "gcj02",
                 "--out", out, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"] == []  # a valid division: nothing to repair
    repaired = gpd.read_file(out).set_index("code")
    truth = gpd.read_file(GRIDS).set_index("code")
    for code, geom in truth.geometry.items():
        assert shapely.hausdorff_distance(repaired.geometry[code], geom) < 1e-7  # ~1 cm
