"""Files as planners bring them, through the real ``wangge`` app: several layers (GeoPackage,
KML), a ``.cpg`` that names no encoding, Shapefile exports that would lose text."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from api.cli import app

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
GRIDS = DEMO / "grids.geojson"
BOUNDARY = DEMO / "boundary.geojson"

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def said(result) -> str:
    return " ".join(result.output.split())


def kml_with_folders(path: Path, folders: dict[str, gpd.GeoDataFrame]) -> Path:
    """A KML document with one <Folder> per layer (what Google Earth or a GIS exports)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>']  # fmt: skip
    for name, frame in folders.items():
        parts.append(f"<Folder><name>{escape(name)}</name>")
        for row in frame.itertuples():
            ring = " ".join(f"{x!r},{y!r}" for x, y in row.geometry.exterior.coords)
            parts.append(
                f"<Placemark><name>{escape(row.name)}</name><ExtendedData>"
                f'<Data name="code"><value>{row.code}</value></Data></ExtendedData>'
                f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates>"
                "</LinearRing></outerBoundaryIs></Polygon></Placemark>"
            )
        parts.append("</Folder>")
    parts.append("</Document></kml>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    frame = gpd.read_file(GRIDS)
    assert (frame.geom_type == "Polygon").all()
    return frame


@pytest.fixture(scope="module")
def two_layer_gpkg(grids, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gpkg") / "plan.gpkg"
    grids.to_file(path, layer="grids", driver="GPKG")
    grids.head(3).to_file(path, layer="draft", driver="GPKG")
    gpd.read_file(BOUNDARY).to_file(path, layer="boundary", driver="GPKG")
    return path


def test_validate_names_the_layers_and_takes_layer_options(two_layer_gpkg):
    result = run("validate", two_layer_gpkg, "--boundary", BOUNDARY)
    assert result.exit_code == 2
    assert "several layers, choose one with --layer: grids, draft, boundary" in said(result)
    result = run("validate", two_layer_gpkg, "--layer", "grids", "--boundary", two_layer_gpkg)
    assert result.exit_code == 2 and "--boundary-layer" in said(result)
    result = run("validate", two_layer_gpkg, "--layer", "grids", "--boundary", two_layer_gpkg,
                 "--boundary-layer", "boundary", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run("validate", two_layer_gpkg, "--layer", "roads", "--boundary", BOUNDARY)
    assert result.exit_code == 2 and "no layer 'roads'; layers: grids, draft, boundary" in (
        said(result)
    )


def test_kml_with_several_folders_needs_layer_and_keeps_names(grids, tmp_path):
    kml = kml_with_folders(tmp_path / "plan.kml", {"网格": grids, "草稿": grids.head(2)})
    result = run("validate", kml, "--boundary", BOUNDARY)
    assert result.exit_code == 2 and "--layer: 网格, 草稿" in said(result)
    result = run("validate", kml, "--layer", "网格", "--boundary", BOUNDARY, "--json")
    assert result.exit_code == 0, result.output
    # assign reads the KML grids' Placemark names too (GDAL's 'Name')
    points = tmp_path / "p.csv"
    p = grids.geometry.iloc[0].representative_point()
    pd.DataFrame({"id": ["a"], "lon": [p.x], "lat": [p.y]}).to_csv(points, index=False)
    out = tmp_path / "a.csv"
    result = run("assign", points, "--grids", kml, "--grids-layer", "网格", "--out", out)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype=str)["grid_code"].tolist() == [grids["code"].iloc[0]]
    result = run("assign", points, "--grids", kml, "--out", out)
    assert result.exit_code == 2 and "--grids-layer: 网格, 草稿" in said(result)


def test_assign_points_layer_option_names_itself(grids, tmp_path):
    path = tmp_path / "pts.gpkg"
    pts = gpd.GeoDataFrame({"id": ["a"]}, geometry=[grids.geometry.iloc[1].centroid], crs=4326)
    pts.to_file(path, layer="houses", driver="GPKG")
    pts.to_file(path, layer="shops", driver="GPKG")
    out = tmp_path / "a.csv"
    result = run("assign", path, "--grids", GRIDS, "--out", out)
    assert result.exit_code == 2 and "--layer: houses, shops" in said(result)
    result = run("assign", path, "--layer", "shops", "--grids", GRIDS, "--out", out)
    assert result.exit_code == 0, result.output


def test_ansi_cpg_is_read_as_gbk_with_a_printed_warning(grids, tmp_path):
    """ArcGIS writes 'ANSI' in the .cpg for the Windows code page (GBK on Chinese Windows)."""
    path = tmp_path / "houses.shp"
    pts = gpd.GeoDataFrame(
        {"address": ["九江路1号", "滇池路16号"]},
        geometry=[grids.geometry.iloc[0].centroid, grids.geometry.iloc[1].centroid],
        crs=4326,
    )
    pyogrio.write_dataframe(pts, path, encoding="GBK")
    (tmp_path / "houses.cpg").write_text("ANSI", encoding="ascii")
    out = tmp_path / "a.csv"
    result = run("assign", path, "--grids", GRIDS, "--out", out)
    assert result.exit_code == 0, result.output
    assert "'ANSI'" in said(result) and "GBK" in said(result)  # the warning, on stderr
    assert "warning" in result.stderr
    assert pd.read_csv(out, encoding="utf-8-sig")["address"].tolist() == ["九江路1号", "滇池路16号"]


def test_shapefile_output_that_would_truncate_exits_2_unless_allowed(grids, tmp_path):
    src = tmp_path / "p.csv"
    p = grids.geometry.iloc[0].representative_point()
    pd.DataFrame({"id": ["a"], "备注": ["很长的说明" * 20], "lon": [p.x], "lat": [p.y]}).to_csv(
        src, index=False
    )
    out = tmp_path / "a.shp"
    result = run("assign", src, "--grids", GRIDS, "--out", out)
    assert result.exit_code == 2
    text = said(result)
    assert "truncate" in text and "'备注'" in text
    assert ".gpkg" in text and "--allow-truncate" in text
    assert not out.exists()
    result = run("assign", src, "--grids", GRIDS, "--out", out, "--allow-truncate")
    assert result.exit_code == 0, result.output
    back = gpd.read_file(out)
    assert back["备注"].iloc[0] == ("很长的说明" * 20)[:84]  # whole characters, 252 bytes
    assert back["grid_code"].tolist() == [grids["code"].iloc[0]]
    gpkg = tmp_path / "a.gpkg"
    assert run("assign", src, "--grids", GRIDS, "--out", gpkg).exit_code == 0
    assert gpd.read_file(gpkg)["备注"].iloc[0] == "很长的说明" * 20
