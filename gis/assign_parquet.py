"""Assign the points of a GeoParquet file to grids a batch of rows at a time, in one process.

The whole-table path (:func:`gis.io.read_layer`, :func:`gis.assign.assign_points`,
:func:`gis.io.write_layer`) holds the points several times over (Arrow, shapely objects,
pandas, the written copy): about 0.6 GB per million points. Here the file is read in batches
of at most ``batch_rows`` rows and about 32 MB of data (``ParquetFile.iter_batches``), each
batch is assigned and appended to the output (:class:`gis.io.geoparquet_parts.GeoParquetWriter`),
so memory is bounded by the batch, not the file. The output is the whole-table path's: every
input column, the geometry included, then ``grid_code``, ``outside``, ``lon_wgs84``,
``lat_wgs84``; rows in file order; the same row checks and errors (naming the row).

A batch whose geometry is plain 2D little-endian WKB points already in the lon/lat CRS the
reader would return (the usual GeoParquet of points) is decoded straight from the WKB bytes
to coordinate arrays and its columns are passed through as Arrow arrays: no shapely object
and no pandas frame per row. Any other batch (other WKB, a CRS to convert, a bad row, column
values pandas would change) goes through the general per-part path
(:func:`gis.point_parts.prepare_points`), which gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from gis.assign import GridIndex, assign_lonlat, index_pays_off
from gis.crs import parse_input_crs
from gis.errors import InputError
from gis.io.geoparquet_parts import (
    GeoParquetWriter,
    arrow_table,
    column_crs,
    empty_frame,
    geo_metadata,
    geoparquet_schema,
    output_schema,
    row_group_batches,
    table_frame,
)
from gis.io.limits import _over, _too_many_rows, get_read_limits
from gis.io.parquet import _parquet_file
from gis.point_parts import (
    PointSpec,
    add_grid_columns,
    assigned_meta,
    grid_code_type,
    lonlat_target,
    prepare_points,
)

__all__ = [
    "BATCH_BYTES",
    "DEFAULT_BATCH_ROWS",
    "AssignedFile",
    "assign_batch",
    "assign_geoparquet",
    "assigned_schema",
    "direct_route",
    "rows_within",
]

DEFAULT_BATCH_ROWS = 500_000
BATCH_BYTES = 32 << 20  # and at most about this much data (uncompressed) per batch
_WKB_POINT_BYTES = 21  # byte order, type (uint32), x, y (float64)


def _same_values() -> set:
    """(written, read) Arrow types whose values pandas carries over unchanged: text read as
    ``string`` comes back from pandas as ``large_string``."""
    import pyarrow as pa

    return {(pa.large_string(), pa.string()), (pa.large_binary(), pa.binary())}


@dataclass(frozen=True)
class AssignedFile:
    """What :func:`assign_geoparquet` wrote: rows, rows outside every grid, the file."""

    points: int
    outside: int
    out: Path


def assign_geoparquet(
    points: str | Path,
    grids: gpd.GeoDataFrame | GridIndex,
    out: str | Path,
    *,
    code_field: str = "code",
    input_crs: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> AssignedFile:
    """Assign every point of the GeoParquet file ``points`` to the grid covering it and write
    the points with the grid columns to the GeoParquet file ``out``, ``batch_rows`` at a time.

    Parameters
    ----------
    points
        A GeoParquet file of points (WKB geometry).
    grids
        The grids (``code_field`` their code column), or a :class:`GridIndex` built from
        them; an index is built here when the file has enough points to pay for it.
    out
        The output ``.parquet`` file; written under a temporary name and moved into place
        when complete (nothing is left behind on failure).
    input_crs
        What the points' lon/lat are ("wgs84", "cgcs2000", "gcj02", "bd09"), as ``--input-crs``.
    batch_rows
        At most this many rows in memory at a time (fewer when the rows are wide: a batch
        holds about 32 MB of the file's data).

    Raises
    ------
    InputError, GeometryTypeError, CRSMismatchError
        Not GeoParquet; more rows than the read limits allow; a row that is not a point, or
        whose coordinates are not lon/lat (the message names the row).
    """
    path = Path(points)
    label = str(path)
    geo = geo_metadata(path)
    if geo is None:
        raise InputError(f"{label}: 不是 GeoParquet / not GeoParquet (no 'geo' metadata)")
    file = _parquet_file(path)
    limits = get_read_limits()
    if _over(file.metadata.num_rows, limits.max_rows):
        raise _too_many_rows(label, file.metadata.num_rows, limits.max_rows)
    if not isinstance(grids, GridIndex) and index_pays_off(file.metadata.num_rows, len(grids)):
        grids = GridIndex(grids, code_field=code_field, one_shot=True)

    spec = PointSpec(label, "geo", parse_input_crs(input_crs) if input_crs is not None else None)
    schema = assigned_schema(path, spec, grids, code_field)
    direct = direct_route(file.schema_arrow, schema, geo, spec, grids, code_field)
    rows = outside = 0
    batch_rows = rows_within(file.metadata, batch_rows, BATCH_BYTES)
    with GeoParquetWriter(out, schema) as writer:
        for batch in _batches(file, path, batch_rows):
            table, _ = assign_batch(batch, rows, direct, path, geo, spec, grids, schema,
                                    code_field)  # fmt: skip
            writer.write(table)
            rows += table.num_rows
            outside += int(np.count_nonzero(table.column("outside").to_numpy()))
    return AssignedFile(rows, outside, Path(out))


def assigned_schema(path: Path, spec: PointSpec, grids, code_field: str = "code"):
    """The GeoParquet schema of the assigned points of the GeoParquet file ``path``: every
    input column as the whole-table path writes it, then the added columns."""
    meta = assigned_meta(prepare_points(empty_frame(path), spec, 0))
    return geoparquet_schema(
        output_schema(meta, {"grid_code": grid_code_type(grids, code_field)}),
        geometry=meta.geometry.name, crs=meta.crs, geometry_types=["Point"],
    )  # fmt: skip


def assign_batch(batch, offset: int, direct, path: Path, geo: dict, spec: PointSpec, grids,
                 schema, code_field: str = "code"):  # fmt: skip
    """The output table of one batch of the file's rows (``offset`` rows into the file), and
    whether the Arrow route ``direct`` took it (else the general per-part path made it)."""
    table = direct(batch) if direct is not None else None
    if table is not None:
        return table, True
    part = prepare_points(table_frame(batch, geo, path), spec, offset)
    return arrow_table(add_grid_columns(part, grids, code_field=code_field), schema), False


def rows_within(metadata, batch_rows: int, budget: int) -> int:
    """At most ``batch_rows``, and few enough rows of the file's average uncompressed width
    to hold about ``budget`` bytes (wide rows: long text columns)."""
    rows = metadata.num_rows
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if not rows or not size:
        return batch_rows
    return max(1, min(batch_rows, budget * rows // size))


def _batches(file, path: Path, batch_rows: int):
    """The file's rows in batches of at most ``batch_rows``: consecutive row groups taken
    together up to that many rows, a larger row group split. One reader per run of row groups:
    a single ``iter_batches`` over the whole file keeps what it pre-buffered until the end
    (about 45 MB per million points of the bench's file, 2.4 GB at 50 million)."""
    for row_groups in row_group_batches(path, batch_rows):
        yield from file.iter_batches(
            batch_size=batch_rows, row_groups=row_groups, use_threads=False
        )


def direct_route(file_schema, schema, geo: dict, spec: PointSpec, grids, code_field: str):
    """The Arrow route for this file (a function of a batch giving its output table, or None
    for a batch it cannot take), or None when the file needs the general path throughout:
    a CRS to convert to, or column types pandas would change."""
    import pyarrow as pa

    name = geo["primary_column"]
    column = geo["columns"][name]
    if spec.source is not None or column.get("encoding", "WKB").upper() != "WKB":
        return None
    file_crs = column_crs(column)
    target = lonlat_target(file_crs)
    if file_crs is not None and not file_crs.equals(target, ignore_axis_order=True):
        return None
    kept = [schema.field(i) for i in range(len(file_schema))]
    if [f.name for f in kept] != file_schema.names or any(
        f.type != g.type and (f.type, g.type) not in _same_values()
        for f, g in zip(kept, file_schema, strict=True)
    ):
        return None
    from pyproj import CRS

    wgs84 = target.equals(CRS.from_epsg(4326))
    code_type = schema.field("grid_code").type

    def table(batch):
        xy = _wkb_points_xy(batch.column(name))
        if xy is None or not _pandas_keeps_values(batch):
            return None
        x, y = xy
        codes = assign_lonlat(x, y, target, grids, code_field=code_field)
        outside = np.equal(codes, None)
        if wgs84:
            lon, lat = x, y
        else:  # as the whole-table path converts them
            points = gpd.GeoSeries.from_xy(x, y, crs=target).to_crs(4326)
            lon, lat = points.x.to_numpy(), points.y.to_numpy()
        arrays = [column if column.type == field.type else column.cast(field.type)
                  for column, field in zip(batch.columns, kept, strict=True)]  # fmt: skip
        arrays += [pa.array(codes, type=code_type), pa.array(outside),
                   pa.array(lon, type=pa.float64()), pa.array(lat, type=pa.float64())]  # fmt: skip
        return pa.Table.from_arrays(arrays, schema=schema)

    return table


def _wkb_points_xy(column) -> tuple[np.ndarray, np.ndarray] | None:
    """x and y of a WKB column holding only 2D little-endian points with finite lon/lat
    coordinates (21 bytes each: the usual encoding), read from its bytes; None otherwise."""
    import pyarrow as pa

    n = len(column)
    if not n or column.null_count or not pa.types.is_binary(column.type):
        return None
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + n + 1
    ]
    if not (np.diff(offsets) == _WKB_POINT_BYTES).all():
        return None
    start = int(offsets[0])
    raw = np.frombuffer(column.buffers()[2], dtype=np.uint8)[start : start + n * _WKB_POINT_BYTES]
    raw = raw.reshape(n, _WKB_POINT_BYTES)
    header = np.array([1, 1, 0, 0, 0], dtype=np.uint8)  # little-endian, type 1 (2D Point)
    if not (raw[:, :5] == header).all():
        return None
    xy = np.ascontiguousarray(raw[:, 5:]).view("<f8")
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    if not (np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)).all():
        return None  # the general path names the row
    return x, y


def _pandas_keeps_values(batch) -> bool:
    """True when the whole-table path (through pandas) writes the batch's columns back with
    the same values: no NaN in a float column (written back as null), no null in a column
    of another kind but text or bytes (pandas makes it a float or object column)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in batch.columns:
        kind = column.type
        if pa.types.is_floating(kind):
            if pc.any(pc.is_nan(column)).as_py():
                return False
        elif column.null_count and not (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
        ):
            return False
    return True
