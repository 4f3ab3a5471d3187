"""Vector files through GDAL (pyogrio): GeoJSON, GeoPackage, Shapefile (also zipped), KML."""

from __future__ import annotations

import contextlib
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
from pyproj import CRS

from gis.crs import WGS84
from gis.errors import (
    InputError,
    UnreadableFileError,
)
from gis.io.common import _VECTOR_DRIVERS, _feature_label, _Hints, _join_lists, _sibling
from gis.io.limits import ReadLimits, _extract_bounded, _over, _too_many_rows, check_zip_expansion

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
            gdf = pyogrio.read_dataframe(path, layer=chosen, use_arrow=True, **kwargs)
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


def _write_vector(
    gdf: gpd.GeoDataFrame, path: Path, crs: CRS, *, layer: str | None, allow_truncate: bool
) -> Path:
    """GeoJSON/KML in WGS84, GeoPackage/Shapefile in the frame's CRS (see ``write_layer``)."""
    driver = _VECTOR_DRIVERS[path.suffix.lower()]
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
