"""The Arrow conversions of gis.io.columnar that avoid pyarrow's pandas shim agree with
pyarrow's own conversions (pa.array, Array.to_numpy) on generated values, and written CSV
columns read back as the values given."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.io.columnar import _float64_numpy, _to_arrow, write_csv_columns

cells = st.one_of(st.none(), st.text(max_size=12))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(cells, max_size=30))
def test_text_cells_convert_as_pa_array_converts_them(values):
    got = _to_arrow(np.array(values, dtype=object))
    want = pa.array(values, type=pa.string())
    assert got.to_pylist() == want.to_pylist()
    if any(v is not None for v in values):
        assert got.type in (pa.string(), pa.large_string())


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False), min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=3),
    start=st.integers(0, 5),
)
def test_float_chunks_read_as_to_numpy_reads_them(values, cuts, start):
    """Chunked and sliced (an offset into the buffer), as pyarrow hands CSV columns over."""
    bounds = sorted({0, len(values), *(c for c in cuts if c <= len(values))})
    chunks = [pa.array(values[a:b], type=pa.float64()) for a, b in pairwise(bounds)]
    column = pa.chunked_array(chunks, type=pa.float64())[min(start, len(values)) :]
    np.testing.assert_array_equal(_float64_numpy(column), column.to_numpy())


@given(
    flags=st.lists(st.booleans(), max_size=20),
    numbers=st.lists(st.integers(-(2**62), 2**62), max_size=20),
)
def test_numpy_flags_and_numbers_convert_as_pa_array_converts_them(flags, numbers):
    for values in (np.array(flags, dtype=bool), np.array(numbers, dtype=np.int64)):
        assert _to_arrow(values).to_pylist() == pa.array(values).to_pylist()


@settings(max_examples=50, deadline=None)
@given(codes=st.lists(cells, min_size=1, max_size=20))
def test_written_columns_read_back(tmp_path_factory, codes):
    path = tmp_path_factory.mktemp("csv") / "out.csv"
    n = len(codes)
    table = pa.table({"id": pa.array([str(i) for i in range(n)])})
    outside = np.array([c is None for c in codes])
    write_csv_columns(table, {"grid_code": np.array(codes, dtype=object), "outside": outside},
                      path)  # fmt: skip
    convert = pacsv.ConvertOptions(
        column_types={"grid_code": pa.string(), "outside": pa.string()},
        strings_can_be_null=True, quoted_strings_can_be_null=False,
    )  # fmt: skip
    back = pacsv.read_csv(path, convert_options=convert)
    assert back["grid_code"].to_pylist() == codes
    assert back["outside"].to_pylist() == [str(bool(o)) for o in outside]
