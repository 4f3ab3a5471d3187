"""Grid codes and polygons of a GeoPackage or GeoParquet layer, read without pandas or GDAL.

A command that needs only the grids' codes and shapes (``wangge assign`` of a point table,
``wangge validate --json``) would otherwise import geopandas, pandas and pyogrio for one
small layer, which costs more CPU than the whole rest of a 24-grid run.
:func:`read_grid_layer` reads the common case itself: a GeoPackage with the standard
library's :mod:`sqlite3` (the layer and its CRS from ``gpkg_contents``,
``gpkg_geometry_columns`` and ``gpkg_spatial_ref_sys``; each geometry's GeoPackage binary
header, OGC 12-128r1 §2.1.3, stripped and the WKB decoded in one :func:`shapely.from_wkb`
call), or GeoParquet with pyarrow (WKB encoding, the CRS as PROJJSON in the ``geo``
metadata).

It answers only when its answer is exactly what :func:`gis.io.read_layer` returns for the
same call (same codes in file order, same geometries, the same CRS): a layer in a
geographic CRS that is WGS84 or CGCS2000 itself (or, with ``keep_projected``, a GeoParquet
layer in a projected CRS, kept as drawn), text codes, every geometry a non-empty polygon or
multipolygon with finite coordinates (lon/lat in range), within the read bounds. For
anything else (other formats, a projected CRS not kept or in a GeoPackage, ``input_crs``
given, a layer to choose, extended geometry types, a missing code field, a bound broken,
an unreadable file) it returns None and the caller uses :func:`~gis.io.read_layer`, whose
error messages then stay the same. Without a code field it reads the polygons only (a
community boundary for ``wangge validate``).
"""

from __future__ import annotations

import json
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from gis.grid_arrays import GridArrays
from gis.io.limits import ReadLimits, _over, get_read_limits

__all__ = ["read_grid_layer"]

# Bytes of the envelope by the header's envelope indicator (flags bits 1-3); 5-7 are invalid.
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_EMPTY_FLAG = 0b0001_0000
_EXTENDED_FLAG = 0b0010_0000
_POLYGONAL = np.array(
    [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON], dtype=np.int32
)


def read_grid_layer(
    path: str | Path,
    *,
    code_field: str | None,
    layer: str | None = None,
    input_crs: str | None = None,
    limits: ReadLimits | None = None,
    keep_projected: bool = False,
) -> GridArrays | None:
    """Read the grids of a ``.gpkg`` or GeoParquet ``.parquet`` file, or None.

    None whenever :func:`gis.io.read_layer` (``geometry_type="polygon"``, the same
    ``keep_projected``) must answer instead: see the module docstring. ``code_field`` None
    reads the polygons only (a community boundary): ``ids`` are then the row positions.
    ``keep_projected``: a GeoParquet file in a projected CRS is returned in that CRS, as
    written (its coordinates only checked to be finite), as ``read_layer`` returns it. Never
    raises for a bad file: the general reader names the problem.
    """
    if input_crs is not None:
        return None
    path = Path(path)
    limits = limits or get_read_limits()
    ext = path.suffix.lower()
    try:
        if ext == ".gpkg":
            read = _read_gpkg(path, code_field, layer, limits)
        elif ext == ".parquet" and layer is None:
            read = _read_geoparquet(path, code_field, limits, keep_projected)
        else:
            return None
    except (OSError, ValueError, TypeError, KeyError, sqlite3.Error, struct.error,
            shapely.errors.ShapelyError):  # fmt: skip
        return None
    if read is None:
        return None
    codes, geoms, crs = read
    return _checked(codes, geoms, crs, limits)


def _lonlat_crs(crs: CRS) -> CRS | None:
    """WGS84 or CGCS2000 when ``crs`` is that CRS (any axis order), as read_layer keeps it;
    None when read_layer would reproject (a projected CRS, another datum)."""
    from gis.crs import CGCS2000, WGS84, is_cgcs2000_based

    target = CGCS2000 if is_cgcs2000_based(crs) else WGS84
    return target if crs.equals(target, ignore_axis_order=True) else None


def _checked(codes: np.ndarray, blobs_or_geoms, crs: CRS, limits: ReadLimits) -> GridArrays | None:
    geoms = np.asarray(blobs_or_geoms, dtype=object)
    if len(geoms) and (
        shapely.is_missing(geoms).any()
        or not np.isin(shapely.get_type_id(geoms), _POLYGONAL).all()
        or shapely.is_empty(geoms).any()
    ):
        return None
    if len(geoms) and (shapely.get_num_coordinates(geoms) > limits.max_vertices).any():
        return None
    if len(geoms) and shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    coords = shapely.get_coordinates(geoms)
    if len(coords) and not np.isfinite(coords).all():
        return None
    if (
        len(coords)
        and crs.is_geographic
        and not ((np.abs(coords[:, 0]) <= 180.0).all() and (np.abs(coords[:, 1]) <= 90.0).all())
    ):
        return None
    return GridArrays(ids=codes, geoms=geoms, crs=crs)


# --- GeoPackage --------------------------------------------------------------------------


def _read_gpkg(path: Path, code_field: str | None, layer: str | None, limits: ReadLimits):
    if not path.is_file():
        return None
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        db.text_factory = str
        contents = db.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall()
        if layer is None:
            if len(contents) != 1:  # none, or several: read_layer says which to choose
                return None
            layer = contents[0][0]
        if (layer, "features") not in {(name, kind) for name, kind in contents}:
            return None
        found = db.execute(
            "SELECT column_name, srs_id, z, m FROM gpkg_geometry_columns WHERE table_name = ?",
            (layer,),
        ).fetchall()
        if len(found) != 1:
            return None
        geometry_column, srs_id, _, m = found[0]
        if m == 1:  # an M coordinate is mandatory: GDAL's reading of it is not ours
            return None
        crs = _gpkg_crs(db, srs_id)
        if crs is None:
            return None
        if code_field is not None:
            columns = {row[1]: str(row[2]).upper() for row in _table_info(db, layer)}
            declared = columns.get(code_field)
            if declared is None or not declared.startswith("TEXT"):
                return None
        # identifiers cannot be bound as parameters: _quoted escapes them
        n = db.execute(f"SELECT count(*) FROM {_quoted(layer)}").fetchone()[0]  # nosec B608  # quoted name
        if _over(n, limits.max_rows):
            return None
        code_sql = "NULL" if code_field is None else _quoted(code_field)
        rows = db.execute(
            f"SELECT {code_sql}, {_quoted(geometry_column)} FROM {_quoted(layer)} ORDER BY rowid"  # nosec B608  # quoted names
        ).fetchall()
    codes = np.arange(len(rows)) if code_field is None else np.empty(len(rows), dtype=object)
    wkb = np.empty(len(rows), dtype=object)
    for i, (code, blob) in enumerate(rows):
        if not (code is None or isinstance(code, str)) or not isinstance(blob, bytes):
            return None
        start = _wkb_start(blob)
        if start is None:
            return None
        if code_field is not None:
            codes[i] = code
        wkb[i] = blob[start:]
    return codes, shapely.from_wkb(wkb), crs


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_info(db: sqlite3.Connection, table: str) -> list[tuple]:
    return db.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()


def _gpkg_crs(db: sqlite3.Connection, srs_id: int) -> CRS | None:
    """The layer's CRS when it is an EPSG lon/lat CRS read_layer keeps as it is."""
    found = db.execute(
        "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
        (srs_id,),
    ).fetchone()
    if found is None or str(found[0]).upper() != "EPSG" or found[1] not in (4326, 4490):
        return None
    return _lonlat_crs(CRS.from_epsg(found[1]))


def _wkb_start(blob: bytes) -> int | None:
    """Where the WKB starts in a GeoPackage geometry blob, or None for a blob this reader
    leaves to GDAL (not a GeoPackage blob, version not 0, an empty or extended geometry)."""
    if len(blob) < 8 or blob[0:2] != b"GP" or blob[2] != 0:
        return None
    flags = blob[3]
    if flags & (_EMPTY_FLAG | _EXTENDED_FLAG):
        return None
    envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
    if envelope is None:
        return None
    start = 8 + envelope
    return start if len(blob) > start else None


# --- GeoParquet --------------------------------------------------------------------------


def _read_geoparquet(path: Path, code_field: str | None, limits: ReadLimits, keep_projected: bool):
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    metadata = file.schema_arrow.metadata or {}
    if b"geo" not in metadata:
        return None
    geo = json.loads(metadata[b"geo"])
    primary = geo.get("primary_column")
    column = (geo.get("columns") or {}).get(primary)
    if column is None or str(column.get("encoding", "")).upper() != "WKB":
        return None
    if column.get("edges", "planar") != "planar":
        return None
    if "crs" not in column:  # absent: OGC:CRS84 by the specification
        crs = _lonlat_crs(CRS.from_user_input("OGC:CRS84"))
    elif column["crs"] is None:  # unknown: a .parquet file is lon/lat WGS84 unless told
        from gis.crs import WGS84

        crs = WGS84
    else:
        file_crs = CRS.from_json_dict(column["crs"])
        kept = keep_projected and not file_crs.is_geographic
        crs = file_crs if kept else _lonlat_crs(file_crs)
    if crs is None or _over(file.metadata.num_rows, limits.max_rows):
        return None
    if code_field is None:
        wkb = _object_array(file.read(columns=[primary]).column(primary).to_pylist())
        return np.arange(len(wkb)), shapely.from_wkb(wkb), crs
    names = file.schema_arrow.names
    if code_field not in names or code_field == primary:
        return None
    code_type = file.schema_arrow.field(code_field).type
    if not (pa.types.is_string(code_type) or pa.types.is_large_string(code_type)
            or pa.types.is_null(code_type)):  # fmt: skip
        return None
    table = file.read(columns=[code_field, primary])
    # cell lists, not to_numpy: that imports pandas (pyarrow's check for pandas objects)
    codes = _object_array(table.column(code_field).to_pylist())
    wkb = _object_array(table.column(primary).to_pylist())
    return codes, shapely.from_wkb(wkb), crs


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
