"""gis.crs GCJ-02/BD-09 checked against two published converters we did not write.

``eviltransform`` (googollee) and ``coord-convert`` (PyPI ``coord_convert``) are installed as
test dependencies. Hypothesis draws points across China's rectangle (latitudes 18–53°N as
communities lie, plus the whole rectangle); distances are measured by pyproj's geodesic,
independently of gis.crs.

``coord-convert`` uses the Krasovsky semi-major axis (6378245 m) of the published GCJ-02
reconstruction, as gis.crs does, so the two agree to float noise; ``eviltransform`` scales
the same offset with the WGS84 axis (6378137 m, its ``earthR``), which moves a point by
up to ~1 cm (offset of ~500 m × 1.7e-5): it is held to 2 cm.
"""

from __future__ import annotations

import coord_convert.transform as cc
import eviltransform as ev
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
EVILTRANSFORM_AXIS_M = 0.02  # see the module docstring

# Mainland China, where communities are (and where the offset applies).
LON = st.floats(min_value=73.6, max_value=134.7, allow_nan=False)
LAT = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@settings(max_examples=300, deadline=None)
@given(LON, LAT)
def test_forward_gcj02_and_bd09_agree_with_both_published_converters(lon, lat):
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    ev_lat, ev_lon = ev.wgs2gcj(lat, lon)
    cc_lon, cc_lat = cc.wgs2gcj(lon, lat)
    assert metres(gcj_lon, gcj_lat, cc_lon, cc_lat) < 1e-4
    assert metres(gcj_lon, gcj_lat, ev_lon, ev_lat) < EVILTRANSFORM_AXIS_M

    bd_lon, bd_lat = wgs84_to_bd09(lon, lat)
    ev_bd_lat, ev_bd_lon = ev.wgs2bd(lat, lon)
    cc_bd_lon, cc_bd_lat = cc.wgs2bd(lon, lat)
    assert metres(bd_lon, bd_lat, cc_bd_lon, cc_bd_lat) < 1e-4
    assert metres(bd_lon, bd_lat, ev_bd_lon, ev_bd_lat) < EVILTRANSFORM_AXIS_M

    # GCJ-02 -> BD-09 alone, from the published GCJ-02 value
    ours = gcj02_to_bd09(ev_lon, ev_lat)
    theirs_lat, theirs_lon = ev.gcj2bd(ev_lat, ev_lon)
    assert metres(*ours, theirs_lon, theirs_lat) < 1e-3


@settings(max_examples=300, deadline=None)
@given(LON, LAT)
def test_our_inverses_undo_the_published_forward_conversions(lon, lat):
    """WGS84 → (published) GCJ-02/BD-09 → (ours) WGS84 comes back within a centimetre."""
    cc_lon, cc_lat = cc.wgs2gcj(lon, lat)
    back = gcj02_to_wgs84(cc_lon, cc_lat)
    assert metres(*back, lon, lat) < 0.01
    ev_lat, ev_lon = ev.wgs2gcj(lat, lon)
    back = gcj02_to_wgs84(ev_lon, ev_lat)
    assert metres(*back, lon, lat) < 0.01 + EVILTRANSFORM_AXIS_M

    cc_bd_lon, cc_bd_lat = cc.wgs2bd(lon, lat)
    back = bd09_to_wgs84(cc_bd_lon, cc_bd_lat)
    assert metres(*back, lon, lat) < 0.01

    ev_gcj_lat, ev_gcj_lon = ev.wgs2gcj(lat, lon)
    ev_bd_lat, ev_bd_lon = ev.gcj2bd(ev_gcj_lat, ev_gcj_lon)
    back = bd09_to_gcj02(ev_bd_lon, ev_bd_lat)
    assert metres(*back, ev_gcj_lon, ev_gcj_lat) < 0.01


@settings(max_examples=200, deadline=None)
@given(LON, LAT)
def test_our_gcj02_inverse_agrees_with_the_published_exact_inverse(lon, lat):
    """eviltransform's bisection stops at 1e-6 degrees (about 0.1 m): we agree within that."""
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    ours = gcj02_to_wgs84(gcj_lon, gcj_lat)
    ev_lat, ev_lon = ev.gcj2wgs_exact(gcj_lat, gcj_lon)
    assert metres(*ours, ev_lon, ev_lat) < 0.3 + EVILTRANSFORM_AXIS_M
    assert metres(*ours, lon, lat) < 0.01


def test_array_conversion_matches_the_published_scalar_one_point_by_point():
    rng = np.random.default_rng(20261207)
    lon = rng.uniform(73.6, 134.7, 500)
    lat = rng.uniform(18.0, 53.5, 500)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    for i in range(len(lon)):
        cc_lon, cc_lat = cc.wgs2gcj(lon[i], lat[i])
        assert abs(gcj_lon[i] - cc_lon) < 1e-10 and abs(gcj_lat[i] - cc_lat) < 1e-10
