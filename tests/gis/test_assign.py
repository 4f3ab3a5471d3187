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

from gis.assign import TIE_BREAK, GridArrays, GridIndex, assign_lonlat, assign_points, outside_mask
from gis.errors import GeometryTypeError, InputTypeError, UnknownCRSError
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


# --------------------------------------------------------------------------- grids as arrays


def _arrays(grids: gpd.GeoDataFrame) -> GridArrays:
    return GridArrays(grids["code"].to_numpy(), grids.geometry.to_numpy(), grids.crs)


def test_grid_arrays_give_the_frames_answer_on_every_planted_point(division, planted):
    geoms = planted.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xs = np.where(present, shapely.get_x(geoms), np.nan)  # no point: NaN coordinates
    ys = np.where(present, shapely.get_y(geoms), np.nan)
    want = [expected_code(division.grids, p) for p in planted.geometry]
    arrays = _arrays(division.grids)
    assert assign_lonlat(xs, ys, 4326, arrays).tolist() == want
    assert assign_points(planted, arrays).tolist() == want
    assert GridIndex(arrays).locate_many(xs, ys).tolist() == want
    # reprojected as a frame's grids are: metric points against lon/lat grid arrays
    inner = division.grids_m.geometry.buffer(-1.0).representative_point()
    got = assign_lonlat(inner.x.to_numpy(), inner.y.to_numpy(), METRIC_EPSG, arrays)
    assert got.tolist() == division.grids_m["code"].tolist()


def test_grid_arrays_are_checked_like_a_frame():
    boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1), None]
    arrays = GridArrays(["c", None, "a", "d"], boxes, METRIC_EPSG)  # no id / no geometry
    assert assign_lonlat([0.5, 1.5, 2.0, 9.0], [0.5] * 4, METRIC_EPSG, arrays).tolist() == [
        "c", None, "a", None,
    ]  # fmt: skip
    with pytest.raises(GeometryTypeError, match=r"grid row 1 .*LineString"):
        GridIndex(GridArrays(["a", "b"], [boxes[0], shapely.LineString([(0, 0), (1, 1)])], 4326))
    with pytest.raises(UnknownCRSError, match="grids"):
        assign_lonlat([0.5], [0.5], 4326, GridArrays(["a"], boxes[:1], None))
    with pytest.raises(InputTypeError, match="one length"):
        assign_lonlat([0.5], [0.5], 4326, GridArrays(["a", "b"], boxes[:1], 4326))


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
            code_field="grid_no",
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


# --------------------------------------------------------------------------- the fast path
# GridIndex answers from a raster of the grids where no edge is near, with an exact
# orientation test where one straight edge splits a cell, and with GEOS elsewhere. These tests
# compare it with the plain rule evaluated grid by grid with shapely.covers.


def _truth(geoms, codes, xy) -> list[str | None]:
    out = []
    for x, y in xy:
        point = shapely.Point(x, y)
        covering = [c for c, g in zip(codes, geoms, strict=True) if shapely.covers(g, point)]
        out.append(min(covering) if covering else None)
    return out


def _check_fast_path(geoms, codes, xy, crs=METRIC_EPSG):
    grids = gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=crs)
    truth = _truth(geoms, codes, xy)
    index = GridIndex(grids)
    points = gpd.GeoSeries(shapely.points(xy), crs=crs)
    assert index.assign(points).tolist() == truth
    assert index.locate_many(xy[:, 0], xy[:, 1]).tolist() == truth
    assert [index.locate(x, y) for x, y in xy] == truth


def _points_on_and_near(geoms, rng, n_random: int) -> np.ndarray:
    """Random points, every vertex, points at 1/4, 1/2, 3/4 of edges, and 1-ulp neighbours."""
    coords = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geoms)))
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    pad = 0.1 * max(xmax - xmin, ymax - ymin)
    random_xy = np.column_stack(
        [
            rng.uniform(xmin - pad, xmax + pad, n_random),
            rng.uniform(ymin - pad, ymax + pad, n_random),
        ]
    )
    a, b = coords[:-1], coords[1:]
    t = rng.choice([0.25, 0.5, 0.75], len(a))[:, None]
    on_edges = a + t * (b - a)
    near = on_edges + np.nextafter(on_edges, np.inf) - on_edges  # one ulp up and right
    return np.vstack([random_xy, coords, on_edges, near])


@st.composite
def _jittered_lattice(draw):
    nx, ny = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    dyadic = draw(st.booleans())  # dyadic vertices: edge midpoints lie exactly on the edges
    rng = np.random.default_rng(seed)
    origin = draw(st.sampled_from([(0.0, 0.0), (450_000.0, 3_457_000.0), (121.47, 31.23)]))
    cell = 150.0 if origin[0] > 1000 else (1.0 if origin[0] == 0 else 0.0015)
    gx, gy = np.meshgrid(np.arange(nx + 1) * cell, np.arange(ny + 1) * cell)
    gx = gx + rng.uniform(-0.3, 0.3, gx.shape) * cell
    gy = gy + rng.uniform(-0.3, 0.3, gy.shape) * cell
    gx, gy = gx + origin[0], gy + origin[1]
    if dyadic:
        q = 2.0 ** np.floor(np.log2(cell / 64))
        gx, gy = np.round(gx / q) * q, np.round(gy / q) * q
    cells = [
        shapely.Polygon(
            [(gx[r, c], gy[r, c]), (gx[r, c + 1], gy[r, c + 1]),
             (gx[r + 1, c + 1], gy[r + 1, c + 1]), (gx[r + 1, c], gy[r + 1, c])]
        )
        for r in range(ny) for c in range(nx)
    ]  # fmt: skip
    codes = list(draw(st.permutations([f"3101{i:03d}" for i in range(len(cells))])))
    return np.array(cells, dtype=object), codes, seed


@settings(max_examples=60, deadline=None)
@given(_jittered_lattice())
def test_property_fast_path_equals_covers_on_jittered_lattices(case):
    geoms, codes, seed = case
    xy = _points_on_and_near(geoms, np.random.default_rng(seed), 60)
    _check_fast_path(geoms, codes, xy)


@st.composite
def _voronoi(draw):
    n = draw(st.integers(2, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 1000.0, 0.01]))
    offset = draw(st.sampled_from([0.0, 450_000.0, 121.0]))
    sites = shapely.multipoints(rng.uniform(0, 1, (n, 2)) * scale + offset)
    frame = shapely.box(offset, offset, offset + scale, offset + scale)
    cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame))
    cells = shapely.intersection(cells, frame)
    cells = cells[~shapely.is_empty(cells)]
    codes = [f"{i:03d}" for i in rng.permutation(len(cells))]
    return cells, codes, seed


@settings(max_examples=40, deadline=None)
@given(_voronoi())
def test_property_fast_path_equals_covers_on_voronoi_divisions(case):
    geoms, codes, seed = case
    xy = _points_on_and_near(geoms, np.random.default_rng(seed), 80)
    _check_fast_path(geoms, codes, xy)


def test_fast_path_with_overlaps_holes_and_multipolygons():
    ring_with_hole = shapely.Polygon(
        shapely.box(0, 0, 10, 10).exterior.coords, [shapely.box(3, 3, 6, 6).exterior.coords[::-1]]
    )
    geoms = np.array(
        [
            ring_with_hole,
            shapely.box(3, 3, 6, 6),  # fills the hole exactly
            shapely.box(8, 8, 14, 14),  # overlaps the first grid
            shapely.MultiPolygon([shapely.box(10, 0, 12, 2), shapely.box(12, 2, 14, 4)]),
            shapely.Polygon([(20, 0), (24, 4), (24, 0), (20, 4)]),  # bow-tie (invalid)
        ],
        dtype=object,
    )
    codes = ["5", "4", "1", "3", "2"]
    rng = np.random.default_rng(5)
    xy = _points_on_and_near(geoms, rng, 400)
    _check_fast_path(geoms, codes, xy)
    big = gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=METRIC_EPSG)
    many = rng.uniform(-1, 25, (25_000, 2))  # enough points for assign_points' raster path
    pts = gpd.GeoSeries(shapely.points(many), crs=METRIC_EPSG)
    sample = rng.choice(len(many), 300, replace=False)
    result = assign_points(pts, big)
    assert result.iloc[sample].tolist() == _truth(geoms, codes, many[sample])


def test_single_path_handles_nan_inf_and_far_points():
    index = GridIndex(_two_squares(["a", "b"]))
    for x, y in [(np.nan, 0.5), (np.inf, 0.5), (0.5, -np.inf), (1e300, 1e300), (-5, 0.5)]:
        assert index.locate(x, y) is None
    assert index.locate_many([np.nan, 0.5], [0.5, np.nan]).tolist() == [None, None]


_coordinate = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 0.1, 0.3, 121.47, 3.0e6])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_coordinate, min_size=6, max_size=6), st.sampled_from([0.0, 0.25, 0.5, 1 / 3]))
def test_orientation_sign_is_exact(coords, t):
    from fractions import Fraction

    from gis.assign import orientation_sign

    ax, ay, bx, by, px, py = coords
    on = (ax + t * (bx - ax), ay + t * (by - ay))  # often exactly on a→b
    # and one ulp off it: the floating-point filter must not claim a sign it cannot prove
    cases = [(px, py), on, (np.nextafter(on[0], np.inf), on[1]), (on[0], np.nextafter(on[1], -1))]
    for qx, qy in cases:
        sign, exact = orientation_sign(*(np.array([v]) for v in (ax, ay, bx, by, qx, qy)))
        F = Fraction
        det = (F(ax) - F(qx)) * (F(by) - F(qy)) - (F(ay) - F(qy)) * (F(bx) - F(qx))
        if exact[0]:
            assert sign[0] == (det > 0) - (det < 0)


def test_fast_paths_are_taken_on_a_clean_division():
    # not a speed test: most boundary cells must be split by one edge (exact orientation
    # path) and cells round a vertex must know it, else every edge point would go to GEOS
    rng = np.random.default_rng(2)
    gx, gy = np.meshgrid(np.arange(11) * 150.0, np.arange(11) * 150.0)
    gx = gx + rng.uniform(-30, 30, gx.shape) + 450_000
    gy = gy + rng.uniform(-30, 30, gy.shape) + 3_457_000
    cells = [
        shapely.Polygon([(gx[r, c], gy[r, c]), (gx[r, c + 1], gy[r, c + 1]),
                         (gx[r + 1, c + 1], gy[r + 1, c + 1]), (gx[r + 1, c], gy[r + 1, c])])
        for r in range(10) for c in range(10)
    ]  # fmt: skip
    grids = gpd.GeoDataFrame({"code": [f"{i:03d}" for i in range(100)]}, geometry=cells, crs=4549)
    raster = GridIndex(grids)._raster
    assert raster.simple.mean() > 0.5
    assert (raster.vertex_answer < 100).sum() >= 81  # at least one cell per inner vertex
    from gis.assign import orientation_sign

    a, b = np.array([gx[3, 3], gy[3, 3]]), np.array([gx[3, 4], gy[3, 4]])
    mid = (a + b) / 2
    sign, exact = orientation_sign(*(np.array([v]) for v in (*a, *b, *mid)))
    assert exact.all()
    from fractions import Fraction as F

    (ax, ay), (bx, by), (px, py) = (map(F, v) for v in (a, b, mid))
    det = (ax - px) * (by - py) - (ay - py) * (bx - px)
    assert sign[0] == (det > 0) - (det < 0)


@pytest.mark.parametrize(
    "extra",
    [
        shapely.box(1.2, 1.2, 1.8, 1.8),  # wholly inside one lattice cell, touching no edge
        shapely.box(1, 1, 2, 2),  # a duplicate of a lattice cell
        shapely.box(1, 1, 3, 2),  # two cells at once, every edge on lattice lines
        shapely.box(0, 0, 4, 4),  # the whole lattice
        shapely.box(1, 1, 1.5, 2),  # half a cell, three edges on the cell's edges
    ],
    ids=["inside", "duplicate", "two-cells", "everything", "half-cell"],
)
def test_overlaps_with_matching_edges_are_found(extra):
    # a grid overlapping a clean lattice without crossing any edge: the cheap coverage check
    # must still send the pair to the exact test, whichever code sorts first
    cells = [shapely.box(c, r, c + 1, r + 1) for r in range(4) for c in range(4)]
    geoms = np.array([*cells, extra], dtype=object)
    rng = np.random.default_rng(11)
    xy = _points_on_and_near(geoms, rng, 300)
    for extra_code in ("000", "999"):
        codes = [f"{i + 100:03d}" for i in range(16)] + [extra_code]
        _check_fast_path(geoms, codes, xy)
