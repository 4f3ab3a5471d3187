"""gis.edit.split_along_line: a grid cut along a road's centreline.

Truths come from elsewhere: shapely's own ``shapely.ops.split`` (GEOS) for the pieces of a
rectangle cut by a straight line, areas by hand (trapezoids) for the extended ends, the sign
of the cross product for "each piece lies on one side of the line", and
``gis.coverage.validate`` for the division staying free of gaps and overlaps.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, box
from shapely.ops import split as shapely_split

from gis.coverage import validate
from gis.edit import split_along_line
from gis.errors import InputError

CRS = 4549  # CGCS2000 Gauss-Krüger zone 40: metres around Shanghai
X0, Y0 = 552000.0, 3457000.0
CODE = "310101002005001"


def _grids(*geoms) -> gpd.GeoDataFrame:
    codes = [f"310101002005{i + 1:03d}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=CRS)


def _side(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Signed distance (m) of points from the infinite line a→b: left positive."""
    d = (b - a) / np.hypot(*(b - a))
    rel = points - a
    return d[0] * rel[:, 1] - d[1] * rel[:, 0]


@st.composite
def rectangles_and_lines(draw):
    w = draw(st.floats(20, 600))
    h = draw(st.floats(20, 600))
    x = X0 + draw(st.floats(-5000, 5000))
    y = Y0 + draw(st.floats(-5000, 5000))
    u = draw(st.floats(0.05, 0.95))
    v = draw(st.floats(0.05, 0.95))
    angle = draw(st.floats(0, math.pi))
    through = np.array([x + u * w, y + v * h])
    reach = 3 * math.hypot(w, h)
    d = np.array([math.cos(angle), math.sin(angle)]) * reach
    return box(x, y, x + w, y + h), through - d, through + d


@settings(max_examples=60, deadline=None)
@given(rectangles_and_lines())
def test_straight_line_across_a_rectangle_matches_geos_split(case):
    rect, a, b = case
    line = LineString([a, b])
    out = split_along_line(_grids(rect), CODE, line, min_width_m=0)
    truth = sorted(p.area for p in shapely_split(rect, line).geoms)
    got = sorted(out.area)
    assert len(got) == len(truth) == 2
    assert got == pytest.approx(truth, rel=1e-9, abs=1e-6)
    assert sum(got) == pytest.approx(rect.area, rel=1e-12)
    # the largest piece keeps the code, the other is the next sequence
    assert out["code"].tolist() == [CODE, "310101002005002"]
    assert out.area.iloc[0] >= out.area.iloc[1]
    # each piece lies on one side of the line (vertices within a micrometre of it count)
    sides = [_side(a, b, shapely.get_coordinates(g)) for g in out.geometry]
    signs = [np.sign(s[np.abs(s) > 1e-6]) for s in sides]
    assert all(len(set(s.tolist())) == 1 for s in signs)
    assert signs[0][0] != signs[1][0]


@settings(max_examples=30, deadline=None)
@given(rectangles_and_lines())
def test_the_neighbour_keeps_the_shared_edge_and_the_division_validates(case):
    rect, a, b = case
    x0, y0, x1, y1 = rect.bounds
    right = box(x1, y0, x1 + 50, y1)  # shares the rectangle's east side
    grids = _grids(rect, right)
    out = split_along_line(grids, CODE, LineString([a, b]), min_width_m=0)
    outline = box(x0, y0, x1 + 50, y1)
    boundary = gpd.GeoDataFrame(geometry=[outline], crs=CRS)
    assert validate(out, boundary, code_field="code").empty
    assert out.area.sum() == pytest.approx(grids.area.sum(), rel=1e-12)
    assert out.geometry.iloc[1].area == pytest.approx(right.area, rel=1e-12)


def test_a_road_stopping_short_of_the_outline_is_carried_across():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    # enters 2 m above the south side, bends, stops 3 m below the north side
    road = LineString([(X0 + 30, Y0 + 2), (X0 + 30, Y0 + 50), (X0 + 31, Y0 + 97)])
    out = split_along_line(_grids(rect), CODE, road, tolerance_m=5)
    # west piece by trapezoids: straight down to y0, along the last segment up to y0 + 100
    x_top = 31 + 1 / 47 * 3
    west = 30 * 50 + (30 + 31) / 2 * 47 + (31 + x_top) / 2 * 3
    assert sorted(out.area) == pytest.approx(sorted([west, 10_000 - west]), abs=1e-6)
    # beyond the tolerance the road is a dead end that cuts nothing
    with pytest.raises(InputError, match=r"does not cut grid 310101002005001.*within 2 m"):
        split_along_line(_grids(rect), CODE, road, tolerance_m=2)


def test_an_end_running_along_the_outline_goes_to_its_nearest_point():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    # crosses the south side, ends 4 m from the east side running parallel to it (north)
    road = LineString([(X0 + 50, Y0 - 10), (X0 + 50, Y0 + 40), (X0 + 96, Y0 + 40),
                       (X0 + 96, Y0 + 60)])  # fmt: skip
    out = split_along_line(_grids(rect), CODE, road, tolerance_m=5)
    # the end (96, 60) is joined straight east to (100, 60): south-east piece by hand
    south_east = 50 * 40 + 4 * 20
    assert sorted(out.area) == pytest.approx(sorted([south_east, 10_000 - south_east]), abs=1e-6)


def test_a_road_crossing_twice_gives_three_pieces_with_new_codes():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    # two ways of one road: down through the grid, along below it, and up through it again
    ways = MultiLineString([
        [(X0 + 20, Y0 + 120), (X0 + 20, Y0 - 20), (X0 + 50, Y0 - 20)],
        [(X0 + 50, Y0 - 20), (X0 + 80, Y0 - 20), (X0 + 80, Y0 + 120)],
    ])  # fmt: skip
    neighbour = box(X0 + 100, Y0, X0 + 150, Y0 + 100)
    out = split_along_line(_grids(rect, neighbour), CODE, ways)
    assert out["code"].tolist() == [CODE, "310101002005002", "310101002005003",
                                    "310101002005004"]  # fmt: skip
    truth = sorted(p.area for p in shapely_split(rect, shapely.line_merge(ways)).geoms)
    got = sorted(out[out["code"] != "310101002005002"].area)
    assert got == pytest.approx(truth, abs=1e-6) and len(got) == 3
    assert out.area.iloc[0] == pytest.approx(max(truth))  # the largest keeps the code
    named = split_along_line(_grids(rect), CODE, ways, new_codes=["A", "B"])
    assert named["code"].tolist() == [CODE, "A", "B"]
    assert named.area.iloc[1] >= named.area.iloc[2]
    with pytest.raises(InputError, match="2 new codes are needed, 1 were given"):
        split_along_line(_grids(rect), CODE, ways, new_codes=["A"])
    with pytest.raises(InputError, match="already taken"):
        split_along_line(_grids(rect, neighbour), CODE, ways, new_codes=["A", "310101002005002"])


def test_a_road_in_lon_lat_cuts_a_grid_in_metres():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    road_m = gpd.GeoSeries([LineString([(X0 + 40, Y0 - 20), (X0 + 40, Y0 + 120)])], crs=CRS)
    road = gpd.GeoDataFrame(geometry=road_m.to_crs(4326))
    out = split_along_line(_grids(rect), CODE, road)
    assert sorted(out.area) == pytest.approx([4000.0, 6000.0], abs=1e-3)


def test_roads_that_do_not_cut_the_grid_are_refused():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    grids = _grids(rect)
    beside = LineString([(X0 + 120, Y0 - 10), (X0 + 120, Y0 + 110)])
    along = LineString([(X0 - 10, Y0), (X0 + 110, Y0)])  # on the south side: cuts nothing
    dead_end = LineString([(X0 + 50, Y0 - 10), (X0 + 50, Y0 + 50)])
    for road in (beside, along, dead_end):
        with pytest.raises(InputError, match="does not cut grid 310101002005001"):
            split_along_line(grids, CODE, road)
    with pytest.raises(InputError, match="no grid has code"):
        split_along_line(grids, "310101002005009", beside)
    with pytest.raises(InputError, match="must be lines"):
        split_along_line(grids, CODE, shapely.Point(X0, Y0))


def test_a_road_running_along_the_outline_leaves_no_sliver():
    rect = box(X0, Y0, X0 + 100, Y0 + 100)
    # one way across the grid; another from there north along its east side, 2 cm inside
    road = MultiLineString([
        [(X0 - 10, Y0 + 40), (X0 + 110, Y0 + 40)],
        [(X0 + 99.98, Y0 + 40), (X0 + 99.98, Y0 + 110)],
    ])  # fmt: skip
    out = split_along_line(_grids(rect), CODE, road)
    assert len(out) == 2
    assert sorted(out.area) == pytest.approx([4000.0, 6000.0], abs=1e-6)
    exact = split_along_line(_grids(rect), CODE, road, min_width_m=0)
    assert len(exact) == 3 and min(exact.area) == pytest.approx(0.02 * 60, abs=1e-6)
