"""GeoJSON in and out: parse what callers send (with clear errors); Features are built by
:mod:`gis.geojson` (re-exported here for the routes).

Incoming GeoJSON is WGS84 lon/lat (RFC 7946) unless the caller names another input CRS
(``gcj02``/``bd09`` are converted, :func:`gis.crs.to_wgs84`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import shapely
import shapely.geometry

from api.core.limits import check_geojson_geometry
from gis.crs import WGS84, parse_input_crs, to_wgs84
from gis.errors import GeometryTypeError, InputError
from gis.geojson import feature, feature_collection  # the one GeoJSON writer

__all__ = [
    "POLYGONAL",
    "feature",
    "feature_collection",
    "frame_from_geojson",
    "geometry_from_geojson",
]

POLYGONAL = ("Polygon", "MultiPolygon")


def geometry_from_geojson(
    obj: Any, *, what: str, kinds: tuple[str, ...] | None = POLYGONAL
) -> shapely.Geometry:
    """Return the shapely geometry of a GeoJSON geometry or Feature, of one of ``kinds``.

    Raises :class:`~gis.errors.InputError` (malformed) or
    :class:`~gis.errors.GeometryTypeError` (wrong kind), naming ``what``.
    """
    if isinstance(obj, Mapping) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, Mapping) or "type" not in obj:
        raise InputError(f"{what}: 不是 GeoJSON 几何 / not a GeoJSON geometry or Feature")
    check_geojson_geometry(obj, what=what)  # vertex bound, finite lon/lat in range
    try:
        geom = shapely.geometry.shape(obj)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InputError(
            f"{what}: GeoJSON 几何无法解析 / malformed GeoJSON geometry: {exc}"
        ) from exc
    if kinds is not None and geom.geom_type not in kinds:
        raise GeometryTypeError(
            f"{what}: 几何类型应为 {'/'.join(kinds)}，而不是 {geom.geom_type} / "
            f"geometry must be {' or '.join(kinds)}, not {geom.geom_type}"
        )
    if geom.is_empty:
        raise GeometryTypeError(f"{what}: 几何为空 / empty geometry")
    return geom


def frame_from_geojson(
    obj: Any,
    *,
    what: str,
    kinds: tuple[str, ...] = POLYGONAL,
    input_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Return a FeatureCollection, Feature or geometry as a WGS84 GeoDataFrame.

    Every feature must have a geometry of one of ``kinds``; the error names the feature.
    """
    if isinstance(obj, Mapping) and obj.get("type") == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise InputError(f"{what}: FeatureCollection 缺少 features 数组 / no features array")
    elif isinstance(obj, Mapping) and obj.get("type") == "Feature":
        features = [obj]
    else:
        features = [{"type": "Feature", "geometry": obj, "properties": {}}]
    if not features:
        raise InputError(f"{what}: 没有要素 / no features")
    geoms, rows = [], []
    for i, f in enumerate(features):
        label = f"{what} 第 {i + 1} 个要素 / feature {i + 1}"
        if not isinstance(f, Mapping):
            raise InputError(f"{label}: 不是 GeoJSON 要素 / not a GeoJSON Feature")
        geoms.append(geometry_from_geojson(f.get("geometry"), what=label, kinds=kinds))
        props = f.get("properties") or {}
        if not isinstance(props, Mapping):
            raise InputError(f"{label}: properties 应为对象 / properties must be an object")
        rows.append(dict(props))
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84)
    if input_crs is not None:
        frame = to_wgs84(frame, parse_input_crs(input_crs))
    return frame
