"""The offline base map: OSM layers cut into Mapbox Vector Tiles, zoom by zoom.

:func:`build_basemap` takes the layers of :func:`gis.osm.read_osm_layers` (roads, buildings,
water, green landuse, POIs, door plates) and writes a PMTiles or MBTiles archive
(:mod:`maps.tile_archive`). Per tile and layer, vectorised with shapely 2: the features whose
zoom range holds the tile (:func:`feature_minzoom`) are clipped to the tile plus a buffer,
moved into tile units (extent 4096, y down), simplified (tolerance in tile units), snapped to
the integer grid (``set_precision``, which also makes polygons valid) and wound as MVT 2.1
wants; polygons under :data:`MIN_AREA_UNITS2` are dropped below the top zoom. Encoding is
``mapbox-vector-tile``'s. A tile still over :data:`MAX_TILE_BYTES` is cut again with a coarser
tolerance, keeping only its largest lines and polygons in proportion to the excess, until it
fits. Tiles are cut in worker processes (fork) when there
are many.
"""

from __future__ import annotations

import gzip
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely

from gis.errors import InputError, WanggeError
from maps.tile_archive import archive_format, write_archive

__all__ = [
    "DEFAULT_MAXZOOM",
    "DEFAULT_MINZOOM",
    "EXTENT",
    "MAX_TILE_BYTES",
    "BasemapSummary",
    "build_basemap",
    "clean_geometry_type",
    "feature_minzoom",
    "tile_bounds",
    "tile_range",
]

DEFAULT_MINZOOM, DEFAULT_MAXZOOM = 10, 16
EXTENT = 4096  # tile units per tile side
BUFFER_UNITS = 64  # features cut this far beyond the tile edge (labels, strokes)
MAX_TILE_BYTES = 500 * 1024  # the encoded (uncompressed) tile
MIN_AREA_UNITS2 = 256.0  # below the top zoom: polygons under 2×2 screen pixels (512 px tiles)
ADDRESS_MINZOOM = 16  # door plates only at the top zoom (or from 16 when the top is higher)
ORIGIN = 20037508.342789244  # half the Web Mercator world, metres
LAYER_ORDER = ("water", "landuse", "roads", "buildings", "pois", "addresses")
ATTRIBUTION = "© OpenStreetMap contributors"

ROAD_MINZOOM = {
    "motorway": 10, "trunk": 10, "primary": 11, "secondary": 12, "tertiary": 13,
    "motorway_link": 12, "trunk_link": 12, "primary_link": 13, "secondary_link": 13,
    "tertiary_link": 14, "unclassified": 14, "residential": 14, "living_street": 14,
    "rail": 12, "light_rail": 13, "subway": 13, "monorail": 13, "tram": 14,
    "service": 15, "road": 15, "pedestrian": 15, "track": 15,
}  # fmt: skip
"""First zoom of each road kind; footways, paths, steps, piers and the like come at 16."""
WATER_LINE_MINZOOM = {"river": 12, "canal": 13, "stream": 14}
LAYER_MINZOOM = {"buildings": 14, "landuse": 12, "water": 10, "pois": 15}


def feature_minzoom(layer: str, kinds, geom_types, *, maxzoom: int) -> np.ndarray:
    """Return the first zoom at which each feature of ``layer`` is drawn (never above ``maxzoom``).

    >>> feature_minzoom("roads", ["primary", "footway"], ["LineString"] * 2, maxzoom=16).tolist()
    [11, 16]
    >>> feature_minzoom("addresses", [None], ["Point"], maxzoom=14).tolist()
    [14]
    """
    n = len(geom_types)
    kinds = list(kinds) if kinds is not None else [None] * n
    if layer == "roads":
        zooms = [ROAD_MINZOOM.get(k, 16) for k in kinds]
    elif layer == "addresses":
        zooms = [ADDRESS_MINZOOM] * n
    elif layer == "water":
        zooms = [
            WATER_LINE_MINZOOM.get(k, 15) if "Line" in t else LAYER_MINZOOM["water"]
            for k, t in zip(kinds, geom_types, strict=True)
        ]
    else:
        zooms = [LAYER_MINZOOM[layer]] * n
    return np.minimum(np.array(zooms, dtype=np.int16), maxzoom)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds ``(minx, miny, maxx, maxy)`` in metres of tile ``z/x/y`` (XYZ)."""
    size = 2 * ORIGIN / 2**z
    west, north = -ORIGIN + x * size, ORIGIN - y * size
    return (west, north - size, west + size, north)


def tile_range(bounds_3857, z: int) -> tuple[int, int, int, int]:
    """Tiles ``(x0, y0, x1, y1)`` (inclusive) at zoom ``z`` covering Web Mercator bounds."""
    minx, miny, maxx, maxy = bounds_3857
    n = 2**z
    size = 2 * ORIGIN / n

    def clamp(v: float) -> int:
        return min(max(math.floor(v), 0), n - 1)

    return (
        clamp((minx + ORIGIN) / size),
        clamp((ORIGIN - maxy) / size),
        clamp((maxx + ORIGIN) / size),
        clamp((ORIGIN - miny) / size),
    )


@dataclass
class _Layer:
    """One layer ready to cut: Web Mercator geometries, their first zoom, properties, index."""

    name: str
    geoms: np.ndarray
    minzoom: np.ndarray
    polygonal: np.ndarray
    columns: dict[str, np.ndarray]
    tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geoms)

    def properties(self, i: int) -> dict[str, str]:
        return {k: col[i] for k, col in self.columns.items() if col[i] is not None}


_TYPE_NAMES = np.array(
    ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
     "MultiPolygon", "GeometryCollection"]
)  # fmt: skip


def _prepare(layers: dict[str, gpd.GeoDataFrame], maxzoom: int) -> dict[str, _Layer]:
    prepared = {}
    for name in LAYER_ORDER:
        frame = layers.get(name)
        if frame is None or not len(frame):
            continue
        frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
        geoms = shapely.force_2d(frame.to_crs("EPSG:3857").geometry.to_numpy())
        types = shapely.get_type_id(geoms)
        polygonal = np.isin(types, (3, 6))
        bad = polygonal & ~shapely.is_valid(geoms)
        if bad.any():  # OSM polygons can self-intersect: keep their area
            fixed = shapely.make_valid(geoms[bad])
            geoms[bad] = [_polygonal_part(g) for g in fixed]
        keep = ~shapely.is_empty(geoms)
        frame, geoms, polygonal = frame[keep], geoms[keep], polygonal[keep]
        columns = {  # text or None (pandas may hold a missing text as NaN)
            c: np.array([v if isinstance(v, str) else None for v in frame[c]], dtype=object)
            for c in frame.columns
            if c != "geometry"
        }
        types = _TYPE_NAMES[shapely.get_type_id(geoms)]
        minzoom = feature_minzoom(name, columns.get("kind"), types, maxzoom=maxzoom)
        prepared[name] = _Layer(name, geoms, minzoom, polygonal, columns)
    return prepared


def _polygonal_part(geom):
    """The polygons of ``geom`` (make_valid can return a collection with lines and points)."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if not len(polys):
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.multipolygons(shapely.get_parts(polys))


def clean_geometry_type(geom, polygonal: bool):
    """After clipping and snapping: keep what the layer draws (a collection only rarely)."""
    if shapely.get_type_id(geom) != 7:
        return geom
    parts = shapely.get_parts(geom)
    if polygonal:
        return _polygonal_part(geom)
    lines = parts[np.isin(shapely.get_type_id(parts), (1, 5))]
    if len(lines):
        return shapely.multilinestrings(shapely.get_parts(lines))
    points = parts[shapely.get_type_id(parts) == 0]
    return shapely.multipoints(points) if len(points) else shapely.Point()


def _cut_layer(
    layer: _Layer, z: int, x: int, y: int, *, coarse: float, keep: float, top: bool
) -> list:
    """The features of ``layer`` in tile z/x/y, in tile units, as mapbox-vector-tile features.

    ``coarse`` multiplies the simplification tolerance; ``keep`` < 1 keeps only that share of
    the lines and polygons, the longest and largest (points are all kept).
    """
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    pad = BUFFER_UNITS / scale
    idx = layer.tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
    idx = np.sort(idx[layer.minzoom[idx] <= z])
    if not len(idx):
        return []
    geoms = shapely.clip_by_rect(layer.geoms[idx], minx - pad, miny - pad, maxx + pad, maxy + pad)
    origin, factor = np.array([minx, maxy]), np.array([scale, -scale])
    geoms = shapely.transform(geoms, lambda c: (c - origin) * factor)
    tolerance = (1.0 if top else 2.0) * coarse
    polygonal = layer.polygonal[idx]
    geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    try:
        geoms = shapely.set_precision(geoms, 1.0)
    except shapely.errors.GEOSException:  # a clip left a ring GEOS cannot snap: repair first
        geoms = shapely.set_precision(shapely.make_valid(geoms), 1.0)
    kept = ~shapely.is_empty(geoms)
    if not top:
        kept &= ~polygonal | (shapely.area(geoms) >= MIN_AREA_UNITS2)
    if keep < 1:
        size = np.where(polygonal, shapely.area(geoms), shapely.length(geoms))
        n = math.ceil(keep * int(kept.sum()))
        ranked = np.flatnonzero(kept)[np.argsort(-size[kept], kind="stable")]
        kept[ranked[n:]] = np.isin(shapely.get_type_id(geoms[ranked[n:]]), (0, 4))
    features = []
    for i, geom, poly in zip(idx[kept], geoms[kept], polygonal[kept], strict=True):
        geom = clean_geometry_type(geom, bool(poly))
        if geom.is_empty:
            continue
        if poly:
            geom = shapely.orient_polygons(geom, exterior_cw=False)
        features.append({"geometry": geom, "properties": layer.properties(int(i))})
    return features


_OPTIONS = {"extents": EXTENT, "y_coord_down": True, "check_winding_order": False}


def encode_tile(layers: dict[str, _Layer], z: int, x: int, y: int, *, maxzoom: int) -> bytes:
    """The MVT bytes of tile z/x/y (b"" when it has no feature), at most :data:`MAX_TILE_BYTES`."""
    coarse, keep = 1.0, 1.0
    top = z >= maxzoom
    for _ in range(16):
        content = []
        for name, layer in layers.items():
            features = _cut_layer(layer, z, x, y, coarse=coarse, keep=keep, top=top)
            if features:
                content.append({"name": name, "features": features})
        if not content:
            return b""
        data = mapbox_vector_tile.encode(content, default_options=_OPTIONS)
        if len(data) <= MAX_TILE_BYTES:
            return data
        # coarser lines, and only the largest features, in proportion to the excess
        coarse, keep = coarse * 2, keep * min(0.9, 0.9 * MAX_TILE_BYTES / len(data))
    raise WanggeError(f"tile {z}/{x}/{y} stays over {MAX_TILE_BYTES} bytes")


# --------------------------------------------------------------------------- processes

_STATE: dict = {}


def _cut_batch(batch: list[tuple[int, int, int]]) -> list[tuple[int, int, int, bytes, int]]:
    """Worker: encode and gzip a batch of tiles; empty tiles come back as b""."""
    layers, maxzoom = _STATE["layers"], _STATE["maxzoom"]
    out = []
    for z, x, y in batch:
        data = encode_tile(layers, z, x, y, maxzoom=maxzoom)
        out.append((z, x, y, gzip.compress(data, 6, mtime=0) if data else b"", len(data)))
    return out


def _batches(jobs: list[tuple[int, int, int]], size: int) -> Iterator[list[tuple[int, int, int]]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


@dataclass
class BasemapSummary:
    """What a build wrote: archive, zooms, tiles, sizes and features per layer."""

    path: Path
    format: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    tiles: int
    bytes: int
    largest_tile_bytes: int
    features: dict[str, int]

    def as_dict(self) -> dict:
        return {
            "out": str(self.path),
            "format": self.format,
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "bounds": list(self.bounds),
            "tiles": self.tiles,
            "bytes": self.bytes,
            "largest_tile_bytes": self.largest_tile_bytes,
            "features": self.features,
        }


def _vector_layers(layers: dict[str, _Layer], maxzoom: int) -> list[dict]:
    return [
        {
            "id": name,
            "fields": {c: "String" for c in layer.columns},
            "minzoom": int(layer.minzoom.min()),
            "maxzoom": maxzoom,
        }
        for name, layer in layers.items()
    ]


def build_basemap(
    layers: dict[str, gpd.GeoDataFrame],
    out: Path | str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    minzoom: int = DEFAULT_MINZOOM,
    maxzoom: int = DEFAULT_MAXZOOM,
    processes: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BasemapSummary:
    """Cut ``layers`` into vector tiles from ``minzoom`` to ``maxzoom`` and write ``out``.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (:func:`gis.osm.read_osm_layers`); any CRS.
    out
        ``.pmtiles`` or ``.mbtiles`` (:func:`maps.tile_archive.archive_format`); written
        whole or not at all.
    bbox
        ``(west, south, east, north)`` lon/lat: tiles only there (default: the data's extent).
    processes
        Worker processes (default: the CPUs this process may use; 1 cuts in this process).
    on_progress
        Called with ``(tiles done, tiles in all)`` as tiles are cut.

    Returns
    -------
    BasemapSummary
    """
    out = Path(out)
    fmt = archive_format(out)
    if not 0 <= minzoom <= maxzoom <= 22:
        raise InputError(
            f"缩放级别无效 / bad zoom range: minzoom {minzoom}, maxzoom {maxzoom}"
            " (0 ≤ min ≤ max ≤ 22)"
        )
    prepared = _prepare(layers, maxzoom)
    if not prepared:
        raise InputError("OSM 数据里没有可绘制的要素 / the OSM data has no feature to draw")
    if bbox is None:
        data_bounds = np.array([shapely.total_bounds(lay.geoms) for lay in prepared.values()])
        bounds_3857 = (*data_bounds[:, :2].min(axis=0), *data_bounds[:, 2:].max(axis=0))
        lonlat = gpd.GeoSeries([shapely.box(*bounds_3857)], crs="EPSG:3857").to_crs(4326)
        bbox = tuple(float(v) for v in lonlat.total_bounds)
    else:
        merc = gpd.GeoSeries([shapely.box(*bbox)], crs="EPSG:4326").to_crs(3857)
        bounds_3857 = tuple(merc.total_bounds)
    jobs = []
    for z in range(minzoom, maxzoom + 1):
        x0, y0, x1, y1 = tile_range(bounds_3857, z)
        jobs += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]

    if processes is None:
        processes = len(os.sched_getaffinity(0))
    processes = max(1, min(processes, len(jobs) // 16 or 1))
    tiles: list[tuple[int, int, int, bytes]] = []
    largest = 0
    done = 0
    _STATE.update(layers=prepared, maxzoom=maxzoom)
    try:
        batch_size = max(1, min(64, len(jobs) // (processes * 8) or 1))
        if processes == 1:
            results: Iterator = map(_cut_batch, _batches(jobs, batch_size))
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(processes)
            results = pool.imap_unordered(_cut_batch, _batches(jobs, batch_size))
        try:
            for batch in results:
                for z, x, y, data, raw in batch:
                    if data:
                        tiles.append((z, x, y, data))
                        largest = max(largest, raw)
                done += len(batch)
                if on_progress:
                    on_progress(done, len(jobs))
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    finally:
        _STATE.clear()
    if not tiles:
        raise InputError("范围内没有要素 / no feature inside the bounding box")
    west, south, east, north = bbox
    metadata = {
        "name": out.stem,
        "format": "pbf",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, min(maxzoom, max(minzoom, 15))],
        "attribution": ATTRIBUTION,
        "vector_layers": _vector_layers(prepared, maxzoom),
        "generator": "wangge basemap build (mapbox-vector-tile)",
    }
    size = write_archive(out, tiles, metadata)
    return BasemapSummary(
        path=out,
        format=fmt,
        minzoom=minzoom,
        maxzoom=maxzoom,
        bounds=(west, south, east, north),
        tiles=len(tiles),
        bytes=size,
        largest_tile_bytes=largest,
        features={name: len(layer.geoms) for name, layer in prepared.items()},
    )
