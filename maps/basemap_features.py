"""Base-map features read back from the tile archive, as GeoDataFrames in lon/lat.

The planner snaps drawn vertices to road centrelines and building outlines. Where the server
has the OSM layers the base map was built from, it gives those (full precision); where it
has only the tile archive (``--basemap``), :func:`archive_features` decodes the archive's top
zoom over an area. Tile coordinates are integers on a 4096-unit grid per tile: at zoom 16 a
unit is ``40075017 m × cos(lat) / 2**16 / 4096`` — about 12.8 cm at Shanghai's latitude. A
decoded vertex is within 0.71 units (half a unit's diagonal) of where OSM has it, a point
where a line was cut at a tile edge within about 1.7 units (the builder simplifies the top
zoom with a tolerance of one unit): under 25 cm, against 0 for the OSM layers themselves. Each
tile's features are cut to the tile's own square (no buffer), so a road crossing tiles comes
back as pieces that meet at the tile edges. Polygons (buildings) come back as their outlines
(lines): a building cut by a tile edge would otherwise gain an edge along the tile's border,
which is no wall to snap to.
"""

from __future__ import annotations

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pyproj
import shapely
from shapely.geometry import shape

from maps.basemap import EXTENT, tile_bounds, tile_range
from maps.tile_archive import TileArchive

__all__ = ["MAX_TILES", "archive_features"]

MAX_TILES = 400  # an area larger than this many top-zoom tiles is refused (about 20 km²)
_TO_MERCATOR = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)


def archive_features(
    archive: TileArchive,
    bounds: tuple[float, float, float, float],
    layers: tuple[str, ...] = ("roads", "buildings"),
) -> dict[str, gpd.GeoDataFrame]:
    """Features of ``layers`` in the top-zoom tiles over ``bounds`` (west, south, east,
    north; lon/lat), each layer a GeoDataFrame in EPSG:4326 with the tiles' properties;
    lines as lines, polygons as their outlines.

    Raises
    ------
    ValueError
        When ``bounds`` needs more than :data:`MAX_TILES` tiles.
    """
    z = archive.maxzoom
    west, south, east, north = bounds
    xs, ys = _TO_MERCATOR.transform([west, east], [south, north])
    x0, y0, x1, y1 = tile_range((xs[0], ys[0], xs[1], ys[1]), z)
    count = (x1 - x0 + 1) * (y1 - y0 + 1)
    if count > MAX_TILES:
        raise ValueError(
            f"范围需要 {count} 个瓦片，超过 {MAX_TILES} / the area needs {count} tiles at zoom "
            f"{z}, more than {MAX_TILES}"
        )
    rows: dict[str, list] = {name: [] for name in layers}
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            for name, geom, props in _tile_features(archive, z, x, y, layers):
                rows[name].append((geom, props))
    out = {}
    for name, found in rows.items():
        props = [p for _, p in found]
        geoms = [g for g, _ in found]
        frame = gpd.GeoDataFrame(props or None, geometry=geoms, crs=3857)
        out[name] = frame.to_crs(4326)
    return out


def _tile_features(archive: TileArchive, z: int, x: int, y: int, layers: tuple[str, ...]):
    data = archive.get_mvt(z, x, y)
    if not data:
        return
    decoded = mapbox_vector_tile.decode(
        data, default_options={"y_coord_down": True, "geojson": False}
    )
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    for name in layers:
        layer = decoded.get(name)
        if not layer:
            continue
        extent = layer.get("extent", EXTENT)
        scale = np.array([(maxx - minx) / extent, -(maxy - miny) / extent])
        origin = np.array([minx, maxy])
        square = shapely.box(0, 0, extent, extent).boundary
        for feature in layer["features"]:
            geom = shapely.clip_by_rect(shape(feature["geometry"]), 0, 0, extent, extent)
            if shapely.get_type_id(geom) in (3, 6):  # outlines, without the tile's own edges
                geom = shapely.line_merge(shapely.difference(shapely.boundary(geom), square))
            if geom.is_empty:
                continue
            geom = shapely.transform(geom, lambda c, o=origin, s=scale: o + c * s)
            yield name, geom, dict(feature.get("properties") or {})
