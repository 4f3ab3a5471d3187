"""``wangge assign`` from GeoParquet to GeoParquet streams a batch of rows at a time.

The streamed output is compared with the whole-table path (``read_layer``, ``assign_points``,
``write_layer``: what the command did before it streamed), column by column at the Arrow
level, and its grid codes with the rule computed by brute force (``shapely.covers`` over an
STRtree, the smallest code winning). Files are generated (the bench's tiling with points
on shared edges and vertices, plus points outside) in the forms that take the direct route
(plain 2D WKB points read from their bytes) and those that take the general one (a CRS to
convert, Z coordinates, big-endian WKB, values pandas would change). The Dask path is
compared with the streamed one point for point in ``test_dask_assign.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from gis.assign import assign_points
from gis.assign_parquet import _wkb_points_xy, assign_geoparquet
from gis.io import ReadLimits, read_layer, use_read_limits, write_layer
from tests.gis.scaled_points import build_scaled, houses_with_outside, truth

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _whole_table(points: Path, grids: Path, out: Path, input_crs: str | None = None) -> None:
    """What ``wangge assign`` did before it streamed: the whole table read, joined, written."""
    with use_read_limits(ReadLimits(max_rows=None)):
        point_frame = read_layer(
            points, input_crs=input_crs, geometry_type="point", keep_file_coordinates=True
        )
        grid_frame = read_layer(grids, geometry_type="polygon")
    codes = assign_points(point_frame, grid_frame)
    result = point_frame.copy()
    result["grid_code"] = codes.astype(object).where(codes.notna(), None)
    result["outside"] = codes.isna().to_numpy()
    wgs84 = np.asarray(result.geometry.to_crs(4326).values)
    result["lon_wgs84"], result["lat_wgs84"] = shapely.get_x(wgs84), shapely.get_y(wgs84)
    write_layer(result, out)


def _cli(points: Path, grids: Path, out: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["assign", str(points), "--grids", str(grids), "--out", str(out),
                                 "--json", *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _assert_same_file_content(got: Path, want: Path) -> None:
    """Same columns, Arrow types and values (geometry as WKB bytes); same GeoParquet primary
    column, encoding, geometry types and CRS."""
    a, b = pq.read_table(got), pq.read_table(want)
    assert a.column_names == b.column_names
    for name in b.column_names:
        assert a.schema.field(name).type == b.schema.field(name).type, name
        assert a.column(name).combine_chunks().equals(b.column(name).combine_chunks()), name
    geo_a, geo_b = (json.loads(t.schema.metadata[b"geo"]) for t in (a, b))
    assert geo_a["primary_column"] == geo_b["primary_column"]
    column_a = geo_a["columns"][geo_a["primary_column"]]
    column_b = geo_b["columns"][geo_b["primary_column"]]
    for key in ("encoding", "geometry_types"):
        assert column_a[key] == column_b[key], key
    assert gpd.read_parquet(got).crs.equals(gpd.read_parquet(want).crs)
    pd.testing.assert_frame_equal(gpd.read_parquet(got), gpd.read_parquet(want))


def _with_extra_columns(houses: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    houses = houses.copy()
    houses["floors"] = rng.integers(1, 30, len(houses))
    houses["ratio"] = rng.uniform(0, 1, len(houses))
    houses["estate"] = [f"小区{i % 13}" for i in range(len(houses))]
    return houses


def _as_form(houses: gpd.GeoDataFrame, form: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The points in one of the file forms, and the command-line options that go with it."""
    houses = houses.copy()
    if form == "cgcs2000":  # lon/lat of another datum: read as they are, converted for *_wgs84
        return houses.set_crs(4490, allow_override=True), []
    if form == "projected":  # metres: the reader converts them to lon/lat
        return houses.to_crs(4549), []
    if form == "z":
        geoms = houses.geometry.to_numpy()
        z = shapely.points(shapely.get_x(geoms), shapely.get_y(geoms), np.arange(len(geoms)))
        return houses.set_geometry(z), []
    if form == "nan_and_nulls":  # pandas writes NaN back as null, ints with nulls as floats
        houses.loc[houses.index[::50], "ratio"] = np.nan
        houses["floors"] = houses["floors"].astype("Int64")
        houses.loc[houses.index[::70], "floors"] = pd.NA
        return houses, []
    if form == "gcj02":  # GCJ-02 lon/lat said by --input-crs: converted to WGS84
        return houses.set_crs(None, allow_override=True), ["--input-crs", "gcj02"]
    return houses, []


def _big_endian(path: Path) -> None:
    """Rewrite the file's geometry as big-endian WKB (the general route's decoder reads it)."""
    table = pq.read_table(path)
    geoms = shapely.from_wkb(table.column("geometry").to_numpy())
    wkb = pa.array(shapely.to_wkb(geoms, byte_order=0, flavor="iso"), type=pa.binary())
    index = table.column_names.index("geometry")
    pq.write_table(table.set_column(index, "geometry", wkb), path, row_group_size=900)


@pytest.mark.parametrize(
    "form", ["plain", "cgcs2000", "projected", "z", "nan_and_nulls", "gcj02", "big_endian"]
)
def test_streamed_output_is_the_whole_table_output(tmp_path, form):
    build_scaled(tmp_path, 6000, 400, 41)
    houses = _with_extra_columns(houses_with_outside(tmp_path, 41), 41)
    frame, extra = _as_form(houses, form)
    points = tmp_path / "points.parquet"
    frame.to_parquet(points, index=False, row_group_size=900)
    if form == "big_endian":
        _big_endian(points)
    grids = tmp_path / "grids.parquet"

    _whole_table(points, grids, tmp_path / "whole.parquet", *extra[1:])
    done = _cli(points, grids, tmp_path / "streamed.parquet", *extra)
    _assert_same_file_content(tmp_path / "streamed.parquet", tmp_path / "whole.parquet")

    got = pd.read_parquet(tmp_path / "streamed.parquet")
    assert done["points"] == len(houses) and done["outside"] == int(got["outside"].sum())
    assert (houses["placement"] == "vertex").sum() > 100 and got["outside"].sum() > 100
    if form != "gcj02":  # the file's points are where they are: check against the rule
        grid_frame = gpd.read_parquet(grids)
        by_id = dict(zip(frame["house_id"], truth(frame, grid_frame), strict=True))
        assert [None if pd.isna(v) else v for v in got["grid_code"]] == [
            by_id[h] for h in got["house_id"]
        ]


def test_the_batches_join_into_the_whole_answer_at_any_batch_size(tmp_path):
    """Batches smaller and larger than the row groups, a file with one row group."""
    build_scaled(tmp_path, 5000, 100, 43)
    houses = houses_with_outside(tmp_path, 43)
    points = tmp_path / "points.parquet"
    houses.to_parquet(points, index=False)
    grids = tmp_path / "grids.parquet"
    _whole_table(points, grids, tmp_path / "whole.parquet")
    grid_frame = read_layer(grids, geometry_type="polygon")
    for batch_rows in (1, 777, 5300, 10**6):
        out = tmp_path / f"b{batch_rows}.parquet"
        done = assign_geoparquet(points, grid_frame, out, batch_rows=batch_rows)
        assert done.points == len(houses)
        if batch_rows != 1:  # a batch of one row per row group: too slow to compare whole
            _assert_same_file_content(out, tmp_path / "whole.parquet")
        else:
            assert (
                pq.read_table(out)
                .column("grid_code")
                .equals(pq.read_table(tmp_path / "whole.parquet").column("grid_code"))
            )


@pytest.mark.parametrize(
    ("bad", "message"),
    [(shapely.box(0, 0, 1, 1), "Polygon"), (shapely.Point(), "Point"),
     (shapely.Point(121.5, 95.0), "95.0")],
)  # fmt: skip
def test_a_bad_row_in_a_later_batch_is_named_and_nothing_is_written(tmp_path, bad, message):
    build_scaled(tmp_path, 3000, 36, 44)
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    row = 2345
    geoms = houses.geometry.to_numpy().copy()
    geoms[row] = bad
    points = tmp_path / "bad.parquet"
    houses.set_geometry(geoms, crs=houses.crs).to_parquet(points, index=False, row_group_size=500)
    out = tmp_path / "never.parquet"
    result = runner.invoke(app, ["assign", str(points), "--grids", str(tmp_path / "grids.parquet"),
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"row {row + 1}" in result.output and message in result.output
    assert not out.exists() and not list(tmp_path.glob(".never*"))


_PEAK_AT_EXIT = """
import atexit, sys
from pathlib import Path


def peak(report=Path(sys.argv[1])):  # VmHWM: peak resident memory since this program started
    status = Path("/proc/self/status").read_text().splitlines()
    kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    report.write_text(str(kib * 1024))


atexit.register(peak)
sys.argv = sys.argv[1:]
"""


def _peak_rss_of(code: str, *args: str, tmp_path: Path) -> int:
    """Run ``code`` (``sys.argv`` its ``args``) in a fresh interpreter; its exit status must be
    0; its peak resident memory in bytes, read by the process itself (a fork of this process
    would count this one's memory)."""
    report = tmp_path / "peak.txt"
    proc = subprocess.run([sys.executable, "-c", _PEAK_AT_EXIT + code, str(report), *args],
                          cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(report.read_text())


def test_memory_is_bounded_by_the_batch_not_the_input(tmp_path):
    """A GeoParquet file that takes more memory than the limit, whole, is assigned by the
    command in a process whose peak resident memory stays under it; the whole-table path,
    run the same way, goes over it (the bound is the streaming's, not the data's size)."""
    limit = 700_000_000
    build_scaled(tmp_path, 1_000_000, 400, 45)
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    houses["note"] = houses["house_id"].str.pad(800, side="right", fillchar="-")
    assert houses.memory_usage(deep=True).sum() > limit
    points = tmp_path / "big.parquet"
    houses.to_parquet(points, index=False, row_group_size=25_000)
    del houses
    grids = tmp_path / "grids.parquet"
    cli = "from api.cli import app\napp(prog_name='wangge')\n"
    peak = _peak_rss_of(cli, "assign", str(points), "--grids", str(grids), "--out",
                        str(tmp_path / "out.parquet"), tmp_path=tmp_path)  # fmt: skip
    assert peak < limit, peak
    got = pq.read_table(tmp_path / "out.parquet", columns=["house_id", "note", "grid_code"])
    assert got.num_rows == 1_000_000
    grid_frame = gpd.read_parquet(grids)
    sample = gpd.read_parquet(points, columns=["house_id", "geometry"]).iloc[::97]
    want = dict(zip(sample["house_id"], truth(sample, grid_frame), strict=True))
    codes = dict(zip(got.column("house_id").to_pylist(), got.column("grid_code").to_pylist(),
                     strict=True))  # fmt: skip
    assert [codes[h] for h in want] == list(want.values())
    notes = got.column("note").to_pylist()[:1000]
    assert all(n[:8] == h for n, h in zip(notes, got.column("house_id").to_pylist(), strict=False))

    whole = (
        "from tests.gis.test_assign_parquet import _whole_table\n"
        "_whole_table(*map(Path, sys.argv[1:4]))\n"
    )
    whole_peak = _peak_rss_of(whole, str(points), str(grids), str(tmp_path / "whole.parquet"),
                              tmp_path=tmp_path)  # fmt: skip
    assert whole_peak > limit, whole_peak


def test_wkb_points_are_read_from_their_bytes_as_shapely_reads_them():
    rng = np.random.default_rng(46)
    lon, lat = rng.uniform(-180, 180, 5000), rng.uniform(-90, 90, 5000)
    lon[:4], lat[:4] = [-180.0, 180.0, 0.0, -0.0], [90.0, -90.0, 5e-324, 1e-300]
    wkb = pa.array(shapely.to_wkb(shapely.points(lon, lat), flavor="iso"), type=pa.binary())
    for column in (wkb, wkb.slice(1234, 777)):  # a slice reads from its offset
        x, y = _wkb_points_xy(column)
        geoms = shapely.from_wkb(column.to_numpy(zero_copy_only=False))
        assert np.array_equal(x, shapely.get_x(geoms)) and np.array_equal(y, shapely.get_y(geoms))
    others = [
        shapely.to_wkb(shapely.points(lon, lat), byte_order=0),  # big-endian
        shapely.to_wkb(shapely.points(lon, lat, lat), flavor="iso"),  # Z
        shapely.to_wkb([*shapely.points(lon[:3], lat[:3]).tolist(), shapely.Point()]),  # empty
        shapely.to_wkb(shapely.points([1.0, 181.0], [1.0, 1.0])),  # not lon/lat
        shapely.to_wkb([shapely.Point(1, 1), shapely.LineString([(0, 0), (1, 1)])]),
    ]
    for values in others:
        assert _wkb_points_xy(pa.array(values, type=pa.binary())) is None
    assert _wkb_points_xy(pa.array([wkb[0].as_py(), None], type=pa.binary())) is None
