"""Tests for gis.edit: split, merge and move keep a valid division; bad edits are refused."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.ops
from shapely import LineString

from gis.coverage import repair, validate
from gis.edit import merge_grids, move_shared_boundary, split_grid
from gis.errors import InputError
from tests.common import METRIC_CRS, ORIGIN_M, code, planted_cases, to_lonlat

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
X0, Y0 = ORIGIN_M


def _line(*offsets: tuple[float, float]) -> gpd.GeoSeries:
    """A lon/lat line from metric offsets (metres from ORIGIN_M)."""
    return to_lonlat([LineString([(X0 + dx, Y0 + dy) for dx, dy in offsets])])


@pytest.fixture
def clean():
    case = planted_cases()["clean"]
    return case.grids, case.boundary


def _assert_valid(grids, boundary):
    findings = validate(grids, boundary)
    assert findings.empty, findings[["kind", "grid_codes", "message_en"]].to_string()
    # shared edges have the same vertices on both sides (GEOS coverage check, exact)
    assert shapely.coverage_is_valid(np.asarray(grids.geometry.array))


def _areas(grids) -> dict[str, float]:
    return dict(zip(grids["code"], grids.to_crs(METRIC_CRS).area, strict=True))


# ------------------------------------------------------------------------------- split


def test_split_gives_two_valid_grids_and_the_new_one_takes_next_free_code(clean):
    grids, boundary = clean
    out = split_grid(grids, code(5), _line((140, -5), (140, 105)))
    _assert_valid(out, boundary)
    areas = _areas(out)
    assert len(out) == 7
    assert areas[code(5)] == pytest.approx(6000.0, abs=1e-3)  # larger piece keeps the code
    assert areas[code(7)] == pytest.approx(4000.0, abs=1e-3)
    assert sum(areas.values()) == pytest.approx(60_000.0, abs=1e-2)
    # the untouched grids keep their geometry bit for bit
    for c in (code(1), code(3), code(6)):
        before = grids.loc[grids["code"] == c].geometry.iloc[0]
        after = out.loc[out["code"] == c].geometry.iloc[0]
        assert before.equals_exact(after, 0)


def test_split_inserts_the_new_nodes_into_the_neighbours(clean):
    grids, _ = clean
    out = split_grid(grids, code(5), _line((140, -5), (140, 105)))
    north = out.loc[out["code"] == code(2)].geometry.iloc[0]
    assert len(north.exterior.coords) == len(grids.geometry.iloc[1].exterior.coords) + 1


def test_split_with_given_code_and_in_metric_crs(clean):
    grids, boundary = clean
    metric = grids.to_crs(METRIC_CRS)
    line = LineString([(X0 - 1, Y0 + 150), (X0 + 101, Y0 + 170)])
    out = split_grid(metric, code(1), line, new_code=code(42))
    assert code(42) in set(out["code"])
    _assert_valid(out, boundary)
    areas = _areas(out)
    # trapezoid below the sloped line: mean height (150.2 + 169.8) / 2 - 100 = 60 m
    assert areas[code(1)] == pytest.approx(6000.0, abs=1e-3)
    assert areas[code(42)] == pytest.approx(4000.0, abs=1e-3)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (((120, 50), (160, 50)), "does not cut"),  # ends inside the grid
        (((-50, 50), (-10, 50)), "does not cut"),  # nowhere near
        (((120, -5), (130, 105), (140, -5)), "3 pieces"),  # in, out, in again
    ],
)
def test_split_refuses_lines_that_do_not_cut_once(clean, line, message):
    grids, _ = clean
    with pytest.raises(InputError, match=message):
        split_grid(grids, code(5), _line(*line))


def test_split_refuses_taken_code_and_unknown_grid(clean):
    grids, _ = clean
    with pytest.raises(InputError, match="already taken"):
        split_grid(grids, code(5), _line((140, -5), (140, 105)), new_code=code(6))
    with pytest.raises(InputError, match="no grid has code"):
        split_grid(grids, code(9), _line((140, -5), (140, 105)))


# ------------------------------------------------------------------------------- merge


def test_merge_two_adjacent_grids(clean):
    grids, boundary = clean
    out = merge_grids(grids, [code(2), code(1)])
    _assert_valid(out, boundary)
    assert out["code"].tolist() == [code(2), code(3), code(4), code(5), code(6)]
    assert _areas(out)[code(2)] == pytest.approx(20_000.0, abs=1e-3)
    assert out.geometry.iloc[0].geom_type == "Polygon"


def test_merge_three_in_a_row_keeping_a_chosen_code(clean):
    grids, boundary = clean
    out = merge_grids(grids, [code(1), code(2), code(3)], keep_code=code(3))
    _assert_valid(out, boundary)
    assert _areas(out)[code(3)] == pytest.approx(30_000.0, abs=1e-3)
    assert len(out) == 4


@pytest.mark.parametrize("pair", [(1, 3), (1, 5)])  # apart; touching at a corner only
def test_merge_refuses_grids_that_share_no_edge(clean, pair):
    grids, _ = clean
    with pytest.raises(InputError, match="not adjacent"):
        merge_grids(grids, [code(pair[0]), code(pair[1])])


def test_merge_refuses_one_grid_and_foreign_keep_code(clean):
    grids, _ = clean
    with pytest.raises(InputError, match="two grids"):
        merge_grids(grids, [code(1)])
    with pytest.raises(InputError, match="keep_code"):
        merge_grids(grids, [code(1), code(2)], keep_code=code(3))


# -------------------------------------------------------------------------------- move


def test_move_shared_boundary_changes_both_neighbours(clean):
    grids, boundary = clean
    # 001 | 002 edge at x = 100 bent 20 m east at mid height: 001 gains a 1000 m² triangle
    out = move_shared_boundary(grids, code(1), code(2), _line((100, 100), (120, 150), (100, 200)))
    _assert_valid(out, boundary)
    areas = _areas(out)
    assert areas[code(1)] == pytest.approx(11_000.0, abs=1e-3)
    assert areas[code(2)] == pytest.approx(9_000.0, abs=1e-3)
    assert sum(areas.values()) == pytest.approx(60_000.0, abs=1e-2)


def test_move_accepts_reversed_line(clean):
    grids, boundary = clean
    out = move_shared_boundary(grids, code(2), code(5), _line((200, 100), (150, 90), (100, 100)))
    _assert_valid(out, boundary)
    areas = _areas(out)
    assert areas[code(2)] == pytest.approx(10_500.0, abs=1e-3)
    assert areas[code(5)] == pytest.approx(9_500.0, abs=1e-3)


@pytest.mark.parametrize(
    ("a", "b", "line", "message"),
    [
        (1, 2, ((100, 100), (120, 150), (100, 190)), "start and end"),
        (1, 2, ((100, 100), (250, 150), (100, 200)), "stay within"),
        (1, 2, ((100, 100), (130, 160), (130, 140), (90, 160), (100, 200)), "crosses itself"),
        (1, 3, ((100, 100), (120, 150), (100, 200)), "share no edge"),
    ],
)
def test_move_refuses_bad_lines(clean, a, b, line, message):
    grids, _ = clean
    with pytest.raises(InputError, match=message):
        move_shared_boundary(grids, code(a), code(b), _line(*line))


# --------------------------------------------------------------------- on the demo data


def test_edits_on_the_repaired_demo_division():
    boundary = gpd.read_file(DEMO / "boundary.geojson")
    grids, _ = repair(gpd.read_file(DEMO / "grids_defective.geojson"), boundary)
    metric = grids.to_crs(METRIC_CRS)
    total = metric.area.sum()
    edited = 0
    for grid, geom in zip(grids["code"], metric.geometry, strict=True):
        x0, _, x1, _ = geom.bounds
        y = geom.representative_point().y
        line_m = LineString([(x0 - 5, y), (x1 + 5, y)])
        if len(shapely.get_parts(shapely.ops.split(geom, line_m))) != 2:
            continue  # a concave grid cut more than once by a straight line
        out = split_grid(grids, grid, to_lonlat([line_m]))
        assert validate(out, boundary).query("severity == 'error'").empty, grid
        # a node added on a lon/lat-straight edge sits a hair (< noise, 1 mm) off the metric
        # chord: where the cut meets the community boundary, the total moves by that much
        noise_m2 = 1e-3 * geom.length
        assert out.to_crs(METRIC_CRS).area.sum() == pytest.approx(total, abs=noise_m2)
        merged = merge_grids(out, [grid, out["code"].iloc[-1]])
        assert validate(merged, boundary).query("severity == 'error'").empty, grid
        assert merged.to_crs(METRIC_CRS).area.sum() == pytest.approx(total, abs=noise_m2)
        edited += 1
    assert edited >= 6
