"""The differential harness for gis.coverage: generated divisions, not hand-picked ones.

Divisions exact in their own CRS (lon/lat WGS84 and CGCS2000, Gauss-Krüger and UTM planes;
18-53°N; 50 m-20 km; guillotine cuts with T-junctions on long edges, Voronoi cells, a grid
enclosing another, two-part communities; boundaries with only their corners) must validate
clean and come back from ``repair`` unchanged. With one planted defect of each kind, the
errors are exactly that one finding, on the grids and at the place it was planted, and
``repair`` turns the division into a valid one. Truth is the construction (known pieces,
codes) measured with plain shapely/pyproj; sizes and places are compared in metres.
Counts of what ran are printed at the end of the session (tests/conftest.py).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st

from gis.coverage import repair, validate
from gis.crs import metric_crs
from tests.gis.harness.counts import count
from tests.gis.harness.defects import DEFECT_KINDS, PLANTERS, NoRoom
from tests.gis.harness.tilings import divisions

CLEAN_EXAMPLES = 80
DEFECT_EXAMPLES = 36  # tilings, each planted with every kind in turn


def _harness(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def _metric(geom: shapely.Geometry, crs, metric) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=crs).to_crs(metric).iloc[0]


@_harness(CLEAN_EXAMPLES)
@given(divisions())
def test_generated_divisions_are_valid_and_repair_leaves_them_alone(division):
    note(repr(division))
    grids, boundary = division.grids(), division.boundary()
    findings = validate(grids, boundary)
    assert findings.empty, (division.label(), findings[["kind", "grid_codes"]].to_dict("records"))
    fixed, log = repair(grids, boundary)
    assert log.empty, (division.label(), log["reason_en"].tolist())
    assert shapely.equals_exact(fixed.geometry.array, grids.geometry.array, tolerance=0).all()
    count(tilings=1)


@_harness(DEFECT_EXAMPLES)
@given(division=divisions(), pick=st.integers(0, 30))
def test_each_planted_defect_is_found_alone_in_place_and_repaired(division, pick):
    note(f"{division!r}, pick={pick}")
    try:
        planted = [PLANTERS[kind](division, pick) for kind in DEFECT_KINDS]
    except NoRoom:
        reject()
    for one in planted:
        _assert_found_alone_in_place_and_repaired(one)
    count(tilings=1, defects=len(planted))


def _assert_found_alone_in_place_and_repaired(planted) -> None:
    div, kind = planted.division, planted.kind
    grids, boundary = div.grids(), div.boundary()
    findings = validate(grids, boundary)
    errors = findings[findings["severity"] == "error"]
    label = (kind, div.label(), findings[["kind", "grid_codes"]].to_dict("records"))
    assert errors["kind"].tolist() == [kind], label
    # a notch or strip also leaves edges to snap: the only warnings allowed
    assert set(findings["kind"]) <= {kind, "edge_mismatch"}, label
    row = errors.iloc[0]
    assert tuple(sorted(row["grid_codes"])) == planted.grid_codes, label

    metric = metric_crs(grids)
    found = _metric(row.geometry, grids.crs, metric)
    where = _metric(div.frame.to_crs(np.array([planted.where_u]))[0], grids.crs, metric)
    if kind == "invalid":  # the point GEOS names is the crossing of the bow-tie
        assert found.distance(where) < 0.01, label
    elif kind == "duplicate_code":  # both grids holding the code, exactly as given
        as_given = shapely.union_all(grids.geometry[grids["code"] == row["grid_codes"][0]])
        assert shapely.symmetric_difference(row.geometry, as_given).area <= 1e-12, label
    else:  # the piece itself: same place, same area (snapping moves it by 1e-4 m at most)
        assert found.intersects(where), label
        tol_m2 = 1e-4 * where.length + 1e-3 * where.area
        assert row["area_m2"] == pytest.approx(where.area, abs=tol_m2), label
        assert found.symmetric_difference(where).area <= 2 * tol_m2, label

    fixed, _ = repair(grids, boundary)
    assert shapely.is_valid(fixed.geometry.array).all(), label
    left = validate(fixed, boundary)
    assert (left["severity"] != "error").all(), (label, left["kind"].tolist())
