"""Coordinate reference systems of the OGC API – Features service (Part 2, CRS by reference).

Geometry is stored as lon/lat and served as CRS84 unless the caller asks for another of
:data:`SUPPORTED` with ``crs``; a ``bbox`` may be given in another with ``bbox-crs``. Each CRS
keeps its own axis order: EPSG:4326 and EPSG:4490 (CGCS2000) are latitude first, CRS84 and
EPSG:3857 (web Mercator, metres) easting first. The transformations are pyproj's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from pyproj import Transformer

from api.core.errors import BadRequest
from api.db.models import STORAGE_SRID

__all__ = [
    "CRS84",
    "SUPPORTED",
    "bbox_to_crs84",
    "parse_crs",
    "reproject_feature",
    "storage_crs",
]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
SUPPORTED: dict[str, str] = {
    CRS84: "OGC:CRS84",
    f"{_EPSG}4326": "EPSG:4326",
    f"{_EPSG}4490": "EPSG:4490",
    f"{_EPSG}3857": "EPSG:3857",
}
"""CRS URI → pyproj name, CRS84 first (the default)."""


def storage_crs() -> str:
    """The URI of the stored coordinates' CRS (lon/lat WGS84 is CRS84; CGCS2000 is 4490)."""
    return CRS84 if STORAGE_SRID == 4326 else f"{_EPSG}4490"


def parse_crs(name: str, text: str | None) -> str:
    """The CRS URI of parameter ``name`` (``crs``, ``bbox-crs``): CRS84 if absent, 400 unless
    supported."""
    if text is None or text == "":
        return CRS84
    value = text.strip().strip("<>")
    if value not in SUPPORTED:
        raise BadRequest(
            f"{name} 不受支持 {value!r}（可用：{', '.join(SUPPORTED)}）/ {name} {value!r} is not "
            f"supported; supported: {', '.join(SUPPORTED)}"
        )
    return value


@lru_cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(SUPPORTED[source], SUPPORTED[target])


def _transform(geometry: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    transformer = _transformer(source, target)

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    moved = shapely.transform(shapely.geometry.shape(geometry), move)
    return shapely.geometry.mapping(moved)


def _is_geometry(value: Any) -> bool:
    return isinstance(value, dict) and "type" in value and "coordinates" in value


def reproject_feature(feature: dict[str, Any], crs: str) -> dict[str, Any]:
    """``feature`` (CRS84) with its geometry, and geometries among its properties (a house's
    footprint), in ``crs``."""
    if crs == CRS84:
        return feature
    if feature.get("geometry") is not None:
        feature["geometry"] = _transform(feature["geometry"], CRS84, crs)
    for key, value in (feature.get("properties") or {}).items():
        if _is_geometry(value):
            feature["properties"][key] = _transform(value, CRS84, crs)
    return feature


def bbox_to_crs84(box: list[float], crs: str) -> list[float]:
    """The CRS84 ``[minx, miny, maxx, maxy]`` of a box given in ``crs`` (its axis order).

    Every supported CRS maps a box of constant coordinates onto one (Mercator and the
    lon/lat systems are axis-aligned), so the corners suffice.

    >>> bbox_to_crs84([31.2, 121.4, 31.3, 121.5], "http://www.opengis.net/def/crs/EPSG/0/4326")
    [121.4, 31.2, 121.5, 31.3]
    """
    if crs == CRS84:
        return box
    a, b, c, d = box
    transformer = _transformer(crs, CRS84)
    xs, ys = transformer.transform([a, c, a, c], [b, b, d, d])
    return [float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))]
