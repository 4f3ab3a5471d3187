"""``wangge assign --engine dask`` against the single-process path, on real local clusters.

The clusters are real ``distributed.LocalCluster``s of 2 worker processes. Data come from the
bench's generator (``data/make_demo.py build_scaled``: a jittered tiling with points exactly on
shared edges and vertices) plus points outside it; each answer is compared with the default
``wangge assign`` row by row (same columns, dtypes and values) and with the rule computed
independently (``shapely.covers`` over an STRtree, the smallest code winning).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
import shapely
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from api.cli import app
from gis.assign import GridIndex
from gis.crs import WGS84
from gis.dask_assign import assign_on_cluster, dask_client
from gis.errors import GeometryTypeError
from gis.io import read_layer
from tests.gis.scaled_points import build_scaled, houses_with_outside, truth
from tests.gis.test_assign_parquet import (
    _as_form,
    _assert_same_file_content,
    _big_endian,
    _with_extra_columns,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as c:
        yield c


def _default(points: Path, grids: Path, out: Path, *extra: str) -> pd.DataFrame:
    result = runner.invoke(app, ["assign", str(points), "--grids", str(grids), "--out", str(out),
                                 *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def _codes(values: pd.Series) -> list:
    """Codes as a list, None outside (a text column read back holds NaN there)."""
    return [None if pd.isna(v) else v for v in values]


def _by_id(frame: pd.DataFrame, key: str = "house_id") -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def test_grid_index_answers_the_same_after_pickling(tmp_path):
    build_scaled(tmp_path, 3000, 36, 3)
    grids = gpd.read_parquet(tmp_path / "grids.parquet")
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    index = GridIndex(grids)
    copy = pickle.loads(pickle.dumps(index))
    got = copy.assign(houses.geometry).to_numpy()
    assert got.tolist() == index.assign(houses.geometry).to_numpy().tolist()
    assert got.tolist() == truth(houses, grids).tolist()
    lon, lat = houses["lon"].to_numpy(), houses["lat"].to_numpy()
    assert [copy.locate(x, y) for x, y in zip(lon[:200], lat[:200], strict=True)] == got[
        :200
    ].tolist()


@pytest.mark.parametrize(("seed", "spatial"), [(11, False), (12, True)])
def test_dask_equals_the_default_path_point_for_point(tmp_path, client, seed, spatial):
    build_scaled(tmp_path, 6000, 400, seed)
    houses = houses_with_outside(tmp_path, seed)
    points = tmp_path / "points.parquet"
    houses.to_parquet(points, index=False, row_group_size=700)
    grids_path = tmp_path / "grids.parquet"
    want = _default(points, grids_path, tmp_path / "default.parquet")

    index = GridIndex(read_layer(grids_path, geometry_type="polygon"), one_shot=True)
    result = assign_on_cluster(
        points, index, tmp_path / "dask.parquet", client=client, partition_rows=1500,
        spatial=spatial,
    )  # fmt: skip
    assert result.partitions > 3
    got = pd.read_parquet(tmp_path / "dask.parquet")
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    pd.testing.assert_frame_equal(_by_id(got), _by_id(want))
    assert (result.points, result.outside) == (len(want), int(want["outside"].sum()))

    want_codes = truth(houses, gpd.read_parquet(grids_path))
    by_id = dict(zip(houses["house_id"], want_codes, strict=True))
    assert _codes(got["grid_code"]) == [by_id[h] for h in got["house_id"]]
    assert got["outside"].sum() > 100 and (houses["placement"] == "vertex").sum() > 100

    geo = json.loads(pq.read_schema(tmp_path / "dask.parquet").metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert gpd.read_parquet(tmp_path / "dask.parquet").crs.equals(WGS84)


@pytest.mark.parametrize(
    ("form", "route"),
    [("plain", "arrow"), ("one_run_with_z", "both"), ("projected", "general"),
     ("z", "general"), ("gcj02", "general"), ("big_endian", "general")],
)  # fmt: skip
def test_geoparquet_under_dask_is_the_streamed_file_by_either_route(tmp_path, client, form, route):
    """Each worker's run of row groups takes the Arrow route (WKB points decoded from their
    bytes) or the general one batch by batch, as the single process does: the joined output
    is the streamed ``wangge assign`` output column for column, in file order."""
    build_scaled(tmp_path, 6000, 400, 51)
    houses = _with_extra_columns(houses_with_outside(tmp_path, 51), 51)
    frame, extra = _as_form(houses, form)
    if form == "one_run_with_z":  # Z coordinates in some rows: their batch goes general
        geoms = frame.geometry.to_numpy().copy()
        some = geoms[2000:2100]
        geoms[2000:2100] = shapely.points(shapely.get_x(some), shapely.get_y(some), 7.0)
        frame = frame.set_geometry(geoms, crs=frame.crs)
    points = tmp_path / "points.parquet"
    frame.to_parquet(points, index=False, row_group_size=900)
    if form == "big_endian":
        _big_endian(points)
    grids = tmp_path / "grids.parquet"
    want = tmp_path / "streamed.parquet"
    _default(points, grids, want, *extra)

    index = GridIndex(read_layer(grids, geometry_type="polygon"), one_shot=True)
    result = assign_on_cluster(
        points, index, tmp_path / "dask.parquet", client=client, partition_rows=1800,
        input_crs=extra[1] if extra else None,
    )  # fmt: skip
    assert result.partitions == 4 and result.points == len(houses)
    _assert_same_file_content(tmp_path / "dask.parquet", want)
    assert result.outside == int(pd.read_parquet(want, columns=["outside"])["outside"].sum())
    expected = {"arrow": {len(houses)}, "general": {0}, "both": set(range(1, len(houses)))}
    assert result.arrow_rows in expected[route]
    if route == "both":  # just the run holding the Z points (rows 1800 to 3599) went general
        assert result.arrow_rows == len(houses) - 1800


def test_a_bad_geoparquet_row_under_dask_is_named_and_nothing_is_written(tmp_path, client):
    build_scaled(tmp_path, 3000, 36, 44)
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    row = 2345
    geoms = houses.geometry.to_numpy().copy()
    geoms[row] = shapely.box(0, 0, 1, 1)
    points = tmp_path / "bad.parquet"
    houses.set_geometry(geoms, crs=houses.crs).to_parquet(points, index=False, row_group_size=500)
    index = GridIndex(read_layer(tmp_path / "grids.parquet", geometry_type="polygon"))
    out = tmp_path / "never.parquet"
    with pytest.raises(GeometryTypeError, match=rf"row {row + 1}\b.*Polygon"):
        assign_on_cluster(points, index, out, client=client, partition_rows=1000)
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_a_directory_out_is_a_geoparquet_dataset_with_the_same_rows(tmp_path, client):
    build_scaled(tmp_path, 4000, 100, 5)
    points = tmp_path / "houses.parquet"
    pq.write_table(pq.read_table(points), tmp_path / "small_groups.parquet", row_group_size=500)
    grids_path = tmp_path / "grids.parquet"
    want = _default(points, grids_path, tmp_path / "default.parquet")
    index = GridIndex(read_layer(grids_path, geometry_type="polygon"))
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "stale.parquet").write_bytes(b"old")  # a previous output is replaced whole
    result = assign_on_cluster(
        tmp_path / "small_groups.parquet", index, out, client=client, partition_rows=1000
    )
    files = sorted(out.iterdir())
    assert files == result.files and len(files) == 4
    for path in files:
        assert gpd.read_parquet(path).crs.equals(WGS84)
    pd.testing.assert_frame_equal(_by_id(pd.read_parquet(out)), _by_id(want))
    assert not list(tmp_path.glob(".dataset*"))  # no staging folder left


def _csv_rows(rng: np.random.Generator, n: int, lon: np.ndarray, lat: np.ndarray) -> list[str]:
    rows = []
    for i in range(n):
        count = str(rng.integers(0, 50))
        ratio = "" if i % 97 == 0 else f"{rng.uniform(0, 1):.3f}"
        floors = str(rng.integers(1, 30)) if i < n - 1 else "2.5"  # one non-integer at the end
        unit = str(rng.integers(1, 9)) if i < n - 1 else "0102"  # a code at the very end
        where = f"{float(lon[i])!r},{float(lat[i])!r}"
        rows.append(f"H{i:06d},{count},{ratio},{floors},{unit},小区{i % 13},{where}")
    return rows


def test_a_csv_gives_the_columns_and_types_of_the_default_path(tmp_path, client):
    """Number columns are decided over the whole file, not one partition at a time."""
    build_scaled(tmp_path, 6000, 100, 9)
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    rng = np.random.default_rng(9)
    lines = ["house_id,residents,ratio,floors,unit,estate,lon,lat"]
    lines += _csv_rows(rng, len(houses), houses["lon"].to_numpy(), houses["lat"].to_numpy())
    lines.insert(50, "")  # a blank line is skipped by both
    points = tmp_path / "houses.csv"
    points.write_text("\n".join(lines) + "\n", encoding="utf-8")
    grids_path = tmp_path / "grids.parquet"
    want = _default(points, grids_path, tmp_path / "default.parquet")
    assert want["floors"].dtype == np.float64 and want["unit"].dtype != np.int64

    index = GridIndex(read_layer(grids_path, geometry_type="polygon"))
    result = assign_on_cluster(
        points, index, tmp_path / "dask.parquet", client=client, partition_rows=1000
    )
    assert result.partitions > 3
    got = pd.read_parquet(tmp_path / "dask.parquet")
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    pd.testing.assert_frame_equal(_by_id(got), _by_id(want))


def test_bad_coordinates_are_refused_and_nothing_is_written(tmp_path, client):
    build_scaled(tmp_path, 2000, 36, 4)
    lines = ["id,lon,lat"] + [f"{i},121.47,31.23" for i in range(100)] + ["bad,121.4x,31.2"]
    points = tmp_path / "bad.csv"
    points.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = GridIndex(read_layer(tmp_path / "grids.parquet", geometry_type="polygon"))
    out = tmp_path / "never.parquet"
    with pytest.raises(Exception, match=r"121\.4x"):
        assign_on_cluster(points, index, out, client=client)
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_cli_on_a_running_scheduler_equals_the_default_path(tmp_path, cluster):
    build_scaled(tmp_path, 5000, 400, 21)
    points, grids_path = tmp_path / "houses.parquet", tmp_path / "grids.parquet"
    pq.write_table(pq.read_table(points), tmp_path / "rg.parquet", row_group_size=1000)
    want = _default(points, grids_path, tmp_path / "default.parquet")
    got = _default(
        tmp_path / "rg.parquet", grids_path, tmp_path / "dask.parquet", "--engine", "dask",
        "--scheduler", cluster.scheduler_address, "--partition-rows", "1000", "--spatial-shuffle",
    )  # fmt: skip
    pd.testing.assert_frame_equal(_by_id(got), _by_id(want))
    assert len(cluster.scheduler_info["workers"]) == 2  # the running cluster is left running


@pytest.mark.parametrize(
    "cluster_options", [["--workers", "2"], ["--workers", "1", "--threads", "2"]]
)
def test_cli_local_cluster_equals_the_default_path_and_leaves_no_process(tmp_path, cluster_options):
    """Two worker processes, or one with two threads assigning two runs at once."""
    build_scaled(tmp_path, 5000, 100, 22)
    points, grids_path = tmp_path / "rg.parquet", tmp_path / "grids.parquet"
    pq.write_table(pq.read_table(tmp_path / "houses.parquet"), points, row_group_size=1000)
    want = _default(points, grids_path, tmp_path / "default.parquet")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = runner.invoke(
        app,
        ["assign", str(points), "--grids", str(grids_path), "--out", str(tmp_path / "d.parquet"),
         "--engine", "dask", *cluster_options, "--memory-limit", "1GB", "--partition-rows", "1000",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points"] == len(want)
    pd.testing.assert_frame_equal(_by_id(pd.read_parquet(tmp_path / "d.parquet")), _by_id(want))
    left = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and not _resource_tracker(p)]  # fmt: skip
    _gone, alive = psutil.wait_procs(left, timeout=30)  # returns as soon as all have exited
    assert [p.cmdline() for p in alive] == []


def _resource_tracker(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker: started with the first spawned process and kept
    for the life of this (test) process, whichever test spawned first; not the cluster's."""
    return "multiprocessing.resource_tracker" in " ".join(process.cmdline())


def test_cli_refuses_dask_options_it_cannot_use(tmp_path):
    build_scaled(tmp_path, 500, 4, 1)
    base = ["assign", str(tmp_path / "houses.parquet"), "--grids", str(tmp_path / "grids.parquet")]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "a.csv"), "--engine", "dask"])
    assert result.exit_code == 2 and "GeoParquet" in result.output
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "a.parquet"), "--scheduler", "x"])
    assert result.exit_code == 2 and "--engine dask" in result.output
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "a.parquet").exists()


def test_memory_is_bounded_by_the_partition_not_the_input(tmp_path):
    """Workers limited to 450 MB each assign a table that takes more than that in memory
    (a worker pauses at 80 % of its limit and is restarted at 95 %: the run would stall)."""
    limit = 450_000_000
    build_scaled(tmp_path, 1_000_000, 400, 31)
    houses = gpd.read_parquet(tmp_path / "houses.parquet")
    houses["note"] = houses["house_id"].str.pad(500, side="right", fillchar="-")
    assert houses.memory_usage(deep=True).sum() > limit
    points = tmp_path / "big.parquet"
    houses.to_parquet(points, index=False, row_group_size=25_000)
    index = GridIndex(read_layer(tmp_path / "grids.parquet", geometry_type="polygon"))
    with dask_client(workers=2, memory_limit=limit) as c:
        result = assign_on_cluster(
            points, index, tmp_path / "out.parquet", client=c, partition_rows=25_000
        )
        assert len(c.scheduler_info()["workers"]) == 2
        peaks = c.run(_peak_rss)
    assert max(peaks.values()) < limit
    got = pd.read_parquet(tmp_path / "out.parquet", columns=["house_id", "note", "grid_code"])
    assert result.points == len(houses) == len(got)
    want = pd.Series(index.assign(houses.geometry).to_numpy(), index=houses["house_id"])
    assert _codes(got["grid_code"]) == want.loc[got["house_id"]].tolist()
    assert (got["note"].str.slice(0, 8) == got["house_id"]).all()


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM), bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
