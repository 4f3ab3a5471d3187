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
        if values.null_count:
            return None, None
        values = _float64_numpy(values)
    except (ValueError, TypeError, NotImplementedError):  # ArrowInvalid / not castable
        return None, None
    return (values, text) if np.isfinite(values).all() else (None, None)


# Arrow <-> numpy without pyarrow's pandas shim: Array.to_numpy and pa.array import pandas
# (about 0.2 s CPU) to check for pandas objects, which a whole-table command never passes.


def _float64_numpy(values) -> np.ndarray:
    """A float64 Arrow array or chunked array without nulls as numpy, from its buffers."""
    chunks = values.chunks if hasattr(values, "chunks") else [values]
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=np.float64)[
            chunk.offset : chunk.offset + len(chunk)
        ]
        for chunk in chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def _from_numpy(values: np.ndarray):
    """A numpy bool or number array as an Arrow array (sharing its memory where it can)."""
    import pyarrow as pa

    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    values = np.ascontiguousarray(values)
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _text_array(values):
    """Cells that are all str or None as an Arrow string array (None: missing), or None when
    a cell is anything else or holds a line break: the cells are joined by line breaks,
    encoded once and split by Arrow, with no conversion per cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=object)
    n = len(values)
    missing = np.equal(values, None)
    try:
        joined = "\n".join(np.where(missing, "", values).tolist())
    except TypeError:  # a cell that is not text
        return None
    if n == 0 or joined.count("\n") != n - 1:
        return None
    data = joined.encode("utf-8")
    offsets = np.array([0, len(data)], dtype=np.int64)
    one = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    cells = pc.split_pattern(one, "\n").flatten()
    if missing.any():
        cells = pc.if_else(_from_numpy(missing), pa.nulls(n, pa.large_string()), cells)
    return cells.cast(pa.string())


def _to_arrow(values):
    """``values`` (an Arrow array, a numpy array or a sequence) as an Arrow array."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values  # Arrow data as it is (pa.array would convert it cell by cell)
    if isinstance(values, np.ndarray) and (values.dtype == np.bool_ or values.dtype.kind in "iuf"):
        return _from_numpy(values)
    text = _text_array(values)
    if text is not None:
        return text
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (ids of several kinds)
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


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
    true_false = _text_array(["False", "True"])
    for name, values in added.items():
        array = _to_arrow(values)
        if pa.types.is_boolean(array.type):  # no nulls here: a flag per row
            array = pc.take(true_false, array.cast(pa.int8()))
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
