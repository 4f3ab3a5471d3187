"""Point → grid agreement on generated divisions, on both databases.

``gis.assign.assign_points`` (bulk), ``GridIndex.locate`` (one point), ``GET /grids/locate``
(HTTP) and the database's ``ST_Covers`` (``grid_code_at``: SpatiaLite and PostGIS) must give
what plain ``shapely.covers`` gives with the documented tie-break (the smallest code among
the grids covering the point; none: outside), on interior points, vertices (shared by up to
four grids), points exactly on shared and outer edges, and points a hair outside.

The divisions come from the differential harness (exact lon/lat tilings, see
tests/gis/harness/tilings.py); each is stored with ``load division``'s service, which must
accept it (it validates). Counts go to the harness summary line.
"""

from __future__ import annotations

import datetime as dt
import itertools

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.db.dialect import grid_code_at
from api.db.engine import init_db, make_engine, session_factory
from api.services.divisions import load_division
from gis.assign import GridIndex, assign_points
from tests.conftest import _exact_points_on_segment
from tests.gis.harness.counts import count
from tests.gis.harness.tilings import Division, Frame, divisions

EXAMPLES = 6  # per database
SLOT_DEG = 0.6  # each example's community gets its own stretch of longitude


def _truth(grids: gpd.GeoDataFrame, point: shapely.Point) -> str | None:
    """Brute force with plain shapely.covers, one grid at a time; the smallest code wins."""
    codes = sorted(c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.covers(point))
    return codes[0] if codes else None


def _points(grids: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> list[shapely.Point]:
    """Interior points, every vertex, points exactly on edges, and a hair outside."""
    geoms = grids.geometry.to_numpy()
    pts = list(shapely.point_on_surface(geoms))
    pts += list(shapely.points(np.unique(shapely.get_coordinates(geoms), axis=0)))
    for geom in geoms:  # exactly on edges (floating-point points a segment passes through)
        for ring in shapely.get_rings(shapely.get_parts(geom)):
            for a, b in itertools.pairwise(shapely.get_coordinates(ring)):
                pts += [shapely.Point(xy) for xy in _exact_points_on_segment(a, b, limit=1)]
    x0, y0, x1, y1 = boundary.total_bounds
    hair = 1e-9  # degrees, about 0.1 mm
    pts += [shapely.Point(x0 - hair, (y0 + y1) / 2), shapely.Point((x0 + x1) / 2, y1 + hair)]
    return pts


def _in_slot(division: Division, slot: int) -> Division:
    """The same division moved to its own longitude, so examples never overlap."""
    f = division.frame
    lon = 100.0 + SLOT_DEG * slot
    frame = Frame(f.crs, lon, f.lat, f.size_m, (lon, f.origin[1]), f.per_unit)
    prefix = f"310109{slot:03d}001"
    codes = tuple(prefix + code[-3:] for code in division.codes)
    return division.replace(frame=frame, codes=codes)


def test_assign_index_http_and_database_agree_with_shapely_covers(fresh_db_url, make_api):
    engine = make_engine(fresh_db_url)
    init_db(engine)
    sessions = session_factory(engine)
    api = make_api(fresh_db_url)
    today = dt.date.today()
    slots = itertools.count()
    ran = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(divisions(kinds=("EPSG:4326",)), st.data())
    def agree(division, data):
        slot = next(slots)
        division = _in_slot(division, slot)
        grids, boundary = division.grids(), division.boundary()
        with sessions() as session:
            result = load_division(
                session,
                grids=grids,
                boundary=boundary,
                community=f"差分测试社区{slot}",
                effective_date=today,
                actor="test",
            )
            assert result["stored"], (division.label(), result["kinds"])
            session.commit()
        points = _points(grids, boundary)
        want = [_truth(grids, p) for p in points]
        frame = gpd.GeoDataFrame(geometry=points, crs=4326)
        bulk = [None if c is None or c != c else c for c in assign_points(frame, grids)]
        index = GridIndex(grids)
        single = [index.locate(p.x, p.y) for p in points]
        with sessions() as session:
            sql = [grid_code_at(session, p.x, p.y, on=today) for p in points]
        http = []
        for p in points:
            r = api.client.get(
                "/grids/locate",
                params={"lon": repr(p.x), "lat": repr(p.y), "date": today.isoformat()},
            )
            assert r.status_code == 200, r.text
            http.append(r.json()["grid_code"])
        label = division.label()
        for name, got in (("assign_points", bulk), ("GridIndex", single), ("SQL", sql),
                          ("HTTP", http)):  # fmt: skip
            wrong = [(p.wkt, w, g) for p, w, g in zip(points, want, got, strict=True) if w != g]
            assert not wrong, (label, name, wrong[:5])
        shared = sum(sum(g.covers(p) for g in grids.geometry) > 1 for p in points)
        ran.append((len(points), shared))
        count(tilings=1, points=len(points))

    try:
        agree()
    finally:
        engine.dispose()
    # the points were not all easy: some lie on edges or vertices of several grids
    assert ran and sum(shared for _, shared in ran) > 0
