"""gis.io.grid_layers against GDAL: where the light reader answers, its codes, geometries and
CRS are exactly what read_layer (pyogrio/GDAL, geopandas) reads from the same file.

Layers are generated (polygons and multipolygons, with holes, with Z, codes of any text,
several CRSs), written by GDAL (pyogrio) and by the project's writer (write_layer: GeoPackage
through GDAL, GeoParquet through its own writer); GeoPackage blobs are then rewritten with
every envelope kind and both byte orders, which GDAL must read alike.
"""

from __future__ import annotations

import sqlite3
import struct
from contextlib import closing

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS

from gis.io import ReadLimits, read_layer, write_layer
from gis.io.grid_layers import read_grid_layer

UNBOUNDED = ReadLimits(max_rows=None)
FIXTURE = HealthCheck.function_scoped_fixture


@st.composite
def grid_shapes(draw, z: bool):
    """A polygon (perhaps with a hole) or a multipolygon of two, somewhere in China."""
    x = draw(st.floats(73.0, 134.0, allow_nan=False))
    y = draw(st.floats(4.0, 53.0, allow_nan=False))
    w = draw(st.floats(1e-4, 0.5, allow_nan=False))
    h = draw(st.floats(1e-4, 0.5, allow_nan=False))
    outer = shapely.box(x, y, x + w, y + h)
    kind = draw(st.sampled_from(["box", "hole", "multi"]))
    if kind == "hole":
        shape = outer.difference(shapely.box(x + w / 4, y + h / 4, x + w / 2, y + h / 2))
    elif kind == "multi":
        shape = shapely.MultiPolygon([outer, shapely.box(x + 2 * w, y, x + 3 * w, y + h)])
    else:
        shape = outer
    if z:
        shape = shapely.force_3d(shape, draw(st.floats(-100.0, 100.0, allow_nan=False)))
    return shape


@st.composite
def grid_layers(draw):
    z = draw(st.booleans())
    n = draw(st.integers(1, 6))
    shapes = draw(st.lists(grid_shapes(z), min_size=n, max_size=n))
    codes = draw(
        st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=8)), min_size=n, max_size=n)
    )
    epsg = draw(st.sampled_from([4326, 4490]))
    return gpd.GeoDataFrame(
        {"code": codes, "name": [f"网格{i}" for i in range(n)]}, geometry=shapes, crs=epsg
    )


def assert_same(light, path, **kwargs):
    oracle = read_layer(path, geometry_type="polygon", limits=UNBOUNDED, **kwargs)
    assert light is not None
    # a missing code: None here; None or NaN from pandas (both are missing to every consumer)
    assert list(light.ids) == [None if pd.isna(c) else c for c in oracle["code"].tolist()]
    want = shapely.to_wkb(np.asarray(oracle.geometry.values))
    got = shapely.to_wkb(light.geoms)
    assert list(got) == list(want)
    assert light.crs == oracle.crs


def blob_geometry(blob: bytes):
    """The geometry of a GeoPackage blob (for the R-tree triggers GDAL puts on the table)."""
    envelope_bytes = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
    return shapely.from_wkb(blob[8 + envelope_bytes :])


def with_rtree_functions(db: sqlite3.Connection) -> sqlite3.Connection:
    """The SQL functions GDAL's R-tree triggers call (SpatiaLite's names), over shapely."""
    db.create_function("ST_IsEmpty", 1, lambda b: int(b is None or blob_geometry(b).is_empty))
    for k, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        db.create_function(name, 1, lambda b, k=k: float(blob_geometry(b).bounds[k]))
    return db


def rewrite_blobs(path, *, big_endian: bool, envelope: int) -> None:
    """Rewrite every geometry blob of the file's one layer: header byte order and envelope
    kind as asked (0 none, 1 xy, 2 xyz, 3 xym, 4 xyzm), WKB in the same byte order."""
    with closing(with_rtree_functions(sqlite3.connect(path))) as db:
        (table, column), *_ = db.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns"
        ).fetchall()
        rows = db.execute(f'SELECT rowid, "{column}" FROM "{table}"').fetchall()
        order = ">" if big_endian else "<"
        for rowid, blob in rows:
            flags = blob[3]
            envelope_bytes = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
            srs_id = struct.unpack("<i" if flags & 1 else ">i", blob[4:8])[0]
            geom = shapely.from_wkb(blob[8 + envelope_bytes :])
            x0, y0, x1, y1 = shapely.bounds(geom)
            zs = shapely.get_coordinates(geom, include_z=True)[:, 2]
            z0, z1 = (float(np.nanmin(zs)), float(np.nanmax(zs))) if shapely.has_z(geom) else (0, 0)
            values = {
                0: (),
                1: (x0, x1, y0, y1),
                2: (x0, x1, y0, y1, z0, z1),
                3: (x0, x1, y0, y1, 0.0, 0.0),
                4: (x0, x1, y0, y1, z0, z1, 0.0, 0.0),
            }
            header = b"GP\x00" + bytes([(envelope << 1) | (0 if big_endian else 1)])
            header += struct.pack(f"{order}i{len(values[envelope])}d", srs_id, *values[envelope])
            wkb = shapely.to_wkb(geom, byte_order=0 if big_endian else 1, flavor="iso")
            db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                       (header + wkb, rowid))  # fmt: skip
        db.commit()


@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE])
@given(frame=grid_layers(), big_endian=st.booleans(), envelope=st.integers(0, 4),
       writer=st.sampled_from(["gdal", "wangge"]))  # fmt: skip
def test_geopackage_reads_as_gdal_reads_it(tmp_path_factory, frame, big_endian, envelope, writer):
    path = tmp_path_factory.mktemp("gpkg") / "grids.gpkg"
    if writer == "gdal":
        frame.to_file(path, driver="GPKG", layer="grids")
    else:
        write_layer(frame, path)
    rewrite_blobs(path, big_endian=big_endian, envelope=envelope)
    light = read_grid_layer(path, code_field="code", limits=UNBOUNDED)
    assert_same(light, path)


@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE])
@given(frame=grid_layers(), writer=st.sampled_from(["geopandas", "wangge"]),
       crs=st.sampled_from(["keep", "projjson-4326", "absent", "null"]))  # fmt: skip
def test_geoparquet_reads_as_geopandas_reads_it(tmp_path_factory, frame, writer, crs):
    path = tmp_path_factory.mktemp("parquet") / "grids.parquet"
    if writer == "geopandas":
        frame.to_parquet(path)
    else:
        write_layer(frame, path)
    if crs != "keep":
        set_geo_crs(path, crs)
    light = read_grid_layer(path, code_field="code", limits=UNBOUNDED)
    assert_same(light, path)


def set_geo_crs(path, how: str) -> None:
    """Rewrite the file's ``geo`` metadata: the CRS as EPSG:4326 PROJJSON, absent or null."""
    import json

    import pyarrow.parquet as pq

    table = pq.read_table(path)
    geo = json.loads(table.schema.metadata[b"geo"])
    column = geo["columns"][geo["primary_column"]]
    if how == "absent":
        column.pop("crs", None)
    elif how == "null":
        column["crs"] = None
    else:
        column["crs"] = CRS.from_epsg(4326).to_json_dict()
    metadata = {**table.schema.metadata, b"geo": json.dumps(geo).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def demo_layer(epsg: int = 4326) -> gpd.GeoDataFrame:
    shapes = [shapely.box(121, 31, 121.01, 31.01), shapely.box(121.01, 31, 121.02, 31.01)]
    return gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=shapes, crs=4326).to_crs(epsg)


def test_several_layers_answer_only_for_the_layer_named(tmp_path):
    path = tmp_path / "two.gpkg"
    demo_layer().to_file(path, layer="grids")
    demo_layer().iloc[:1].to_file(path, layer="other")
    assert read_grid_layer(path, code_field="code") is None  # read_layer asks for a layer
    assert_same(read_grid_layer(path, code_field="code", layer="other"), path, layer="other")
    assert read_grid_layer(path, code_field="code", layer="nope") is None


@pytest.mark.parametrize(
    "case",
    ["projected", "input_crs", "no_code", "int_code", "empty", "null", "rows", "vertices",
     "not_sqlite", "geojson", "plain_parquet", "beijing54"],
)  # fmt: skip
def test_the_general_reader_answers_the_rest(tmp_path, case):
    """Cases read_layer must answer (it reprojects, converts or names an error): None."""
    frame = demo_layer()
    path = tmp_path / "grids.gpkg"
    kwargs = {}
    limits = UNBOUNDED
    if case == "projected":
        frame = demo_layer(3857)
    elif case == "beijing54":
        frame = demo_layer(4214)
    elif case == "input_crs":
        kwargs = {"input_crs": "gcj02"}
    elif case == "no_code":
        frame = frame.rename(columns={"code": "grid"})
    elif case == "int_code":
        frame["code"] = [1, 2]
    elif case == "empty":
        frame.loc[1, "geometry"] = shapely.Polygon()
    elif case == "null":
        frame.loc[1, "geometry"] = None
    elif case == "rows":
        limits = ReadLimits(max_rows=1)
    elif case == "vertices":
        limits = ReadLimits(max_vertices=4)
    if case == "not_sqlite":
        path.write_bytes(b"not a database")
    elif case == "geojson":
        path = tmp_path / "grids.geojson"
        frame.to_file(path)
    elif case == "plain_parquet":
        path = tmp_path / "grids.parquet"
        frame.drop(columns="geometry").to_parquet(path)
    else:
        frame.to_file(path)
    assert read_grid_layer(path, code_field="code", limits=limits, **kwargs) is None
    if case in ("vertices",):  # the bound is read_layer's to report
        with pytest.raises(Exception, match="vertices"):
            read_layer(path, geometry_type="polygon", limits=limits)


@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE])
@given(frame=grid_layers(), writer=st.sampled_from(["geopandas", "wangge"]),
       epsg=st.sampled_from([4549, 4547, 32651, 3857, 4326]))  # fmt: skip
def test_geoparquet_kept_projected_reads_as_read_layer_keeps_it(tmp_path_factory, frame, writer,
                                                                  epsg):  # fmt: skip
    """keep_projected: a projected GeoParquet in its own CRS, as written; lon/lat as before."""
    path = tmp_path_factory.mktemp("parquet") / "grids.parquet"
    frame = frame.to_crs(epsg)
    if writer == "geopandas":
        frame.to_parquet(path)
    else:
        write_layer(frame, path)
    light = read_grid_layer(path, code_field="code", limits=UNBOUNDED, keep_projected=True)
    assert_same(light, path, keep_projected=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[FIXTURE])
@given(frame=grid_layers(), keep_projected=st.booleans(),
       epsg=st.sampled_from([4549, 32651, 4490, 4326]),
       ext=st.sampled_from(["parquet", "gpkg"]))  # fmt: skip
def test_a_boundary_reads_without_a_code_field(tmp_path_factory, frame, keep_projected, epsg, ext):
    """code_field None: the polygons only (ids their positions), as read_layer reads them; a
    projected file not kept, or a projected GeoPackage, is read_layer's to read."""
    path = tmp_path_factory.mktemp("boundary") / f"boundary.{ext}"
    frame = frame.drop(columns="code").to_crs(epsg)
    if ext == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path, driver="GPKG")
    light = read_grid_layer(path, code_field=None, limits=UNBOUNDED, keep_projected=keep_projected)
    if epsg not in (4326, 4490) and (ext == "gpkg" or not keep_projected):
        assert light is None
        return
    oracle = read_layer(path, geometry_type="polygon", limits=UNBOUNDED,
                        keep_projected=keep_projected)  # fmt: skip
    assert light is not None
    assert list(light.ids) == list(range(len(oracle)))
    assert list(shapely.to_wkb(light.geoms)) == list(shapely.to_wkb(oracle.geometry.values))
    assert light.crs == oracle.crs


def test_a_projected_geopackage_is_left_to_the_general_reader(tmp_path):
    path = tmp_path / "grids.gpkg"
    demo_layer(4549).to_file(path)
    assert read_grid_layer(path, code_field="code", keep_projected=True) is None
    assert read_grid_layer(path, code_field=None, keep_projected=True) is None
    lonlat = tmp_path / "lonlat.gpkg"
    demo_layer(4490).to_file(lonlat)  # lon/lat: read, with or without a code field
    assert_same(read_grid_layer(lonlat, code_field="code", keep_projected=True), lonlat)
    assert len(read_grid_layer(lonlat, code_field=None, keep_projected=True)) == 2
