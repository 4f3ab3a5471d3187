"""``wangge validate --json`` of GeoParquet/GeoPackage files: the path that reads them without
pandas or geopandas (gis.io.grid_layers, gis.coverage.validate_arrays) prints exactly the
bytes the general path (gis.io.read_layer, gis.coverage.validate on frames) prints.

Divisions are drawn by Hypothesis: Voronoi tilings of rotated squares in projected CRSs
(CGCS2000 Gauss-Krüger, UTM, Web Mercator) with a planted gap, overlap or outside piece, a
duplicated and a missing code, kept projected or converted to WGS84/CGCS2000 lon/lat; and
every planted case of tests/common.py (invalid, multipart, holes, slivers…) in lon/lat. The
general path is forced by making the light reader decline, as it does for any file it does
not read exactly.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gis.io.grid_layers
from api.cli import app
from gis.io.grid_layers import read_grid_layer
from tests.api.projected_tilings import TILINGS
from tests.common import planted_cases

runner = CliRunner()


def _run(grids: Path, boundary: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(grids), "--boundary", str(boundary), "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, result.stdout


def _both_paths(grids: Path, boundary: Path, monkeypatch) -> tuple[tuple, tuple]:
    """(exit code, stdout) of the light path and of the general path on the same files."""
    # the light reader answers for both files: the first run is the light path
    assert read_grid_layer(grids, code_field="code", keep_projected=True) is not None
    assert read_grid_layer(boundary, code_field=None, keep_projected=True) is not None
    light = _run(grids, boundary)
    with monkeypatch.context() as patch:
        patch.setattr(gis.io.grid_layers, "read_grid_layer", lambda *a, **k: None)
        general = _run(grids, boundary)
    return light, general


def _write(grids, boundary, folder: Path, ext: str) -> tuple[Path, Path]:
    paths = folder / f"grids{ext}", folder / f"boundary{ext}"
    for frame, path in zip((grids, boundary), paths, strict=True):
        if ext == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_file(path, driver="GPKG")
    return paths


@settings(max_examples=12, deadline=None)
@given(t=TILINGS, lonlat=st.sampled_from([None, 4326, 4490]), codes=st.booleans())
def test_light_path_prints_the_general_paths_bytes_on_drawn_divisions(t, lonlat, codes):
    grids, boundary = t.grids.copy(), t.boundary
    if codes:  # a duplicated and a missing code
        grids.loc[grids.index[1], "code"] = grids["code"].iloc[0]
        grids.loc[grids.index[2], "code"] = None
    if lonlat is not None:
        grids, boundary = grids.to_crs(lonlat), boundary.to_crs(lonlat)
    exts = [".parquet"] if lonlat is None else [".parquet", ".gpkg"]
    with pytest.MonkeyPatch.context() as monkeypatch, tempfile.TemporaryDirectory() as tmp:
        for ext in exts:
            folder = Path(tmp) / ext.strip(".")
            folder.mkdir()
            light, general = _both_paths(*_write(grids, boundary, folder, ext), monkeypatch)
            assert light == general
            found = json.loads(light[1])["findings"]
            if t.defect != "none" or codes:
                assert found, "a planted defect is found"


def _drawn_cases() -> list[str]:
    """The planted cases whose every grid has a geometry (read_layer refuses the others)."""
    return sorted(
        name
        for name, case in planted_cases().items()
        if not (case.grids.geometry.isna() | case.grids.geometry.is_empty).any()
    )


@pytest.mark.parametrize("name", _drawn_cases())
def test_light_path_prints_the_general_paths_bytes_on_planted_cases(name, tmp_path, monkeypatch):
    case = planted_cases()[name]
    paths = _write(case.grids, case.boundary, tmp_path, ".parquet")
    light, general = _both_paths(*paths, monkeypatch)
    assert light == general
    assert light[0] == (1 if case.expected else 0)
