"""Tests for the shortcuts that make gis.coverage.validate fast, each against the plain
computation it stands in for (GEOS, geopandas), never against its own output."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from gis.crs import WGS84
from tests.common import METRIC_CRS, ORIGIN_M

X0, Y0 = ORIGIN_M


def _one_reflex_polygons(rng: np.random.Generator, count: int) -> list[shapely.Polygon]:
    """Darts (a triangle with one side pushed in, as a moved vertex leaves them), thin or
    not, in both orientations, far from the origin as metric grids are."""
    polys = []
    for _ in range(count):
        length = rng.uniform(1, 200)
        width = rng.uniform(0.01, 1) * length * rng.choice([0.01, 0.3])
        notch = rng.uniform(0.05, 0.45)  # below the line (0, 0)-(tip, width): reflex
        tip = rng.uniform(0.1, 0.9) * length
        ring = [(0, 0), (length, 0), (tip, width), (tip * 0.5, width * notch)]
        poly = shapely.affinity.rotate(shapely.Polygon(ring), rng.uniform(0, 360), origin=(0, 0))
        poly = shapely.affinity.translate(poly, X0, Y0)
        polys.append(poly if rng.random() < 0.5 else poly.reverse())
    return polys


def test_one_reflex_widths_match_a_fine_geos_search():
    from gis.coverage.widths import convex_inscribed_radius, one_reflex_inscribed_radius

    rng = np.random.default_rng(17)
    polys = [p for p in _one_reflex_polygons(rng, 200) if p.is_valid]
    polys.append(shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 5, Y0 + 1), (X0 + 5, Y0 + 10)]))
    parts = np.array(polys, dtype=object)
    assert np.isnan(convex_inscribed_radius(parts)).all()  # none of them is convex
    mine = one_reflex_inscribed_radius(parts)
    assert not np.isnan(mine).any()
    geos = np.array([shapely.maximum_inscribed_circle(p, 1e-7).length for p in polys])
    # GEOS's search finds an inscribed circle, never one larger than the largest; on
    # centimetre-thin darts it stops a little short of its tolerance (checked by a grid
    # search in local coordinates: GEOS 0.01083842 m, the grid 0.01083845 m, here 0.01083845 m)
    assert (mine >= geos - 1e-9).all()
    assert (mine <= geos + 1e-6).all()


def test_one_reflex_widths_of_a_notched_rectangle_known_by_construction():
    from gis.coverage.widths import one_reflex_inscribed_radius

    # a 10 × 4 rectangle whose top edge is pushed down to 1 m at x = 2: the largest
    # circle (radius 2) fits in the right part, under the unnotched top
    notched = shapely.Polygon(
        [(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 4), (X0 + 2, Y0 + 1), (X0, Y0 + 4)]
    )
    radius = one_reflex_inscribed_radius(np.array([notched], dtype=object))[0]
    # by hand: the top edge from (2, 1) to (10, 4) is the line 3x - 8y + 2 = 0, at
    # (3x - 8y + 2) / sqrt(73) from a point (x, y) below it. A circle of radius 2 (the
    # rectangle's) centred at (8, 2) crosses it; the largest circle touches the bottom
    # (r = y), the right edge (r = 10 - x) and that line: r sqrt(73) = 32 - 11 r
    assert (3 * 8 - 8 * 2 + 2) / np.sqrt(73) < 2
    r = 32 / (11 + np.sqrt(73))
    assert radius == pytest.approx(r, rel=1e-12)


def test_polygons_with_two_reflex_vertices_are_left_to_geos():
    from gis.coverage.widths import one_reflex_inscribed_radius

    ring = [(0, 0), (10, 0), (10, 4), (6, 1), (3, 1), (0, 4)]
    two = shapely.Polygon([(X0 + x, Y0 + y) for x, y in ring])
    holed = box(X0, Y0, X0 + 10, Y0 + 10).difference(box(X0 + 4, Y0 + 4, X0 + 5, Y0 + 5))
    convex = box(X0, Y0, X0 + 3, Y0 + 1)
    radius = one_reflex_inscribed_radius(np.array([two, holed, convex, None], dtype=object))
    assert np.isnan(radius).all()


def _shared_vertex_grids() -> np.ndarray:
    """Polygons sharing vertices, one with a hole, a multipolygon, None and an empty one."""
    rng = np.random.default_rng(4)
    xs = X0 + np.arange(6) * 50.0 + rng.uniform(-5, 5, 6)
    ys = Y0 + np.arange(6) * 50.0 + rng.uniform(-5, 5, 6)
    cells = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(5) for j in range(5)]
    cells[3] = cells[3].difference(cells[3].centroid.buffer(5))
    cells[7] = shapely.MultiPolygon([cells[7], box(X0 - 30, Y0 - 30, X0 - 20, Y0 - 20)])
    return np.array([*cells, None, shapely.Polygon()], dtype=object)


@pytest.mark.parametrize("source", [4550, WGS84])
def test_vertices_in_the_plane_are_the_affine_map_of_each_vertex(source):
    from pyproj import CRS

    from gis.coverage.plane import Plane
    from gis.coverage.snapping import in_plane

    geoms = np.asarray(gpd.GeoSeries(_shared_vertex_grids(), crs=METRIC_CRS).to_crs(source))
    source = CRS.from_user_input(source)
    plane = Plane(source, CRS.from_user_input(METRIC_CRS), shapely.total_bounds(geoms))
    vertices = in_plane(geoms, plane)
    expected = shapely.transform(geoms, plane.forward)
    positions = np.arange(len(geoms))
    built = vertices.geometries(positions)
    assert shapely.equals_exact(built[:-2], expected[:-2], tolerance=0).all()
    assert built[-2] is None and built[-1].is_empty
    coords, owner = vertices.coordinates(positions[::-1])
    expected_coords, expected_owner = shapely.get_coordinates(expected[::-1], return_index=True)
    assert np.array_equal(coords, expected_coords) and np.array_equal(owner, expected_owner)
    # and back: the source coordinates to rounding
    back = plane.to_source(built[:-2])
    assert all(shapely.equals_exact(a, b, 1e-9) for a, b in zip(back, geoms[:-2], strict=True))


def test_vertices_with_z_lose_it_in_the_plane_and_the_metric_crs_is_its_own_plane():
    from pyproj import CRS

    from gis.coverage.plane import Plane
    from gis.coverage.snapping import in_plane

    geoms = np.array([shapely.Polygon([(X0, Y0, 5), (X0 + 9, Y0, 5), (X0, Y0 + 9, 5)])])
    metric = CRS.from_user_input(METRIC_CRS)
    same = in_plane(geoms, Plane(metric, metric, shapely.total_bounds(geoms)))
    assert same.geometries([0])[0] is geoms[0]  # taken as given, coordinate for coordinate
    other = Plane(CRS.from_user_input(4550), metric, shapely.total_bounds(geoms))
    flat = in_plane(geoms, other).geometries([0])
    assert not shapely.has_z(flat).any()


@pytest.mark.parametrize("lat", [18.2, 31.2, 45.0, 53.0])
def test_plane_distances_are_metres_per_axis_at_the_datas_latitude(lat):
    # independent truth: geodesic distances on the ellipsoid (pyproj.Geod)
    from pyproj import CRS, Geod

    from gis.coverage.plane import Plane
    from gis.crs import metric_crs

    lon = 121.4
    span = 20_000 / 111_000  # about 20 km
    frame = gpd.GeoDataFrame(geometry=[box(lon, lat, lon + span, lat + span)], crs=WGS84)
    plane = Plane(CRS.from_user_input(WGS84), metric_crs(frame), frame.total_bounds)
    rng = np.random.default_rng(int(lat * 10))
    a = rng.uniform([lon, lat], [lon + span, lat + span], (200, 2))
    b = a + rng.uniform(-0.002, 0.002, (200, 2))  # up to ~300 m apart
    _, _, truth = Geod(ellps="GRS80").inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    in_plane = np.hypot(*(plane.forward(b) - plane.forward(a)).T)
    # the scale of the metric CRS and its variation over 20 km: well within 0.5 %
    np.testing.assert_allclose(in_plane, truth, rtol=5e-3)


def test_common_segment_length_counts_exactly_shared_segments_only():
    from gis.coverage.segments import common_segment_length

    left = box(X0, Y0, X0 + 10, Y0 + 7)
    right = box(X0 + 10, Y0, X0 + 20, Y0 + 7)  # shares the 7 m edge, the other way round
    split = shapely.Polygon(  # the same edge in two segments: not the same segments
        [(X0 + 10, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 7), (X0 + 10, Y0 + 7), (X0 + 10, Y0 + 3)]
    )
    corner = box(X0 + 10, Y0 + 7, X0 + 12, Y0 + 9)  # touches at a vertex
    holed = box(X0 - 10, Y0 - 10, X0 + 30, Y0 + 30).difference(left)  # its hole is `left`
    a = np.array([left, left, left, left, right], dtype=object)
    b = np.array([right, split, corner, holed, right], dtype=object)
    shared = common_segment_length(a, b)
    assert shared == pytest.approx([7.0, 0.0, 0.0, 34.0, 34.0], abs=1e-12)
    # never more than the outline lying on the other outline, measured by GEOS
    on_outline = shapely.length(
        shapely.intersection(shapely.boundary(a), shapely.buffer(shapely.boundary(b), 1e-6))
    )
    assert (shared <= on_outline + 1e-6).all()


def test_bordering_grids_are_those_the_overlay_finds():
    """``Context.bordering`` skips the overlay for pairs sharing long exact segments; the
    grids it names are those the overlay alone names."""
    from gis.coverage.context import Context

    rng = np.random.default_rng(8)
    frame = box(X0, Y0, X0 + 600, Y0 + 600)
    sites = shapely.multipoints(rng.uniform(0, 600, (300, 2)) + np.array([X0, Y0]))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame)), frame
    )
    cells = shapely.set_precision(cells, 1e-4)
    removed = rng.choice(len(cells), 12, replace=False)
    kept = np.delete(cells, removed)
    corner_only = box(X0 - 5, Y0 - 5, X0, Y0)  # meets the division at one corner
    pieces = np.array([*cells[removed], corner_only], dtype=object)
    ctx = Context(kept, [str(i) for i in range(len(kept))], 0.001, 0.5)
    found = ctx.bordering(pieces)
    reach = 0.001
    for piece, grids in zip(pieces, found, strict=True):
        near = ctx.tree.query(piece, predicate="dwithin", distance=reach)
        shared = shapely.length(
            shapely.intersection(
                shapely.boundary(piece),
                shapely.buffer(shapely.boundary(kept[near]), reach, quad_segs=2),
            )
        )
        assert sorted(grids.tolist()) == sorted(near[shared > 10 * reach].tolist())
    assert all(len(grids) >= 3 for grids in found[:-1])  # a removed cell has neighbours
    assert len(found[-1]) == 0


@pytest.mark.parametrize("crs", [METRIC_CRS, 4550])
def test_rows_without_geometry_do_not_shift_the_other_grids(crs):
    """A grid without geometry before the others: the rest of the findings are those of
    the division without that row (the snapped rings stay with their own grids)."""
    from gis.coverage import validate

    rng = np.random.default_rng(21)
    frame = box(X0, Y0, X0 + 400, Y0 + 400)
    sites = shapely.multipoints(rng.uniform(0, 400, (120, 2)) + np.array([X0, Y0]))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame)), frame
    )
    codes = [f"c{i:03d}" for i in range(len(cells))]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=list(cells), crs=METRIC_CRS)
    grids = grids.drop(index=[5]).to_crs(crs)  # a gap
    boundary = gpd.GeoSeries([frame], crs=METRIC_CRS)
    empty_rows = gpd.GeoDataFrame({"code": ["x1", "x2"]}, geometry=[None, None], crs=crs)
    with_empty = pd.concat([empty_rows, grids.iloc[:40], empty_rows.iloc[:1], grids.iloc[40:]])
    with_empty = with_empty.set_crs(crs, allow_override=True).reset_index(drop=True)
    with_empty.loc[2 + 40, "code"] = "x3"
    expected = validate(grids, boundary)
    found = validate(with_empty, boundary)
    assert list(expected["kind"]) == ["gap"]
    found = found[found["kind"] != "invalid"]
    assert sorted(found["kind"]) == ["gap"]
    assert found["grid_codes"].tolist() == expected["grid_codes"].tolist()
    assert found["area_m2"].tolist() == pytest.approx(expected["area_m2"].tolist(), rel=1e-12)


def test_snapped_rings_point_at_their_own_grids_past_missing_rows():
    from gis.coverage.snapping import made_valid_and_snapped

    rng = np.random.default_rng(12)
    polys = [
        shapely.convex_hull(shapely.multipoints(rng.uniform(0, 50, (7, 2)) + np.array(ORIGIN_M)))
        for _ in range(40)
    ]
    geoms = np.array([None, *polys[:20], None, None, *polys[20:]], dtype=object)
    missing = shapely.is_missing(geoms)
    rings: dict = {}
    work = made_valid_and_snapped(geoms, missing, 1e-4, None, rings)
    assert len(rings["index"]) == len(polys)
    for k, position in enumerate(rings["index"]):
        ring = rings["coords"][rings["owner"] == k]
        assert np.array_equal(shapely.get_coordinates(work[position]), ring)
        # and it is the grid given at that row, snapped
        assert shapely.hausdorff_distance(work[position], geoms[position]) < 1e-4


def test_t_junctions_are_found_where_a_corner_lies_on_an_edge_and_nowhere_else():
    from gis.coverage.junctions import with_junctions

    # a tall west grid with a hole, the east half cut in two: the cut's west end is a
    # T-junction on the west grid's edge; the shared corners at top and bottom are not
    west = shapely.Polygon(
        box(0, 0, 1, 2).exterior.coords, [box(0.2, 0.2, 0.4, 0.4).exterior.coords]
    )
    south, north = box(1, 0, 2, 0.7), box(1, 0.7, 2, 2)
    found = with_junctions(np.array([west, south, north]), np.zeros((0, 2)), 1e-9)
    assert list(found) == [0]
    joined = found[0]
    assert joined.equals(west) and len(joined.interiors) == 1
    assert [1.0, 0.7] in shapely.get_coordinates(joined.exterior).tolist()
    assert shapely.get_num_coordinates(joined) == shapely.get_num_coordinates(west) + 1
    # a point on the boundary's edge given as extra, and one on no edge: only the first
    found = with_junctions(np.array([south]), np.array([[1.5, 0.0], [1.5, 0.5]]), 1e-9)
    assert [1.5, 0.0] in shapely.get_coordinates(found[0]).tolist()
    assert [1.5, 0.5] not in shapely.get_coordinates(found[0]).tolist()


def test_t_junctions_of_a_grid_of_100_000_vertices_take_no_time_per_vertex_pair():
    # the points are matched to segments through an index: a big ring against its own
    # vertices finds nothing (each is a vertex), without a distance to the whole outline
    from gis.coverage.junctions import with_junctions

    angles = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
    circle = shapely.Polygon(np.c_[np.cos(angles), np.sin(angles)])
    assert with_junctions(np.array([circle]), shapely.get_coordinates(circle), 1e-9) == {}


def test_rings_of_rebuilt_polygons_are_dropped_and_the_rest_kept_in_order():
    from gis.coverage.snapping import without_rings

    rings = {
        "index": np.array([2, 5, 7]),
        "coords": np.arange(18.0).reshape(9, 2),
        "owner": np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]),
    }
    kept = without_rings(rings, np.array([5]))
    assert kept["index"].tolist() == [2, 7]
    assert kept["owner"].tolist() == [0, 0, 0, 1, 1, 1]
    assert kept["coords"].tolist() == rings["coords"][[0, 1, 2, 6, 7, 8]].tolist()


# --------------------------------------------- convex rings: validity without asking GEOS


def _ring_polygon(points: np.ndarray, how: str) -> shapely.Polygon:
    """A polygon through ``points`` (metric coordinates far from the origin) built ``how``:
    as their convex hull (either orientation), in angle order round their centre (often
    not convex), as given (often self-crossing), with a vertex repeated, or with a point
    added on an edge (a flat corner)."""
    if how == "hull":
        hull = shapely.convex_hull(shapely.multipoints(points))
        return hull if isinstance(hull, shapely.Polygon) else shapely.Polygon()
    if how == "hull_reversed":
        hull = _ring_polygon(points, "hull")
        return hull.reverse() if not hull.is_empty else hull
    if how == "star":
        angle = np.arctan2(*(points - points.mean(axis=0)).T[::-1])
        return shapely.Polygon(points[np.argsort(angle)])
    if how == "repeated":
        hull = np.array(_ring_polygon(points, "hull").exterior.coords)
        return shapely.Polygon(np.vstack([hull[:2], hull[1:]])) if len(hull) > 3 else None
    if how == "flat":
        hull = np.array(_ring_polygon(points, "hull").exterior.coords)
        if len(hull) < 4:
            return None
        middle = (hull[0] + hull[1]) / 2
        return shapely.Polygon(np.vstack([hull[:1], middle, hull[1:]]))
    return shapely.Polygon(points)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-200, 200), st.floats(-200, 200)), min_size=3, max_size=12),
    st.sampled_from(["hull", "hull_reversed", "star", "given", "repeated", "flat"]),
    st.sampled_from([1.0, 1e-3, 1e-6]),
    st.integers(0, 2**32 - 1),
)
def test_certainly_convex_rings_are_valid_for_geos_as_given_and_moved_within_slack(
    points, how, scale, seed
):
    from gis.coverage.convex import certainly_convex

    points = np.array(points) * scale + np.array(ORIGIN_M)
    polygon = _ring_polygon(points, how)
    if polygon is None or polygon.is_empty:
        return
    coords = shapely.get_coordinates(polygon)
    slack = 1e-4
    certain = certainly_convex(coords, np.zeros(len(coords), dtype=int), 1, slack)[0]
    if not certain:
        return
    assert shapely.is_valid(polygon)  # GEOS agrees, as given
    rng = np.random.default_rng(seed)
    for _ in range(5):  # and with every vertex moved by up to the slack
        angle = rng.uniform(0, 2 * np.pi, len(coords) - 1)
        moved = (
            coords[:-1]
            + slack * rng.uniform(0, 1, (len(angle), 1)) * np.c_[np.cos(angle), np.sin(angle)]
        )
        assert shapely.is_valid(shapely.Polygon(moved))
    rounded = np.floor(coords / slack + 0.5) * slack  # rounded to a grid of the slack
    assert shapely.is_valid(shapely.Polygon(rounded))


def test_certainly_convex_settles_convex_rings_and_no_crossing_or_doubled_one():
    from gis.coverage.convex import certainly_convex

    x, y = ORIGIN_M
    hexagon = [(x + 10 * np.cos(a), y + 10 * np.sin(a)) for a in np.arange(6) * np.pi / 3]
    rings = [
        shapely.box(x, y, x + 100, y + 30),  # convex, clockwise or not
        shapely.box(x, y, x + 100, y + 30).reverse(),
        shapely.Polygon(hexagon),
        shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)]),  # bow-tie
        shapely.Polygon([hexagon[k % 6] for k in (0, 2, 4, 1, 3, 5)]),  # winds twice
        shapely.Polygon([(x, y), (x + 10, y), (x + 10, y + 10), (x + 5, y + 2), (x, y + 10)]),
        shapely.Polygon([(x, y), (x + 10, y), (x + 10, y), (x + 10, y + 10)]),  # repeated
        shapely.Polygon([(x, y), (x + 5, y), (x + 10, y), (x + 10, y + 10)]),  # flat corner
        shapely.Polygon([(x, y), (x + 1e-5, y), (x + 1e-5, y + 1e-5)]),  # within the slack
    ]
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    certain = certainly_convex(coords, owner, len(rings), slack=1e-4)
    assert certain.tolist() == [True, True, True, False, False, False, False, False, False]
    valid = shapely.is_valid(rings)
    assert not valid[3] and valid[5:8].all()  # left to GEOS: invalid, and valid but not certain
    # not finite: not certain either
    nan = coords.copy()
    nan[owner == 0] = np.nan
    assert certainly_convex(nan, owner, len(rings), slack=1e-4).tolist()[:3] == [
        False,
        True,
        True,
    ]


# ------------------------------------------ widths of pieces with many reflex vertices


def _thin_bow(rng: np.random.Generator) -> shapely.Polygon:
    """A sliver between a long straight edge and a zigzag bowing away from it, as a
    boundary edge and the grid corners along it leave (hundreds of metres, centimetres)."""
    length = rng.uniform(100, 3000)
    n = int(rng.integers(5, 120))
    x = np.linspace(0, length, n)
    bow = rng.uniform(0.005, 0.5) * np.sin(np.pi * x / length)
    bow[1:-1] += rng.uniform(-0.3, 0.3, n - 2) * bow[1:-1]
    ring = np.vstack([np.c_[x, -bow], [[length, 0.0]], [[0.0, 0.0]]])
    poly = shapely.Polygon(ring[1:])  # from the first bowed vertex round to (0, 0)
    poly = shapely.affinity.rotate(poly, rng.uniform(0, 360), origin=(0, 0))
    return shapely.affinity.translate(poly, X0, Y0)


def _notched_star(rng: np.random.Generator) -> shapely.Polygon:
    """A star-shaped polygon with several reflex vertices, metres to hundreds across."""
    n = int(rng.integers(5, 25))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.2, 1.0, n) * rng.uniform(1, 300)
    ring = np.c_[radii * np.cos(angles), radii * np.sin(angles)] + np.array([X0, Y0])
    return shapely.Polygon(ring)


@pytest.mark.parametrize("make", [_thin_bow, _notched_star])
def test_medial_circles_are_inscribed_and_no_smaller_than_geos_finds(make):
    from gis.coverage.widths import medial_inscribed_circles

    rng = np.random.default_rng(23)
    polys = [p for p in (make(rng) for _ in range(60)) if p.is_valid]
    assert len(polys) > 30
    radius, centre = medial_inscribed_circles(np.array(polys, dtype=object))
    assert not np.isnan(radius).any()
    for poly, r, (x, y) in zip(polys, radius, centre, strict=True):
        # a circle inside, touching the outline (distances by GEOS)...
        point = shapely.Point(x, y)
        assert poly.contains(point)
        assert shapely.distance(point, poly.exterior) == pytest.approx(r, rel=1e-8, abs=1e-9)
        # ... at least as large as the one GEOS's search finds (never larger than the
        # largest: on thin pieces it stops short of its tolerance, hence no upper check)
        geos = shapely.maximum_inscribed_circle(poly, r * 1e-6).length
        assert r >= geos * (1 - 1e-9), (r, geos)


def test_medial_widths_equal_the_exact_one_reflex_and_convex_ones():
    from gis.coverage.widths import (
        convex_inscribed_radius,
        medial_inscribed_radius,
        one_reflex_inscribed_radius,
    )

    rng = np.random.default_rng(5)
    darts = [p for p in _one_reflex_polygons(rng, 100) if p.is_valid]
    hulls = [
        shapely.convex_hull(shapely.multipoints(rng.uniform(0, 80, (9, 2)) + np.array(ORIGIN_M)))
        for _ in range(50)
    ]
    medial = medial_inscribed_radius(np.array(darts + hulls, dtype=object))
    exact = np.r_[
        one_reflex_inscribed_radius(np.array(darts, dtype=object)),
        convex_inscribed_radius(np.array(hulls, dtype=object)),
    ]
    assert not np.isnan(exact).any()
    np.testing.assert_allclose(medial, exact, rtol=1e-9, atol=1e-9)


def test_medial_widths_leave_holes_and_crowded_polygons_to_geos():
    from gis.coverage.widths import medial_inscribed_radius

    holed = box(X0, Y0, X0 + 10, Y0 + 10).difference(box(X0 + 4, Y0 + 4, X0 + 5, Y0 + 5))
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)  # every site close to all
    round_ = shapely.Polygon(np.c_[X0 + 50 * np.cos(angles), Y0 + 50 * np.sin(angles)])
    radius = medial_inscribed_radius(np.array([holed, round_, None], dtype=object))
    assert np.isnan(radius).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grids_properly_inside_the_boundary_are_those_geos_finds(seed):
    """``_properly_inside`` asks GEOS only about grids whose envelope meets the boundary's
    outline; the answers are ``contains_properly`` for every grid: inside, outside,
    straddling, touching at a corner, in a hole, multipart."""
    from gis.coverage.context import Context
    from gis.coverage.validate import _properly_inside

    rng = np.random.default_rng(seed)
    frame = box(X0 - 100, Y0 - 100, X0 + 700, Y0 + 700)
    sites = shapely.multipoints(rng.uniform(-100, 700, (400, 2)) + np.array([X0, Y0]))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame)), frame
    )
    cells = shapely.set_precision(cells, 1e-4)
    two_parts = shapely.MultiPolygon([box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20),
                                      box(X0 + 650, Y0 + 650, X0 + 660, Y0 + 660)])  # fmt: skip
    corner = box(X0 + 600, Y0 + 600, X0 + 610, Y0 + 610)  # touches the boundary's corner
    grids = np.array([*cells, two_parts, corner], dtype=object)
    hole = box(X0 + 250, Y0 + 250, X0 + 300, Y0 + 320)
    outer = shapely.Polygon(box(X0, Y0, X0 + 600, Y0 + 600).exterior.coords, [hole.exterior.coords])
    island = shapely.Polygon(rng.uniform(0, 80, (12, 2)) + np.array([X0 + 620, Y0 + 100]))
    for boundary in (outer, shapely.MultiPolygon([outer, shapely.convex_hull(island)])):
        ctx = Context(grids, [str(i) for i in range(len(grids))], 0.001, 0.5)
        shapely.prepare(boundary)
        found = _properly_inside(ctx, boundary)
        truth = shapely.contains_properly(boundary, grids[ctx.present])
        assert found.tolist() == truth.tolist()
        assert truth.sum() > 100 and (~truth).sum() > 50  # both answers are asked for
