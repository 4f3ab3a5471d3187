"""gis.assign: covers semantics, the tie-break, explicit outside, bulk == single look-up."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.assign import TIE_BREAK, GridIndex, assign_points, outside_mask
from gis.errors import GeometryTypeError, UnknownCRSError
from tests.conftest import METRIC_EPSG, covering_codes, expected_code

DEMO_GRIDS = Path(__file__).resolve().parents[2] / "data" / "demo" / "grids.geojson"


def _xy(points: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    return points.geometry.x.to_numpy(), points.geometry.y.to_numpy()


# --------------------------------------------------------------------------- planted points


def test_planted_points_hold_the_cases_they_claim(planted):
    counts = planted.groupby("kind")["n_covering"].agg(["min", "max", "size"])
    assert counts.loc["vertex_4", "min"] == 4
    assert counts.loc["vertex_3", "min"] == 3
    assert counts.loc["shared_edge", "size"] >= 20
    assert (counts.loc["shared_edge", ["min", "max"]] == 2).all()
    assert counts.loc["outer_boundary", "size"] >= 10
    assert (counts.loc["outer_boundary", ["min", "max"]] == 1).all()
    assert (counts.loc["inside_1mm", ["min", "max"]] == 1).all()
    assert (counts.loc[["outside_1mm", "far_outside", "none"], "max"] == 0).all()


def test_assign_points_follows_the_rule_on_every_planted_point(division, planted):
    result = assign_points(planted, division.grids)
    expected = [expected_code(division.grids, p) for p in planted.geometry]
    assert result.tolist() == expected
    assert result.name == "grid_code"
    assert result.index.equals(planted.index)


@pytest.mark.parametrize("kind", ["shared_edge", "vertex_2", "vertex_3", "vertex_4"])
def test_point_on_shared_edge_or_vertex_gets_the_smallest_covering_code(division, planted, kind):
    rows = planted[planted["kind"] == kind]
    result = assign_points(rows, division.grids)
    for point, code in zip(rows.geometry, result, strict=True):
        covering = covering_codes(division.grids, point)
        assert len(covering) >= 2
        assert code == min(covering)


@pytest.mark.parametrize(
    ("kind", "outside"),
    [("outer_boundary", False), ("vertex_1", False), ("inside_1mm", False),
     ("outside_1mm", True), ("far_outside", True), ("none", True)],
)  # fmt: skip
def test_boundary_points_are_inside_and_outside_points_are_na(division, planted, kind, outside):
    rows = planted[planted["kind"] == kind]
    result = assign_points(rows, division.grids)
    assert len(result) == len(rows) > 0
    assert outside_mask(result).tolist() == [outside] * len(rows)
    if not outside:
        for point, code in zip(rows.geometry, result, strict=True):
            grid = division.grids.loc[division.grids["code"] == code].geometry.iloc[0]
            assert shapely.covers(grid, point)


def test_grid_index_agrees_with_bulk_on_every_planted_point(division, planted):
    bulk = assign_points(planted, division.grids)
    index = GridIndex(division.grids)
    real = planted[planted.geometry.notna()]
    xs, ys = _xy(real)
    singles = [index.locate(x, y) for x, y in zip(xs, ys, strict=True)]
    assert singles == bulk.loc[real.index].tolist()
    assert index.locate_many(xs, ys).tolist() == singles


# --------------------------------------------------------------------------- rule details


def _two_squares(ids, crs=METRIC_EPSG):
    return gpd.GeoDataFrame(
        {"code": ids}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=crs
    )


def test_tie_break_is_python_string_order_of_the_id():
    assert "first" in TIE_BREAK and "ORDER BY code" in TIE_BREAK
    edge = gpd.GeoSeries([shapely.Point(1, 0.5)], crs=METRIC_EPSG)
    assert assign_points(edge, _two_squares(["b", "a"])).tolist() == ["a"]
    assert assign_points(edge, _two_squares(["a", "b"])).tolist() == ["a"]
    # integer ids: "10" < "9" as strings, so 10 wins although 9 < 10 as numbers
    assert assign_points(edge, _two_squares([9, 10])).tolist() == [10]
    assert GridIndex(_two_squares([9, 10])).locate(1, 0.5) == 10


def test_overlap_goes_to_the_smallest_code():
    grids = gpd.GeoDataFrame(
        {"code": ["310109011001002", "310109011001001"]},
        geometry=[shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)],
        crs=METRIC_EPSG,
    )
    pts = gpd.GeoSeries(shapely.points([[1.5, 1.5], [0.5, 0.5], [2.5, 2.5]]), crs=METRIC_EPSG)
    assert assign_points(pts, grids).tolist() == [
        "310109011001001",
        "310109011001002",
        "310109011001001",
    ]


def test_hole_is_outside_and_its_rim_inside():
    ring = shapely.Polygon(shapely.box(0, 0, 4, 4).exterior, [shapely.box(1, 1, 3, 3).exterior])
    grids = gpd.GeoDataFrame({"code": ["x"]}, geometry=[ring], crs=METRIC_EPSG)
    pts = gpd.GeoSeries(shapely.points([[2, 2], [1, 2], [0.5, 0.5]]), crs=METRIC_EPSG)
    assert assign_points(pts, grids).tolist() == [None, "x", "x"]


def test_grids_without_code_or_geometry_take_no_part():
    grids = gpd.GeoDataFrame(
        {"code": [None, "b", "c"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), None],
        crs=METRIC_EPSG,
    )
    pts = gpd.GeoSeries(shapely.points([[0.5, 0.5], [1, 0.5]]), crs=METRIC_EPSG)
    assert assign_points(pts, grids).tolist() == [None, "b"]
    assert GridIndex(grids).locate(1, 0.5) == "b"
    assert len(GridIndex(grids)) == 1


def test_result_is_aligned_with_a_shuffled_labelled_index(division, planted):
    shuffled = planted.sample(frac=1.0, random_state=3)
    shuffled.index = [f"p{i}" for i in shuffled.index]
    result = assign_points(shuffled.geometry, division.grids)
    assert result.index.tolist() == shuffled.index.tolist()
    assert result.tolist() == [expected_code(division.grids, p) for p in shuffled.geometry]


def test_empty_points_and_empty_grids():
    grids = _two_squares(["a", "b"])
    empty = gpd.GeoSeries([], crs=METRIC_EPSG)
    assert assign_points(empty, grids).empty
    pts = gpd.GeoSeries(
        [shapely.Point(0.5, 0.5), shapely.Point(), None], crs=METRIC_EPSG, index=[5, 6, 7]
    )
    assert assign_points(pts, grids).tolist() == ["a", None, None]
    no_grids = grids.iloc[:0]
    result = assign_points(pts, no_grids)
    assert result.tolist() == [None, None, None] and result.index.tolist() == [5, 6, 7]
    assert GridIndex(no_grids).locate(0.5, 0.5) is None
    assert GridIndex(no_grids).locate_many([0.5], [0.5]).tolist() == [None]


# --------------------------------------------------------------------------- CRS and types


def test_points_in_another_crs_are_reprojected_to_the_grids(division):
    # points well inside each grid (1 m from any edge), given in metres against lon/lat grids
    inner = division.grids_m.geometry.buffer(-1.0).representative_point()
    pts_m = gpd.GeoDataFrame({"want": division.grids_m["code"]}, geometry=inner, crs=METRIC_EPSG)
    assert assign_points(pts_m, division.grids).tolist() == pts_m["want"].tolist()
    assert assign_points(pts_m.to_crs(4326), division.grids_m).tolist() == pts_m["want"].tolist()


def test_unknown_crs_is_refused():
    grids = _two_squares(["a", "b"])
    pts = gpd.GeoSeries([shapely.Point(0.5, 0.5)])
    with pytest.raises(UnknownCRSError, match="points"):
        assign_points(pts, grids)
    with pytest.raises(UnknownCRSError, match="grids"):
        assign_points(pts.set_crs(METRIC_EPSG), grids.set_crs(None, allow_override=True))
    with pytest.raises(UnknownCRSError):
        GridIndex(grids.set_crs(None, allow_override=True))


def test_non_point_geometry_names_the_first_bad_row():
    grids = _two_squares(["a", "b"])
    pts = gpd.GeoSeries(
        [shapely.Point(0, 0), None, shapely.LineString([(0, 0), (1, 1)]), shapely.box(0, 0, 1, 1)],
        index=["r0", "r1", "r2", "r3"],
        crs=METRIC_EPSG,
    )
    with pytest.raises(GeometryTypeError, match=r"'r2'.*LineString"):
        assign_points(pts, grids)


def test_non_polygon_grid_is_refused():
    grids = gpd.GeoDataFrame(
        {"code": ["a", "b"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])],
        crs=METRIC_EPSG,
    )
    with pytest.raises(GeometryTypeError, match="grid row 1"):
        assign_points(gpd.GeoSeries([shapely.Point(0, 0)], crs=METRIC_EPSG), grids)


def test_missing_id_column_is_named():
    with pytest.raises(KeyError, match="grid_no"):
        assign_points(
            gpd.GeoSeries([shapely.Point(0, 0)], crs=METRIC_EPSG),
            _two_squares(["a", "b"]),
            grid_id="grid_no",
        )


# --------------------------------------------------------------------------- properties


_cuts = st.lists(st.floats(1.0, 99.0, allow_nan=False), min_size=1, max_size=5, unique=True)


@st.composite
def _subdivision_and_points(draw):
    xs = [0.0, *sorted(draw(_cuts)), 100.0]
    ys = [0.0, *sorted(draw(_cuts)), 100.0]
    cells = [
        shapely.box(x0, y0, x1, y1)
        for x0, x1 in itertools.pairwise(xs)
        for y0, y1 in itertools.pairwise(ys)
    ]
    codes = draw(st.permutations([f"{i:03d}" for i in range(len(cells))]))
    coord_x = st.one_of(st.sampled_from(xs), st.floats(-10.0, 110.0, allow_nan=False))
    coord_y = st.one_of(st.sampled_from(ys), st.floats(-10.0, 110.0, allow_nan=False))
    pts = draw(st.lists(st.tuples(coord_x, coord_y), min_size=1, max_size=40))
    return cells, list(codes), np.array(pts, dtype=float)


@settings(max_examples=80, deadline=None)
@given(_subdivision_and_points())
def test_property_each_point_in_the_community_gets_exactly_one_covering_grid(case):
    cells, codes, xy = case
    grids = gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=METRIC_EPSG)
    points = gpd.GeoSeries(shapely.points(xy), crs=METRIC_EPSG)
    result = assign_points(points, grids)
    community = shapely.box(0, 0, 100, 100)
    for point, code in zip(points, result, strict=True):
        covering = [c for c, cell in zip(codes, cells, strict=True) if cell.covers(point)]
        if community.covers(point):
            assert covering and code == min(covering)
        else:
            assert code is None and not covering
    index = GridIndex(grids)
    assert index.locate_many(xy[:, 0], xy[:, 1]).tolist() == result.tolist()
    assert [index.locate(x, y) for x, y in xy] == result.tolist()


# --------------------------------------------------------------------------- demo data


@pytest.mark.skipif(not DEMO_GRIDS.is_file(), reason="data/demo/grids.geojson not built yet")
def test_demo_division_bulk_single_and_brute_force_agree():
    grids = gpd.read_file(DEMO_GRIDS)
    grids = grids[grids.geometry.notna()]
    rng = np.random.default_rng(11)
    xmin, ymin, xmax, ymax = grids.total_bounds
    random_xy = np.column_stack([rng.uniform(xmin, xmax, 300), rng.uniform(ymin, ymax, 300)])
    vertices = shapely.get_coordinates(grids.geometry.to_numpy())
    xy = np.vstack([random_xy, vertices[rng.choice(len(vertices), 300)]])
    points = gpd.GeoSeries(shapely.points(xy), crs=grids.crs)
    bulk = assign_points(points, grids)
    assert [None if c is None else str(c) for c in bulk] == [
        expected_code(grids, p) for p in points
    ]
    assert GridIndex(grids).locate_many(xy[:, 0], xy[:, 1]).tolist() == bulk.tolist()
    # every vertex of the division belongs to some grid
    assert bulk.iloc[300:].notna().all()
    assert isinstance(bulk, pd.Series)
