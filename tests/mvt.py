"""Vector tiles read back by GDAL (pyogrio), independent of the encoder wangge uses.

:func:`gdal_tile` decodes one tile with GDAL's MVT driver, georeferenced by its ``z/x/y``
path; :func:`gdal_layer` reads one layer of a whole PMTiles/MBTiles archive at one zoom with
GDAL's PMTiles/MBTiles drivers. Both give EPSG:3857. :func:`lonlat_to_tile` is the slippy-map
formula of the OSM wiki.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import geopandas as gpd
import pyogrio


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding lon/lat at zoom ``z`` (the slippy-map formula, OSM wiki)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def gdal_tile(data: bytes, z: int, x: int, y: int, folder: Path) -> dict[str, gpd.GeoDataFrame]:
    """Decode one MVT (gzip or plain) with GDAL's MVT driver: layer name → EPSG:3857 frame."""
    path = folder / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return {name: pyogrio.read_dataframe(path, layer=name) for name, _ in pyogrio.list_layers(path)}


def gdal_layer(archive: Path, layer: str, zoom: int) -> gpd.GeoDataFrame:
    """One layer of a whole archive at one zoom, read by GDAL's PMTiles/MBTiles driver."""
    names = [n for n, _ in pyogrio.list_layers(archive)]
    if layer not in names:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=3857))
    return pyogrio.read_dataframe(archive, layer=layer, ZOOM_LEVEL=zoom)
