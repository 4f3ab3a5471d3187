"""Tests for gis.coverage.repair (and the ``wangge repair`` command).

Truth comes from construction (planted cases in metres, tests/common.py; the demo's
defects.json), from :func:`validate`, and from ellipsoidal areas (pyproj.Geod).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import affinity
from typer.testing import CliRunner

from api.cli.repair import repair_command
from gis.coverage import CHANGE_ACTIONS, CHANGE_COLUMNS, changes_to_geojson, repair, validate
from gis.errors import InputError
from tests.common import (
    METRIC_CRS,
    ORIGIN_M,
    boundary_frame,
    cell_m,
    code,
    grids_frame,
    planted_cases,
    rect_m,
)

CASES = planted_cases()
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
GEOD = Geod(ellps="WGS84")
# pieces and rebuilt grids are cut on a noise_m / 10 (0.1 mm) grid in the grids' own
# lon/lat: each vertex may move up to 0.71e-4 m, so an area by that much per metre of outline
PIECE_SNAP_M2 = 1e-4 * 204  # the 10 m x 20 m gap, the 2 m x 100 m overlap
GRID_SNAP_M2 = 1e-4 * 410  # a 100 m x 100 m grid (a 102 m one)
NOISE_M = 0.001
LOCATION_TOLERANCE_M = 0.01

# which fix answers which planted finding
ACTION_FOR_KIND = {
    "gap": "fill_gap",
    "sliver": "snap",
    "overlap": "resolve_overlap",
    "invalid": "fix_invalid",
    "outside": "clip_outside",
    "multipart": "reassign_part",
    "hole": "fill_gap",
    "duplicate_code": "recode",
    "missing_code": "recode",
}


def _errors(grids, boundary, **kwargs):
    findings = validate(grids, boundary, **kwargs)
    return findings[findings["severity"] == "error"]


def _geod_area_m2(geoms: gpd.GeoSeries) -> float:
    lonlat = geoms.to_crs(4326)
    return sum(abs(GEOD.geometry_area_perimeter(g)[0]) for g in lonlat if not g.is_empty)


def _assert_accounting(grids, repaired, changes, codes_before=None):
    """Each grid's area change equals the sum of its logged changes (within noise)."""
    before = shapely.area(np.asarray(grids.to_crs(METRIC_CRS).geometry.array))
    after_m = repaired.to_crs(METRIC_CRS).geometry
    after = after_m.area.to_numpy()
    perimeter = after_m.length.to_numpy()
    for i, grid in enumerate(repaired["code"]):
        logged = sum(d.get(grid, 0.0) for d in changes["area_change_m2"])
        allowed = NOISE_M * max(perimeter[i], 1.0) + 1e-6
        assert after[i] - before[i] == pytest.approx(logged, abs=allowed), grid


def _assert_total_area(repaired, boundary):
    total, target = _geod_area_m2(repaired.geometry), _geod_area_m2(boundary.geometry)
    assert abs(total - target) <= 1e-4 * target


# --------------------------------------------------------------------------- planted cases


@pytest.mark.parametrize("name", sorted(CASES))
def test_repair_of_planted_case_validates_and_logs_each_fix(name):
    case = CASES[name]
    repaired, changes = repair(case.grids, case.boundary)
    errors = _errors(repaired, case.boundary)
    assert errors.empty, errors[["kind", "grid_codes", "message_en"]].to_string()
    assert list(repaired.columns) == list(case.grids.columns)
    assert repaired.crs == case.grids.crs
    assert repaired.index.equals(case.grids.index)
    assert set(changes["action"]) <= set(CHANGE_ACTIONS)
    assert list(changes.columns[:-1]) == list(CHANGE_COLUMNS)
    _assert_accounting(case.grids, repaired, changes)
    _assert_total_area(repaired, case.boundary)

    pieces_m = changes.geometry.to_crs(METRIC_CRS)
    for exp in case.expected:
        action = ACTION_FOR_KIND[exp.kind]
        rows = changes[changes["action"] == action]
        if exp.kind in ("duplicate_code", "missing_code"):
            continue  # codes: see the dedicated tests
        wanted = set(exp.grid_codes)
        match = [i for i, codes in rows["grid_codes"].items() if wanted <= set(codes)]
        assert match, (exp, changes[["action", "grid_codes"]].to_string())
        if exp.location_m is not None:
            dist = min(pieces_m[i].distance(exp.location_m) for i in match)
            assert dist <= LOCATION_TOLERANCE_M, exp
        if exp.area_m2 is not None and exp.kind != "invalid":
            assert any(
                rows.loc[i, "area_m2"] == pytest.approx(exp.area_m2, rel=1e-3) for i in match
            ), (exp, rows.loc[match, ["area_m2"]])
    if not case.expected:
        assert changes.empty
        assert repaired.geometry.geom_equals_exact(case.grids.geometry, 1e-9).all()


def test_clean_division_unchanged_and_codes_kept():
    case = CASES["clean"]
    repaired, changes = repair(case.grids, case.boundary)
    assert changes.empty
    assert repaired["code"].tolist() == case.grids["code"].tolist()
    area = repaired.to_crs(METRIC_CRS).area
    assert np.allclose(area, 10_000.0, atol=1e-3)


def test_codes_kept_except_the_duplicate_which_takes_the_missing_sequence():
    repaired, changes = repair(CASES["duplicate_code"].grids, CASES["duplicate_code"].boundary)
    assert repaired["code"].tolist() == [code(s) for s in range(1, 7)]
    recodes = changes[changes["action"] == "recode"]
    assert recodes["grid_codes"].tolist() == [[code(5)]]
    assert recodes["old_code"].tolist() == [code(4)]


def test_duplicate_loser_is_the_grid_out_of_spatial_order():
    # 002 carries 005's code: 002 sits in the top row, where 005 does not belong
    codes = [code(s) for s in range(1, 7)]
    codes[1] = code(5)
    grids = grids_frame(codes, [cell_m(s) for s in range(1, 7)])
    repaired, _ = repair(grids, boundary_frame())
    assert repaired["code"].tolist() == [code(s) for s in range(1, 7)]


def test_missing_codes_take_free_sequences_in_spatial_order():
    repaired, changes = repair(CASES["missing_code"].grids, CASES["missing_code"].boundary)
    assert repaired["code"].tolist() == [code(s) for s in range(1, 7)]
    recodes = changes[changes["action"] == "recode"]
    assert sorted(recodes["grid_codes"].sum()) == [code(3), code(6)]
    assert recodes["old_code"].isna().all()


def test_missing_code_takes_next_free_after_the_last_when_no_sequence_is_missing():
    codes = [code(s) for s in range(1, 7)] + [None]
    geoms = [cell_m(s) for s in range(1, 7)] + [rect_m(300, 0, 400, 100)]
    boundary = boundary_frame([rect_m(0, 0, 300, 200), rect_m(300, 0, 400, 100)])
    repaired, _ = repair(grids_frame(codes, geoms), boundary)
    assert repaired["code"].tolist()[-1] == code(7)


def test_recode_without_any_15_digit_code_is_an_input_error():
    grids = grids_frame(["a", "a"], [rect_m(0, 0, 100, 100), rect_m(100, 0, 200, 100)])
    with pytest.raises(InputError, match="15-digit"):
        repair(grids, boundary_frame([rect_m(0, 0, 200, 100)]))


# ----------------------------------------------------------------------------- the rules


def test_max_gap_leaves_large_gap_and_result_does_not_validate():
    case = CASES["gap"]  # a 10 m x 20 m gap = 200 m²
    repaired, changes = repair(case.grids, case.boundary, max_gap_m2=100)
    left = changes[changes["action"] == "gap_left"]
    assert len(left) == 1
    assert left["area_m2"].iloc[0] == pytest.approx(200.0, abs=PIECE_SNAP_M2)
    errors = _errors(repaired, case.boundary)
    assert errors["kind"].tolist() == ["gap"]
    assert errors["area_m2"].iloc[0] == pytest.approx(200.0, abs=PIECE_SNAP_M2)
    _assert_accounting(case.grids, repaired, changes)

    filled, changes = repair(case.grids, case.boundary, max_gap_m2=300)
    assert "gap_left" not in set(changes["action"])
    assert _errors(filled, case.boundary).empty


def test_gap_goes_to_neighbour_with_longest_shared_edge():
    # the bite at 005's south-east corner shares 10 + 20 m with 005 and 20 m with 006
    case = CASES["gap"]
    repaired, _ = repair(case.grids, case.boundary)
    area = repaired.to_crs(METRIC_CRS).area.to_numpy()
    assert area[4] == pytest.approx(10_000.0, abs=GRID_SNAP_M2)
    assert area[5] == pytest.approx(10_000.0, abs=GRID_SNAP_M2)


def test_smaller_grid_keeps_overlap_by_default_and_priority_overrides():
    case = CASES["overlap"]  # 002 (10 200 m²) reaches 2 m into 003 (10 000 m²)
    repaired, changes = repair(case.grids, case.boundary)
    area = repaired.to_crs(METRIC_CRS).area.to_numpy()
    assert area[1] == pytest.approx(10_000.0, abs=GRID_SNAP_M2)
    assert area[2] == pytest.approx(10_000.0, abs=GRID_SNAP_M2)
    row = changes[changes["action"] == "resolve_overlap"].iloc[0]
    assert row["grid_codes"][0] == code(3)
    assert row["area_change_m2"] == pytest.approx({code(2): -200.0}, abs=PIECE_SNAP_M2)

    repaired, changes = repair(case.grids, case.boundary, priority=[code(2)])
    area = repaired.to_crs(METRIC_CRS).area.to_numpy()
    assert area[1] == pytest.approx(10_200.0, abs=GRID_SNAP_M2)
    assert area[2] == pytest.approx(9_800.0, abs=GRID_SNAP_M2)
    row = changes[changes["action"] == "resolve_overlap"].iloc[0]
    assert row["grid_codes"][0] == code(2)
    assert "priority" in row["reason_en"]
    assert _errors(repaired, case.boundary).empty


def test_unknown_priority_code_is_an_input_error():
    case = CASES["overlap"]
    with pytest.raises(InputError, match="310109012003999"):
        repair(case.grids, case.boundary, priority=[code(999)])


def test_detached_part_goes_to_neighbour_and_grid_keeps_largest_part():
    case = CASES["multipart"]
    repaired, _ = repair(case.grids, case.boundary)
    geoms = repaired.to_crs(METRIC_CRS).geometry
    assert (geoms.geom_type == "Polygon").all()
    assert geoms.iloc[5].area == pytest.approx(10_000.0, abs=GRID_SNAP_M2)
    assert geoms.iloc[3].area == pytest.approx(10_000.0, abs=GRID_SNAP_M2)
    assert geoms.iloc[3].contains(rect_m(0, 0, 10, 10).centroid)


def test_bowtie_keeps_its_area_and_holes_go_to_their_grid():
    repaired, changes = repair(CASES["bowtie"].grids, CASES["bowtie"].boundary)
    fix = changes[changes["action"] == "fix_invalid"].iloc[0]
    # the two lobes of the bow-tie enclose 2 × 2500 m²; GEOS gives the invalid ring 0 m²
    assert fix["area_change_m2"][code(5)] == pytest.approx(5000.0, rel=1e-6)
    assert repaired.to_crs(METRIC_CRS).area.iloc[4] == pytest.approx(10_000.0, abs=GRID_SNAP_M2)

    repaired, changes = repair(CASES["hole"].grids, CASES["hole"].boundary)
    hole = changes[changes["action"] == "fill_gap"].iloc[0]
    assert hole["grid_codes"] == [code(2)]
    assert "hole" in hole["reason_en"]
    assert shapely.get_num_interior_rings(repaired.geometry.iloc[1]) == 0


def test_sliver_narrower_than_tolerance_is_snapped_wider_is_a_gap_fill():
    case = CASES["gap_0.3m"]
    _, changes = repair(case.grids, case.boundary)
    assert changes["action"].tolist() == ["snap"]
    assert changes["width_m"].iloc[0] == pytest.approx(0.3, abs=1e-3)
    assert changes["length_m"].iloc[0] == pytest.approx(40.0, abs=0.01)
    _, changes = repair(case.grids, case.boundary, tolerance_m=0.2)
    assert changes["action"].tolist() == ["fill_gap"]


def test_grid_without_geometry_is_an_input_error():
    grids = grids_frame([code(1), code(2)], [rect_m(0, 0, 100, 100), None])
    with pytest.raises(InputError, match="no geometry"):
        repair(grids, boundary_frame([rect_m(0, 0, 200, 100)]))


def test_change_log_serialises_to_geojson():
    case = CASES["bowtie"]
    _, changes = repair(case.grids, case.boundary)
    collection = json.loads(json.dumps(changes_to_geojson(changes), ensure_ascii=False))
    assert len(collection["features"]) == len(changes)
    props = collection["features"][0]["properties"]
    assert set(props) == set(CHANGE_COLUMNS)
    assert isinstance(props["area_change_m2"], dict)


# --------------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo():
    grids = gpd.read_file(DEMO / "grids_defective.geojson")
    boundary = gpd.read_file(DEMO / "boundary.geojson")
    defects = json.loads((DEMO / "defects.json").read_text(encoding="utf-8"))["defects"]
    repaired, changes = repair(grids, boundary)
    return grids, boundary, defects, repaired, changes


def test_demo_repair_validates_with_nothing_left(demo):
    grids, boundary, _, repaired, _ = demo
    findings = validate(repaired, boundary)
    assert findings.empty, findings[["kind", "grid_codes", "message_en"]].to_string()
    _assert_total_area(repaired, boundary)
    # original numbering restored: every grid holds its own sequence again
    assert repaired["code"].tolist() == [f"310101002005{s:03d}" for s in range(1, 13)]
    assert len(repaired) == len(grids)


def test_demo_change_log_lists_each_planted_defect(demo):
    _, _, defects, _, changes = demo
    metric = changes.geometry.to_crs(METRIC_CRS)
    to_metric = gpd.GeoSeries(
        gpd.points_from_xy([d["lon"] for d in defects], [d["lat"] for d in defects]), crs=4326
    ).to_crs(METRIC_CRS)
    for defect, spot in zip(defects, to_metric, strict=True):
        action = ACTION_FOR_KIND[defect["kind"]]
        original = set(defect["original_codes"])
        if action == "recode":
            rows = changes[(changes["action"] == "recode")]
            old = defect["grid_codes"][0] if defect["grid_codes"] else None
            match = [
                i
                for i, r in rows.iterrows()
                if r["grid_codes"][0] in original and r["old_code"] == old
            ]
            assert len(match) == 1, defect
            continue
        rows = changes[changes["action"] == action]
        match = [i for i, codes in rows["grid_codes"].items() if original <= set(codes)]
        if defect["kind"] in ("gap", "sliver", "overlap"):
            match = [i for i in match if set(rows.loc[i, "grid_codes"]) == original]
        assert match, (defect["kind"], changes[["action", "grid_codes"]].to_string())
        assert min(metric[i].distance(spot) for i in match) < 1.0, defect["kind"]
        if "area_m2" in defect and defect["kind"] != "invalid":
            assert any(
                rows.loc[i, "area_m2"] == pytest.approx(defect["area_m2"], rel=0.01) for i in match
            ), defect["kind"]
        if defect["kind"] == "sliver":
            assert rows.loc[match[0], "width_m"] == pytest.approx(defect["width_m"], abs=0.01)


def test_demo_area_accounting(demo):
    grids, _, _, repaired, changes = demo
    # codes differ for the recoded grids: compare row by row under the new codes
    _assert_accounting(grids, repaired, changes)


def test_demo_max_gap_leaves_the_gap(demo):
    grids, boundary, _, _, _ = demo
    repaired, changes = repair(grids, boundary, max_gap_m2=100)
    left = changes[changes["action"] == "gap_left"]
    assert len(left) == 1
    assert left["area_m2"].iloc[0] == pytest.approx(450.0, rel=0.01)
    assert _errors(repaired, boundary)["kind"].tolist() == ["gap"]


# ------------------------------------------------------------------ property: Voronoi


def _voronoi_cells(seed: int, cols: int, rows: int) -> list[shapely.Polygon]:
    """Voronoi cells of a jittered lattice of points, clipped to the 300 m × 200 m box."""
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN_M
    dx, dy = 300.0 / cols, 200.0 / rows
    xs = x0 + (np.arange(cols) + 0.5) * dx
    ys = y0 + (np.arange(rows) + 0.5) * dy
    pts = np.array([(x, y) for y in ys for x in xs])
    pts += rng.uniform(-0.3, 0.3, pts.shape) * [dx, dy]
    frame = rect_m(0, 0, 300, 200)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    return [shapely.intersection(c, frame) for c in cells]


def _perturb(cells: list, kind: str, k: int, rng: np.random.Generator) -> list:
    cells = list(cells)
    k %= len(cells)
    if kind == "jitter":
        ring = np.asarray(cells[k].exterior.coords)[:-1]
        ring = ring + rng.uniform(-0.3, 0.3, ring.shape)
        cells[k] = shapely.Polygon(ring)  # may cross itself: then it is invalid, as planted
    elif kind == "delete":
        del cells[k]
    elif kind == "grow":
        cells[k] = cells[k].buffer(1.0, join_style="mitre")
    elif kind == "shrink":
        cells[k] = cells[k].buffer(-1.0, join_style="mitre")
    elif kind == "translate":
        cells[k] = affinity.translate(cells[k], *rng.uniform(-1.0, 1.0, 2))
    return cells


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**31 - 1),
    cols=st.integers(2, 4),
    rows=st.integers(2, 3),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["jitter", "delete", "grow", "shrink", "translate"]),
            st.integers(0, 11),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_property_repair_of_perturbed_voronoi_coverage_is_valid(seed, cols, rows, edits):
    rng = np.random.default_rng(seed + 1)
    cells = _voronoi_cells(seed, cols, rows)
    for kind, k in edits:
        if kind == "delete" and len(cells) <= 2:
            continue
        cells = _perturb(cells, kind, k, rng)
    codes = [code(i + 1) for i in range(len(cells))]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=METRIC_CRS)
    boundary = gpd.GeoDataFrame(geometry=[rect_m(0, 0, 300, 200)], crs=METRIC_CRS)
    repaired, changes = repair(grids, boundary)
    errors = _errors(repaired, boundary)
    assert errors.empty, errors[["kind", "grid_codes", "message_en"]].to_string()
    assert repaired["code"].tolist() == codes
    assert math.isclose(repaired.area.sum(), 60_000.0, rel_tol=1e-4)
    _assert_accounting(grids, repaired, changes)


# ----------------------------------------------------------------------------------- CLI


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("repair")(repair_command)
    app.command("noop")(lambda: None)  # two commands: the sub-command name is required
    return app


def _run(*args):
    return CliRunner().invoke(_cli(), ["repair", *[str(a) for a in args]])


def test_cli_repairs_demo_and_exits_0(tmp_path):
    out, log = tmp_path / "repaired.geojson", tmp_path / "changes.json"
    result = _run(
        DEMO / "grids_defective.geojson",
        "--boundary",
        DEMO / "boundary.geojson",
        "--out",
        out,
        "--log",
        log,
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["valid"] is True
    assert payload["grids"] == 12
    assert {c["action"] for c in payload["changes"]} >= {"fill_gap", "snap", "recode"}
    written = gpd.read_file(out)
    assert validate(written, gpd.read_file(DEMO / "boundary.geojson")).empty
    assert len(json.loads(log.read_text(encoding="utf-8"))["features"]) == len(payload["changes"])


def test_cli_table_output(tmp_path):
    result = _run(
        DEMO / "grids_defective.geojson",
        "--boundary",
        DEMO / "boundary.geojson",
        "--out",
        tmp_path / "r.gpkg",
    )
    assert result.exit_code == 0, result.output
    assert "fill_gap" in result.output
    assert "VALID" in result.output


def test_cli_exits_1_when_gaps_are_left(tmp_path):
    result = _run(
        DEMO / "grids_defective.geojson",
        "--boundary",
        DEMO / "boundary.geojson",
        "--max-gap-m2",
        "100",
        "--out",
        tmp_path / "r.geojson",
        "--json",
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["valid"] is False
    assert [r["kind"] for r in payload["remaining"]] == ["gap"]


def test_cli_priority_option(tmp_path):
    case = CASES["overlap"]
    grids, boundary = tmp_path / "g.geojson", tmp_path / "b.geojson"
    case.grids.to_file(grids)
    case.boundary.to_file(boundary)
    out = tmp_path / "r.geojson"
    result = _run(grids, "-b", boundary, "--priority", f"{code(2)},{code(3)}", "--out", out)
    assert result.exit_code == 0, result.output
    area = gpd.read_file(out).to_crs(METRIC_CRS).area.to_numpy()
    assert area[1] == pytest.approx(10_200.0, abs=0.01)


@pytest.mark.parametrize(
    "extra",
    [["--code-field", "nope"], ["--priority", "310109012003999"]],
)
def test_cli_exits_2_for_unusable_input(tmp_path, extra):
    case = CASES["overlap"]
    grids, boundary = tmp_path / "g.geojson", tmp_path / "b.geojson"
    case.grids.to_file(grids)
    case.boundary.to_file(boundary)
    result = _run(grids, "-b", boundary, "--out", tmp_path / "r.geojson", *extra)
    assert result.exit_code == 2, result.output


def test_cli_exits_2_for_missing_file(tmp_path):
    result = _run(
        tmp_path / "none.geojson", "-b", DEMO / "boundary.geojson", "--out", tmp_path / "r.geojson"
    )
    assert result.exit_code == 2, result.output
