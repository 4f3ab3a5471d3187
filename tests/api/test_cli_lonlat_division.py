"""The issue's lon/lat divisions through the real ``wangge`` command, on both databases.

Four rectangles tiling a 500 m square and a 2 km 5 × 5 split, drawn in lon/lat with their
corners only (a T-junction wherever a cut ends on a longer edge), as GeoJSON files:
``validate`` says VALID, ``load division`` stores them, ``repair`` changes nothing. And a
division drawn in a projected CRS is judged there by ``load division``, before it is
converted to lon/lat for storage.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import init_db, make_engine, session_factory
from api.services.divisions import load_division
from gis.coverage import is_valid_division
from tests.gis.test_coverage_lonlat import four_rectangles, split_5x5

runner = CliRunner()


@pytest.fixture(params=[four_rectangles, split_5x5], ids=["2x2_500m", "5x5_2km"])
def files(request, tmp_path):
    grids, boundary = request.param(121.49, 31.24)
    grids_path, boundary_path = tmp_path / "grids.geojson", tmp_path / "boundary.geojson"
    grids.to_file(grids_path, driver="GeoJSON")
    gpd.GeoDataFrame(geometry=boundary).to_file(boundary_path, driver="GeoJSON")
    return grids_path, boundary_path, len(grids)


def test_validate_load_and_repair_accept_an_exact_lonlat_division(files, fresh_db_url, tmp_path):
    grids_path, boundary_path, n = files
    checked = runner.invoke(
        app, ["validate", str(grids_path), "--boundary", str(boundary_path), "--json"]
    )
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["valid"] is True and report["findings"] == []

    loaded = runner.invoke(
        app,
        ["load", "division", str(grids_path), "--boundary", str(boundary_path),
         "--community", "经纬度社区", "--db", fresh_db_url, "--json"],
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["grids"] == n
    engine = make_engine(fresh_db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM grids")).scalar_one()
    finally:
        engine.dispose()
    assert stored == n

    out = tmp_path / "repaired.geojson"
    fixed = runner.invoke(
        app,
        ["repair", str(grids_path), "--boundary", str(boundary_path), "--out", str(out), "--json"],
    )
    assert fixed.exit_code == 0, fixed.output
    payload = json.loads(fixed.stdout)
    assert payload["valid"] is True and payload["changes"] == []
    before = gpd.read_file(grids_path).geometry.to_numpy()
    after = gpd.read_file(out).geometry.to_numpy()
    assert shapely.equals_exact(after, before, tolerance=0).all()


def test_load_division_judges_a_projected_file_in_its_own_plane(fresh_db_url):
    # a 5 km guillotine split drawn in EPSG:4549 (corners only): exact there; its 5 km edges
    # would bow by centimetres if judged after conversion to lon/lat
    x, y, size = 642_000.0, 3_459_000.0, 5_000.0
    cuts = [(0, 0, 0.4, 0.5), (0.4, 0, 1, 0.5), (0, 0.5, 0.6, 1), (0.6, 0.5, 1, 1)]
    geoms = [
        shapely.box(x + a * size, y + b * size, x + c * size, y + d * size) for a, b, c, d in cuts
    ]
    grids = gpd.GeoDataFrame(
        {"code": [f"310109012003{k:03d}" for k in range(1, 5)]}, geometry=geoms, crs=4549
    )
    boundary = gpd.GeoDataFrame(geometry=[shapely.box(x, y, x + size, y + size)], crs=4549)
    in_lonlat = gpd.GeoDataFrame(grids.to_crs(4326))  # the same corners, straight in lon/lat
    assert not is_valid_division(in_lonlat, boundary.to_crs(4326))  # the premise
    engine = make_engine(fresh_db_url)
    init_db(engine)
    try:
        with session_factory(engine)() as session:
            result = load_division(session, grids=grids, boundary=boundary, community="平面社区")
            assert result["valid"] and result["stored"], result["kinds"]
    finally:
        engine.dispose()
