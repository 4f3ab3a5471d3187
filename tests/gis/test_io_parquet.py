"""GeoParquet and plain Parquet through gis.io, and the column-wise point-table path.

What we write is read by DuckDB's spatial extension (an implementation we did not write) and
compared with shapely; generated CSV point tables read column-wise
(:func:`gis.io.read_point_table`) must give what the general reader (:func:`gis.io.read_layer`)
gives, and every file the fast path declines must be one the general reader refuses or reads.
"""

from __future__ import annotations

import pathlib

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.assign import assign_lonlat, assign_points
from gis.crs import WGS84
from gis.errors import InputError, UnreadableFileError
from gis.io import ReadLimits, read_layer, read_point_table, write_csv_columns, write_layer
from tests.gis.test_io import points, polygons

UNBOUNDED = ReadLimits(max_rows=None)


def _duckdb() -> duckdb.DuckDBPyConnection:
    import duckdb_extension_spatial

    root = pathlib.Path(duckdb_extension_spatial.__file__).parent
    con = duckdb.connect()
    con.load_extension(str(next(root.glob("extensions/*/spatial.duckdb_extension"))))
    return con


def test_geoparquet_we_write_is_read_by_duckdb_with_the_same_geometries(tmp_path):
    frame = polygons()
    path = write_layer(frame, tmp_path / "grids.parquet")
    con = _duckdb()
    rows = con.execute(
        f"SELECT code, households, ST_AsWKB(geometry) FROM read_parquet('{path}') ORDER BY code"
    ).fetchall()
    con.close()
    assert [r[0] for r in rows] == frame["code"].tolist()
    assert [r[1] for r in rows] == frame["households"].tolist()
    got = shapely.from_wkb([bytes(r[2]) for r in rows])
    assert shapely.equals_exact(got, frame.geometry.to_numpy(), tolerance=0).all()


def test_geoparquet_keeps_a_projected_crs_and_reads_back_as_cgcs2000(tmp_path):
    frame = polygons().to_crs(4549)
    path = write_layer(frame, tmp_path / "projected.parquet")
    assert gpd.read_parquet(path).crs.to_epsg() == 4549  # the file says its CRS
    back = read_layer(path)  # gis.io answers CGCS2000 lon/lat for a CGCS2000-based CRS
    assert back.crs.to_epsg() == 4490
    want = frame.to_crs(4490).geometry.to_numpy()
    assert shapely.equals_exact(back.geometry.to_numpy(), want, tolerance=1e-9).all()


def test_duckdb_written_geoparquet_is_read_by_gis_io(tmp_path):
    path = tmp_path / "from_duckdb.parquet"
    con = _duckdb()
    con.execute(
        "COPY (SELECT 'a' AS code, ST_GeomFromText('POLYGON((121 31, 121.1 31, 121.1 31.1, "
        f"121 31))') AS geometry) TO '{path}' (FORMAT parquet)"
    )
    con.close()
    back = read_layer(path, geometry_type="polygon")
    assert back["code"].tolist() == ["a"]
    assert back.geometry.iloc[0].equals(
        shapely.from_wkt("POLYGON((121 31, 121.1 31, 121.1 31.1, 121 31))")
    )


def test_plain_parquet_point_table_reads_like_a_csv(tmp_path):
    table = pd.DataFrame({"address": ["a", "b"], "lon": [121.5, 121.6], "lat": [31.2, 31.3]})
    table.to_parquet(tmp_path / "p.parquet")
    back = read_layer(tmp_path / "p.parquet", geometry_type="point")
    assert back.crs.to_epsg() == 4326
    assert shapely.get_x(back.geometry.to_numpy()).tolist() == [121.5, 121.6]
    assert back["address"].tolist() == ["a", "b"]
    fast = read_point_table(tmp_path / "p.parquet", limits=UNBOUNDED)
    assert fast is not None and fast.lon.tolist() == [121.5, 121.6]
    table.loc[1, "lat"] = None
    table.to_parquet(tmp_path / "bad.parquet")
    assert read_point_table(tmp_path / "bad.parquet", limits=UNBOUNDED) is None
    with pytest.raises(InputError, match=r"row 2.*'lat'.*empty"):
        read_layer(tmp_path / "bad.parquet")


def test_parquet_row_bound_is_checked_from_the_footer(tmp_path):
    write_layer(points(), tmp_path / "p.parquet")
    with pytest.raises(InputError, match="more than 2 rows"):
        read_layer(tmp_path / "p.parquet", limits=ReadLimits(max_rows=2))
    assert len(read_layer(tmp_path / "p.parquet", limits=ReadLimits(max_rows=3))) == 3


def test_a_damaged_parquet_file_is_unreadable(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UnreadableFileError, match="Parquet"):
        read_layer(tmp_path / "x.parquet")


# --- the column-wise point table against the general reader ------------------------------

cells = st.one_of(
    st.floats(-180, 180, allow_nan=False).map(repr),
    st.sampled_from(["", " ", "nan", "inf", "abc", "1e3", " 121.5 ", "-0", "91", "200"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lons=st.lists(cells, min_size=1, max_size=8),
    lats=st.lists(st.floats(-90, 90, allow_nan=False).map(repr) | st.sampled_from(["", "x", "95"]),
                  min_size=8, max_size=8),
    encoding=st.sampled_from(["utf-8-sig", "utf-8", "gbk"]),
)  # fmt: skip
def test_fast_reader_agrees_with_the_general_reader(tmp_path, lons, lats, encoding):
    n = len(lons)
    text = "名称,经度,纬度\n" + "".join(
        f"{'网格' + str(i)},{lons[i]},{lats[i]}\n" for i in range(n)
    )
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    fast = read_point_table(path, limits=UNBOUNDED)
    try:
        general = read_layer(path, limits=UNBOUNDED, keep_file_coordinates=True)
    except InputError:
        assert fast is None  # whatever the general reader refuses, the fast path declines
        return
    if fast is None:  # declined but readable (e.g. a row of blanks): the general path answers
        return
    geoms = general.geometry.to_numpy()
    assert np.array_equal(fast.lon, shapely.get_x(geoms))
    assert np.array_equal(fast.lat, shapely.get_y(geoms))
    assert fast.table.column("名称").to_pylist() == general["名称"].tolist()
    # the text written back for the coordinates reads as the very same numbers
    lon_out, lat_out = fast.lonlat_for_writing()
    assert [float(v) for v in lon_out.to_pylist()] == fast.lon.tolist()
    assert [float(v) for v in lat_out.to_pylist()] == fast.lat.tolist()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(121.48, 121.52), st.floats(31.23, 31.26)), min_size=1,
                max_size=300))  # fmt: skip
def test_assign_lonlat_equals_assign_points(xy):
    grids = polygons()
    xs, ys = np.array([p[0] for p in xy]), np.array([p[1] for p in xy])
    want = assign_points(gpd.GeoSeries(shapely.points(xs, ys), crs=4326), grids).tolist()
    assert assign_lonlat(xs, ys, WGS84, grids).tolist() == want
    assert (
        assign_lonlat(xs, ys, WGS84, grids.to_crs(4549)).tolist()
        == assign_points(
            gpd.GeoSeries(shapely.points(xs, ys), crs=4326), grids.to_crs(4549)
        ).tolist()
    )


def test_written_columns_keep_the_text_and_are_read_back_by_duckdb(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes('编号,lon,lat,备注\n001,121.5,31.2,"含,逗号"\n002,121.6,31.3,\n'.encode("gbk"))
    table = read_point_table(path, limits=UNBOUNDED)
    assert table is not None
    out = write_csv_columns(
        table.table, {"grid_code": np.array(["g1", None], dtype=object),
                      "outside": np.array([False, True])}, tmp_path / "out.csv",
    )  # fmt: skip
    assert out.read_bytes().startswith("\ufeff".encode())
    back = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert back["编号"].tolist() == ["001", "002"]  # text as written, leading zero kept
    assert back["备注"].tolist() == ["含,逗号", ""]
    assert back["grid_code"].tolist() == ["g1", ""] and back["outside"].tolist() == [
        "False",
        "True",
    ]
    con = duckdb.connect()
    got = con.execute(f"SELECT count(*) FROM read_csv('{out}', header=true)").fetchone()[0]
    con.close()
    assert got == 2
    assert not list(tmp_path.glob(".*partial"))


def test_arrow_columns_are_written_as_they_are(tmp_path):
    import pyarrow as pa

    chunked = pa.chunked_array([["121.50", " 1e2"], [None, "-0.0"]])
    out = write_csv_columns(
        pa.table({"a": ["w", "x", "y", "z"]}),
        {"lon_wgs84": chunked, "n": pa.array([1.5, None, 3.0, 4.25])},
        tmp_path / "a.csv",
    )
    back = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert back["lon_wgs84"].tolist() == ["121.50", " 1e2", "", "-0.0"]
    assert back["n"].tolist() == ["1.5", "", "3", "4.25"]


def test_grid_ids_of_mixed_kinds_are_written_as_text(tmp_path):
    import pyarrow as pa

    out = write_csv_columns(
        pa.table({"a": ["x", "y", "z"]}),
        {"grid_code": np.array([1, "b", None], dtype=object)},
        tmp_path / "m.csv",
    )
    back = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert back["grid_code"].tolist() == ["1", "b", ""]
