"""Coordinate reference systems: storage lon/lat, metric projections, GCJ-02 and BD-09.

Storage is lon/lat in WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490); the two agree to a few
centimetres, well below any tolerance used here. Areas, lengths and tolerances are computed
in metres in a projected CRS chosen from the data: the CGCS2000 3-degree Gauss-Krüger zone
whose central meridian is nearest the data's centre (inside China), else the UTM zone.

GCJ-02 and BD-09
----------------
GCJ-02 (国测局坐标, used by Amap/高德 and Tencent) is WGS84 lon/lat plus an obfuscating
offset of a few hundred metres. The offset used here is the widely published reconstruction
("eviltransform", "coordtransform"): with ``x = lon - 105`` and ``y = lat - 35``::

    dlat = -100 + 2x + 3y + 0.2y² + 0.1xy + 0.2√|x|
           + (20 sin 6πx + 20 sin 2πx)·2/3 + (20 sin πy + 40 sin πy/3)·2/3
           + (160 sin πy/12 + 320 sin πy/30)·2/3
    dlon = 300 + x + 2y + 0.1x² + 0.1xy + 0.1√|x|
           + (20 sin 6πx + 20 sin 2πx)·2/3 + (20 sin πx + 40 sin πx/3)·2/3
           + (150 sin πx/12 + 300 sin πx/30)·2/3

these are metre-like values scaled to degrees on the Krasovsky ellipsoid
(a = 6378245 m, e² = 0.00669342162296594323) at the point's latitude φ, with
W = 1 - e² sin²φ::

    Δlat = dlat·180 / (π a (1 - e²) / W^1.5)      Δlon = dlon·180 / (π a cos φ / √W)

and GCJ-02 = WGS84 + (Δlon, Δlat). There is no closed-form inverse. The common one-step
inverse ``wgs ≈ gcj - Δ(gcj)`` is off by 1–2 m; :func:`gcj02_to_wgs84` instead iterates
``wgs ← wgs + (gcj - wgs84_to_gcj02(wgs))`` to a fixed point (``tol_deg`` 1e-9 ° ≈ 0.1 mm),
which converges in a handful of steps because the offset changes slowly with position.

BD-09 (Baidu) is a further rotation/scaling of GCJ-02 with ``x_pi = π·3000/180``::

    z = √(x² + y²) + 2e-5 sin(y·x_pi);   θ = atan2(y, x) + 3e-6 cos(x·x_pi)
    bd_lon = z cos θ + 0.0065;           bd_lat = z sin θ + 0.006

whose standard approximate inverse (subtract the offsets, undo the rotation) is off by up to
~0.2 m; :func:`bd09_to_gcj02` refines it by the same fixed-point iteration. BD-09 ↔ WGS84
goes through GCJ-02 (iterative inverses on the way back).

Outside China — the usual rectangle lon 72.004–137.8347, lat 0.8293–55.8271, tested on the
input coordinates — every conversion returns its input unchanged, as all published
implementations do (the offset is only applied to Chinese map data). NaN stays NaN.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer

from gis.errors import CRSError, UnknownCRSError

if TYPE_CHECKING:  # frames are only passed through: no need to load geopandas here
    import geopandas as gpd

__all__ = [
    "CGCS2000",
    "INPUT_CRS_NAMES",
    "WGS84",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gauss_kruger_3deg_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geometries_to_crs",
    "in_china",
    "is_cgcs2000_based",
    "lonlat_crs",
    "lonlat_to_wgs84",
    "metric_crs",
    "metric_crs_of",
    "parse_input_crs",
    "require_crs",
    "to_lonlat",
    "to_metric",
    "to_wgs84",
    "transformer",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)

INPUT_CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")


@functools.lru_cache(maxsize=32)
def transformer(source: CRS, target: CRS) -> Transformer:
    """A cached ``Transformer`` from ``source`` to ``target`` (x = east/lon, y = north/lat).

    Building one can take PROJ tens of milliseconds (CGCS2000 to WGS84: it weighs every
    candidate operation), so a process builds each once.
    """
    return Transformer.from_crs(source, target, always_xy=True)


def geometries_to_crs(geoms: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    """``geoms`` from ``source`` to ``target`` vertex by vertex, as ``GeoSeries.to_crs``
    converts them (Z kept where there is one), with the cached :func:`transformer`."""
    if source.is_exact_same(target):
        return geoms
    convert = transformer(source, target).transform
    out = np.empty_like(geoms)
    for with_z in (False, True):
        which = shapely.has_z(geoms) == with_z
        coords = shapely.get_coordinates(geoms[which], include_z=with_z)
        moved = np.array(convert(*coords.T)).T if len(coords) else coords
        out[which] = shapely.set_coordinates(geoms[which].copy(), moved)
    return out


# EPSG:4534 is "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; codes run on by one per 3 degrees
# up to EPSG:4554 (CM 135E), without the zone number prefixed to the easting.
_GK3_FIRST_EPSG, _GK3_FIRST_CM, _GK3_LAST_CM = 4534, 75, 135

# --- input CRS names -------------------------------------------------------------------

_INPUT_CRS_ALIASES = {
    "wgs84": "wgs84",
    "wgs": "wgs84",
    "4326": "wgs84",
    "epsg4326": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "cgcs2000",
    "cgcs": "cgcs2000",
    "4490": "cgcs2000",
    "epsg4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}


def parse_input_crs(name: str) -> str:
    """Return the canonical input CRS name (one of ``INPUT_CRS_NAMES``) for ``name``.

    Case, spaces, ``-``, ``_`` and ``:`` are ignored, so "EPSG:4326", "WGS-84", "GCJ-02",
    "bd_09" and "Baidu" are all understood.

    >>> parse_input_crs("EPSG:4490"), parse_input_crs("gcj-02"), parse_input_crs("Baidu")
    ('cgcs2000', 'gcj02', 'bd09')
    >>> parse_input_crs("web mercator")
    Traceback (most recent call last):
    ...
    gis.errors.CRSError: 未知的输入坐标系 / unknown input CRS 'web mercator'; allowed: wgs84, cgcs2000, gcj02, bd09
    """  # noqa: E501
    key = re.sub(r"[\s\-_:]", "", str(name)).lower()
    try:
        return _INPUT_CRS_ALIASES[key]
    except KeyError:
        raise CRSError(
            f"未知的输入坐标系 / unknown input CRS {name!r}; allowed: {', '.join(INPUT_CRS_NAMES)}"
        ) from None


# --- GCJ-02 / BD-09 --------------------------------------------------------------------

_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Return True where (lon, lat) lies in the rectangle inside which GCJ-02 offsets apply.

    >>> in_china([121.5, 0.0, 72.004], [31.2, 0.0, 0.8293]).tolist()
    [True, False, True]
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj02_offset_deg(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the GCJ-02 offset (Δlon, Δlat) in degrees at WGS84 (lon, lat), everywhere."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    w = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_w = np.sqrt(w)
    dlat_deg = (dlat * 180.0) / ((_KRASOVSKY_A_M * (1.0 - _KRASOVSKY_EE)) / (w * sqrt_w) * np.pi)
    dlon_deg = (dlon * 180.0) / (_KRASOVSKY_A_M / sqrt_w * np.cos(rad_lat) * np.pi)
    return dlon_deg, dlat_deg


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a, lat_a


def _out(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Scalars back as Python floats, arrays as arrays of the input shape."""
    if lon.ndim == 0:
        return float(lon), float(lat)
    return lon, lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike):
    """Convert WGS84 lon/lat to GCJ-02 (arrays or scalars; unchanged outside China).

    >>> wgs84_to_gcj02(0.0, 51.5)
    (0.0, 51.5)
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    dlon, dlat = _gcj02_offset_deg(lon_a, lat_a)
    return _out(np.where(inside, lon_a + dlon, lon_a), np.where(inside, lat_a + dlat, lat_a))


def _gcj02_to_wgs84_one_step(lon: ArrayLike, lat: ArrayLike):
    """One-step inverse ``gcj - Δ(gcj)``: off by 1–2 m; kept for comparison in tests."""
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    dlon, dlat = _gcj02_offset_deg(lon_a, lat_a)
    return _out(np.where(inside, lon_a - dlon, lon_a), np.where(inside, lat_a - dlat, lat_a))


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-9, max_iter: int = 30):
    """Convert GCJ-02 lon/lat to WGS84 by fixed-point iteration (unchanged outside China).

    Iterates ``wgs ← wgs + (gcj - wgs84_to_gcj02(wgs))`` from ``wgs = gcj - Δ(gcj)`` until
    every point moves less than ``tol_deg`` or ``max_iter`` is reached. The round trip
    WGS84 → GCJ-02 → WGS84 comes back within millimetres (tests measure it).

    >>> gcj02_to_wgs84(-74.0, 40.7)
    (-74.0, 40.7)
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    dlon, dlat = _gcj02_offset_deg(lon_a, lat_a)
    wlon, wlat = lon_a - dlon, lat_a - dlat
    for _ in range(max_iter):
        dlon, dlat = _gcj02_offset_deg(wlon, wlat)
        step_lon = lon_a - (wlon + dlon)
        step_lat = lat_a - (wlat + dlat)
        wlon = wlon + step_lon
        wlat = wlat + step_lat
        step = np.asarray(np.maximum(np.abs(step_lon), np.abs(step_lat)))
        if not np.any(step[inside] > tol_deg):  # NaN compares False: NaN points do not loop
            break
    return _out(np.where(inside, wlon, lon_a), np.where(inside, wlat, lat_a))


def _bd09_forward(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 everywhere (no China test)."""
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike):
    """Convert GCJ-02 lon/lat to BD-09 (Baidu; unchanged outside China)."""
    x, y = _as_arrays(lon, lat)
    inside = in_china(x, y)
    bd_lon, bd_lat = _bd09_forward(x, y)
    return _out(np.where(inside, bd_lon, x), np.where(inside, bd_lat, y))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-9, max_iter: int = 10):
    """Convert BD-09 lon/lat to GCJ-02 (unchanged outside China).

    Starts from the standard x_pi inverse, which is off by up to ~0.2 m, and refines it by
    fixed-point iteration on :func:`gcj02_to_bd09` to ``tol_deg`` (``max_iter=0`` gives the
    standard formula alone).
    """
    bd_lon, bd_lat = _as_arrays(lon, lat)
    inside = in_china(bd_lon, bd_lat)
    x = bd_lon - 0.0065
    y = bd_lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gcj_lon, gcj_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        fwd_lon, fwd_lat = _bd09_forward(gcj_lon, gcj_lat)
        step_lon, step_lat = bd_lon - fwd_lon, bd_lat - fwd_lat
        gcj_lon, gcj_lat = gcj_lon + step_lon, gcj_lat + step_lat
        step = np.asarray(np.maximum(np.abs(step_lon), np.abs(step_lat)))
        if not np.any(step[inside] > tol_deg):
            break
    return _out(np.where(inside, gcj_lon, bd_lon), np.where(inside, gcj_lat, bd_lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike):
    """Convert WGS84 lon/lat to BD-09 via GCJ-02 (unchanged outside China)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike):
    """Convert BD-09 lon/lat to WGS84 via GCJ-02 with the iterative inverse."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def lonlat_to_wgs84(lon: ArrayLike, lat: ArrayLike, source: str):
    """Convert lon/lat given in ``source`` (any name :func:`parse_input_crs` accepts) to WGS84.

    GCJ-02 and BD-09 are converted (iterative inverses); WGS84 and CGCS2000 come back as
    they are (the two agree to centimetres). Scalars give floats, arrays arrays.

    >>> lonlat_to_wgs84(121.5, 31.2, "wgs84")
    (121.5, 31.2)
    >>> lon, lat = lonlat_to_wgs84(*wgs84_to_gcj02(121.5, 31.2), "GCJ-02")
    >>> round(lon, 8), round(lat, 8)
    (121.5, 31.2)
    """
    source = parse_input_crs(source)
    if source in _TO_WGS84:
        return _TO_WGS84[source](lon, lat)
    return _out(*_as_arrays(lon, lat))


def to_wgs84(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` whose lon/lat, given in ``source``, are WGS84 (EPSG:4326).

    ``source`` is any name :func:`parse_input_crs` accepts. GCJ-02 and BD-09 coordinates are
    converted vertex by vertex for every geometry type; "wgs84" is returned labelled
    EPSG:4326 and "cgcs2000" labelled EPSG:4490 (the two agree to centimetres), unmoved.
    Whatever CRS label ``gdf`` carried is replaced: ``source`` says what the numbers are.
    """
    source = parse_input_crs(source)
    out = gdf.copy()
    if source == "cgcs2000":
        return out.set_crs(CGCS2000, allow_override=True)
    if source in _TO_WGS84:
        convert = _TO_WGS84[source]

        def convert_xy(xy: np.ndarray) -> np.ndarray:
            lon, lat = convert(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        out.geometry = shapely.transform(np.asarray(out.geometry.values), convert_xy)
    return out.set_crs(WGS84, allow_override=True)


# --- metric projections ----------------------------------------------------------------


def gauss_kruger_3deg_crs(lon: float) -> CRS | None:
    """Return the CGCS2000 3° Gauss-Krüger CRS (no zone prefix) nearest ``lon``, or None."""
    cm = round(lon / 3.0) * 3
    if not _GK3_FIRST_CM <= cm <= _GK3_LAST_CM:
        return None
    return CRS.from_epsg(_GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3)


def _utm_crs(lon: float, lat: float) -> CRS:
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def is_cgcs2000_based(crs: CRS) -> bool:
    """Return True if ``crs`` (geographic or projected) uses the CGCS2000 datum.

    >>> is_cgcs2000_based(CRS.from_epsg(4549)), is_cgcs2000_based(CRS.from_epsg(32651))
    (True, False)
    """
    geodetic = crs.geodetic_crs
    if geodetic is None or geodetic.datum is None:
        return False
    name = re.sub(r"[\s_]", "", geodetic.datum.name).lower()
    return "china2000" in name or "cgcs2000" in name


def lonlat_crs(crs: CRS) -> CRS:
    """Return the lon/lat CRS that data in ``crs`` is read into and reported in.

    CGCS2000 (EPSG:4490) for a CGCS2000-based ``crs``, else WGS84 (EPSG:4326).

    >>> lonlat_crs(CRS.from_epsg(4549)).to_epsg(), lonlat_crs(CRS.from_epsg(32650)).to_epsg()
    (4490, 4326)
    """
    return CGCS2000 if is_cgcs2000_based(crs) else WGS84


def require_crs(gdf: gpd.GeoDataFrame, what: str = "input") -> CRS:
    """Return the CRS of ``gdf`` or raise :class:`UnknownCRSError` naming ``what``."""
    if gdf.crs is None:
        raise UnknownCRSError(f"{what}: 坐标系未知 / CRS is unknown; give --input-crs")
    return CRS.from_user_input(gdf.crs)


def metric_crs(*frames: gpd.GeoDataFrame) -> CRS:
    """Choose one metric CRS for all ``frames`` from the centre of their joint extent.

    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> metric_crs(gpd.GeoDataFrame(geometry=[Point(121.49, 31.25)], crs=4326)).to_epsg()
    4549
    """
    layers = []
    for i, gdf in enumerate(frames):
        crs = require_crs(gdf, f"frame {i}")
        layers.append((np.asarray(gdf.geometry.array, dtype=object), crs))
    return metric_crs_of(*layers)


def metric_crs_of(*layers: tuple[np.ndarray, CRS]) -> CRS:
    """:func:`metric_crs` of layers given as (geometry array, CRS) pairs, without frames."""
    bounds = []
    for geoms, crs in layers:
        if len(geoms) == 0 or shapely.is_empty(geoms).all() or shapely.is_missing(geoms).all():
            continue
        lonlat = geoms if crs.is_geographic else geometries_to_crs(geoms, crs, WGS84)
        bounds.append(_total_bounds(lonlat))
    if not bounds:
        raise CRSError("无法从空数据选择投影 / cannot choose a metric CRS for empty data")
    b = np.array(bounds)
    lon = (np.nanmin(b[:, 0]) + np.nanmax(b[:, 2])) / 2.0
    lat = (np.nanmin(b[:, 1]) + np.nanmax(b[:, 3])) / 2.0
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CRSError(
            f"坐标超出经纬度范围 / coordinates out of lon/lat range: {lon:.3f}, {lat:.3f}"
        )
    in_china_box = 73.0 <= lon <= 136.0 and 3.0 <= lat <= 54.0
    gk = gauss_kruger_3deg_crs(lon) if in_china_box else None
    return gk if gk is not None else _utm_crs(lon, lat)


def _total_bounds(geoms: np.ndarray) -> np.ndarray:
    """``GeoSeries.total_bounds`` of a geometry array (NaN where nothing is located)."""
    b = shapely.bounds(geoms).reshape(-1, 4)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns, as geopandas
        return np.array(
            [np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])]
        )


STRAIGHT_SEGMENT = 100.0
"""Longest segment (CRS units) a projected geometry keeps when :func:`to_lonlat` converts it."""


def to_lonlat(
    gdf: gpd.GeoDataFrame, target: CRS = WGS84, *, max_segment: float = STRAIGHT_SEGMENT
) -> gpd.GeoDataFrame:
    """Convert ``gdf`` to the lon/lat ``target``, its projected straight edges kept straight.

    A straight edge of a projected CRS, converted by its two ends, becomes the straight line
    between them in lon/lat, which bows away from the projected one by up to metres over
    15 km (the bow grows with the square of the length): the corners of other polygons lying
    on that edge no longer do. So in a projected ``gdf`` every segment longer than
    ``max_segment`` CRS units is first split into equal pieces; at 100 m one bows by under
    0.2 mm (measured up to 40°N in Gauss-Krüger, UTM and Web Mercator), below the coverage
    noise floor. A lon/lat ``gdf`` is converted as it is.

    >>> import geopandas as gpd
    >>> from shapely import box, get_num_coordinates
    >>> square = gpd.GeoDataFrame(geometry=[box(642000, 3459000, 643000, 3460000)], crs=4549)
    >>> int(get_num_coordinates(to_lonlat(square).geometry.iloc[0]))
    41
    """
    crs = require_crs(gdf)
    if not crs.is_geographic:
        dense = shapely.segmentize(np.asarray(gdf.geometry.values), max_segment)
        gdf = gdf.set_geometry(dense, crs=crs)
    return gdf.to_crs(target)


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """Project ``gdf`` to ``crs`` (default: :func:`metric_crs` of ``gdf``)."""
    require_crs(gdf)
    return gdf.to_crs(crs if crs is not None else metric_crs(gdf))
