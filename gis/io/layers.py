"""Read and write one layer of any supported format: the dispatch by file extension."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.crs import WGS84, parse_input_crs, require_crs
from gis.errors import (
    InputError,
    UnreadableFileError,
)
from gis.io.checks import (
    _check_coordinates,
    _check_geometry_type,
    _check_vertices,
    _resolve_crs,
)
from gis.io.common import (
    _GEOMETRY_TYPES,
    _WGS84_BY_DEFAULT,
    _WRITABLE_EXTENSIONS,
    SUPPORTED_EXTENSIONS,
    GeometryKind,
    Where,
    _feature_label,
    _Hints,
)
from gis.io.limits import ReadLimits, _over, _too_many_rows, get_read_limits
from gis.io.parquet import _is_geoparquet, _read_geoparquet, _write_geoparquet
from gis.io.tables import _read_table, _write_table

__all__ = ["read_layer", "write_layer"]


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    input_crs: str | None = None,
    geometry_type: GeometryKind | None = None,
    encoding: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    limits: ReadLimits | None = None,
    keep_file_coordinates: bool = False,
    keep_projected: bool = False,
    layer_hint: str = "layer=",
    crs_hint: str = "input_crs=",
) -> gpd.GeoDataFrame:
    """Read one layer of a GIS file as a lon/lat GeoDataFrame (EPSG:4490 or EPSG:4326).

    With ``keep_projected`` a file in a projected CRS stays in it instead.

    Parameters
    ----------
    path
        A file ending in one of :data:`SUPPORTED_EXTENSIONS`.
    layer
        Layer (GeoPackage, KML), sheet (XLSX) or Shapefile name inside a ``.zip``. Needed
        only when the file holds more than one.
    input_crs
        What the file's lon/lat really are: "wgs84", "cgcs2000", "gcj02" or "bd09" (or an
        alias). GCJ-02/BD-09 are converted to WGS84. Default: the file's own CRS, else WGS84
        where the format implies it.
    geometry_type
        "polygon", "point" or "line": every feature must be of that kind (Multi* included);
        an empty or missing geometry is the wrong kind too.
    encoding
        Text encoding of a Shapefile's .dbf or a CSV. Default: a Shapefile's ``.cpg``, else
        UTF-8, else GBK; CSV: UTF-8 (with or without BOM), else GBK.
    lon_col, lat_col
        CSV/XLSX columns holding lon and lat. Default: found by name, case-insensitive
        (``lon|lng|longitude|long|x|经度`` and ``lat|latitude|y|纬度``); failing that a
        ``wkt|geometry|geom`` column of WKT text.
    limits
        Bounds on features/rows, vertices per geometry and zip expansion; default those in
        force (:func:`get_read_limits`).
    keep_file_coordinates
        CSV/XLSX: the lon/lat columns keep the values as written in the file (default: they
        hold the returned, possibly converted, coordinates).
    keep_projected
        A file whose CRS is projected (a GeoPackage or Shapefile in a Gauss-Krüger zone, a
        GeoParquet in EPSG:4549) is returned in that CRS, its coordinates as written (only
        checked to be finite), so that geometry is judged as drawn: a straight edge converted
        vertex by vertex to lon/lat bows away from the points lying on it. A lon/lat file is
        still returned in lon/lat. Default: every file is converted to lon/lat.
    layer_hint, crs_hint
        How the caller names the ``layer`` and ``input_crs`` options in error messages
        (e.g. ``"--grids-layer"``, ``"--grids-crs"`` on a command line).

    Returns
    -------
    geopandas.GeoDataFrame
        In file order. For a CSV/XLSX point table the lon/lat columns are kept and hold the
        returned (possibly converted) coordinates unless ``keep_file_coordinates``. Warnings
        that did not stop the reading (an encoding guessed) are in
        ``gdf.attrs["read_warnings"]`` (a list of strings). CSV columns are numbers when every value
        is one, except identifiers (a leading zero, or 11+ digits: grid codes, ID and phone
        numbers), which stay text. KML attributes are text.

    Raises
    ------
    UnreadableFileError
        Missing file, unknown extension, truncated or unparsable content, a Shapefile part
        missing, undecodable text.
    UnknownCRSError, CRSMismatchError, GeometryTypeError, InputError
        CRS unknown or contradicted; wrong geometry kind; coordinates not numbers, not finite
        or out of lon/lat range (with a hint when lon and lat look swapped); more features,
        rows or vertices than ``limits`` allow, or a zip expanding past them.
    """
    limits = limits or get_read_limits()
    path = Path(path)
    label = str(path)
    source = parse_input_crs(input_crs) if input_crs is not None else None
    if geometry_type is not None and geometry_type not in _GEOMETRY_TYPES:
        raise InputError(
            f"未知的几何类型 / unknown geometry_type {geometry_type!r}; "
            f"allowed: {', '.join(_GEOMETRY_TYPES)}"
        )
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnreadableFileError(
            f"{label}: 不支持的文件格式 / unsupported file type {ext or '(none)'!r}; "
            f"supported: {' '.join(SUPPORTED_EXTENSIONS)}"
        )
    if not path.is_file():
        raise UnreadableFileError(f"{label}: 文件不存在 / file not found")

    where: Where = _feature_label
    coordinate_columns: tuple[str, str] | None = None
    warnings: list[str] = []
    hints = _Hints(layer_hint, crs_hint, warnings)
    if ext in (".csv", ".xlsx") or (ext == ".parquet" and not _is_geoparquet(path, label)):
        gdf, where, coordinate_columns = _read_table(
            path, ext, layer, encoding, lon_col, lat_col, limits
        )
    elif ext == ".parquet":
        gdf = _read_geoparquet(path, label, limits)
    elif ext == ".zip":
        from gis.io.vector import _read_zipped_shapefile  # GDAL only where it reads

        gdf = _read_zipped_shapefile(path, layer, encoding, limits, hints)
    else:
        from gis.io.vector import _read_vector

        gdf = _read_vector(path, label, layer, encoding, limits, hints)
    if _over(len(gdf), limits.max_rows):  # a driver that could not count before reading
        raise _too_many_rows(label, len(gdf), limits.max_rows)
    _check_vertices(gdf, label, where, limits.max_vertices)
    geoms = np.asarray(gdf.geometry.values)
    if len(gdf) and shapely.has_z(geoms).any():  # a Z is rare: no copy of every geometry
        gdf = gdf.set_geometry(shapely.force_2d(geoms), crs=gdf.crs)

    default_crs = WGS84 if ext in _WGS84_BY_DEFAULT else None
    gdf = _resolve_crs(gdf, label, source, default_crs, crs_hint, keep_projected)
    _check_coordinates(gdf, label, where)
    if coordinate_columns is not None and not keep_file_coordinates:
        lon_name, lat_name = coordinate_columns
        gdf[lon_name] = shapely.get_x(np.asarray(gdf.geometry.values))
        gdf[lat_name] = shapely.get_y(np.asarray(gdf.geometry.values))
    if geometry_type is not None:
        _check_geometry_type(gdf, label, geometry_type, where)
    gdf.attrs["read_warnings"] = warnings
    return gdf


def write_layer(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    layer: str | None = None,
    xy_columns: tuple[str, str] | None = None,
    allow_truncate: bool = False,
) -> Path:
    """Write ``gdf`` to ``path`` in the format its extension names; return the path.

    GeoJSON (``.geojson``/``.json``) and KML are written in WGS84 lon/lat (RFC 7946, full
    precision); CSV and XLSX carry WGS84 ``lon``/``lat`` columns when every geometry is a
    point (an existing lon/lat column, found by the same names :func:`read_layer` looks for,
    is overwritten; ``xy_columns`` names other columns to write them to, leaving those
    alone) and a ``wkt`` column otherwise. GeoPackage and Shapefile keep the frame's CRS; a
    Shapefile gets a UTF-8 ``.cpg``. A Shapefile cannot hold field names over 10 bytes or
    text over 254 bytes: such a frame is refused (naming the fields, suggesting
    GeoPackage) unless ``allow_truncate``, when names and text are cut on whole characters.
    Columns holding lists (e.g. ``grid_codes``) are written comma-joined except in GeoJSON,
    which has arrays. Parent folders are created; an existing file (or GeoPackage layer) is
    replaced. ``layer`` names the layer (GeoPackage, KML, GeoJSON ``name``) or the XLSX sheet.

    Raises
    ------
    InputError
        Unknown extension; a Shapefile field name longer than 10 bytes or text longer than
        254 bytes in UTF-8 (unless ``allow_truncate``); a frame the format cannot hold
        (e.g. mixed geometry types in a Shapefile).
    UnknownCRSError
        ``gdf`` has no CRS.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _WRITABLE_EXTENSIONS:
        raise InputError(
            f"{path}: 不支持的输出格式 / unsupported output format {ext or '(none)'!r}; "
            f"use one of {' '.join(_WRITABLE_EXTENSIONS)}"
        )
    crs = require_crs(gdf, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".parquet":
        return _write_geoparquet(gdf, path)
    if ext in (".csv", ".xlsx"):
        return _write_table(gdf, path, crs, layer=layer, xy_columns=xy_columns)
    from gis.io.vector import _write_vector

    return _write_vector(gdf, path, crs, layer=layer, allow_truncate=allow_truncate)
