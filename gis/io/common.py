"""Names shared by the readers and writers of :mod:`gis.io`: extensions, columns, labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LAT_COLUMN_NAMES",
    "LON_COLUMN_NAMES",
    "SUPPORTED_EXTENSIONS",
    "WKT_COLUMN_NAMES",
    "find_column",
]

GeometryKind = Literal["polygon", "point", "line"]


SUPPORTED_EXTENSIONS = (
    ".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml", ".csv", ".xlsx", ".parquet",
)  # fmt: skip
"""File name endings :func:`read_layer` reads (``.zip``: a zipped Shapefile; ``.parquet``:
GeoParquet, or a plain Parquet table with lon/lat or WKT columns); all but ``.zip`` are also
written by :func:`write_layer`."""


LON_COLUMN_NAMES = ("lon", "lng", "longitude", "long", "x", "经度")


LAT_COLUMN_NAMES = ("lat", "latitude", "y", "纬度")


WKT_COLUMN_NAMES = ("wkt", "geometry", "geom")


_GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "polygon": ("Polygon", "MultiPolygon"),
    "point": ("Point", "MultiPoint"),
    "line": ("LineString", "MultiLineString"),
}


_VECTOR_DRIVERS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".kml": "LIBKML",
}


_WRITABLE_EXTENSIONS = (*_VECTOR_DRIVERS, ".csv", ".xlsx", ".parquet")


# Formats whose specification fixes the CRS (WGS84 lon/lat) when the file does not say (a
# GeoParquet file without a "crs" is OGC:CRS84 by its specification; a plain Parquet table
# holds lon/lat like a CSV).
_WGS84_BY_DEFAULT = (".geojson", ".json", ".kml", ".csv", ".xlsx", ".parquet")


Where = Callable[[int], str]


def _feature_label(i: int) -> str:
    return f"要素 {i + 1} / feature {i + 1}"


def find_column(columns, names: tuple[str, ...]):
    """The first of ``columns`` whose name, trimmed and lower-cased, is one of ``names``."""
    by_name = {str(c).strip().lower(): c for c in columns}
    return next((by_name[n] for n in names if n in by_name), None)


@dataclass(frozen=True)
class _Hints:
    """How the caller names the layer and CRS options; where reading warnings are collected."""

    layer: str
    crs: str
    warnings: list[str]


def _sibling(path: Path, ext: str) -> Path | None:
    """Return the file beside ``path`` with the same stem and extension ``ext``, any case."""
    wanted = (path.stem + ext).lower()
    for candidate in path.parent.iterdir():
        if candidate.name.lower() == wanted:
            return candidate
    return None


def _is_list_like(value) -> bool:
    return isinstance(value, list | tuple | set | np.ndarray)


def _join_lists(df: pd.DataFrame, *, keep_lists: bool = False) -> pd.DataFrame:
    """Return ``df`` with list-valued cells comma-joined (or, with keep_lists, as lists)."""
    out = df.copy()
    for column in out.columns:
        if column == getattr(out, "_geometry_column_name", None) or out[column].dtype != object:
            continue
        if out[column].map(_is_list_like).any():
            if keep_lists:
                out[column] = out[column].map(lambda v: list(v) if _is_list_like(v) else v)
            else:
                out[column] = out[column].map(
                    lambda v: ",".join(map(str, v)) if _is_list_like(v) else v
                )
    return out
