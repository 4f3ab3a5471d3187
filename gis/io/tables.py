"""Point tables: CSV, XLSX and plain Parquet with lon/lat or WKT columns, read and written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import WGS84
from gis.errors import (
    InputError,
    UnreadableFileError,
)
from gis.io.common import (
    LAT_COLUMN_NAMES,
    LON_COLUMN_NAMES,
    WKT_COLUMN_NAMES,
    Where,
    _join_lists,
    find_column,
)
from gis.io.limits import ReadLimits, _too_many_rows, check_zip_expansion
from gis.io.parquet import _read_plain_parquet

__all__ = ["read_csv_text"]


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


def _write_table(
    gdf: gpd.GeoDataFrame,
    path: Path,
    crs: CRS,
    *,
    layer: str | None,
    xy_columns: tuple[str, str] | None,
) -> Path:
    """CSV (UTF-8 with BOM) or XLSX with WGS84 lon/lat columns, or WKT for other geometry."""
    df = _table_frame(gdf if crs.equals(WGS84) else gdf.to_crs(WGS84), xy_columns)
    if path.suffix.lower() == ".csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")  # BOM: Excel reads it as UTF-8
    else:
        df.to_excel(path, index=False, sheet_name=(layer or "Sheet1")[:31], engine="openpyxl")
    return path
