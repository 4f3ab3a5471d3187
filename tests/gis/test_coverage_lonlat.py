"""Divisions drawn in lon/lat are judged in lon/lat: an exact tiling there is VALID.

A straight lon/lat edge bows by millimetres once projected to a metric CRS, so a corner of
one grid lying on the long edge of its neighbour (a T-junction), or on the boundary, would
leave hair-thin slivers and spills if topology were decided in metres. These are the cases
a web map or the planner page draws: rectangles with their corner vertices only.
"""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import box

from gis.coverage import is_valid_division, repair, validate
from gis.crs import metric_crs

M_PER_DEG_LAT = 110_574.0  # about; the tilings only need to be roughly square in metres


def _degrees(lat: float, size_m: float) -> tuple[float, float]:
    """Width and height in degrees of a square of about ``size_m`` metres at ``lat``."""
    return size_m / (111_320.0 * math.cos(math.radians(lat))), size_m / M_PER_DEG_LAT


def four_rectangles(lon0: float, lat0: float, size_m: float = 500.0):
    """Four rectangles tiling a square exactly in lon/lat, corner vertices only.

    South half cut at 40 % of the width, north half at 60 %: each cut ends in a T-junction
    on the middle parallel (a 500 m edge), and every grid meets the boundary (4 corners)
    with corners lying on its long edges.
    """
    w, h = _degrees(lat0, size_m)
    ym, x1, x2 = lat0 + h / 2, lon0 + 0.4 * w, lon0 + 0.6 * w
    geoms = [
        box(lon0, lat0, x1, ym),
        box(x1, lat0, lon0 + w, ym),
        box(lon0, ym, x2, lat0 + h),
        box(x2, ym, lon0 + w, lat0 + h),
    ]
    codes = [f"310109012003{k:03d}" for k in range(1, 5)]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
    boundary = gpd.GeoSeries([box(lon0, lat0, lon0 + w, lat0 + h)], crs=4326)
    return grids, boundary


def split_5x5(lon0: float, lat0: float, size_m: float = 2_000.0):
    """A square split into 5 columns, each cut into 5 rows at its own heights (T-junctions
    on every column edge), corner vertices only."""
    w, h = _degrees(lat0, size_m)
    rng = np.random.default_rng(5)
    geoms = []
    for col in range(5):
        x0, x1 = lon0 + w * col / 5, lon0 + w * (col + 1) / 5
        cuts = np.r_[0.0, np.sort(rng.uniform(0.05, 0.95, 4)), 1.0]
        geoms += [box(x0, lat0 + h * a, x1, lat0 + h * b) for a, b in itertools.pairwise(cuts)]
    codes = [f"310109012003{k:03d}" for k in range(1, len(geoms) + 1)]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
    boundary = gpd.GeoSeries([box(lon0, lat0, lon0 + w, lat0 + h)], crs=4326)
    return grids, boundary


def test_projecting_these_tilings_would_bow_their_edges():
    """The premise: in metres the T-junction corners lie millimetres off the edges."""
    grids, _ = four_rectangles(121.49, 31.24)
    metric = grids.to_crs(metric_crs(grids))
    # the south grids' shared corner lies on the north-west grid's 300 m south edge
    corner = shapely.Point(metric.geometry.iloc[0].exterior.coords[1])
    off_m = metric.geometry.iloc[2].exterior.distance(corner)
    assert 5e-4 < off_m < 0.05


@pytest.mark.parametrize("build", [four_rectangles, split_5x5])
@pytest.mark.parametrize("lat", [18.3, 31.24, 39.9, 52.9])
def test_exact_lonlat_tilings_are_valid(build, lat):
    grids, boundary = build(116.4 if lat > 35 else 121.49, lat)
    findings = validate(grids, boundary)
    assert findings.empty, findings[["kind", "grid_codes", "width_m", "length_m"]]
    assert is_valid_division(grids, boundary)


@pytest.mark.parametrize("build", [four_rectangles, split_5x5])
def test_repair_leaves_exact_lonlat_tilings_alone(build):
    grids, boundary = build(121.49, 31.24)
    fixed, log = repair(grids, boundary)
    assert log.empty, log[["action", "grid_codes", "reason_en"]]
    assert all(a.equals_exact(b, 0) for a, b in zip(fixed.geometry, grids.geometry, strict=True))


def test_a_real_gap_in_a_lonlat_tiling_is_found_in_place_and_measured_in_metres():
    grids, boundary = four_rectangles(121.49, 31.24)
    w, _ = _degrees(31.24, 500.0)
    # pull the west edge of the north-east grid 1 m east: a 1 m × 250 m gap between grids
    xm = 121.49 + 0.6 * w
    step = 1.0 / (111_320.0 * math.cos(math.radians(31.24)))
    ne = grids.geometry.iloc[3]
    _, y0, x1, y1 = ne.bounds
    grids.loc[3, "geometry"] = box(xm + step, y0, x1, y1)
    findings = validate(grids, boundary)
    findings = findings[findings.severity == "error"]  # the gap's edge is also flagged to snap
    assert findings["kind"].tolist() == ["gap"]
    gap = findings.iloc[0]
    assert set(gap.grid_codes) == set(grids.code[1:])  # 002 borders its 1 m south end
    metric = metric_crs(grids)
    truth = gpd.GeoSeries([box(xm, y0, xm + step, y1)], crs=4326).to_crs(metric).iloc[0]
    assert gap.area_m2 == pytest.approx(truth.area, rel=1e-3)
    assert gap.width_m == pytest.approx(1.0, rel=2e-2)
    found = gpd.GeoSeries([gap.geometry], crs=4326).to_crs(metric).iloc[0]
    assert found.symmetric_difference(truth).area < 0.01 * truth.area
