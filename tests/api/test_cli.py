"""The wangge CLI: exit codes, JSON keys, files written, on the demo community's real files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app

DATA = Path(__file__).resolve().parents[2] / "data"
DEMO = DATA / "demo"
BOUNDARY = DEMO / "boundary.geojson"
GRIDS = DEMO / "grids.geojson"
DEFECTIVE = DEMO / "grids_defective.geojson"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_valid_division_exits_0_with_no_findings():
    result = run("validate", GRIDS, "--boundary", BOUNDARY, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert payload["findings"] == []


def test_validate_defective_division_lists_every_planted_defect(tmp_path):
    planted = json.loads((DEMO / "defects.json").read_text(encoding="utf-8"))
    planted = planted["defects"] if isinstance(planted, dict) else planted
    out = tmp_path / "findings.geojson"
    result = run("validate", DEFECTIVE, "--boundary", BOUNDARY, "--json", "--out", out)
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    findings = gpd.read_file(out)
    assert len(findings) == len(payload["findings"]) > 0
    for defect in planted:
        point = shapely.Point(defect["lon"], defect["lat"])
        same_kind = findings[findings["kind"] == defect["kind"]]
        assert len(same_kind), f"planted {defect['kind']} not reported"
        # the reported location is the defect itself: it is at (within 1 m of) the planted point
        near = same_kind[
            same_kind.to_crs(4549).distance(gpd.GeoSeries([point], crs=4326).to_crs(4549).iloc[0])
            < 1.0
        ]
        assert len(near) >= 1, f"{defect['kind']} at {point.wkt} not located"
        codes = set(defect.get("grid_codes") or [])
        if codes:
            reported = {str(c) for row in near["grid_codes"] for c in row}
            assert codes <= reported, (defect, reported)
    # every feature carries kind, grid codes, size in metres and severity, in lon/lat
    assert {"kind", "grid_codes", "area_m2", "length_m", "severity"} <= set(findings.columns)
    minx, miny, maxx, maxy = findings.total_bounds
    assert 121 < minx < maxx < 122 and 31 < miny < maxy < 32


def test_validate_table_output_names_kinds_in_both_languages():
    result = run("validate", DEFECTIVE, "--boundary", BOUNDARY)
    assert result.exit_code == 1
    assert "不通过 / INVALID" in result.stdout
    for kind in ("gap", "overlap", "sliver", "invalid", "outside", "multipart"):
        assert kind in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("validate", "missing.geojson", "--boundary", BOUNDARY), "missing.geojson"),
        (("validate", GRIDS, "--boundary", BOUNDARY, "--code-field", "nope"), "nope"),
        (("validate", GRIDS, "--boundary", BOUNDARY, "--grids-crs", "moon"), "moon"),
        (("validate", GRIDS, "--boundary", BOUNDARY, "--boundary-crs", "moon"), "moon"),
        (("assign", DEMO / "houses.csv", "--grids", GRIDS, "--out", "x.unknown"), "unknown"),
    ],
)
def test_bad_input_exits_2_and_says_why(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_validate_points_as_grids_is_bad_input():
    result = run("validate", DEMO / "houses.csv", "--boundary", BOUNDARY)
    assert result.exit_code == 2


def test_assign_keeps_rows_and_columns_and_adds_grid_code(tmp_path):
    houses = pd.read_csv(DEMO / "houses.csv")
    outside = pd.DataFrame(
        [dict(houses.iloc[0]) | {"house_id": "far-away", "lon": 121.0, "lat": 31.0}]
    )
    src = tmp_path / "points.csv"
    pd.concat([houses, outside], ignore_index=True).to_csv(src, index=False)
    out = tmp_path / "assigned.geojson"
    result = run("assign", src, "--grids", GRIDS, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload == {"points": len(houses) + 1, "outside": 1, "out": str(out)}

    assigned = gpd.read_file(out)
    assert len(assigned) == len(houses) + 1
    assert set(houses.columns) - {"lon", "lat"} <= set(assigned.columns)
    raw = json.loads(out.read_text(encoding="utf-8"))["features"]
    (far,) = [f["properties"] for f in raw if f["properties"]["house_id"] == "far-away"]
    assert far["outside"] is True and far["grid_code"] is None  # null in GeoJSON
    inside = assigned[assigned["house_id"] != "far-away"]
    assert not inside["outside"].any()
    # independent truth: each house lies in the polygon of the grid it was given
    grids = gpd.read_file(GRIDS).set_index("code")
    polys = grids.geometry.loc[inside["grid_code"]].to_numpy()
    assert shapely.covers(polys, inside.geometry.to_numpy()).all()


def test_assign_writes_any_format_from_extension(tmp_path):
    for ext in ("gpkg", "csv", "xlsx"):
        out = tmp_path / f"houses.{ext}"
        result = run("assign", DEMO / "incidents.csv", "--grids", GRIDS, "--out", out)
        assert result.exit_code == 0, result.output
        assert out.exists() and out.stat().st_size > 0


def test_repair_then_validate_round_trip(tmp_path):
    repaired, log = tmp_path / "repaired.gpkg", tmp_path / "changes.geojson"
    result = run("repair", DEFECTIVE, "--boundary", BOUNDARY, "--out", repaired, "--log", log)
    assert result.exit_code == 0, result.output
    assert run("validate", repaired, "--boundary", BOUNDARY).exit_code == 0
    actions = {f["properties"]["action"] for f in json.loads(log.read_text())["features"]}
    assert {"fill_gap", "resolve_overlap", "clip_outside", "fix_invalid"} <= actions


def test_divide_demo_gives_a_valid_map_ready_division(tmp_path):
    out = tmp_path / "divided.geojson"
    osm = DEMO / "osm_bund.gpkg"
    result = run(
        "divide", "--boundary", BOUNDARY, "--roads", osm, "--roads-layer", "roads",
        "--houses", DEMO / "houses.csv", "--buildings", osm, "--buildings-layer", "buildings",
        "--code-prefix", "310101002005", "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    # exit 0 when every grid is in band or could not be split any further
    acceptable = summary["in_band"] + summary["over_unsplittable"] == summary["grids"]
    assert result.exit_code == (0 if acceptable else 1)
    grids = gpd.read_file(out)
    assert run("validate", out, "--boundary", BOUNDARY).exit_code == 0
    assert grids["households"].sum() == pd.read_csv(DEMO / "houses.csv")["households"].sum()
    assert grids["code"].str.startswith("310101002005").all() and grids["code"].is_unique
    # map-ready: neighbours (sharing an edge) never share a fill colour
    metric = grids.to_crs(4549)
    for i, j in zip(*np.triu_indices(len(grids), 1), strict=True):
        shared = metric.geometry[i].boundary.intersection(metric.geometry[j].boundary).length
        if shared > 1.0:
            assert grids["fill"][i] != grids["fill"][j]


def test_balance_report_from_files(tmp_path):
    out = tmp_path / "balance.csv"
    result = run(
        "balance", GRIDS, "--houses", DEMO / "houses.csv", "--target", "450", "--band", "0.2",
        "--out", out, "--json",
    )  # fmt: skip
    payload = json.loads(result.stdout)
    houses = pd.read_csv(DEMO / "houses.csv")
    per_grid = {g["code"]: g for g in payload["grids"]}
    assert sum(g["households"] for g in per_grid.values()) == houses["households"].sum()
    grids = gpd.read_file(GRIDS)
    for code, households in zip(grids["code"], grids["households"], strict=True):
        assert per_grid[code]["households"] == households
        expected = "ok" if 360 <= households <= 540 else ("under" if households < 360 else "over")
        assert per_grid[code]["flag"] == expected
    assert result.exit_code == (0 if all(g["flag"] == "ok" for g in per_grid.values()) else 1)
    assert len(pd.read_csv(out)) == len(grids)


def test_balance_needs_grids_or_community():
    result = run("balance")
    assert result.exit_code == 2 and "--community" in result.stderr
