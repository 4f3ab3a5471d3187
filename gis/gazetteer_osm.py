"""Build a door-plate gazetteer from OpenStreetMap address tags.

A deployment without an official door-plate register starts from OSM: every node, way or
relation with ``addr:street`` and ``addr:housenumber`` becomes one door plate (its point: the
node, or a point inside the building), with the building's name kept beside it. Reads an OSM
XML file (``.osm``) or PBF (``.osm.pbf``) through GDAL's OSM driver (pyogrio), or a
GeoPackage/GeoJSON whose features carry the tags as columns (``addr:street`` or
``addr_street``) or in GDAL's ``other_tags`` column.

Map data © OpenStreetMap contributors, ODbL 1.0: a gazetteer built from it carries that
attribution (the ``source`` column says ``OSM``).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gis.errors import InputError, UnreadableFileError

__all__ = ["GAZETTEER_COLUMNS", "gazetteer_from_osm", "osm_address"]

GAZETTEER_COLUMNS = ("id", "address", "road", "number", "name", "lon", "lat", "source")
"""Columns of a gazetteer built from OSM, in order."""

_OSM_LAYERS = ("points", "multipolygons", "lines", "multilinestrings", "other_relations")
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_KEYS = {
    "street": ("addr:street", "addr_street"),
    "housenumber": ("addr:housenumber", "addr_housenumber"),
    "city": ("addr:city", "addr_city"),
    "district": ("addr:district", "addr_district"),
    "name": ("name:zh", "name_zh", "name"),
}


def _other_tags(text) -> dict[str, str]:
    if not isinstance(text, str):
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _TAG.findall(text)}


def osm_address(tags: dict[str, str], *, prefix: str = "") -> str:
    """Return the Chinese address OSM tags write: prefix, city, district, street, number.

    A city or district already in ``prefix`` is not repeated; ``号`` is added after a number
    that has no 号 or 弄 of its own.

    >>> osm_address({"addr:street": "中山东一路", "addr:housenumber": "3"}, prefix="上海市")
    '上海市中山东一路3号'
    >>> osm_address({"addr:street": "南昌路", "addr:housenumber": "212弄",
    ...              "addr:city": "上海市"}, prefix="上海市")
    '上海市南昌路212弄'
    """
    number = tags.get("addr:housenumber", "").strip()
    if number and not number.endswith(("号", "弄")):
        number += "号"
    parts = [prefix]
    for key in ("addr:city", "addr:district"):
        value = tags.get(key, "").strip()
        if value and value not in prefix:
            parts.append(value)
    parts.extend([tags.get("addr:street", "").strip(), number])
    return "".join(parts)


def _read_layers(path: Path) -> list[gpd.GeoDataFrame]:
    try:
        available = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise UnreadableFileError(f"{path}: 无法读取 / cannot read: {exc}") from exc
    is_osm = path.name.lower().endswith((".osm", ".osm.pbf", ".pbf"))
    names = [n for n in _OSM_LAYERS if n in available] if is_osm else available
    frames = []
    # files saved by editors are not always sorted by id; GDAL's fast index needs them sorted
    options = {"OSM_USE_CUSTOM_INDEXING": "NO"} if is_osm else {}
    for name in names:
        try:
            pyogrio.set_gdal_config_options(options)
            frame = gpd.read_file(path, layer=name, engine="pyogrio")
        except Exception as exc:
            raise UnreadableFileError(f"{path}: 图层 {name} 无法读取 / layer {name}: {exc}") from (
                exc
            )
        finally:
            pyogrio.set_gdal_config_options(dict.fromkeys(options))
        if len(frame) and frame.geometry.name in frame:
            frame["_layer"] = name
            frames.append(frame)
    return frames


def _tags_of(row: dict) -> dict[str, str]:
    tags = _other_tags(row.get("other_tags"))
    for canonical, keys in _KEYS.items():
        osm_key = "name" if canonical == "name" else f"addr:{canonical}"
        if osm_key in tags:
            continue
        for key in keys:
            value = row.get(key)
            if isinstance(value, str) and value.strip():
                tags[osm_key] = value.strip()
                break
    for key in ("osm_id", "osm_way_id", "id", "@id"):
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and pd.isna(value)):
            tags.setdefault("@id", str(value))
            break
    return tags


def gazetteer_from_osm(path: str | Path, *, prefix: str = "") -> pd.DataFrame:
    """Return the door plates OSM address tags in ``path`` give, one row each.

    Columns :data:`GAZETTEER_COLUMNS`: ``id`` (``<layer>/<osm id>``), ``address``
    (:func:`osm_address`), ``road`` (``addr:street``), ``number`` (``addr:housenumber``),
    ``name`` (the feature's Chinese name, if any), ``lon``/``lat`` (WGS84; a polygon's
    point on its surface) and ``source`` (``OSM``). Features lacking either tag are left out;
    the same address twice is kept once (the first). ``prefix`` (e.g. ``上海市黄浦区``) goes
    before every address, so that place names in queries can be checked.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    rows = []
    for frame in _read_layers(path):
        if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
            frame = frame.to_crs(4326)
        points = shapely.point_on_surface(frame.geometry.values)
        columns = [c for c in frame.columns if c != frame.geometry.name]
        for record, point in zip(frame[columns].to_dict("records"), points, strict=True):
            tags = _tags_of(record)
            street = tags.get("addr:street", "").strip()
            number = tags.get("addr:housenumber", "").strip()
            if not street or not number or point is None or shapely.is_empty(point):
                continue
            rows.append(
                {
                    "id": f"{record['_layer']}/{tags.get('@id', len(rows))}",
                    "address": osm_address(tags, prefix=prefix),
                    "road": street,
                    "number": number,
                    "name": tags.get("name"),
                    "lon": round(float(shapely.get_x(point)), 7),
                    "lat": round(float(shapely.get_y(point)), 7),
                    "source": "OSM",
                }
            )
    if not rows:
        raise InputError(
            f"{path}: 没有带 addr:street 与 addr:housenumber 的要素 / no feature has both "
            "addr:street and addr:housenumber"
        )
    out = pd.DataFrame(rows, columns=list(GAZETTEER_COLUMNS))
    return out.drop_duplicates("address", keep="first").reset_index(drop=True)
