"""OpenStreetMap data in the forms deployments get it, read into the base map's layers.

:func:`read_osm_layers` reads ``.osm`` XML and ``.osm.pbf`` (GDAL's OSM driver through pyogrio:
its ``points``, ``lines`` and ``multipolygons`` layers, other tags in ``other_tags``) and
GeoPackages whose layers are named ``roads``, ``buildings``, ``water``, ``landuse`` (or
``green``), ``pois`` and optionally ``addresses`` (the Tilezen schema of vector-tile extracts:
``kind``/``kind_detail``, ``name``, ``addr_housenumber``; or plain OSM keys such as ``highway``
and ``addr:housenumber``). Every source gives the same layers (:data:`LAYERS`), each a
GeoDataFrame in EPSG:4326 with a fixed set of columns:

- ``roads``: ``kind`` (the OSM ``highway`` value, or ``rail``/``subway``…), ``name``;
- ``buildings``: ``name``;
- ``water``: ``kind``, ``name`` (areas; rivers and canals as lines);
- ``landuse``: ``kind`` (green areas only: parks, grass, woods, gardens, pitches…), ``name``;
- ``pois``: ``kind``, ``name`` (named points only);
- ``addresses``: ``number`` (the door plate), ``street``.

Nothing here knows about zoom levels or tiles: that is rendering (``maps.basemap``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.errors import InputError, UnknownCRSError, UnreadableFileError

__all__ = [
    "GREEN_KINDS",
    "LAYERS",
    "OSM_SUFFIXES",
    "ROAD_KINDS",
    "parse_other_tags",
    "read_osm_layers",
]

LAYERS: dict[str, tuple[str, ...]] = {
    "roads": ("kind", "name"),
    "buildings": ("name",),
    "water": ("kind", "name"),
    "landuse": ("kind", "name"),
    "pois": ("kind", "name"),
    "addresses": ("number", "street"),
}
"""The layers every source is read into, and their columns (besides ``geometry``)."""

OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".gpkg")

ROAD_KINDS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary",
        "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
        "unclassified", "residential", "living_street", "service", "road", "pedestrian",
        "track", "footway", "cycleway", "path", "steps", "bridleway", "pier",
        "rail", "light_rail", "subway", "tram", "monorail",
    }
)  # fmt: skip
"""Road (and rail) kinds kept; the OSM ``highway``/``railway`` values."""

GREEN_KINDS = frozenset(
    {
        "park", "garden", "grass", "forest", "wood", "natural_wood", "meadow", "scrub",
        "grassland", "heath", "recreation_ground", "village_green", "cemetery", "nature_reserve",
        "golf_course", "pitch", "playground", "orchard", "allotments", "common",
    }
)  # fmt: skip
"""Kinds of the green ``landuse`` layer (OSM ``landuse``/``leisure``/``natural`` values)."""

_WATER_AREA_KINDS = frozenset({"water", "riverbank", "reservoir", "basin", "lake", "river",
                               "ocean", "bay", "dock", "canal", "pond"})  # fmt: skip
_WATERWAY_LINES = frozenset({"river", "canal", "stream", "drain", "ditch"})
_POI_KEYS = ("amenity", "shop", "tourism", "leisure", "historic", "railway", "office", "place")
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_GPKG_ALIASES = {"green": "landuse", "parks": "landuse", "poi": "pois", "address": "addresses"}


def parse_other_tags(value: str | None) -> dict[str, str]:
    """Return the tags of GDAL's OSM ``other_tags`` hstore text as a dict.

    >>> parse_other_tags('"addr:housenumber"=>"12","name:en"=>"The \\\\"Bund\\\\""')
    {'addr:housenumber': '12', 'name:en': 'The "Bund"'}
    >>> parse_other_tags(None)
    {}
    """
    if not isinstance(value, str) or not value:  # None, or NaN from pandas
        return {}
    unescape = lambda s: s.replace('\\"', '"').replace("\\\\", "\\")  # noqa: E731
    return {unescape(k): unescape(v) for k, v in _TAG.findall(value)}


def _empty(layer: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in LAYERS[layer]},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )


def _frame(layer: str, geometry, **columns) -> gpd.GeoDataFrame:
    """A layer frame: the layer's columns (None for missing/empty text) and the geometry."""
    data = {}
    for c in LAYERS[layer]:
        given = columns.get(c)
        values = [None] * len(geometry) if given is None else list(given)
        data[c] = np.array([_text(v) for v in values], dtype=object)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"))


def _text(value) -> str | None:
    """A property value as text; None for missing, NaN or blank."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _of_type(frame: gpd.GeoDataFrame, kinds: tuple[str, ...]) -> gpd.GeoDataFrame:
    keep = frame.geometry.notna() & frame.geometry.geom_type.isin(kinds)
    return frame[keep & ~frame.geometry.is_empty]


_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")
_POINTS = ("Point", "MultiPoint")


# --------------------------------------------------------------------------- OSM XML / PBF


def _read_osm_driver(path: Path, layer: str, bbox) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(path, layer=layer, bbox=bbox)
    except Exception as exc:  # pyogrio/GDAL errors carry their own text
        raise UnreadableFileError(f"{path}: 无法读取 OSM 图层 {layer} / cannot read {exc}") from exc


def _column(frame: pd.DataFrame, tags: list[dict[str, str]], key: str) -> pd.Series:
    """The OSM tag ``key``: GDAL's own column when it has one, else from ``other_tags``."""
    own = frame[key] if key in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    extra = pd.Series([t.get(key) for t in tags], index=frame.index, dtype=object)
    return own.where(own.notna(), extra)


def _read_osm(path: Path, bbox) -> dict[str, gpd.GeoDataFrame]:
    lines = _of_type(_read_osm_driver(path, "lines", bbox), _LINES)
    areas = _of_type(_read_osm_driver(path, "multipolygons", bbox), _POLYGONS)
    points = _of_type(_read_osm_driver(path, "points", bbox), _POINTS)
    line_tags = [parse_other_tags(v) for v in lines.get("other_tags", [None] * len(lines))]
    area_tags = [parse_other_tags(v) for v in areas.get("other_tags", [None] * len(areas))]
    point_tags = [parse_other_tags(v) for v in points.get("other_tags", [None] * len(points))]

    highway = _column(lines, line_tags, "highway")
    railway = _column(lines, line_tags, "railway")
    road_kind = highway.where(highway.notna(), railway)
    is_road = road_kind.isin(ROAD_KINDS).to_numpy()
    waterway = _column(lines, line_tags, "waterway")
    is_waterway = waterway.isin(_WATERWAY_LINES).to_numpy()

    building = _column(areas, area_tags, "building")
    is_building = (building.notna() & (building != "no")).to_numpy()
    natural = _column(areas, area_tags, "natural")
    water_kind = _column(areas, area_tags, "water")
    landuse = _column(areas, area_tags, "landuse")
    leisure = _column(areas, area_tags, "leisure")
    waterway_area = _column(areas, area_tags, "waterway")
    area_water = (
        natural.where(natural == "water")
        .fillna(landuse.where(landuse.isin(("reservoir", "basin"))))
        .fillna(waterway_area.where(waterway_area.isin(("riverbank", "dock"))))
    )
    area_water = water_kind.where(water_kind.notna() & area_water.notna(), area_water)
    is_water = area_water.notna().to_numpy() & ~is_building
    green = landuse.where(landuse.isin(GREEN_KINDS))
    green = green.fillna(leisure.where(leisure.isin(GREEN_KINDS)))
    green = green.fillna(natural.where(natural.isin(GREEN_KINDS)))
    is_green = green.notna().to_numpy() & ~is_building & ~is_water

    poi_kind = pd.Series([None] * len(points), index=points.index, dtype=object)
    for key in _POI_KEYS:
        poi_kind = poi_kind.fillna(_column(points, point_tags, key))
    names = points["name"] if "name" in points.columns else pd.Series([None] * len(points))
    is_poi = (names.notna() & (names.astype(str).str.strip() != "")).to_numpy()

    point_numbers = _column(points, point_tags, "addr:housenumber")
    area_numbers = _column(areas, area_tags, "addr:housenumber")
    has_point_no = point_numbers.notna().to_numpy()
    has_area_no = area_numbers.notna().to_numpy()
    address_geoms = np.concatenate(
        [
            points.geometry.to_numpy()[has_point_no],
            shapely.point_on_surface(areas.geometry.to_numpy()[has_area_no]),
        ]
    )
    return {
        "roads": _frame(
            "roads",
            lines.geometry.to_numpy()[is_road],
            kind=road_kind[is_road].to_numpy(),
            name=lines["name"].to_numpy()[is_road] if "name" in lines else None,
        ),
        "buildings": _frame(
            "buildings",
            areas.geometry.to_numpy()[is_building],
            name=areas["name"].to_numpy()[is_building] if "name" in areas else None,
        ),
        "water": pd.concat(
            [
                _frame(
                    "water",
                    areas.geometry.to_numpy()[is_water],
                    kind=area_water[is_water].to_numpy(),
                    name=areas["name"].to_numpy()[is_water] if "name" in areas else None,
                ),
                _frame(
                    "water",
                    lines.geometry.to_numpy()[is_waterway],
                    kind=waterway[is_waterway].to_numpy(),
                    name=lines["name"].to_numpy()[is_waterway] if "name" in lines else None,
                ),
            ],
            ignore_index=True,
        ),
        "landuse": _frame(
            "landuse",
            areas.geometry.to_numpy()[is_green],
            kind=green[is_green].to_numpy(),
            name=areas["name"].to_numpy()[is_green] if "name" in areas else None,
        ),
        "pois": _frame(
            "pois",
            points.geometry.to_numpy()[is_poi],
            kind=poi_kind[is_poi].to_numpy(),
            name=names.to_numpy()[is_poi],
        ),
        "addresses": _frame(
            "addresses",
            address_geoms,
            number=np.concatenate(
                [point_numbers[has_point_no].to_numpy(), area_numbers[has_area_no].to_numpy()]
            ),
            street=np.concatenate(
                [
                    _column(points, point_tags, "addr:street")[has_point_no].to_numpy(),
                    _column(areas, area_tags, "addr:street")[has_area_no].to_numpy(),
                ]
            ),
        ),
    }


# --------------------------------------------------------------------------- GeoPackage


def _first(frame: pd.DataFrame, *names: str) -> pd.Series:
    """The first of ``names`` present, filled from the next ones where empty."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for name in names:
        if name in frame.columns:
            out = out.where(out.notna(), frame[name].astype(object))
    return out


def _read_gpkg(path: Path, bbox) -> dict[str, gpd.GeoDataFrame]:
    try:
        listed = pyogrio.list_layers(path)
    except Exception as exc:
        raise UnreadableFileError(f"{path}: 无法打开 GeoPackage / cannot open: {exc}") from exc
    out: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in LAYERS}
    for source_layer, _ in listed:
        layer = _GPKG_ALIASES.get(source_layer.lower(), source_layer.lower())
        if layer not in LAYERS:
            continue
        frame = pyogrio.read_dataframe(path, layer=source_layer, bbox=bbox)
        if frame.crs is None:
            raise UnknownCRSError(f"{path} 图层 {source_layer}: 没有坐标系 / layer has no CRS")
        frame = frame.to_crs("EPSG:4326")
        name = _first(frame, "name", "name:zh", "name_zh")
        kind = _first(frame, "kind")
        if layer == "roads":
            frame = _of_type(frame, _LINES)
            kind = _first(frame, "highway", "railway", "kind_detail", "kind")
            keep = kind.isin(ROAD_KINDS).to_numpy()
            out["roads"].append(
                _frame("roads", frame.geometry.to_numpy()[keep], kind=kind[keep].to_numpy(),
                       name=_first(frame, "name", "name:zh", "name_zh")[keep].to_numpy())
            )  # fmt: skip
        elif layer in ("buildings", "water", "landuse"):
            frame = _of_type(frame, _POLYGONS + (_LINES if layer == "water" else ()))
            name, kind = _first(frame, "name", "name:zh", "name_zh"), _first(frame, "kind")
            if layer == "landuse":
                kind = kind.where(kind.notna(), _first(frame, "landuse", "leisure", "natural"))
                keep = kind.isin(GREEN_KINDS).to_numpy()
            else:
                kind = kind.fillna("water")
                keep = np.ones(len(frame), dtype=bool)
            out[layer].append(
                _frame(layer, frame.geometry.to_numpy()[keep], kind=kind[keep].to_numpy(),
                       name=name[keep].to_numpy())
            )  # fmt: skip
            if layer == "buildings":
                out["addresses"].append(_addresses_of(frame))
        elif layer == "pois":
            frame = _of_type(frame, _POINTS)
            keep = name.loc[frame.index].notna().to_numpy()
            out["pois"].append(
                _frame("pois", frame.geometry.to_numpy()[keep],
                       kind=kind.loc[frame.index][keep].to_numpy(),
                       name=name.loc[frame.index][keep].to_numpy())
            )  # fmt: skip
            out["addresses"].append(_addresses_of(frame))
        else:  # addresses
            frame = _of_type(frame, _POINTS)
            out["addresses"].append(
                _frame("addresses", frame.geometry.to_numpy(),
                       number=_first(frame, "number", "addr:housenumber",
                                     "addr_housenumber").to_numpy(),
                       street=_first(frame, "street", "road", "addr:street",
                                     "addr_street").to_numpy())
            )  # fmt: skip
    return {k: _concat(k, v) for k, v in out.items()}


def _addresses_of(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Door plates tagged on buildings or POIs (``addr:housenumber``/``addr_housenumber``)."""
    number = _first(frame, "addr:housenumber", "addr_housenumber")
    keep = number.notna().to_numpy()
    return _frame(
        "addresses",
        shapely.point_on_surface(frame.geometry.to_numpy()[keep]),
        number=number[keep].to_numpy(),
        street=_first(frame, "addr:street", "addr_street")[keep].to_numpy(),
    )


# --------------------------------------------------------------------------- any source


def _concat(layer: str, frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty(layer)
    joined = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs="EPSG:4326")


def _kind_of_source(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return "pbf"
    if name.endswith(".osm"):
        return "osm"
    if name.endswith(".gpkg"):
        return "gpkg"
    raise InputError(
        f"{path}: 不支持的 OSM 数据格式（应为 .osm、.osm.pbf 或 .gpkg）/ unsupported OSM source"
        " (expected .osm, .osm.pbf or .gpkg)"
    )


def read_osm_layers(
    sources: Iterable[Path | str],
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Read OSM sources into the base map's layers (:data:`LAYERS`), EPSG:4326.

    Parameters
    ----------
    sources
        ``.osm`` XML, ``.osm.pbf`` or ``.gpkg`` files; the layers of all are concatenated.
    bbox
        ``(west, south, east, north)`` in lon/lat: only features intersecting it are read.

    Returns
    -------
    dict
        Layer name → GeoDataFrame with the columns of :data:`LAYERS` and ``geometry``.

    Raises
    ------
    InputError
        An unsupported extension, a missing or unreadable file, a layer without CRS.
    """
    sources = [Path(s) for s in sources]
    if not sources:
        raise InputError("没有给出 OSM 数据 / no OSM source given")
    read: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in LAYERS}
    for path in sources:
        kind = _kind_of_source(path)
        if not path.is_file():
            raise UnreadableFileError(f"{path}: 文件不存在 / no such file")
        layers = _read_gpkg(path, bbox) if kind == "gpkg" else _read_osm(path, bbox)
        for name, frame in layers.items():
            read[name].append(frame)
    return {name: _concat(name, frames) for name, frames in read.items()}
