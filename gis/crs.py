"""Coordinate reference systems: storage lon/lat, metric projections, GCJ-02 and BD-09.

Storage is lon/lat in WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490); the two agree to a few
centimetres, well below any tolerance used here. Areas, lengths and tolerances are computed
in metres in a projected CRS chosen from the data: the CGCS2000 3-degree Gauss-Krüger zone
whose central meridian is nearest the data's centre (inside China), else the UTM zone.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from pyproj import CRS

from gis.errors import CRSError, UnknownCRSError

__all__ = [
    "CGCS2000",
    "WGS84",
    "gauss_kruger_3deg_crs",
    "metric_crs",
    "require_crs",
    "to_metric",
]

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)

# EPSG:4534 is "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; codes run on by one per 3 degrees
# up to EPSG:4554 (CM 135E), without the zone number prefixed to the easting.
_GK3_FIRST_EPSG, _GK3_FIRST_CM, _GK3_LAST_CM = 4534, 75, 135


def gauss_kruger_3deg_crs(lon: float) -> CRS | None:
    """Return the CGCS2000 3° Gauss-Krüger CRS (no zone prefix) nearest ``lon``, or None."""
    cm = int(round(lon / 3.0)) * 3
    if not _GK3_FIRST_CM <= cm <= _GK3_LAST_CM:
        return None
    return CRS.from_epsg(_GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3)


def _utm_crs(lon: float, lat: float) -> CRS:
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


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
    bounds = []
    for i, gdf in enumerate(frames):
        crs = require_crs(gdf, f"frame {i}")
        if gdf.empty or gdf.geometry.is_empty.all() or gdf.geometry.isna().all():
            continue
        geo = gdf.geometry if crs.is_geographic else gdf.geometry.to_crs(WGS84)
        bounds.append(geo.total_bounds)
    if not bounds:
        raise CRSError("无法从空数据选择投影 / cannot choose a metric CRS for empty data")
    b = np.array(bounds)
    lon = (np.nanmin(b[:, 0]) + np.nanmax(b[:, 2])) / 2.0
    lat = (np.nanmin(b[:, 1]) + np.nanmax(b[:, 3])) / 2.0
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CRSError(f"坐标超出经纬度范围 / coordinates out of lon/lat range: {lon:.3f}, {lat:.3f}")
    in_china = 73.0 <= lon <= 136.0 and 3.0 <= lat <= 54.0
    gk = gauss_kruger_3deg_crs(lon) if in_china else None
    return gk if gk is not None else _utm_crs(lon, lat)


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """Project ``gdf`` to ``crs`` (default: :func:`metric_crs` of ``gdf``)."""
    require_crs(gdf)
    return gdf.to_crs(crs if crs is not None else metric_crs(gdf))
