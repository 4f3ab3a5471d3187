"""GeoParquet (and plain Parquet) out of the commands that write tables, read back by pyarrow
and geopandas on their own: the ``geo`` metadata is there, the CRS is stored, and the rows are
those the same command writes in another format."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from api.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
runner = CliRunner()


def _run(*args) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 1), result.output


def _geo(path: Path) -> dict:
    return json.loads(pq.read_schema(path).metadata[b"geo"])


def test_assign_writes_geoparquet_with_the_rows_of_its_csv(tmp_path):
    args = ["assign", DEMO / "houses.csv", "--grids", DEMO / "grids.geojson"]
    _run(*args, "--out", tmp_path / "a.parquet")
    _run(*args, "--out", tmp_path / "a.csv")
    geo = _geo(tmp_path / "a.parquet")
    assert geo["primary_column"] == "geometry" and geo["columns"]["geometry"]["encoding"] == "WKB"
    back = gpd.read_parquet(tmp_path / "a.parquet")
    assert back.crs.to_epsg() == 4326
    csv = pd.read_csv(tmp_path / "a.csv", dtype={"grid_code": str})
    assert back["grid_code"].fillna("").tolist() == csv["grid_code"].fillna("").tolist()
    assert (back.geometry.x.to_numpy() == csv["lon_wgs84"].to_numpy()).all()


def test_validate_findings_as_geoparquet_match_the_geojson(tmp_path):
    args = ["validate", DEMO / "grids_defective.geojson", "--boundary", DEMO / "boundary.geojson"]
    _run(*args, "--out", tmp_path / "f.parquet")
    _run(*args, "--out", tmp_path / "f.geojson")
    assert _geo(tmp_path / "f.parquet")["columns"]["geometry"]["crs"] is not None
    back = gpd.read_parquet(tmp_path / "f.parquet")
    features = json.loads((tmp_path / "f.geojson").read_text(encoding="utf-8"))["features"]
    assert back["kind"].tolist() == [f["properties"]["kind"] for f in features]
    assert [list(c) for c in back["grid_codes"]] == [
        f["properties"]["grid_codes"] for f in features
    ]
    assert back.crs.to_epsg() == 4326


def test_balance_report_as_parquet_has_the_rows_of_its_csv(tmp_path):
    args = ["balance", DEMO / "grids.geojson", "--houses", DEMO / "houses.csv", "--target", "450"]
    _run(*args, "--out", tmp_path / "r.parquet")
    _run(*args, "--out", tmp_path / "r.csv")
    parquet = pq.read_table(tmp_path / "r.parquet").to_pandas()
    csv = pd.read_csv(tmp_path / "r.csv", dtype={"code": str})
    assert parquet["code"].tolist() == csv["code"].tolist()
    assert parquet["households"].tolist() == csv["households"].tolist()


def test_gazetteer_as_parquet_is_a_point_table_the_geocoder_reads(tmp_path):
    gpkg = DEMO / "osm_bund.gpkg"
    _run("gazetteer", "build", "--from", gpkg, "--out", tmp_path / "g.parquet")
    _run("gazetteer", "build", "--from", gpkg, "--out", tmp_path / "g.csv")
    parquet = pd.read_parquet(tmp_path / "g.parquet")
    csv = pd.read_csv(tmp_path / "g.csv", dtype=str)
    assert parquet["address"].tolist() == csv["address"].tolist()
    first = parquet.iloc[0]
    table = tmp_path / "a.csv"
    pd.DataFrame({"地址": [f"上海{first['road']}{first['number']}"]}).to_csv(table, index=False)
    _run("geocode", table, "--column", "地址", "--gazetteer", tmp_path / "g.parquet",
         "--road-column", "road", "--out", tmp_path / "r.parquet")  # fmt: skip
    assert pd.read_parquet(tmp_path / "r.parquet")["matched_address"][0] == first["address"]
