"""GeoJSON out (RFC 7946): Features and FeatureCollections in WGS84 lon/lat.

The one writer for the whole project: :mod:`gis.coverage` serialises findings and change
logs with :func:`frame_to_feature_collection`; the API builds its responses with
:func:`feature` and :func:`feature_collection`. Exteriors are counter-clockwise, NaN and
infinities become null, numpy scalars plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.geometry
from pyproj import CRS

from gis.crs import WGS84, geometries_to_crs

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "feature",
    "feature_collection",
    "frame_to_feature_collection",
    "geometry_json",
    "json_value",
]


def feature(fid: Any, geom: shapely.Geometry | None, properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature (RFC 7946: counter-clockwise exteriors; no geometry as null)."""
    return {"type": "Feature", "id": fid, "geometry": geometry_json(geom), "properties": properties}


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with extra members (numberMatched, links...)."""
    return {"type": "FeatureCollection", "features": features, **members}


def frame_to_feature_collection(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """``frame`` as an RFC 7946 FeatureCollection in lon/lat with ``columns`` as properties.

    A missing or empty geometry becomes a null geometry; values go through
    :func:`json_value`. Features carry no ``id``.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> f = gpd.GeoDataFrame({"a": [float("nan")]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    >>> out = frame_to_feature_collection(f, ["a"])["features"][0]
    >>> out["properties"], out["geometry"]["coordinates"][0][:2]
    ({'a': None}, ((1.0, 0.0), (1.0, 1.0)))
    """
    geo = frame.geometry.array
    if len(frame) and frame.crs is not None:  # the transformer cached for the process
        geo = geometries_to_crs(np.asarray(geo, dtype=object), CRS(frame.crs), WGS84)
    elif len(frame):
        geo = frame.geometry.to_crs(WGS84).array  # no CRS: geopandas says why not
    features = []
    for row, geom in zip(frame.itertuples(index=False), geo, strict=True):
        props = {name: json_value(getattr(row, name)) for name in columns}
        features.append({"type": "Feature", "geometry": geometry_json(geom), "properties": props})
    return feature_collection(features)


def json_value(value: Any) -> Any:
    """``value`` as plain JSON: NaN/inf as None, numpy scalars as numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def geometry_json(geom: shapely.Geometry | None) -> dict[str, Any] | None:
    if geom is None or shapely.is_empty(geom):
        return None
    return shapely.geometry.mapping(shapely.orient_polygons(geom, exterior_cw=False))
