"""Read and write GIS layers: GeoJSON, GeoPackage, Shapefile (also zipped), KML, CSV/XLSX points.

:func:`read_layer` always returns lon/lat: EPSG:4490 when the source is CGCS2000-based,
otherwise EPSG:4326 (a projected source is reprojected to its geographic CRS). Geometries
come back 2D (a Z coordinate, as KML carries, is dropped). Input that cannot be used raises
an :class:`~gis.errors.InputError` subclass naming the file, the feature or row (1-based, a
CSV/XLSX row as a spreadsheet shows it, the header being row 1) and the reason. Geometry that
reads but is invalid (a self-intersecting ring, a bow-tie) is returned untouched: validation
reports it, not the reader.

CRS rules: every file is read in its own declared CRS. GeoJSON and KML are WGS84 by their
specifications; CSV/XLSX lon/lat are WGS84 unless told; a Shapefile without ``.prj`` (or a
GeoPackage layer without a CRS) needs ``input_crs``. ``input_crs`` ("wgs84", "cgcs2000",
"gcj02", "bd09" or an alias accepted by :func:`gis.crs.parse_input_crs`) states what the
lon/lat in *this one file* really are, over a declared geographic CRS (a GeoJSON drawn on
an Amap base map is GCJ-02 whatever it says); GCJ-02 and BD-09 are converted to WGS84. It
contradicts a file that carries a projected CRS (:class:`~gis.errors.CRSMismatchError`).
Callers with several input files pass each file its own ``input_crs`` (the CLI's
``--input-crs`` for the point/address input, ``--grids-crs``, ``--boundary-crs``, ...).

Text encodings: a Shapefile's ``.cpg`` is honoured when it names a real encoding. One that
names none (``ANSI``, ``OEM``, ``SYSTEM``, an empty or unknown name; ArcGIS writes ``ANSI``
for the Windows code page, GBK/CP936 on Chinese Windows) is read as UTF-8 when the text is
valid UTF-8, else as GBK, with a warning in ``gdf.attrs["read_warnings"]`` (the CLI prints
it); text that is neither is refused.

Bounds (:class:`ReadLimits`, defaults 100,000 vertices per geometry, 100,000 features or rows
per file, 200 MiB expanded per zip): a file over one is refused with an
:class:`~gis.errors.InputError` naming the feature and the bound, before the expensive work.
A zip's members are checked against their declared sizes before anything is expanded, and
the extraction stops at the bound whatever the headers say. The bounds in force are a
context variable: :func:`use_read_limits` (a block), :func:`set_read_limits` (the rest of the
context, e.g. a CLI process), or ``limits=`` per call.

Modules, one job each: :mod:`gis.io.layers` (:func:`read_layer`/:func:`write_layer`, the
dispatch by extension), :mod:`gis.io.vector` (GDAL formats), :mod:`gis.io.tables` (CSV, XLSX
and plain Parquet point tables), :mod:`gis.io.parquet` (Parquet files),
:mod:`gis.io.geoparquet_parts` (GeoParquet a few row groups at a time, for tables larger than
memory), :mod:`gis.io.checks` (CRS, coordinates, geometry kind), :mod:`gis.io.limits`
(bounds), :mod:`gis.io.columnar` (column-wise point tables for whole-table commands),
:mod:`gis.io.grid_layers` (grid codes and polygons of a GeoPackage or GeoParquet read without
pandas or GDAL, for commands that only look points up in grids) and :mod:`gis.io.common`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gis.io.columnar import PointTable, read_point_table, write_csv_columns
    from gis.io.common import (
        LAT_COLUMN_NAMES,
        LON_COLUMN_NAMES,
        SUPPORTED_EXTENSIONS,
        WKT_COLUMN_NAMES,
        find_column,
    )
    from gis.io.layers import read_layer, write_layer
    from gis.io.limits import (
        ReadLimits,
        check_zip_expansion,
        defer_read_limits,
        get_read_limits,
        set_read_limits,
        use_read_limits,
    )
    from gis.io.tables import read_csv_text

# Where each public name lives. They are imported on first use (PEP 562), so that a command
# needing only the bounds (``gis.io.limits``: the CLI sets them for every command) does not
# load geopandas, pandas and GDAL with them.
_HOME = {
    "PointTable": "columnar",
    "read_point_table": "columnar",
    "write_csv_columns": "columnar",
    "LAT_COLUMN_NAMES": "common",
    "LON_COLUMN_NAMES": "common",
    "SUPPORTED_EXTENSIONS": "common",
    "WKT_COLUMN_NAMES": "common",
    "find_column": "common",
    "read_layer": "layers",
    "write_layer": "layers",
    "ReadLimits": "limits",
    "check_zip_expansion": "limits",
    "defer_read_limits": "limits",
    "get_read_limits": "limits",
    "set_read_limits": "limits",
    "use_read_limits": "limits",
    "read_csv_text": "tables",
}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'gis.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gis.io.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "LAT_COLUMN_NAMES",
    "LON_COLUMN_NAMES",
    "SUPPORTED_EXTENSIONS",
    "WKT_COLUMN_NAMES",
    "PointTable",
    "ReadLimits",
    "check_zip_expansion",
    "defer_read_limits",
    "find_column",
    "get_read_limits",
    "read_csv_text",
    "read_layer",
    "read_point_table",
    "set_read_limits",
    "use_read_limits",
    "write_csv_columns",
    "write_layer",
]
