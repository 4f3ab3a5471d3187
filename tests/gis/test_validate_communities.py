"""``wangge validate --by community``: many communities at once, each as if validated alone.

The division is the bench generator's tiling (communities are 10 x 10 blocks of grids) with
defects planted in some communities; every community's findings must be exactly those of
``wangge validate`` run on that community's grids and boundary alone, in one process and
spread over a real 2-worker Dask cluster.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
import shapely
from distributed import LocalCluster
from typer.testing import CliRunner

from api.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def division(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("communities")
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_scaled(folder, 100, 400, 17)
    grids = gpd.read_parquet(folder / "grids.parquet")
    boundaries = grids.dissolve("community_code").reset_index()[["community_code", "geometry"]]
    boundaries.to_parquet(folder / "boundaries.parquet")
    defective = grids.drop(index=[5, 250]).copy()  # gaps in the first and fourth community
    i = defective.index.get_loc(55)  # second community (row 2, column 15): grown over others
    defective.iloc[i, defective.columns.get_loc("geometry")] = shapely.buffer(
        defective.geometry.iloc[i], 0.0001, join_style="mitre"
    )
    defective.to_parquet(folder / "grids_defect.parquet")
    return folder


def _validate(*args: str) -> dict:
    result = runner.invoke(app, ["validate", *args, "--json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _alone(division: Path, tmp: Path) -> list[dict]:
    grids = gpd.read_parquet(division / "grids_defect.parquet")
    boundaries = gpd.read_parquet(division / "boundaries.parquet")
    findings = []
    for code in sorted(boundaries["community_code"]):
        grids[grids["community_code"] == code].to_parquet(tmp / f"g{code}.parquet")
        boundaries[boundaries["community_code"] == code].to_parquet(tmp / f"b{code}.parquet")
        alone = _validate(str(tmp / f"g{code}.parquet"), "-b", str(tmp / f"b{code}.parquet"))
        findings += [{"community": code} | f for f in alone["findings"]]
    return findings


def test_each_community_gets_the_findings_it_gets_alone(division, tmp_path):
    want = _alone(division, tmp_path)
    assert {f["community"] for f in want} == {"310101001001", "310101001002", "310101001004"}
    args = [str(division / "grids_defect.parquet"), "-b", str(division / "boundaries.parquet"),
            "--by", "community"]  # fmt: skip
    got = _validate(*args)
    assert got["findings"] == want
    assert [c["community"] for c in got["communities"]] == sorted(
        gpd.read_parquet(division / "boundaries.parquet")["community_code"]
    )
    assert [c["valid"] for c in got["communities"]] == [False, False, True, False]
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        spread = _validate(*args, "--engine", "dask", "--scheduler", cluster.scheduler_address)
    assert spread == got


def test_findings_written_as_geoparquet_carry_the_community_and_crs(division, tmp_path):
    out = tmp_path / "findings.parquet"
    result = runner.invoke(app, [
        "validate", str(division / "grids_defect.parquet"), "-b",
        str(division / "boundaries.parquet"), "--by", "community", "--engine", "dask",
        "--workers", "2", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 1, result.output
    geo = json.loads(pq.read_schema(out).metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    back = gpd.read_parquet(out)
    assert back.crs.to_epsg() == 4326
    assert sorted(set(back["community"])) == ["310101001001", "310101001002", "310101001004"]
    assert set(back["kind"]) >= {"gap", "overlap"}


def test_communities_without_a_boundary_are_refused(division, tmp_path):
    boundaries = gpd.read_parquet(division / "boundaries.parquet").iloc[1:]
    boundaries.to_parquet(tmp_path / "three.parquet")
    result = runner.invoke(app, [
        "validate", str(division / "grids_defect.parquet"), "-b", str(tmp_path / "three.parquet"),
        "--by", "community"])  # fmt: skip
    assert result.exit_code == 2
    assert "310101001001" in result.output and "no boundary" in result.output
