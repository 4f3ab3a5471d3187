"""Tiles past the archive's top zoom, cut from the top-zoom parent (overzooming).

A child tile ``dz`` levels below its parent covers a square ``EXTENT / 2**dz`` tile units wide
of the parent. :func:`overzoom_tile` decodes the parent (``mapbox-vector-tile``), scales that
square up to the full extent, cuts every feature to the child tile plus a buffer and encodes
the result: the child holds only its own features, in its own full resolution grid, so a
client draws it like any other tile (no client-side scaling).
"""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import shapely
from shapely.geometry import shape

from maps.basemap import BUFFER_UNITS, EXTENT, clean_geometry_type

__all__ = ["overzoom_tile", "parent_of"]

_OPTIONS = {"extents": EXTENT, "y_coord_down": True, "check_winding_order": False}


def parent_of(z: int, x: int, y: int, top: int) -> tuple[int, int, int]:
    """The tile at zoom ``top`` holding tile z/x/y (``z >= top``).

    >>> parent_of(18, 1000, 2003, 16)
    (16, 250, 500)
    """
    dz = z - top
    return top, x >> dz, y >> dz


def overzoom_tile(parent: bytes, z: int, x: int, y: int, top: int) -> bytes:
    """The MVT bytes of tile z/x/y cut from its parent at zoom ``top`` (b"" when empty)."""
    dz = z - top
    side = EXTENT / 2**dz  # the child's width in parent units
    offset = np.array([(x - (x >> dz << dz)) * side, (y - (y >> dz << dz)) * side])
    factor = 2.0**dz
    lo, hi = -BUFFER_UNITS, EXTENT + BUFFER_UNITS
    decoded = mapbox_vector_tile.decode(
        parent, default_options={"y_coord_down": True, "geojson": False}
    )
    layers = []
    for name, layer in decoded.items():
        scale = EXTENT / layer.get("extent", EXTENT)
        geoms = np.array([shape(f["geometry"]) for f in layer["features"]], dtype=object)
        if not len(geoms):
            continue
        geoms = shapely.transform(geoms, lambda c, s=scale: (c * s - offset) * factor)
        geoms = shapely.clip_by_rect(geoms, lo, lo, hi, hi)
        try:
            geoms = shapely.set_precision(geoms, 1.0)
        except shapely.errors.GEOSException:  # a clipped ring GEOS cannot snap: repair first
            geoms = shapely.set_precision(shapely.make_valid(geoms), 1.0)
        features = []
        for f, g in zip(layer["features"], geoms, strict=True):
            polygonal = f["geometry"]["type"] in ("Polygon", "MultiPolygon")
            g = clean_geometry_type(g, polygonal)
            if g.is_empty:
                continue
            if polygonal:
                g = shapely.orient_polygons(g, exterior_cw=False)
            features.append({"geometry": g, "properties": f["properties"]})
        if features:
            layers.append({"name": name, "features": features})
    return mapbox_vector_tile.encode(layers, default_options=_OPTIONS) if layers else b""
