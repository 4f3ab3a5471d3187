"""Tests for gis.crs: GCJ-02/BD-09 conversions, input CRS names, metric projections."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod
from shapely import LineString, MultiPolygon, Point, Polygon

from gis.crs import (
    INPUT_CRS_NAMES,
    _gcj02_to_wgs84_one_step,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    is_cgcs2000_based,
    metric_crs,
    parse_input_crs,
    to_metric,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gis.errors import CRSError, InputError

GEOD = Geod(ellps="WGS84")


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Ellipsoidal distance in metres, computed by pyproj independently of gis.crs."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2))
    )
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def grid(lon_min, lon_max, lat_min, lat_max, step):
    lon, lat = np.meshgrid(
        np.arange(lon_min, lon_max + step / 2, step), np.arange(lat_min, lat_max + step / 2, step)
    )
    return lon.ravel(), lat.ravel()


# The community's extent (North Bund, Shanghai), dense: 121 x 81 points ~ 50 m apart.
BUND = grid(121.47, 121.53, 31.22, 31.26, 0.0005)
# All of China's rectangle, 0.5 degree apart (~11 000 points).
CHINA = grid(73.5, 135.0, 4.0, 53.5, 0.5)


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("points", [BUND, CHINA], ids=["bund", "china"])
def test_gcj02_round_trip_error_under_half_a_metre(points):
    lon, lat = points
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    error_m = distance_m(lon, lat, back_lon, back_lat)
    # The offset itself is tens to hundreds of metres: the conversion did move the points.
    offset_m = distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert offset_m.min() > 10 and np.median(offset_m) > 100
    assert error_m.max() < 0.5
    assert error_m.max() < 0.005  # in practice millimetres


@pytest.mark.parametrize("points", [BUND, CHINA], ids=["bund", "china"])
def test_bd09_round_trip_error_under_half_a_metre(points):
    lon, lat = points
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    error_m = distance_m(lon, lat, back_lon, back_lat)
    assert error_m.max() < 0.5
    assert error_m.max() < 0.01


def test_bd09_gcj02_round_trip_both_ways():
    lon, lat = CHINA
    assert distance_m(lon, lat, *bd09_to_gcj02(*gcj02_to_bd09(lon, lat))).max() < 0.01
    assert distance_m(lon, lat, *gcj02_to_bd09(*bd09_to_gcj02(lon, lat))).max() < 0.01


@pytest.mark.parametrize("points", [BUND, CHINA], ids=["bund", "china"])
def test_iterative_inverse_beats_one_step_inverse(points):
    lon, lat = points
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    one_step_m = distance_m(lon, lat, *_gcj02_to_wgs84_one_step(gcj_lon, gcj_lat))
    iterative_m = distance_m(lon, lat, *gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert one_step_m.max() > 0.5  # the one-step inverse is metres off somewhere
    assert iterative_m.max() < one_step_m.max() / 100
    assert np.mean(iterative_m) < np.mean(one_step_m) / 100


def test_refined_bd09_inverse_beats_the_standard_formula():
    gcj_lon, gcj_lat = CHINA
    bd_lon, bd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
    standard_m = distance_m(gcj_lon, gcj_lat, *bd09_to_gcj02(bd_lon, bd_lat, max_iter=0))
    refined_m = distance_m(gcj_lon, gcj_lat, *bd09_to_gcj02(bd_lon, bd_lat))
    assert 0.01 < standard_m.max() < 0.5
    assert refined_m.max() < standard_m.max() / 100


def test_max_iter_limits_the_iteration():
    lon, lat = wgs84_to_gcj02(121.5, 31.24)
    loose = distance_m(121.5, 31.24, *gcj02_to_wgs84(lon, lat, max_iter=0))
    tight = distance_m(121.5, 31.24, *gcj02_to_wgs84(lon, lat))
    assert loose > 0.1  # zero iterations is the one-step inverse
    assert tight < 0.001


@settings(max_examples=80, deadline=None)
@given(
    lon=st.floats(min_value=73.0, max_value=135.0),
    lat=st.floats(min_value=4.0, max_value=53.0),
)
def test_round_trips_hold_for_any_point_in_china(lon, lat):
    assert distance_m(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)))[()] < 0.5
    assert distance_m(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat)))[()] < 0.5


# --- published sample points ------------------------------------------------------------

# googollee/eviltransform tests (python/test.py, go/transform_test.go): wgsLat, wgsLng,
# gcjLat, gcjLng. They assert wgs2gcj to 6 decimals and the exact inverse within 0.5 m.
EVILTRANSFORM_SAMPLES = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_SAMPLES)
def test_published_eviltransform_samples(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-6)
    assert lat == pytest.approx(gcj_lat, abs=1e-6)
    back = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert distance_m(wgs_lon, wgs_lat, *back)[()] < 0.5


# hujiulong/gcoord unit tests (test/unit/crs/*.spec.ts) for the point (123, 45), checked
# there with toBeCloseTo(x, 5), i.e. |difference| < 5e-6 degrees.
GCOORD_SAMPLES = [
    (wgs84_to_gcj02, (123.00607541, 45.00197815)),
    (gcj02_to_wgs84, (122.99395597, 44.99804071)),
    (gcj02_to_bd09, (123.00636499, 45.00636899)),
    (bd09_to_gcj02, (122.99363304, 44.99365430)),
    (wgs84_to_bd09, (123.0124491, 45.0083293)),
    (bd09_to_wgs84, (122.98762210, 44.99171540)),
]


@pytest.mark.parametrize(("convert", "expected"), GCOORD_SAMPLES, ids=lambda v: str(v)[:30])
def test_published_gcoord_samples(convert, expected):
    lon, lat = convert(123.0, 45.0)
    assert lon == pytest.approx(expected[0], abs=5e-6)
    assert lat == pytest.approx(expected[1], abs=5e-6)


# --- outside China, shapes, NaN ---------------------------------------------------------

OUTSIDE = (
    np.array([-0.1276, -74.006, 151.2093, 0.0, 139.6917, 72.0, 121.5]),
    np.array([51.5072, 40.7128, -33.8688, 0.0, 35.6895, 30.0, 56.0]),
)  # London, New York, Sydney, (0, 0), Tokyo (east of 137.8347), just west, just north


@pytest.mark.parametrize(
    "convert",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_outside_china_is_unchanged(convert):
    lon, lat = OUTSIDE
    assert not in_china(lon, lat).any()
    out_lon, out_lat = convert(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


def test_mixed_array_moves_only_points_in_china():
    lon = np.array([121.5, -0.1276, 116.4])
    lat = np.array([31.24, 51.5072, 39.9])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    moved = distance_m(lon, lat, out_lon, out_lat)
    assert moved[0] > 100 and moved[2] > 100
    assert moved[1] == 0


def test_shapes_and_scalars_are_preserved():
    lon = np.full((3, 4), 121.5)
    lat = np.full((3, 4), 31.24)
    out_lon, out_lat = gcj02_to_wgs84(lon, lat)
    assert out_lon.shape == out_lat.shape == (3, 4)
    scalar = bd09_to_wgs84(121.5, 31.24)
    assert all(isinstance(v, float) for v in scalar)


def test_nan_stays_nan_and_does_not_stall_the_iteration():
    out_lon, out_lat = gcj02_to_wgs84(np.array([np.nan, 121.5]), np.array([31.2, 31.24]))
    assert np.isnan(out_lon[0])
    assert distance_m(121.5, 31.24, *wgs84_to_gcj02(out_lon[1], out_lat[1]))[()] < 0.001


# --- parse_input_crs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("epsg:4326", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        ("4490", "cgcs2000"),
        ("epsg:4490", "cgcs2000"),
        ("CGCS2000", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("gcj-02", "gcj02"),
        ("GCJ_02", "gcj02"),
        ("bd09", "bd09"),
        ("bd-09", "bd09"),
        ("BD09", "bd09"),
        ("baidu", "bd09"),
    ],
)
def test_parse_input_crs_accepts_aliases(alias, expected):
    assert parse_input_crs(alias) == expected
    assert expected in INPUT_CRS_NAMES


@pytest.mark.parametrize("bad", ["epsg:3857", "utm", "", "gcj03", "4549"])
def test_parse_input_crs_rejects_others_naming_allowed_values(bad):
    with pytest.raises(CRSError, match=r"allowed: wgs84, cgcs2000, gcj02, bd09"):
        parse_input_crs(bad)
    with pytest.raises(InputError):  # the CLI maps InputError to exit 2
        parse_input_crs(bad)


# --- to_wgs84 ---------------------------------------------------------------------------


def _wgs_frame() -> gpd.GeoDataFrame:
    square = [(121.49, 31.24), (121.50, 31.24), (121.50, 31.25), (121.49, 31.25)]
    hole = [(121.493, 31.243), (121.497, 31.243), (121.497, 31.247)]
    return gpd.GeoDataFrame(
        {"name": ["point", "line", "polygon", "multi", "none", "empty"]},
        geometry=[
            Point(121.4905, 31.2412),
            LineString([(121.48, 31.23), (121.51, 31.26), (121.52, 31.22)]),
            Polygon(square, [hole]),
            MultiPolygon(
                [Polygon(square), Polygon([(121.51, 31.22), (121.52, 31.22), (121.52, 31.23)])]
            ),
            None,
            Polygon(),
        ],
        crs=4326,
    )


@pytest.mark.parametrize("source", ["gcj02", "bd09"])
def test_to_wgs84_converts_every_vertex_of_every_geometry_type(source):
    truth = _wgs_frame()
    forward = wgs84_to_gcj02 if source == "gcj02" else wgs84_to_bd09
    shifted = truth.copy()
    shifted.geometry = shapely.transform(
        np.asarray(truth.geometry.values), lambda xy: np.column_stack(forward(xy[:, 0], xy[:, 1]))
    )
    result = to_wgs84(shifted, source)
    assert result.crs.to_epsg() == 4326
    assert result["name"].tolist() == truth["name"].tolist()
    assert result.geometry.iloc[4] is None
    assert result.geometry.iloc[5].is_empty
    got, got_index = shapely.get_coordinates(np.asarray(result.geometry.values), return_index=True)
    want, want_index = shapely.get_coordinates(np.asarray(truth.geometry.values), return_index=True)
    np.testing.assert_array_equal(got_index, want_index)
    assert distance_m(got[:, 0], got[:, 1], want[:, 0], want[:, 1]).max() < 0.01
    # the input frame is left alone
    assert not shifted.geometry.iloc[0].equals(truth.geometry.iloc[0])


def test_to_wgs84_leaves_wgs84_and_cgcs2000_coordinates_alone():
    frame = _wgs_frame()
    as_wgs = to_wgs84(frame, "EPSG:4326")
    as_cgcs = to_wgs84(frame.set_crs(None, allow_override=True), "cgcs2000")
    assert as_wgs.crs.to_epsg() == 4326
    assert as_cgcs.crs.to_epsg() == 4490
    for out in (as_wgs, as_cgcs):
        same = shapely.equals_exact(
            np.asarray(out.geometry.values), np.asarray(frame.geometry.values), tolerance=0
        )
        assert same[:4].all()


# --- metric projections -----------------------------------------------------------------


def test_is_cgcs2000_based():
    assert is_cgcs2000_based(CRS.from_epsg(4490))
    assert is_cgcs2000_based(CRS.from_epsg(4549))
    assert not is_cgcs2000_based(CRS.from_epsg(4326))
    assert not is_cgcs2000_based(CRS.from_epsg(32651))


def test_metric_crs_picks_gauss_kruger_for_the_bund_and_utm_elsewhere():
    bund = gpd.GeoDataFrame(geometry=[Point(121.485, 31.24), Point(121.50, 31.255)], crs=4326)
    assert metric_crs(bund).to_epsg() == 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
    paris = gpd.GeoDataFrame(geometry=[Point(2.35, 48.85)], crs=4326)
    sydney = gpd.GeoDataFrame(geometry=[Point(151.21, -33.87)], crs=4326)
    assert metric_crs(paris).to_epsg() == 32631
    assert metric_crs(sydney).to_epsg() == 32756
    # a projected frame is accepted too
    assert metric_crs(bund.to_crs(32651)).to_epsg() == 4549


def test_metric_area_agrees_with_geodesic_area_for_one_square_km():
    # ~1 km x ~1 km near the Bund, with one vertex off the rectangle so it is not a box
    ring = [(121.480, 31.240), (121.4905, 31.240), (121.4910, 31.249), (121.481, 31.2495)]
    polygon = Polygon(ring)
    geodesic_area_m2, _ = GEOD.polygon_area_perimeter(*zip(*ring, strict=True))
    geodesic_area_m2 = abs(geodesic_area_m2)
    assert 0.8e6 < geodesic_area_m2 < 1.2e6
    frame = gpd.GeoDataFrame(geometry=[polygon], crs=4326)
    metric_area_m2 = to_metric(frame).area.iloc[0]
    assert metric_area_m2 == pytest.approx(geodesic_area_m2, rel=1e-3)


def test_metric_crs_rejects_empty_data():
    with pytest.raises(CRSError, match="empty"):
        metric_crs(gpd.GeoDataFrame(geometry=[], crs=4326))
