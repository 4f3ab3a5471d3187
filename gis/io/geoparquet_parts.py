"""GeoParquet in pieces: read a file a few row groups at a time, write one file part by part.

:func:`gis.io.read_layer` and :func:`gis.io.write_layer` read and write a whole GeoParquet
file at once (through geopandas). Tables larger than memory go through here instead: the
reader hands out row groups (:func:`row_group_batches`, :func:`read_row_groups`), and
:class:`GeoParquetWriter` appends tables of one fixed schema to one file, writing its
``geo`` metadata (GeoParquet 1.0: WKB geometry, the CRS as PROJJSON) once. The file is
written under a temporary name and renamed when complete, so a failure leaves no partial
output. Geometry is WKB; GeoArrow-encoded geometry columns are refused with a clear message.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.errors import InputError
from gis.io.parquet import _parquet_file

__all__ = [
    "GeoParquetWriter",
    "arrow_table",
    "column_crs",
    "empty_frame",
    "geo_metadata",
    "geoparquet_schema",
    "output_schema",
    "read_row_groups",
    "row_group_batches",
    "table_frame",
]

_OGC_CRS84 = CRS.from_user_input("OGC:CRS84")


def geo_metadata(path: str | Path) -> dict | None:
    """The file's GeoParquet ``geo`` metadata (decoded JSON), or None for a plain Parquet table."""
    raw = (_parquet_file(Path(path)).schema_arrow.metadata or {}).get(b"geo")
    return json.loads(raw) if raw is not None else None


def row_group_batches(path: str | Path, max_rows: int) -> list[list[int]]:
    """Consecutive row groups of the file, in batches of at most ``max_rows`` rows each
    (a single row group over the bound makes a batch of its own)."""
    meta = _parquet_file(Path(path)).metadata
    batches: list[list[int]] = []
    rows = 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if batches and rows + n <= max_rows:
            batches[-1].append(i)
            rows += n
        else:
            batches.append([i])
            rows = n
    return batches


def column_crs(column_meta: dict) -> CRS | None:
    """The CRS of a geometry column's GeoParquet metadata (None: stated unknown)."""
    crs = column_meta.get("crs", "missing")
    if crs == "missing":  # absent means OGC:CRS84 by the specification; null means unknown
        return _OGC_CRS84
    if crs is None:
        return None
    return CRS.from_user_input(crs)


def read_row_groups(path: str | Path, row_groups: list[int]) -> pd.DataFrame:
    """Row groups of a Parquet file: a GeoDataFrame for GeoParquet (its primary geometry
    decoded from WKB, with the file's CRS), else a plain DataFrame."""
    path = Path(path)
    return table_frame(_parquet_file(path).read_row_groups(row_groups), geo_metadata(path), path)


def empty_frame(path: str | Path) -> pd.DataFrame:
    """The file's columns and types with no rows, as :func:`read_row_groups` returns them."""
    path = Path(path)
    return table_frame(_parquet_file(path).schema_arrow.empty_table(), geo_metadata(path), path)


def table_frame(table, geo: dict | None, path: str | Path) -> pd.DataFrame:
    """An Arrow table (or record batch) of the file ``path`` as :func:`read_row_groups`
    returns it (``geo`` the file's GeoParquet metadata, None for a plain table)."""
    frame = table.to_pandas()
    if geo is None:
        return frame
    name = geo["primary_column"]
    column = geo["columns"][name]
    if column.get("encoding", "WKB").upper() != "WKB":
        raise InputError(
            f"{path}: 几何编码 {column['encoding']!r} 不支持分块读取 / geometry encoding "
            f"{column['encoding']!r} is not supported here; write the file with WKB geometry"
        )
    geometry = shapely.from_wkb(frame[name].to_numpy(dtype=object))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, name=name, index=frame.index),
                            crs=column_crs(column))  # fmt: skip


def arrow_table(frame: gpd.GeoDataFrame, schema=None):
    """``frame`` as a pyarrow Table, geometry as WKB (no index); cast to ``schema`` if given."""
    import pyarrow as pa

    name = frame.geometry.name
    plain = pd.DataFrame(frame).copy()
    plain[name] = shapely.to_wkb(np.asarray(frame.geometry.values), flavor="iso")
    return pa.Table.from_pandas(plain, schema=schema, preserve_index=False)


def output_schema(frame: gpd.GeoDataFrame, types: dict | None = None):
    """The Arrow schema tables of ``frame``'s columns and dtypes are written with: each
    column's type as pyarrow derives it from the dtype, except those named in ``types``
    (columns whose values decide their type: text or numbers held as objects)."""
    import pyarrow as pa

    name = frame.geometry.name
    fields = []
    sample = arrow_table(frame.iloc[:0])
    for field in sample.schema:
        if types and field.name in types:
            field = pa.field(field.name, types[field.name])
        elif field.name == name:
            field = pa.field(name, pa.binary())
        fields.append(field)
    return pa.schema(fields, metadata=sample.schema.metadata)


def geoparquet_schema(schema, *, geometry: str, crs, geometry_types=()):
    """``schema`` with GeoParquet 1.0 ``geo`` metadata: ``geometry`` the (WKB) primary
    column, ``crs`` stored as PROJJSON, ``geometry_types`` e.g. ``["Point"]`` (empty: not
    stated)."""
    geo = {
        "version": "1.0.0",
        "primary_column": geometry,
        "columns": {
            geometry: {
                "encoding": "WKB",
                "geometry_types": list(geometry_types),
                "crs": CRS.from_user_input(crs).to_json_dict() if crs is not None else None,
            }
        },
    }
    metadata = dict(schema.metadata or {})
    metadata[b"geo"] = json.dumps(geo).encode()
    return schema.with_metadata(metadata)


class GeoParquetWriter:
    """Write one GeoParquet file from GeoDataFrames (or Arrow tables) of one schema.

    ``schema`` is the Arrow schema every part is cast to, carrying its ``geo`` metadata
    (:func:`output_schema`, :func:`geoparquet_schema`). The file is written under a
    temporary name and moved into place by :meth:`close`; :meth:`abort` (or an exception
    in a ``with`` block) leaves nothing. ``row_group_size``: at most this many rows per row
    group (the unit a partitioned reader takes).
    """

    def __init__(self, path: str | Path, schema, *, row_group_size: int | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self.schema = schema
        self._row_group_size = row_group_size
        self._writer = pq.ParquetWriter(self._partial, self.schema)
        self.rows = 0

    def write(self, part) -> None:
        """Append a GeoDataFrame or an Arrow table (cast to the writer's schema)."""
        table = arrow_table(part, self.schema) if isinstance(part, pd.DataFrame) else part
        table = table.cast(self.schema) if table.schema != self.schema else table
        self._writer.write_table(table, row_group_size=self._row_group_size)
        self.rows += table.num_rows

    def close(self) -> Path:
        """Finish the file and move it into place; return its path."""
        self._writer.close()
        self._partial.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written (no partial output)."""
        try:
            self._writer.close()
        finally:
            self._partial.unlink(missing_ok=True)

    def __enter__(self) -> GeoParquetWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
