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
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from gis.crs import CGCS2000, WGS84, is_cgcs2000_based, parse_input_crs, require_crs, to_wgs84
from gis.errors import (
    CRSMismatchError,
    GeometryTypeError,
    InputError,
    UnknownCRSError,
    UnreadableFileError,
)

__all__ = [
    "LAT_COLUMN_NAMES",
    "LON_COLUMN_NAMES",
    "SUPPORTED_EXTENSIONS",
    "WKT_COLUMN_NAMES",
    "PointTable",
    "ReadLimits",
    "check_zip_expansion",
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
_SHAPEFILE_FIELD_NAME_MAX_BYTES = 10
_SHAPEFILE_TEXT_MAX_BYTES = 254
# Columns GDAL's LIBKML reader adds to every KML layer, with the values meaning "not set".
_KML_HOUSEKEEPING_DEFAULTS: dict[str, tuple] = {
    "timestamp": (),
    "begin": (),
    "end": (),
    "altitudeMode": (),
    "tessellate": (-1,),
    "extrude": (0,),
    "visibility": (-1,),
    "drawOrder": (),
    "icon": (),
    "snippet": (),
}
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.CRSError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    UnicodeDecodeError,
    OSError,
    RuntimeError,
)

Where = Callable[[int], str]

# GDAL's LIBKML driver maps a field called "name"/"description" (case-insensitively) to the
# Placemark's <name>/<description>, which then clashes with a user column of that name. While
# reading or writing KML these point at columns that do not exist, so every attribute is kept
# as ExtendedData under its own name; a Placemark's own <name>/<description> read back as
# "Name"/"Description" (when not empty and not clashing).
_KML_NAME_SENTINEL = "wangge_kml_placemark_name"
_KML_DESCRIPTION_SENTINEL = "wangge_kml_placemark_description"


@contextlib.contextmanager
def _kml_field_mapping() -> Iterator[None]:
    keys = ("LIBKML_NAME_FIELD", "LIBKML_DESCRIPTION_FIELD")
    before = {key: pyogrio.get_gdal_config_option(key) for key in keys}
    pyogrio.set_gdal_config_options(
        dict(zip(keys, (_KML_NAME_SENTINEL, _KML_DESCRIPTION_SENTINEL), strict=True))
    )
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def _feature_label(i: int) -> str:
    return f"要素 {i + 1} / feature {i + 1}"


# --- bounds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a reader accepts (hostile or accidental bombs are refused early)."""

    max_vertices: int = 100_000
    """Most coordinates in one geometry (all rings and parts together)."""
    max_rows: int | None = 100_000
    """Most features (vector files) or data rows (CSV/XLSX/Parquet) in one file; None: no
    bound (a user's own files on the command line, unless bounded there)."""
    max_unzipped_bytes: int = 200 * 1024 * 1024
    """Most bytes the members read from one zip (zipped SHP, XLSX) may expand to."""


_READ_LIMITS: ContextVar[ReadLimits | None] = ContextVar("wangge_read_limits", default=None)


def get_read_limits() -> ReadLimits:
    """Return the bounds in force in this context (the defaults unless set)."""
    return _READ_LIMITS.get() or ReadLimits()


def set_read_limits(limits: ReadLimits) -> None:
    """Put ``limits`` in force for the rest of this context (e.g. a CLI process)."""
    _READ_LIMITS.set(limits)


@contextlib.contextmanager
def use_read_limits(limits: ReadLimits) -> Iterator[ReadLimits]:
    """Put ``limits`` in force inside the ``with`` block (one request, one test)."""
    token = _READ_LIMITS.set(limits)
    try:
        yield limits
    finally:
        _READ_LIMITS.reset(token)


def _over(n: int, max_rows: int | None) -> bool:
    """True if ``n`` rows break the bound ``max_rows`` (None: no bound)."""
    return max_rows is not None and n > max_rows


def _too_many_rows(label: str, n: int | str, max_rows: int) -> InputError:
    return InputError(
        f"{label}: 行数/要素数 {n} 超过上限 {max_rows:,} / more than {max_rows:,} rows or "
        f"features ({n}); split the file (bound: max_rows: WANGGE_MAX_UPLOAD_ROWS for uploads, "
        "--max-rows or WANGGE_MAX_LOCAL_ROWS for local files)"
    )


def _check_vertices(gdf: gpd.GeoDataFrame, label: str, where: Where, max_vertices: int) -> None:
    if not len(gdf):
        return
    counts = shapely.get_num_coordinates(np.asarray(gdf.geometry.values))
    over = counts > max_vertices
    if over.any():
        i = int(np.argmax(over))
        raise InputError(
            f"{label}: {where(i)}: 几何有 {int(counts[i]):,} 个顶点，超过上限 {max_vertices:,} / "
            f"geometry has {int(counts[i]):,} vertices, more than the bound of {max_vertices:,}; "
            "simplify it (bound: max_vertices, WANGGE_MAX_VERTICES)"
        )


def check_zip_expansion(
    archive: zipfile.ZipFile, label: str, *, max_bytes: int, members: list[str] | None = None
) -> int:
    """Return the declared expanded size of ``members`` (default all); refuse over ``max_bytes``.

    Nothing is expanded: the sizes come from the zip's directory. Python's zip reader never
    yields more than a member's declared size, so a lying header cannot get past it either.

    Raises
    ------
    InputError
        The members would expand to more than ``max_bytes`` (a zip bomb, or just too big).
    """
    infos = archive.infolist() if members is None else [archive.getinfo(m) for m in members]
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        mib = max_bytes / 1024 / 1024
        raise InputError(
            f"{label}: 解压后 {total:,} 字节，超过上限 {mib:g} MiB / the zip expands to {total:,} "
            f"bytes, more than the bound of {mib:g} MiB (bound: max_unzipped_bytes, "
            "WANGGE_MAX_UNZIPPED_MB); refused without expanding it"
        )
    return total


def _extract_bounded(
    archive: zipfile.ZipFile, members: list[str], folder: Path, label: str, max_bytes: int
) -> None:
    """Extract ``members`` into ``folder``, stopping at ``max_bytes`` written in all."""
    budget = max_bytes
    root = folder.resolve()
    for name in members:
        target = (folder / name).resolve()
        if root not in target.parents:  # "../x" or an absolute name: never outside the folder
            raise UnreadableFileError(f"{label}: zip 内路径非法 / unsafe path in zip: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(name) as src, target.open("wb") as dst:
            while chunk := src.read(1024 * 1024):
                budget -= len(chunk)
                if budget < 0:
                    raise InputError(
                        f"{label}: 解压超过上限 / the zip expands past the bound of "
                        f"{max_bytes / 1024 / 1024:g} MiB; refused"
                    )
                dst.write(chunk)


# --- reading ---------------------------------------------------------------------------


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
    layer_hint: str = "layer=",
    crs_hint: str = "input_crs=",
) -> gpd.GeoDataFrame:
    """Read one layer of a GIS file as a lon/lat GeoDataFrame (EPSG:4490 or EPSG:4326).

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
        gdf = _read_zipped_shapefile(path, layer, encoding, limits, hints)
    else:
        gdf = _read_vector(path, label, layer, encoding, limits, hints)
    if _over(len(gdf), limits.max_rows):  # a driver that could not count before reading
        raise _too_many_rows(label, len(gdf), limits.max_rows)
    _check_vertices(gdf, label, where, limits.max_vertices)
    if len(gdf):
        gdf = gdf.set_geometry(shapely.force_2d(np.asarray(gdf.geometry.values)), crs=gdf.crs)

    gdf = _resolve_crs(gdf, label, source, WGS84 if ext in _WGS84_BY_DEFAULT else None, crs_hint)
    _check_coordinates(gdf, label, where)
    if coordinate_columns is not None and not keep_file_coordinates:
        lon_name, lat_name = coordinate_columns
        gdf[lon_name] = shapely.get_x(np.asarray(gdf.geometry.values))
        gdf[lat_name] = shapely.get_y(np.asarray(gdf.geometry.values))
    if geometry_type is not None:
        _check_geometry_type(gdf, label, geometry_type, where)
    gdf.attrs["read_warnings"] = warnings
    return gdf


@dataclass(frozen=True)
class _Hints:
    """How the caller names the layer and CRS options; where reading warnings are collected."""

    layer: str
    crs: str
    warnings: list[str]


def _read_vector(
    path: Path,
    label: str,
    layer: str | None,
    encoding: str | None,
    limits: ReadLimits,
    hints: _Hints,
) -> gpd.GeoDataFrame:
    ext = path.suffix.lower()
    if ext == ".shp":
        _check_shapefile_parts(path, label)
        if encoding is None:
            encoding = _shapefile_encoding(path, label, hints.warnings)
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except _PYOGRIO_ERRORS as exc:
        raise UnreadableFileError(f"{label}: 无法读取 / cannot read: {exc}") from exc
    if layer is not None and layer not in layers:
        raise InputError(
            f"{label}: 没有图层 {layer!r} / no layer {layer!r}; layers: {', '.join(layers)}"
        )
    if layer is None and len(layers) > 1:
        raise InputError(
            f"{label}: 文件有多个图层，请用 {hints.layer} 指定一个 / the file holds several "
            f"layers, choose one with {hints.layer}: {', '.join(layers)}"
        )
    chosen = layer if layer is not None else (layers[0] if layers else None)
    kwargs = {"encoding": encoding} if encoding else {}
    mapping = _kml_field_mapping() if ext == ".kml" else contextlib.nullcontext()
    try:
        with mapping:
            n_features = pyogrio.read_info(path, layer=chosen, **kwargs)["features"]
            if _over(n_features, limits.max_rows):  # -1 when the driver cannot tell cheaply
                raise _too_many_rows(label, n_features, limits.max_rows)
            gdf = pyogrio.read_dataframe(path, layer=chosen, **kwargs)
    except _PYOGRIO_ERRORS as exc:
        raise UnreadableFileError(f"{label}: 无法读取 / cannot read: {exc}") from exc
    if ext == ".kml":
        gdf = _drop_kml_housekeeping(gdf, chosen or "")
    for column in gdf.columns:  # GeoJSON arrays come back as numpy arrays: make them lists
        if (
            column != gdf.geometry.name
            and gdf[column].dtype == object
            and gdf[column].map(lambda v: isinstance(v, np.ndarray)).any()
        ):
            gdf[column] = gdf[column].map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
    return gdf


def _drop_kml_housekeeping(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Drop the columns GDAL adds to every KML layer when they hold nothing."""
    drop = []
    for column, unset in _KML_HOUSEKEEPING_DEFAULTS.items():
        if column in gdf.columns:
            values = gdf[column]
            if (values.isna() | values.isin(unset)).all():
                drop.append(column)
    if "id" in gdf.columns:
        generated = re.compile(rf"^{re.escape(layer)}\.\d+$")
        if gdf["id"].map(lambda v: v is None or bool(generated.match(str(v)))).all():
            drop.append("id")
    for sentinel in (_KML_NAME_SENTINEL, _KML_DESCRIPTION_SENTINEL):
        if sentinel in gdf.columns and gdf[sentinel].isna().all():
            drop.append(sentinel)
    gdf = gdf.drop(columns=drop)
    taken = {str(c).lower() for c in gdf.columns}
    renames = {
        sentinel: plain
        for sentinel, plain in (
            (_KML_NAME_SENTINEL, "Name"),
            (_KML_DESCRIPTION_SENTINEL, "Description"),
        )
        if sentinel in gdf.columns and plain.lower() not in taken
    }
    return gdf.rename(columns=renames)


def _sibling(path: Path, ext: str) -> Path | None:
    """Return the file beside ``path`` with the same stem and extension ``ext``, any case."""
    wanted = (path.stem + ext).lower()
    for candidate in path.parent.iterdir():
        if candidate.name.lower() == wanted:
            return candidate
    return None


def _check_shapefile_parts(path: Path, label: str) -> None:
    for ext in (".shx", ".dbf"):
        if _sibling(path, ext) is None:
            raise UnreadableFileError(
                f"{label}: 缺少 {path.stem}{ext} / missing {path.stem}{ext}; a Shapefile needs "
                ".shp, .shx and .dbf side by side"
            )


def _shapefile_encoding(path: Path, label: str, warnings: list[str]) -> str | None:
    """Return None when a .cpg names a real encoding (GDAL honours it), else UTF-8 or GBK.

    Without .cpg, or with one naming no real encoding (``ANSI``...), the .dbf text (field
    names and records) is tried as UTF-8, then GBK (common for Chinese shapefiles); the
    .dbf header's language byte is not trusted. A .cpg that names no encoding adds a
    warning saying which one was used.
    """
    cpg = _sibling(path, ".cpg")
    named = None
    if cpg is not None:
        named = cpg.read_bytes()[:64].decode("ascii", errors="replace").strip()
        if _real_encoding(named):
            return None
    dbf = _sibling(path, ".dbf")
    assert dbf is not None  # checked by _check_shapefile_parts
    text = _dbf_text_bytes(dbf.read_bytes())
    for codec in ("utf-8", "gbk"):
        try:
            text.decode(codec)
        except UnicodeDecodeError:
            continue
        if named is not None:
            warnings.append(
                f"{label}: .cpg 写的 {named!r} 不是编码名，按 {codec.upper()} 读取 / the .cpg "
                f"says {named!r}, which names no encoding; read as {codec.upper()} — check "
                "the names, or fix the .cpg (e.g. GBK, UTF-8)"
            )
        return codec.upper()
    cpg_note = f" (.cpg: {named!r} is no encoding)" if named is not None else ""
    raise UnreadableFileError(
        f"{label}: 属性文本既不是 UTF-8 也不是 GBK / the .dbf text is neither UTF-8 nor "
        f"GBK{cpg_note}; write the encoding's name in the .cpg file or pass encoding="
    )


def _real_encoding(name: str) -> bool:
    """True if ``name`` (a .cpg's content) is an encoding GDAL and Python both know.

    GDAL reads a bare code page number ("936", "65001") as that code page.
    """
    import codecs

    candidate = f"cp{name}" if name.isdigit() else name
    try:
        codecs.lookup(candidate)
    except LookupError:
        return False
    return True


def _dbf_text_bytes(data: bytes) -> bytes:
    """Return the field names and record bytes of a dBASE file (everything that is text)."""
    if len(data) < 32:
        return b""
    n_records = int.from_bytes(data[4:8], "little")
    header_len = int.from_bytes(data[8:10], "little")
    record_len = int.from_bytes(data[10:12], "little")
    names = []
    for start in range(32, max(32, header_len - 1), 32):
        descriptor = data[start : start + 32]
        if not descriptor or descriptor[0] == 0x0D:
            break
        names.append(descriptor[:11].split(b"\x00", 1)[0])
    return b"\n".join([*names, data[header_len : header_len + n_records * record_len]])


def _read_zipped_shapefile(
    path: Path, layer: str | None, encoding: str | None, limits: ReadLimits, hints: _Hints
):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFileError(
            f"{path}: 不是有效的 zip 文件 / not a valid zip file: {exc}"
        ) from exc
    with archive, tempfile.TemporaryDirectory(prefix="wangge-zip-") as tmp:
        shapefiles = [
            name
            for name in archive.namelist()
            if name.lower().endswith(".shp") and not name.startswith("__MACOSX")
        ]
        if layer is not None:
            shapefiles = [name for name in shapefiles if Path(name).stem == layer]
        if len(shapefiles) != 1:
            found = ", ".join(Path(n).stem for n in shapefiles) or "none"
            raise InputError(
                f"{path}: zip 内须恰有一个 Shapefile（或用 {hints.layer} 指定）/ the zip must "
                f"hold exactly one Shapefile (or name it with {hints.layer}); found: {found}"
            )
        # only the parts of that Shapefile (same folder and stem), within the bound
        stem = Path(shapefiles[0]).with_suffix("").as_posix().lower()
        parts = [
            name
            for name in archive.namelist()
            if not name.endswith("/") and Path(name).with_suffix("").as_posix().lower() == stem
        ]
        check_zip_expansion(archive, str(path), max_bytes=limits.max_unzipped_bytes, members=parts)
        try:
            _extract_bounded(archive, parts, Path(tmp), str(path), limits.max_unzipped_bytes)
        except (zipfile.BadZipFile, OSError) as exc:
            raise UnreadableFileError(f"{path}: 无法解压 / cannot extract: {exc}") from exc
        inner = Path(tmp) / shapefiles[0]
        return _read_vector(inner, f"{path}:{shapefiles[0]}", None, encoding, limits, hints)


def read_csv_text(
    path: Path,
    *,
    encoding: str | None = None,
    max_rows: int | None = None,
    empty_is_missing: bool = True,
    skip_blank_lines: bool = False,
) -> pd.DataFrame:
    """A CSV file as text columns, in UTF-8 (with or without BOM) or else GBK.

    ``empty_is_missing``: an empty cell reads as NaN (else as ``""``). ``skip_blank_lines``
    False keeps a blank line as a row of missing values, so row numbers in errors match the
    file's lines. More than ``max_rows`` rows is an :class:`InputError`.
    """
    encodings = [encoding] if encoding else ["utf-8-sig", "gbk"]
    for codec in encodings:
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""] if empty_is_missing else None,
                skip_blank_lines=skip_blank_lines,
                encoding=codec,
                nrows=None if max_rows is None else max_rows + 1,  # one past tells too many
            )
            if max_rows is not None and len(frame) > max_rows:
                raise _too_many_rows(str(path), f"> {max_rows:,}", max_rows)
            return frame
        except InputError:
            raise
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise UnreadableFileError(f"{path}: 空文件 / empty file") from exc
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            raise UnreadableFileError(f"{path}: 无法读取 CSV / cannot read CSV: {exc}") from exc
    raise UnreadableFileError(
        f"{path}: 文本既不是 UTF-8 也不是 GBK / text is neither UTF-8 nor GBK; pass encoding="
    )


def _count_xlsx_rows(path: Path, sheet: str | None, limits: ReadLimits) -> None:
    """Refuse an XLSX over the row bound (or expanding past the zip bound) before reading it."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_expansion(archive, str(path), max_bytes=limits.max_unzipped_bytes)
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFileError(f"{path}: 无法读取 XLSX / cannot read XLSX: {exc}") from exc
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(f"{path}: 无法读取 XLSX / cannot read XLSX: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            return  # the reader names the missing sheet
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        declared = ws.max_row  # from the <dimension> element; may be missing or generous
        if limits.max_rows is None or (declared is not None and declared - 1 <= limits.max_rows):
            return
        n = -1  # the header row
        for row in ws.iter_rows(values_only=True):
            if any(v is not None for v in row):
                n += 1
                if n > limits.max_rows:
                    raise _too_many_rows(str(path), f"> {limits.max_rows:,}", limits.max_rows)
    finally:
        book.close()


def _read_xlsx(path: Path, sheet: str | None, limits: ReadLimits) -> pd.DataFrame:
    _count_xlsx_rows(path, sheet, limits)
    try:
        sheets = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise UnreadableFileError(f"{path}: 无法读取 XLSX / cannot read XLSX: {exc}") from exc
    with sheets:
        if sheet is not None and sheet not in sheets.sheet_names:
            raise InputError(
                f"{path}: 没有工作表 {sheet!r} / no sheet {sheet!r}; "
                f"sheets: {', '.join(sheets.sheet_names)}"
            )
        # dtype=object keeps text cells text ("001" stays "001"); numbers stay numbers.
        frame = pd.read_excel(sheets, sheet_name=sheet if sheet is not None else 0, dtype=object)
        return frame.infer_objects()


def _looks_like_code(text: pd.Series) -> bool:
    """True if a column of digits is an identifier: a leading zero, or 11+ digits in a row.

    Grid codes (15 digits), ID numbers (18), phone numbers (11) stay text; quantities and
    coordinates (which have a decimal point) become numbers.
    """
    return bool(text.str.match(r"^[+-]?0\d").any() or text.str.match(r"^\+?\d{11,}$").any())


def _infer_csv_numbers(df: pd.DataFrame, skip: set) -> pd.DataFrame:
    for column in df.columns:
        if column in skip:
            continue
        text = df[column].dropna().str.strip()
        if text.empty or _looks_like_code(text):
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all():
            df[column] = pd.to_numeric(df[column].str.strip())
    return df


def find_column(columns, names: tuple[str, ...]):
    """The first of ``columns`` whose name, trimmed and lower-cased, is one of ``names``."""
    by_name = {str(c).strip().lower(): c for c in columns}
    return next((by_name[n] for n in names if n in by_name), None)


def _parse_coordinate(values: pd.Series, column, label: str, where: Where) -> np.ndarray:
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(text, errors="coerce")
    # "nan" parses as NaN, so anything NaN here is missing or not a number.
    bad = numbers.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        value = text.iloc[i]
        if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
            reason = "为空 / is empty"
        else:
            reason = f"不是数字 / is not a number: {value!r}"
        raise InputError(f"{label}: {where(i)}: 列 / column {column!r} {reason}")
    return numbers.to_numpy(dtype=float)


def _read_table(
    path: Path,
    ext: str,
    sheet: str | None,
    encoding: str | None,
    lon_col: str | None,
    lat_col: str | None,
    limits: ReadLimits,
) -> tuple[gpd.GeoDataFrame, Where, tuple[str, str] | None]:
    label = str(path)
    if ext == ".csv":
        df = read_csv_text(path, encoding=encoding, max_rows=limits.max_rows)
    elif ext == ".parquet":
        df = _read_plain_parquet(path, label, limits)
    else:
        df = _read_xlsx(path, sheet, limits)
    # Drop blank lines but remember each row's number as a spreadsheet shows it.
    row_numbers = np.arange(len(df)) + 2
    keep = df.notna().any(axis=1).to_numpy()
    df = df.loc[keep].reset_index(drop=True)
    row_numbers = row_numbers[keep]

    def where(i: int) -> str:
        if ext == ".parquet":  # no header line: rows count from 1
            return f"第 {row_numbers[i] - 1} 行 / row {row_numbers[i] - 1}"
        return f"第 {row_numbers[i]} 行 / row {row_numbers[i]}"

    for given, what in ((lon_col, "lon_col"), (lat_col, "lat_col")):
        if given is not None and given not in df.columns:
            raise InputError(
                f"{label}: 没有列 {given!r}（{what}）/ no column {given!r} ({what}); "
                f"columns: {', '.join(map(str, df.columns))}"
            )
    lon_name = lon_col if lon_col is not None else find_column(df.columns, LON_COLUMN_NAMES)
    lat_name = lat_col if lat_col is not None else find_column(df.columns, LAT_COLUMN_NAMES)
    wkt_name = find_column(df.columns, WKT_COLUMN_NAMES)
    coordinate_columns = None
    if lon_name is not None and lat_name is not None:
        lon = _parse_coordinate(df[lon_name], lon_name, label, where)
        lat = _parse_coordinate(df[lat_name], lat_name, label, where)
        geometry = shapely.points(lon, lat)
        attributes = df.copy()
        attributes[lon_name], attributes[lat_name] = lon, lat
        coordinate_columns = (lon_name, lat_name)
        skip = {lon_name, lat_name}
    elif wkt_name is not None and lon_name is None and lat_name is None:
        text = df[wkt_name].to_numpy(dtype=object)
        geometry = shapely.from_wkt(text, on_invalid="ignore")
        bad = pd.notna(text) & pd.isna(geometry)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"{label}: {where(i)}: 列 / column {wkt_name!r} 不是有效的 WKT / is not valid "
                f"WKT: {str(text[i])[:60]!r}"
            )
        attributes = df.drop(columns=[wkt_name])
        skip = set()
    else:
        raise InputError(
            f"{label}: 找不到经纬度列 / cannot find lon/lat columns (found: "
            f"{', '.join(map(str, df.columns))}); expected one of {'|'.join(LON_COLUMN_NAMES)} "
            f"and one of {'|'.join(LAT_COLUMN_NAMES)}, or a WKT column "
            f"({'|'.join(WKT_COLUMN_NAMES)}); or pass lon_col=/lat_col="
        )
    if ext == ".csv":
        attributes = _infer_csv_numbers(attributes, skip)
    gdf = gpd.GeoDataFrame(attributes, geometry=geometry, crs=None)
    return gdf, where, coordinate_columns


def _unreadable_parquet(label: str, exc: Exception) -> UnreadableFileError:
    return UnreadableFileError(f"{label}: 无法读取 Parquet / cannot read Parquet: {exc}")


def _parquet_file(path: Path, label: str):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise _unreadable_parquet(label, exc) from exc


def _is_geoparquet(path: Path, label: str) -> bool:
    """True if the Parquet file carries GeoParquet ``geo`` metadata."""
    metadata = _parquet_file(path, label).schema_arrow.metadata or {}
    return b"geo" in metadata


def _check_parquet_rows(path: Path, label: str, limits: ReadLimits) -> None:
    n = _parquet_file(path, label).metadata.num_rows
    if _over(n, limits.max_rows):
        raise _too_many_rows(label, n, limits.max_rows)


def _read_geoparquet(path: Path, label: str, limits: ReadLimits) -> gpd.GeoDataFrame:
    _check_parquet_rows(path, label, limits)
    try:
        return gpd.read_parquet(path)
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable_parquet(label, exc) from exc


def _read_plain_parquet(path: Path, label: str, limits: ReadLimits) -> pd.DataFrame:
    """A Parquet table without GeoParquet metadata (points in lon/lat or WKT columns)."""
    _check_parquet_rows(path, label, limits)
    try:
        return _parquet_file(path, label).read().to_pandas()
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable_parquet(label, exc) from exc


def _resolve_crs(
    gdf: gpd.GeoDataFrame, label: str, source: str | None, default_crs: CRS | None, hint: str
) -> gpd.GeoDataFrame:
    file_crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    if source is not None:
        if file_crs is not None and not file_crs.is_geographic:
            raise CRSMismatchError(
                f"{label}: 文件自带投影坐标系 {file_crs.name}，与 {hint} {source} 矛盾 / the "
                f"file carries the projected CRS {file_crs.name!r} but {hint} {source} says "
                f"its coordinates are lon/lat; leave {hint} out to use the file's CRS"
            )
        return to_wgs84(gdf, source)
    if file_crs is None:
        if default_crs is None:
            raise UnknownCRSError(
                f"{label}: 坐标系未知（缺少 .prj 或未定义）/ the CRS is unknown (no .prj or none "
                f"defined); give {hint} wgs84|cgcs2000|gcj02|bd09"
            )
        return gdf.set_crs(default_crs)
    target = CGCS2000 if is_cgcs2000_based(file_crs) else WGS84
    if file_crs.equals(target, ignore_axis_order=True):
        return gdf.set_crs(target, allow_override=True)
    return gdf.to_crs(target)


def _check_coordinates(gdf: gpd.GeoDataFrame, label: str, where: Where) -> None:
    coords, index = shapely.get_coordinates(np.asarray(gdf.geometry.values), return_index=True)
    if len(coords) == 0:
        return
    lon, lat = coords[:, 0], coords[:, 1]
    not_finite = ~np.isfinite(coords).all(axis=1)
    if not_finite.any():
        k = int(np.argmax(not_finite))
        raise InputError(
            f"{label}: {where(int(index[k]))}: 坐标不是有限数 / coordinate is not a finite "
            f"number: ({lon[k]}, {lat[k]})"
        )
    bad_lat = np.abs(lat) > 90.0
    if bad_lat.any():
        k = int(np.argmax(bad_lat))
        hint = (
            "；经纬度可能填反 / lon and lat look swapped"
            if abs(lon[k]) <= 90.0 and abs(lat[k]) <= 180.0
            else "；可能是投影坐标 / these may be projected coordinates"
        )
        raise InputError(
            f"{label}: {where(int(index[k]))}: 纬度超出 ±90 / latitude out of range: "
            f"({lon[k]}, {lat[k]}){hint}"
        )
    bad_lon = np.abs(lon) > 180.0
    if bad_lon.any():
        k = int(np.argmax(bad_lon))
        raise InputError(
            f"{label}: {where(int(index[k]))}: 经度超出 ±180 / longitude out of range: "
            f"({lon[k]}, {lat[k]})"
        )


def _check_geometry_type(gdf: gpd.GeoDataFrame, label: str, kind: str, where: Where) -> None:
    allowed = _GEOMETRY_TYPES[kind]
    geoms = np.asarray(gdf.geometry.values)
    missing = pd.isna(geoms) | shapely.is_empty(geoms)
    types = pd.Series(gdf.geometry.geom_type.to_numpy())
    bad = missing | ~types.isin(allowed).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        found = "空几何 / empty geometry" if missing[i] else types.iloc[i]
        raise GeometryTypeError(
            f"{label}: {where(i)}: 几何类型为 {found}，应为 {'/'.join(allowed)} / geometry is "
            f"{found}, expected {' or '.join(allowed)} ({int(bad.sum())} of {len(bad)} "
            "features wrong)"
        )


# --- writing ---------------------------------------------------------------------------


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


def _table_frame(gdf: gpd.GeoDataFrame, xy_columns: tuple[str, str] | None) -> pd.DataFrame:
    """Attributes plus lon/lat columns (all points) or a ``wkt`` column (anything else)."""
    geoms = np.asarray(gdf.geometry.values)
    df = pd.DataFrame(_join_lists(gdf.drop(columns=gdf.geometry.name)))
    present = geoms[pd.notna(geoms)]
    if len(present) and (shapely.get_type_id(present) == shapely.GeometryType.POINT).all():
        if xy_columns is not None:
            lon_name, lat_name = xy_columns
        else:
            lon_name = find_column(df.columns, LON_COLUMN_NAMES) or "lon"
            lat_name = find_column(df.columns, LAT_COLUMN_NAMES) or "lat"
        df[lon_name] = shapely.get_x(geoms)
        df[lat_name] = shapely.get_y(geoms)
    else:
        wkt_name = find_column(df.columns, WKT_COLUMN_NAMES) or "wkt"
        df[wkt_name] = shapely.to_wkt(geoms, rounding_precision=-1)
    for column in df.columns:  # Excel has no time zones
        if isinstance(df[column].dtype, pd.DatetimeTZDtype):
            df[column] = df[column].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return df


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
    if ext == ".parquet":  # GeoParquet (geometry as WKB, the frame's CRS in the metadata)
        if path.exists():
            path.unlink()
        _join_lists(gdf, keep_lists=True).to_parquet(path, index=False)
        return path
    if ext in (".csv", ".xlsx"):
        df = _table_frame(gdf if crs.equals(WGS84) else gdf.to_crs(WGS84), xy_columns)
        if ext == ".csv":
            df.to_csv(path, index=False, encoding="utf-8-sig")  # BOM: Excel reads it as UTF-8
        else:
            df.to_excel(path, index=False, sheet_name=(layer or "Sheet1")[:31], engine="openpyxl")
        return path

    driver = _VECTOR_DRIVERS[ext]
    # promote_to_multi=False: a Polygon stays a Polygon beside MultiPolygons (GPKG layers of
    # mixed types are typed "Geometry"); a Shapefile stores rings and reads back the same.
    options: dict = {"promote_to_multi": False}
    if driver in ("GeoJSON", "LIBKML"):
        out = gdf if crs.equals(WGS84) else gdf.to_crs(WGS84)
        out = _join_lists(out, keep_lists=driver == "GeoJSON")
        if driver == "GeoJSON":
            options["layer_options"] = {"RFC7946": "YES", "COORDINATE_PRECISION": 15}
    else:
        out = _join_lists(gdf)
    if driver == "ESRI Shapefile":
        if allow_truncate:
            out = _truncate_for_shapefile(out)
        else:
            _refuse_shapefile_truncation(out, path)
        options["encoding"] = "UTF-8"
    if driver == "ESRI Shapefile":
        for ext_part in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            part = _sibling(path, ext_part) if path.parent.is_dir() else None
            if part is not None:
                part.unlink()
    elif path.exists() and driver != "GPKG":
        path.unlink()
    mapping = _kml_field_mapping() if driver == "LIBKML" else contextlib.nullcontext()
    try:
        with mapping:
            pyogrio.write_dataframe(out, path, driver=driver, layer=layer or path.stem, **options)
    except _PYOGRIO_ERRORS as exc:
        raise InputError(f"{path}: 无法写入 / cannot write: {exc}") from exc
    return path


def _cut_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _truncate_for_shapefile(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Field names cut to 10 bytes (kept unique) and text to 254 bytes, on whole characters.

    GDAL would cut by bytes, splitting a Chinese character and leaving a file that cannot be
    decoded; this cuts where a character ends.
    """
    out = gdf.copy()
    names: dict = {}
    taken: set[str] = set()
    for column in out.columns:
        if column == out.geometry.name:
            continue
        name = _cut_utf8(str(column), _SHAPEFILE_FIELD_NAME_MAX_BYTES)
        n = 1
        while name in taken:  # "门牌地址" twice: "门牌地_1", "门牌地_2"...
            suffix = f"_{n}"
            name = _cut_utf8(str(column), _SHAPEFILE_FIELD_NAME_MAX_BYTES - len(suffix)) + suffix
            n += 1
        taken.add(name)
        names[column] = name
        if _is_text(out[column]):
            out[column] = out[column].map(
                lambda v: _cut_utf8(v, _SHAPEFILE_TEXT_MAX_BYTES) if isinstance(v, str) else v
            )
    return out.rename(columns=names)


def _refuse_shapefile_truncation(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Raise InputError if a Shapefile would cut a field name or a text value short."""
    problems = []
    for column in gdf.columns:
        if column == gdf.geometry.name:
            continue
        if len(str(column).encode("utf-8")) > _SHAPEFILE_FIELD_NAME_MAX_BYTES:
            problems.append(f"字段名 / field name {str(column)!r} > 10 bytes")
        if _is_text(gdf[column]):
            sizes = gdf[column].map(lambda v: len(v.encode("utf-8")) if isinstance(v, str) else 0)
            if len(sizes) and sizes.max() > _SHAPEFILE_TEXT_MAX_BYTES:
                i = int(sizes.to_numpy().argmax())
                problems.append(
                    f"{str(column)!r} {_feature_label(i)}: {int(sizes.iloc[i])} bytes > 254"
                )
    if problems:
        raise InputError(
            f"{path}: Shapefile 会截断文字 / a Shapefile would truncate text: "
            f"{'; '.join(problems)}. 请改用 GeoPackage (.gpkg)，或用 --allow-truncate 接受截断 "
            "/ write a GeoPackage (.gpkg) instead, or accept the loss with --allow-truncate "
            "(allow_truncate=True)"
        )


# --- columnar point tables (whole-command speed) ---------------------------------------


@dataclass(frozen=True)
class PointTable:
    """A table of points read column-wise: the file's columns as read, and lon/lat arrays.

    ``table`` is a :class:`pyarrow.Table` holding every column of the file (CSV cells as text,
    exactly as written; blank rows dropped); ``lon``/``lat`` are the parsed coordinates
    (WGS84), one per row. ``lon_text``/``lat_text`` are the coordinate cells as text (trimmed)
    when the file holds text, else None: the same numbers, to write back without formatting a
    million floats again.
    """

    table: object
    lon: np.ndarray
    lat: np.ndarray
    lon_text: object = None
    lat_text: object = None

    def lonlat_for_writing(self) -> tuple[object, object]:
        """The coordinates to write: the trimmed text cells when read as text, else floats."""
        if self.lon_text is not None and self.lat_text is not None:
            return self.lon_text, self.lat_text
        return self.lon, self.lat


def _arrow_csv(path: Path, encoding: str | None):
    """The CSV as a pyarrow table of text columns, or None if pyarrow cannot read it as such."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    for codec in [encoding] if encoding else ["utf8", "gbk"]:
        read = pacsv.ReadOptions(encoding=codec)
        try:
            with pacsv.open_csv(path, read_options=read) as reader:
                names = reader.schema.names
            if "" in names or len(set(names)) != len(names):
                return None  # unnamed or repeated headers: the general reader renames them
            convert = pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
            )
            parse = pacsv.ParseOptions(newlines_in_values=True)
            return pacsv.read_csv(
                path, read_options=read, parse_options=parse, convert_options=convert
            )
        except UnicodeDecodeError:
            continue
        except (ValueError, OSError, LookupError):  # pyarrow's ArrowInvalid is a ValueError
            return None
    return None


def _arrow_floats(column) -> tuple[np.ndarray | None, object]:
    """The column as float64 and, for text, the cells trimmed (None for a numeric column).

    The floats are None if any cell is not a finite number. Text is cast as it is first and
    trimmed only when that fails (padding is rare; trimming copies every cell).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = None
    try:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = column
            try:
                values = pc.cast(column, pa.float64())
            except (ValueError, TypeError):  # ArrowInvalid: padded, or not a number
                text = pc.utf8_trim_whitespace(column)
                values = pc.cast(text, pa.float64())
        else:
            values = pc.cast(column, pa.float64())
        values = values.to_numpy(zero_copy_only=False)
    except (ValueError, TypeError, NotImplementedError):  # ArrowInvalid / not castable
        return None, None
    return (values, text) if np.isfinite(values).all() else (None, None)


def read_point_table(
    path: str | Path,
    *,
    input_crs: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> PointTable | None:
    """Read a CSV or plain Parquet table of WGS84 lon/lat points column-wise, or return None.

    The fast path for whole-table commands: columns are parsed in bulk (pyarrow), cells are not
    converted one by one and the other columns stay as written. Whenever the file is not a
    clean point table in WGS84 — another format, no lon/lat columns, a cell that is not a
    finite number or out of range, more rows than ``limits`` allow, headers the general reader
    would rename, another ``input_crs`` — the answer is None and the caller reads the file
    with :func:`read_layer`, which gives the error naming the row and column, or the answer.
    """
    limits = limits or get_read_limits()
    path = Path(path)
    ext = path.suffix.lower()
    if input_crs is not None and parse_input_crs(input_crs) != "wgs84":
        return None
    if not path.is_file():
        return None
    if ext == ".csv":
        table = _arrow_csv(path, encoding)
    elif ext == ".parquet" and not _is_geoparquet(path, str(path)):
        table = _parquet_file(path, str(path)).read()
    else:
        return None
    if table is None:
        return None
    import pyarrow.compute as pc

    filled = None
    for column in table.columns:
        valid = pc.is_valid(column)
        filled = valid if filled is None else pc.or_(filled, valid)
    if filled is not None and not pc.all(filled).as_py():
        table = table.filter(filled)
    if _over(table.num_rows, limits.max_rows):
        return None
    names = table.schema.names
    if (lon_col is not None and lon_col not in names) or (
        lat_col is not None and lat_col not in names
    ):
        return None
    lon_name = lon_col if lon_col is not None else find_column(names, LON_COLUMN_NAMES)
    lat_name = lat_col if lat_col is not None else find_column(names, LAT_COLUMN_NAMES)
    if lon_name is None or lat_name is None:
        return None
    lon, lon_text = _arrow_floats(table[lon_name])
    lat, lat_text = _arrow_floats(table[lat_name])
    if lon is None or lat is None or (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        return None
    return PointTable(table=table, lon=lon, lat=lat, lon_text=lon_text, lat_text=lat_text)


def write_csv_columns(table, added: dict[str, object], path: str | Path) -> Path:
    """Write ``table`` (pyarrow) with ``added`` columns as CSV (UTF-8 with BOM), column-wise.

    An added column whose name the table already has replaces it in place; the others follow
    in order. Text columns are written as they are; booleans as ``True``/``False`` in CSV
    (as :func:`write_layer` writes them). The file is written whole to a temporary name and
    then renamed, so a failure leaves no partial output.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = Path(path)
    columns = dict(zip(table.schema.names, table.columns, strict=True))
    for name, values in added.items():
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (ids of several kinds)
            array = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        if pa.types.is_boolean(array.type):
            array = pc.if_else(array, "True", "False")
        columns[name] = array
    out = pa.table(columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as sink:
            sink.write("\ufeff".encode())  # BOM: Excel reads it as UTF-8
            pacsv.write_csv(out, sink)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
