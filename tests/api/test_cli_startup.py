"""Start-up of ``wangge``: a command imports what it needs, when it needs it.

Each case runs the command in a fresh interpreter (pytest has long since imported
everything, which would hide a regression) and lists the heavy packages in ``sys.modules``
when the command has finished. Help and file-only commands must not load the database
layer, the web stack, map rendering or SciPy; ``--help`` not even pandas or geopandas. Not
timed: a module that comes back at start-up fails the test whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from tests.conftest import expected_code

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"

DATABASE_AND_WEB = ("sqlalchemy", "geoalchemy2", "alembic", "fastapi", "starlette", "uvicorn")
RENDERING = ("folium", "matplotlib")
HEAVY_FOR_FILES = (*DATABASE_AND_WEB, *RENDERING)
HEAVY_FOR_HELP = (*HEAVY_FOR_FILES, "scipy", "pandas", "geopandas", "pyproj")

PROBE = """
import json, os, sys
from api.cli import app
code = 0
try:
    app(sys.argv[1:], prog_name="wangge")
except SystemExit as exc:
    code = exc.code
top = sorted({name.split(".")[0] for name in sys.modules})
cli = sorted(name for name in sys.modules if name.startswith("api.cli."))
with open(os.environ["WANGGE_PROBE_OUT"], "w") as f:
    json.dump({"exit": code, "modules": top, "cli": cli, "all": sorted(sys.modules)}, f)
"""


def probe(args: list[str], tmp_path: Path) -> dict:
    """Run ``wangge ARGS`` in a fresh interpreter; return its exit code (``exit``), top-level
    modules (``modules``), ``api.cli`` modules (``cli``) and every module (``all``)."""
    result = tmp_path / "probe.json"
    env = {**os.environ, "WANGGE_PROBE_OUT": str(result)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.is_file(), proc.stderr[-3000:]
    return json.loads(result.read_text())


def loaded_by(args: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    """Run ``wangge ARGS`` in a fresh interpreter; return its exit code and top-level modules."""
    found = probe(args, tmp_path)
    return found["exit"], set(found["modules"])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["assign", "--help"],
        ["validate", "--help"],
        ["geocode", "--help"],
        ["import", "--help"],
        ["serve", "--help"],
    ],
    ids=" ".join,
)
def test_help_loads_no_heavy_package(args, tmp_path):
    code, modules = loaded_by(args, tmp_path)
    assert code == 0
    assert modules.isdisjoint(HEAVY_FOR_HELP), sorted(modules & set(HEAVY_FOR_HELP))


# what every command module may share (api.cli.options, output, inputs, ...)
SHARED_CLI = {f"api.cli.{name}" for name in ("options", "output", "inputs", "database", "engine")}


def test_root_help_imports_no_command_module_and_no_settings(tmp_path):
    """``wangge --help`` lists every command from the root's table: no command module is
    imported, nor the settings (pydantic-settings), which only a command reading files needs."""
    found = probe(["--help"], tmp_path)
    assert found["exit"] == 0
    assert set(found["cli"]) <= SHARED_CLI, found["cli"]
    assert {"api.core.config", "pydantic_settings"}.isdisjoint(found["all"])


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (["assign", "--help"], "assign"),
        (["geocode", "--help"], "geocode"),
        (["geocode-eval", "--help"], "geocode"),
        (["balance", "--help"], "divide"),
        (["incidents", "inbox", "--help"], "incidents"),
        (["db", "--help"], "db"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_command_imports_only_its_own_command_module(args, module, tmp_path):
    found = probe(args, tmp_path)
    assert found["exit"] == 0
    assert set(found["cli"]) - SHARED_CLI == {f"api.cli.{module}"}, found["cli"]
    assert {"api.core.config", "pydantic_settings"}.isdisjoint(found["all"])


def test_probe_sees_what_a_command_loads(tmp_path):
    """The probe is not blind: a database command does load the database layer."""
    db = tmp_path / "w.db"
    code, modules = loaded_by(["audit", "verify", "--db", f"sqlite:///{db}"], tmp_path)
    assert code == 0 and {"sqlalchemy", "geoalchemy2"} <= modules


def test_file_only_assign_loads_no_database_web_rendering_or_scipy(tmp_path):
    houses = pd.read_csv(DEMO / "houses.csv", encoding="utf-8-sig").head(50)
    points = tmp_path / "houses.csv"
    houses.to_csv(points, index=False)
    out = tmp_path / "assigned.csv"
    code, modules = loaded_by(
        ["assign", str(points), "--grids", str(DEMO / "grids.geojson"), "--out", str(out)],
        tmp_path,
    )
    assert code == 0
    heavy = {*HEAVY_FOR_FILES, "scipy"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)
    got = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    grids = gpd.read_file(DEMO / "grids.geojson")
    want = [
        expected_code(grids, shapely.Point(float(x), float(y))) or ""
        for x, y in zip(got["lon_wgs84"], got["lat_wgs84"], strict=True)
    ]
    assert got["grid_code"].tolist() == want


@pytest.mark.parametrize("grids_format", ["gpkg", "parquet"])
def test_assign_of_a_point_table_to_grids_of_a_geopackage_loads_no_pandas(tmp_path, grids_format):
    """A CSV of points and a GeoPackage or GeoParquet of grids: the grids are read by
    gis.io.grid_layers and every table stays in Arrow, so neither pandas nor geopandas nor
    GDAL is imported. The grids written are those of the points (brute force)."""
    houses = pd.read_csv(DEMO / "houses.csv", encoding="utf-8-sig").head(50)
    points = tmp_path / "houses.csv"
    houses.to_csv(points, index=False)
    grids = gpd.read_file(DEMO / "grids.geojson")
    grid_file = tmp_path / f"grids.{grids_format}"
    if grids_format == "gpkg":
        grids.to_file(grid_file)
    else:
        grids.to_parquet(grid_file)
    out = tmp_path / "assigned.csv"
    code, modules = loaded_by(
        ["assign", str(points), "--grids", str(grid_file), "--out", str(out)], tmp_path
    )
    assert code == 0
    heavy = {*HEAVY_FOR_FILES, "scipy", "pandas", "geopandas", "pyogrio"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)
    got = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    want = [
        expected_code(grids, shapely.Point(float(x), float(y))) or ""
        for x, y in zip(got["lon_wgs84"], got["lat_wgs84"], strict=True)
    ]
    assert got["grid_code"].tolist() == want


def test_file_only_validate_loads_no_database_web_or_rendering(tmp_path):
    code, modules = loaded_by(
        [
            "validate",
            str(DEMO / "grids.geojson"),
            "--boundary",
            str(DEMO / "boundary.geojson"),
            "--json",
        ],
        tmp_path,
    )
    assert code == 0
    heavy = {*HEAVY_FOR_FILES, "scipy"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)


@pytest.mark.parametrize("epsg", [4326, 4549])
def test_validate_of_a_geoparquet_division_loads_no_pandas(tmp_path, epsg):
    """A GeoParquet division (lon/lat, or projected and judged as drawn) and its boundary:
    read by gis.io.grid_layers and validated as arrays, so neither pandas nor geopandas nor
    GDAL is imported. The demo division is valid: exit 0."""
    grids, boundary = tmp_path / "grids.parquet", tmp_path / "boundary.parquet"
    gpd.read_file(DEMO / "grids.geojson").to_crs(epsg).to_parquet(grids)
    gpd.read_file(DEMO / "boundary.geojson").to_crs(epsg).to_parquet(boundary)
    code, modules = loaded_by(
        ["validate", str(grids), "--boundary", str(boundary), "--json"], tmp_path
    )
    assert code == 0
    heavy = {*HEAVY_FOR_FILES, "scipy", "pandas", "geopandas", "pyogrio"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)


def test_import_houses_from_csv_loads_no_frames_workbooks_or_migrations(tmp_path):
    """Importing a CSV register into a database at head needs neither geopandas nor pandas
    (the houses' grids are found over arrays), openpyxl (no workbook), Alembic (the schema
    is known to be current) nor pyogrio (SpatiaLite's guard loads GDAL's library only)."""
    from tests.api.test_import import COMMUNITY, demo_frames, store_demo, write_csv

    url = f"sqlite:///{tmp_path / 'w.db'}"
    store_demo(url, demo_frames())
    rows = [{"门牌号码": f"启动路{i}号", "经度": 121.484, "纬度": 31.2398} for i in range(3)]
    path = write_csv(tmp_path / "h.csv", rows)
    code, modules = loaded_by(
        ["import", "houses", str(path), "--community", COMMUNITY, "--db", url], tmp_path
    )
    assert code == 0
    assert {"sqlalchemy", "geoalchemy2", "shapely"} <= modules
    heavy = {"geopandas", "pandas", "openpyxl", "alembic", "pyogrio", "fastapi", "scipy"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)


def test_file_only_geocode_loads_no_database_web_rendering_or_scipy(tmp_path):
    """A table of door-plate addresses needs no distances: no SciPy (the gazetteer's k-d tree
    and metric view are made when first needed). The grids written are those of the points."""
    houses = pd.read_csv(DEMO / "houses.csv", encoding="utf-8-sig").head(40)
    addresses = tmp_path / "addresses.csv"
    houses[["house_id", "address"]].to_csv(addresses, index=False)
    out = tmp_path / "geocoded.csv"
    code, modules = loaded_by(
        ["geocode", str(addresses), "--column", "address", "--gazetteer",
         str(DEMO / "houses.csv"), "--grids", str(DEMO / "grids.geojson"), "--out", str(out)],
        tmp_path,
    )  # fmt: skip
    assert code == 0
    heavy = {*HEAVY_FOR_FILES, "scipy"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)
    got = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(got["match_level"]) == ["doorplate"] * len(houses)
    grids = gpd.read_file(DEMO / "grids.geojson")
    want = [
        expected_code(grids, shapely.Point(float(x), float(y))) or ""
        for x, y in zip(got["lon"], got["lat"], strict=True)
    ]
    assert got["grid_code"].tolist() == want
