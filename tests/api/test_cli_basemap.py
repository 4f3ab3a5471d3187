"""``wangge basemap build``: every source form builds, bad input exits 2 and writes nothing,
and ``--db`` adds the registry's door plates and nothing else of the registry.

Archives are read back by GDAL's PMTiles and MBTiles drivers (pyogrio).
"""

from __future__ import annotations

import gzip
import json
import re

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pmtiles.reader import MmapSource, all_tiles
from typer.testing import CliRunner

from api.cli import app
from api.services.demo import load_demo
from tests.mvt import gdal_layer
from tests.osm_fixture import DEMO_GPKG, EXTRA, osm_to_pbf, write_demo_osm

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("osm")
    osm = write_demo_osm(folder / "demo.osm")
    return {"osm": osm, "pbf": osm_to_pbf(osm, folder / "demo.osm.pbf"), "gpkg": DEMO_GPKG}


@pytest.mark.parametrize(("source", "suffix"), [("osm", "pmtiles"), ("pbf", "mbtiles"),
                                                ("gpkg", "pmtiles")])  # fmt: skip
def test_each_source_form_builds_an_archive(sources, tmp_path, source, suffix):
    out = tmp_path / f"base.{suffix}"
    result = run("basemap", "build", sources[source], "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == str(out) and summary["format"] == suffix
    assert (summary["minzoom"], summary["maxzoom"]) == (10, 16)
    assert summary["tiles"] > 0 and summary["bytes"] == out.stat().st_size
    assert summary["largest_tile_bytes"] <= 500 * 1024
    roads = gdal_layer(out, "roads", 16)
    assert {"中山东一路", "九江路", "圆明园路"} <= set(roads["name"])
    if source != "gpkg":
        assert set(gdal_layer(out, "pois", 16)["name"]) == {p["name"] for p in EXTRA["pois"]}
        assert set(gdal_layer(out, "landuse", 16)["name"]) == {EXTRA["park"]["name"]}


def test_zooms_and_bbox_bound_the_tiles(sources, tmp_path):
    out = tmp_path / "part.pmtiles"
    bbox = (121.484, 31.236, 121.489, 31.240)
    result = run("basemap", "build", sources["gpkg"], "--out", out, "--json", "--bbox",
                 ",".join(map(str, bbox)), "--minzoom", "13", "--maxzoom", "15")  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out, "rb") as f:
        zxy = [t for t, _ in all_tiles(MmapSource(f))]
    assert {z for z, _, _ in zxy} == {13, 14, 15}
    box = gpd.GeoSeries([shapely.box(*bbox)], crs=4326).to_crs(3857).iloc[0]
    buildings = gdal_layer(out, "buildings", 15)
    assert len(buildings) and buildings.geometry.intersects(box.buffer(700)).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/base.zip"], "unsupported tile archive .zip"),
        (["--out", "{tmp}/base.pmtiles", "--bbox", "1,2,3"], "W,S,E,N"),
        (["--out", "{tmp}/base.pmtiles", "--bbox", "10,2,3,4"], "W<E"),
        (["--out", "{tmp}/base.pmtiles", "--minzoom", "14", "--maxzoom", "12"], "zoom"),
        (["--out", "{tmp}/base.pmtiles", "--bbox", "0,0,0.01,0.01"], "no feature"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [a.replace("{tmp}", str(out_dir)) for a in args]
    result = run("basemap", "build", DEMO_GPKG, *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "输入错误" in result.output  # Chinese first, English beside it
    assert list(out_dir.iterdir()) == []


def test_bad_sources_exit_2(tmp_path):
    shp = tmp_path / "roads.shp"
    result = run("basemap", "build", shp, "--out", tmp_path / "b.pmtiles")
    assert result.exit_code == 2 and ".osm.pbf" in result.output
    result = run("basemap", "build", tmp_path / "gone.osm", "--out", tmp_path / "b.pmtiles")
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "b.pmtiles").exists()


def test_registry_door_plates_go_in_and_nothing_else(fresh_db_url, tmp_path):
    load_demo(db_url=fresh_db_url)
    houses = gpd.read_file(DEMO_GPKG.parent / "houses.csv")
    community = gpd.read_file(DEMO_GPKG.parent / "boundary.geojson")["code"].iloc[0]
    out = tmp_path / "plates.pmtiles"
    result = run("basemap", "build", DEMO_GPKG, "--out", out, "--db", fresh_db_url,
                 "--community", community, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    plates = gdal_layer(out, "addresses", 16)
    assert set(plates.columns) <= {"mvt_id", "number", "street", "geometry"}
    registry = set(zip(houses["road"], houses["number"].astype(str), strict=True))
    served = set(zip(plates["street"], plates["number"], strict=False))
    assert registry <= served
    # a registry plate sits where the house is (GDAL gives EPSG:3857)
    first = houses.iloc[0]
    at = gpd.GeoSeries([shapely.Point(float(first["lon"]), float(first["lat"]))], crs=4326)
    mine = plates[(plates["street"] == first["road"]) & (plates["number"] == first["number"])]
    assert mine.geometry.distance(at.to_crs(3857).iloc[0]).min() < 0.5
    # owners, types, uses, households: the registry added none of it to any tile
    without = tmp_path / "osm_only.pmtiles"
    assert run("basemap", "build", DEMO_GPKG, "--out", without).exit_code == 0
    with_db, osm_only = _tile_text(out), _tile_text(without)
    for column in ("owner", "house_type", "use", "floor_area_m2", "house_id"):
        for value in houses[column].astype(str).unique():
            assert (value in with_db) == (value in osm_only), (column, value)
    assert "floor_area" not in with_db and "households" not in with_db
    assert [n for n, _ in pyogrio.list_layers(out)]  # GDAL opens it


def _tile_text(archive) -> str:
    with open(archive, "rb") as f:
        blob = b"".join(gzip.decompress(d) for _, d in all_tiles(MmapSource(f)))
    return blob.decode("utf-8", errors="ignore")


def test_unknown_community_exits_2(fresh_db_url, tmp_path):
    result = run("basemap", "build", DEMO_GPKG, "--out", tmp_path / "b.pmtiles", "--db",
                 fresh_db_url, "--community", "nowhere")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "b.pmtiles").exists()


def test_serve_refuses_an_unusable_base_map(tmp_path):
    """Exit 2 before the server starts: a missing archive, a foreign extension, a bad file."""
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    result = run("serve", "--db", db, "--basemap", tmp_path / "missing.pmtiles")
    assert result.exit_code == 2 and "no such file" in result.output
    result = run("serve", "--db", db, "--basemap", DEMO_GPKG)
    assert result.exit_code == 2 and "unsupported tile archive" in " ".join(result.output.split())
    bad = tmp_path / "bad.pmtiles"
    bad.write_bytes(b"not an archive" * 20)
    result = run("serve", "--db", db, "--basemap", bad)
    assert result.exit_code == 2 and "not a PMTiles v3 file" in result.output


def test_without_json_a_progress_bar_counts_the_tiles(tmp_path):
    out = tmp_path / "base.pmtiles"
    result = run("basemap", "build", DEMO_GPKG, "--out", out)
    assert result.exit_code == 0, result.output
    done = re.search(r"cutting tiles .* (\d+)/(\d+)", result.output)
    assert done and done.group(1) == done.group(2)  # every tile cut
    summary = re.search(
        r"→ .*base\.pmtiles \(pmtiles, z10–16\): (\d+) 个瓦片 / tiles", result.output
    )
    assert summary and 0 < int(summary.group(1)) <= int(done.group(2))
