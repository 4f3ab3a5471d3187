"""Column-wise point tables for whole-table commands (pyarrow): no geometry per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gis.io.common import LAT_COLUMN_NAMES, LON_COLUMN_NAMES, find_column
from gis.io.limits import ReadLimits, _over, get_read_limits

__all__ = ["PointTable", "read_point_table", "write_csv_columns"]


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
    # no geopandas for a CSV: the caller may be importing it on another thread meanwhile
    from gis.crs import parse_input_crs

    limits = limits or get_read_limits()
    path = Path(path)
    ext = path.suffix.lower()
    if input_crs is not None and parse_input_crs(input_crs) != "wgs84":
        return None
    if not path.is_file():
        return None
    if ext == ".csv":
        table = _arrow_csv(path, encoding)
    elif ext == ".parquet":
        from gis.io.parquet import _is_geoparquet, _parquet_file

        geo = _is_geoparquet(path, str(path))
        table = None if geo else _parquet_file(path, str(path)).read()
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
        try:  # Arrow data as it is (pa.array would convert it cell by cell, through Python)
            is_arrow = isinstance(values, pa.Array | pa.ChunkedArray)
            array = values if is_arrow else pa.array(values)
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
