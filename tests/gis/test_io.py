"""Tests for gis.io: every format round trip, encodings, CRS rules and clear input errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely import LineString, MultiPolygon, Point, Polygon

from gis.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from gis.errors import (
    CRSMismatchError,
    GeometryTypeError,
    InputError,
    UnknownCRSError,
    UnreadableFileError,
)
from gis.io import SUPPORTED_EXTENSIONS, read_layer, write_layer

# --- fixtures built in code -------------------------------------------------------------


def polygons() -> gpd.GeoDataFrame:
    outer = [(121.490, 31.240), (121.500, 31.240), (121.500, 31.250), (121.490, 31.250)]
    hole = [(121.493, 31.243), (121.497, 31.243), (121.497, 31.247), (121.493, 31.247)]
    return gpd.GeoDataFrame(
        {
            "code": ["310109001001001", "310109001001002", "310109001001003"],
            "name": ["北外滩第一网格", "提篮桥网格", "多部分网格"],
            "households": [312, 455, 80],
            "area_ha": [12.5, 8.25, 1.125],
        },
        geometry=[
            Polygon(outer, [hole]),
            Polygon([(121.50, 31.24), (121.5123456789012, 31.24), (121.51, 31.25)]),
            MultiPolygon(
                [
                    Polygon([(121.52, 31.24), (121.53, 31.24), (121.53, 31.25)]),
                    Polygon([(121.54, 31.24), (121.55, 31.24), (121.55, 31.25)]),
                ]
            ),
        ],
        crs=4326,
    )


def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "address": ["东大名路 1 号", "长治路 25 弄 3 号", "Dongdaming Rd 9"],
            "households": [12, 30, 1],
        },
        geometry=[Point(121.4912345678901, 31.2456), Point(121.5, 31.25), Point(121.52, 31.23)],
        crs=4326,
    )


def normalized(frame: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.normalize(np.asarray(frame.geometry.values))


def assert_same_geometries(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, tol_deg=1e-9):
    assert len(got) == len(want)
    g, w = normalized(got), normalized(want)
    # Shapefiles have no single Polygon/MultiPolygon distinction to keep: compare shapes.
    assert shapely.equals_exact(g, w, tolerance=tol_deg).all(), (g, w)


def assert_same_attributes(got, want, columns, *, as_text=False):
    for column in columns:
        got_values = got[column].tolist()
        want_values = want[column].tolist()
        if as_text:  # KML keeps integers as text (and floats as numbers)
            got_values = [str(v) for v in got_values]
            want_values = [str(v) for v in want_values]
        assert got_values == want_values, column


VECTOR_EXTENSIONS = [".geojson", ".json", ".gpkg", ".shp", ".kml", ".parquet"]
TABLE_EXTENSIONS = [".csv", ".xlsx"]


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("ext", VECTOR_EXTENSIONS + TABLE_EXTENSIONS)
@pytest.mark.parametrize("make", [polygons, points], ids=["polygons", "points"])
def test_round_trip_every_format(tmp_path, ext, make):
    frame = make()
    written = write_layer(frame, tmp_path / f"layer{ext}")
    assert written == tmp_path / f"layer{ext}"
    back = read_layer(written)
    assert back.crs.to_epsg() == 4326
    assert_same_geometries(back, frame)
    columns = [c for c in frame.columns if c != "geometry"]
    assert_same_attributes(back, frame, columns, as_text=ext == ".kml")


def test_round_trip_keeps_cgcs2000_label_in_gpkg_and_shapefile(tmp_path):
    frame = polygons().set_crs(4490, allow_override=True)
    for ext in (".gpkg", ".shp"):
        back = read_layer(write_layer(frame, tmp_path / f"c{ext}"))
        assert back.crs.to_epsg() == 4490
        assert_same_geometries(back, frame)


@pytest.mark.parametrize("ext", [".geojson", ".gpkg", ".csv"])
def test_z_coordinates_are_dropped_and_flat_layers_kept(tmp_path, ext):
    flat = polygons()
    lifted = flat.set_geometry(shapely.force_3d(np.asarray(flat.geometry.values), z=12.5))
    back = read_layer(write_layer(lifted, tmp_path / f"z{ext}"))
    assert not shapely.has_z(np.asarray(back.geometry.values)).any()
    assert_same_geometries(back, flat)
    mixed = pd.concat([flat.iloc[:1], lifted.iloc[1:]])  # only some features carry a Z
    back = read_layer(write_layer(gpd.GeoDataFrame(mixed, crs=flat.crs), tmp_path / f"m{ext}"))
    assert not shapely.has_z(np.asarray(back.geometry.values)).any()
    assert_same_geometries(back, flat)


def test_list_columns_joined_except_in_geojson(tmp_path):
    frame = points()
    frame["grid_codes"] = [["310109001001001", "310109001001002"], ["310109001001003"], []]
    for ext in (".gpkg", ".shp", ".csv", ".xlsx", ".kml"):
        back = read_layer(write_layer(frame, tmp_path / f"l{ext}"))
        assert back["grid_codes"].iloc[0] == "310109001001001,310109001001002"
        assert back["grid_codes"].iloc[1] == "310109001001003"
    back = read_layer(write_layer(frame, tmp_path / "l.geojson"))
    assert back["grid_codes"].iloc[0] == ["310109001001001", "310109001001002"]


def test_geojson_is_written_in_wgs84_from_a_projected_frame(tmp_path):
    frame = polygons()
    projected = frame.to_crs(4549)
    path = write_layer(projected, tmp_path / "sub" / "dir" / "grids.geojson")  # parents made
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in document  # RFC 7946: no crs member, always WGS84
    first = document["features"][1]["geometry"]["coordinates"][0][0]
    assert min(abs(first[0] - x) for x in (121.50, 121.5123456789012, 121.51)) < 1e-8
    assert_same_geometries(read_layer(path), frame, tol_deg=1e-8)


def test_csv_point_table_has_lon_lat_columns_and_polygons_a_wkt_column(tmp_path):
    pts = pd.read_csv(write_layer(points(), tmp_path / "p.csv"), encoding="utf-8-sig")
    assert {"lon", "lat"} <= set(pts.columns)
    assert pts["lon"].iloc[0] == 121.4912345678901
    polys = pd.read_csv(write_layer(polygons(), tmp_path / "g.csv"), encoding="utf-8-sig")
    assert shapely.from_wkt(polys["wkt"].iloc[0]).equals(polygons().geometry.iloc[0])


def test_write_refuses_unknown_extension(tmp_path):
    with pytest.raises(InputError, match=r"unsupported output format '\.txt'"):
        write_layer(points(), tmp_path / "out.txt")


def test_write_refuses_long_shapefile_field_names(tmp_path):
    frame = points().rename(columns={"address": "门牌地址全文"})  # 18 bytes in UTF-8
    with pytest.raises(InputError, match="门牌地址全文"):
        write_layer(frame, tmp_path / "p.shp")


def test_shapefile_is_written_with_utf8_cpg(tmp_path):
    write_layer(points(), tmp_path / "p.shp")
    assert (tmp_path / "p.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
    write_layer(points().iloc[:1], tmp_path / "p.shp")  # overwriting works
    assert len(read_layer(tmp_path / "p.shp")) == 1


def test_supported_extensions_constant():
    assert set(VECTOR_EXTENSIONS + TABLE_EXTENSIONS + [".zip"]) == set(SUPPORTED_EXTENSIONS)


# --- shapefile encodings, parts and CRS -------------------------------------------------


def _gbk_shapefile(folder: Path, *, keep_cpg: bool) -> Path:
    path = folder / "gbk.shp"
    pyogrio.write_dataframe(points(), path, encoding="GBK")
    raw = (folder / "gbk.dbf").read_bytes()
    assert "东大名路".encode("gbk") in raw  # really GBK on disk
    if not keep_cpg:
        (folder / "gbk.cpg").unlink()
    return path


@pytest.mark.parametrize("keep_cpg", [True, False], ids=["with-cpg", "without-cpg"])
def test_gbk_shapefile_reads_chinese_text(tmp_path, keep_cpg):
    back = read_layer(_gbk_shapefile(tmp_path, keep_cpg=keep_cpg))
    assert back["address"].tolist() == points()["address"].tolist()


def test_gbk_shapefile_with_chinese_field_name_without_cpg(tmp_path):
    frame = points().rename(columns={"address": "门牌"})
    pyogrio.write_dataframe(frame, tmp_path / "f.shp", encoding="GBK")
    (tmp_path / "f.cpg").unlink()
    assert read_layer(tmp_path / "f.shp")["门牌"].tolist() == frame["门牌"].tolist()


def test_explicit_encoding_wins(tmp_path):
    path = _gbk_shapefile(tmp_path, keep_cpg=False)
    back = read_layer(path, encoding="GBK")
    assert back["address"].iloc[0] == "东大名路 1 号"


def test_undecodable_shapefile_text_is_a_clear_error(tmp_path):
    frame = points()
    frame["address"] = ["\xff\xfe\xff", "ÿÿÿ", "ok"]
    pyogrio.write_dataframe(frame, tmp_path / "bad.shp", encoding="latin1")
    (tmp_path / "bad.cpg").unlink()
    with pytest.raises(UnreadableFileError, match=r"bad\.shp.*neither UTF-8 nor GBK"):
        read_layer(tmp_path / "bad.shp")


@pytest.mark.parametrize("cpg", ["ANSI", "ansi\r\n", "", "SYSTEM", "not-an-encoding"])
def test_cpg_naming_no_encoding_reads_gbk_with_a_warning(tmp_path, cpg):
    path = _gbk_shapefile(tmp_path, keep_cpg=False)
    (tmp_path / "gbk.cpg").write_text(cpg, encoding="ascii")
    back = read_layer(path)
    assert back["address"].tolist() == points()["address"].tolist()  # no mojibake
    (warning,) = back.attrs["read_warnings"]
    assert "gbk.shp" in warning and repr(cpg.strip()) in warning and "GBK" in warning


def test_cpg_naming_no_encoding_over_utf8_text_reads_utf8_with_a_warning(tmp_path):
    write_layer(points(), tmp_path / "u.shp")
    (tmp_path / "u.cpg").write_text("ANSI", encoding="ascii")
    back = read_layer(tmp_path / "u.shp")
    assert back["address"].tolist() == points()["address"].tolist()
    assert "read as UTF-8" in back.attrs["read_warnings"][0]


@pytest.mark.parametrize("cpg", ["GBK", "936", "UTF-8", "CP936"])
def test_cpg_naming_a_real_encoding_is_honoured_without_warning(tmp_path, cpg):
    path = _gbk_shapefile(tmp_path, keep_cpg=False)
    if cpg.upper().startswith("UTF"):
        write_layer(points(), path)  # UTF-8 text for a UTF-8 .cpg
    (tmp_path / "gbk.cpg").write_text(cpg, encoding="ascii")
    back = read_layer(path)
    assert back["address"].tolist() == points()["address"].tolist()
    assert back.attrs["read_warnings"] == []


def test_cpg_naming_no_encoding_over_undecodable_text_is_refused(tmp_path):
    frame = points()
    frame["address"] = ["\xff\xfe\xff", "ÿÿÿ", "ok"]
    pyogrio.write_dataframe(frame, tmp_path / "bad.shp", encoding="latin1")
    (tmp_path / "bad.cpg").write_text("ANSI", encoding="ascii")
    with pytest.raises(UnreadableFileError, match=r"bad\.shp.*neither UTF-8 nor GBK.*'ANSI'"):
        read_layer(tmp_path / "bad.shp")


def test_shapefile_write_refuses_text_it_would_truncate(tmp_path):
    frame = points()
    frame["note"] = ["短", "长" * 85, None]  # 255 bytes in UTF-8
    with pytest.raises(InputError, match=r"note.*feature 2.*255 bytes.*GeoPackage.*allow-truncate"):
        write_layer(frame, tmp_path / "p.shp")
    assert not (tmp_path / "p.shp").exists()  # nothing written
    write_layer(frame, tmp_path / "p.gpkg")  # GeoPackage holds it whole
    assert read_layer(tmp_path / "p.gpkg")["note"].iloc[1] == "长" * 85
    frame["note"] = ["短", "长" * 84, None]  # 252 bytes: fits
    write_layer(frame, tmp_path / "p.shp")
    assert read_layer(tmp_path / "p.shp")["note"].iloc[1] == "长" * 84


def test_shapefile_write_truncates_when_allowed(tmp_path):
    frame = points().rename(columns={"address": "门牌地址全文"})
    frame["note"] = ["长" * 100, "x", "y"]
    write_layer(frame, tmp_path / "p.shp", allow_truncate=True)
    back = read_layer(tmp_path / "p.shp")
    assert len(back) == 3
    assert back["note"].iloc[0] == "长" * 84  # cut on a whole character: 252 bytes
    assert back["门牌地"].tolist() == points()["address"].tolist()  # 9 bytes, whole characters


def test_write_xy_columns_leave_the_named_lon_lat_alone(tmp_path):
    frame = points()
    frame["lon"], frame["lat"] = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    out = pd.read_csv(
        write_layer(frame, tmp_path / "p.csv", xy_columns=("x84", "y84")), encoding="utf-8-sig"
    )
    assert out["lon"].tolist() == [1.0, 2.0, 3.0]
    assert out["x84"].tolist() == frame.geometry.x.tolist()


def test_several_layers_error_names_the_layers_and_the_option(tmp_path):
    path = tmp_path / "two.gpkg"
    write_layer(polygons(), path, layer="grids")
    write_layer(polygons(), path, layer="old")
    with pytest.raises(InputError, match=r"two\.gpkg.*several layers.*--grids-layer: grids, old"):
        read_layer(path, layer_hint="--grids-layer")


@pytest.mark.parametrize("missing", [".dbf", ".shx"])
def test_shapefile_without_dbf_or_shx_is_unreadable(tmp_path, missing):
    write_layer(points(), tmp_path / "p.shp")
    (tmp_path / f"p{missing}").unlink()
    with pytest.raises(UnreadableFileError, match=rf"p\.shp.*missing p\{missing}"):
        read_layer(tmp_path / "p.shp")


def test_shapefile_without_prj_needs_input_crs(tmp_path):
    write_layer(points(), tmp_path / "p.shp")
    (tmp_path / "p.prj").unlink()
    with pytest.raises(UnknownCRSError, match=r"p\.shp.*CRS is unknown.*input_crs="):
        read_layer(tmp_path / "p.shp")
    back = read_layer(tmp_path / "p.shp", input_crs="wgs84")
    assert back.crs.to_epsg() == 4326
    assert_same_geometries(back, points())
    assert read_layer(tmp_path / "p.shp", input_crs="EPSG:4490").crs.to_epsg() == 4490


def test_zipped_shapefile(tmp_path):
    write_layer(polygons(), tmp_path / "grids.shp")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in ("shp", "shx", "dbf", "prj", "cpg"):
            zf.write(tmp_path / f"grids.{part}", f"data/grids.{part}")
    back = read_layer(archive, geometry_type="polygon")
    assert_same_geometries(back, polygons())
    assert back["name"].tolist() == polygons()["name"].tolist()


def test_zip_without_shapefile_is_an_error(tmp_path):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(InputError, match=r"empty\.zip.*exactly one Shapefile"):
        read_layer(archive)


# --- projected sources and input_crs ----------------------------------------------------


def test_projected_cgcs2000_source_is_reprojected_to_4490(tmp_path):
    frame = polygons()
    write_layer(frame.to_crs(4549), tmp_path / "gk.gpkg")
    back = read_layer(tmp_path / "gk.gpkg")
    assert back.crs.to_epsg() == 4490
    assert_same_geometries(back, frame, tol_deg=1e-8)


def test_projected_utm_source_is_reprojected_to_4326(tmp_path):
    frame = points()
    write_layer(frame.to_crs(32651), tmp_path / "utm.shp")
    back = read_layer(tmp_path / "utm.shp")
    assert back.crs.to_epsg() == 4326
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    x, y = to_utm.transform(back.geometry.x, back.geometry.y)
    want = frame.to_crs(32651)
    np.testing.assert_allclose(x, want.geometry.x, atol=1e-6)
    np.testing.assert_allclose(y, want.geometry.y, atol=1e-6)


def test_input_crs_contradicting_a_projected_file_is_a_mismatch(tmp_path):
    write_layer(polygons().to_crs(4549), tmp_path / "gk.gpkg")
    with pytest.raises(CRSMismatchError, match=r"gk\.gpkg.*projected CRS"):
        read_layer(tmp_path / "gk.gpkg", input_crs="gcj02")


def test_gcj02_csv_is_converted_to_wgs84(tmp_path):
    wgs = points()
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy())
    pd.DataFrame({"name": ["a", "b", "c"], "lng": gcj_lon, "lat": gcj_lat}).to_csv(
        tmp_path / "amap.csv", index=False
    )
    back = read_layer(tmp_path / "amap.csv", input_crs="GCJ-02")
    assert back.crs.to_epsg() == 4326
    want_lon, want_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    np.testing.assert_allclose(back.geometry.x, want_lon, atol=1e-12)
    np.testing.assert_allclose(back.geometry.y, want_lat, atol=1e-12)
    np.testing.assert_allclose(back.geometry.x, wgs.geometry.x, atol=1e-8)  # ~1 mm
    # the lon/lat columns hold the returned coordinates
    np.testing.assert_allclose(back["lng"], back.geometry.x, atol=0)


def test_bd09_geojson_polygons_are_converted_to_wgs84(tmp_path):
    wgs = polygons()
    bd = wgs.copy()
    bd.geometry = shapely.transform(
        np.asarray(wgs.geometry.values),
        lambda xy: np.column_stack(wgs84_to_bd09(xy[:, 0], xy[:, 1])),
    )
    write_layer(bd, tmp_path / "baidu.geojson")
    back = read_layer(tmp_path / "baidu.geojson", input_crs="baidu")
    assert back.crs.to_epsg() == 4326
    # what the file holds, converted independently vertex by vertex
    raw = np.asarray(read_layer(tmp_path / "baidu.geojson").geometry.values)
    raw_xy, raw_index = shapely.get_coordinates(raw, return_index=True)
    got_xy, got_index = shapely.get_coordinates(np.asarray(back.geometry.values), return_index=True)
    np.testing.assert_array_equal(got_index, raw_index)
    np.testing.assert_allclose(got_xy, np.column_stack(bd09_to_wgs84(*raw_xy.T)), atol=1e-12)
    # and the result is the original WGS84 geometry within ~1 mm
    hausdorff_deg = shapely.hausdorff_distance(
        np.asarray(back.geometry.values), np.asarray(wgs.geometry.values)
    )
    assert hausdorff_deg.max() < 1e-8


def test_geojson_without_crs_member_is_wgs84(tmp_path):
    path = tmp_path / "plain.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"名称": "北外滩"},
                        "geometry": {"type": "Point", "coordinates": [121.49, 31.25]},
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    back = read_layer(path)
    assert back.crs.to_epsg() == 4326
    assert back["名称"].iloc[0] == "北外滩"


# --- CSV / XLSX -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon_name", "lat_name"),
    [("经度", "纬度"), ("Longitude", "LATITUDE"), ("lng", "lat"), ("X", "y"), ("lon", "Lat")],
)
@pytest.mark.parametrize("ext", TABLE_EXTENSIONS)
def test_table_lon_lat_columns_are_detected(tmp_path, ext, lon_name, lat_name):
    df = pd.DataFrame(
        {
            "门牌": ["东大名路 1 号", "长治路 2 号"],
            lon_name: [121.49, 121.5],
            lat_name: [31.24, 31.25],
        }
    )
    path = tmp_path / f"t{ext}"
    df.to_csv(path, index=False) if ext == ".csv" else df.to_excel(path, index=False)
    back = read_layer(path, geometry_type="point")
    np.testing.assert_array_equal(back.geometry.x, [121.49, 121.5])
    np.testing.assert_array_equal(back.geometry.y, [31.24, 31.25])
    assert back["门牌"].tolist() == ["东大名路 1 号", "长治路 2 号"]


def test_explicit_lon_lat_columns(tmp_path):
    pd.DataFrame({"east": [121.49], "north": [31.24], "x": ["not coords"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    back = read_layer(tmp_path / "t.csv", lon_col="east", lat_col="north")
    assert back.geometry.iloc[0].equals(Point(121.49, 31.24))
    with pytest.raises(InputError, match="no column 'nope'"):
        read_layer(tmp_path / "t.csv", lon_col="nope", lat_col="north")


def test_gbk_csv_is_read(tmp_path):
    pd.DataFrame({"经度": [121.49], "纬度": [31.24], "名称": ["虹口"]}).to_csv(
        tmp_path / "gbk.csv", index=False, encoding="gbk"
    )
    assert read_layer(tmp_path / "gbk.csv")["名称"].iloc[0] == "虹口"


def test_csv_keeps_codes_as_text(tmp_path):
    (tmp_path / "c.csv").write_text(
        "lon,lat,code,id_number,households\n"
        "121.49,31.24,001,31010919900101123X,12\n"
        "121.50,31.25,017,310109199001011234,30\n",
        encoding="utf-8",
    )
    back = read_layer(tmp_path / "c.csv")
    assert back["code"].tolist() == ["001", "017"]
    assert back["id_number"].tolist() == ["31010919900101123X", "310109199001011234"]
    assert back["households"].tolist() == [12, 30]


def test_csv_with_columns_not_found_lists_them(tmp_path):
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError, match=r"t\.csv.*cannot find lon/lat columns \(found: a, b\)"):
        read_layer(tmp_path / "t.csv")


def test_csv_bad_number_names_row_three(tmp_path):
    (tmp_path / "bad.csv").write_text(
        "name,lon,lat\na,121.49,31.24\nb,121.5x,31.25\nc,121.51,31.26\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"bad\.csv.*row 3.*'lon'.*not a number: '121\.5x'"):
        read_layer(tmp_path / "bad.csv")


def test_csv_row_numbers_count_blank_lines(tmp_path):
    (tmp_path / "gap.csv").write_text(
        "name,lon,lat\na,121.49,31.24\n\nb,121.5,\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"row 4.*'lat' 为空 / is empty"):
        read_layer(tmp_path / "gap.csv")


def test_xlsx_bad_number_names_row(tmp_path):
    pd.DataFrame({"lon": [121.49, 121.5, "东经121"], "lat": [31.24, 31.25, 31.26]}).to_excel(
        tmp_path / "bad.xlsx", index=False
    )
    with pytest.raises(InputError, match=r"bad\.xlsx.*row 4.*not a number"):
        read_layer(tmp_path / "bad.xlsx")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_csv_nan_and_inf_are_rejected(tmp_path, value):
    (tmp_path / "n.csv").write_text(f"lon,lat\n121.49,31.24\n{value},31.25\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"n\.csv.*row 3"):
        read_layer(tmp_path / "n.csv")


def test_swapped_lon_lat_is_explained(tmp_path):
    (tmp_path / "s.csv").write_text("lat,lon\n121.49,31.24\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.csv.*row 2.*latitude out of range.*swapped"):
        read_layer(tmp_path / "s.csv")


def test_longitude_out_of_range(tmp_path):
    (tmp_path / "o.csv").write_text("lon,lat\n121.49,31.24\n200.5,31.24\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3.*longitude out of range"):
        read_layer(tmp_path / "o.csv")


def test_projected_numbers_in_a_geojson_are_out_of_range(tmp_path):
    frame = points().to_crs(4549).set_crs(None, allow_override=True).set_crs(4326)
    pyogrio.write_dataframe(frame, tmp_path / "wrong.geojson")
    with pytest.raises(InputError, match=r"wrong\.geojson.*feature 1.*latitude out of range"):
        read_layer(tmp_path / "wrong.geojson")


def test_xlsx_sheet_choice(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover"]}).to_excel(writer, sheet_name="说明", index=False)
        pd.DataFrame({"lon": [121.49], "lat": [31.24]}).to_excel(
            writer, sheet_name="点位", index=False
        )
    assert len(read_layer(path, layer="点位")) == 1
    with pytest.raises(InputError, match=r"no sheet 'x'.*说明, 点位"):
        read_layer(path, layer="x")


# --- unusable files ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFileError, match=r"nothing\.geojson.*file not found"):
        read_layer(tmp_path / "nothing.geojson")


def test_unknown_extension(tmp_path):
    (tmp_path / "grids.dwg").write_bytes(b"AC1032")
    with pytest.raises(UnreadableFileError, match=r"grids\.dwg.*unsupported file type '\.dwg'"):
        read_layer(tmp_path / "grids.dwg")


def test_truncated_geojson(tmp_path):
    text = write_layer(polygons(), tmp_path / "full.geojson").read_text(encoding="utf-8")
    (tmp_path / "cut.geojson").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"cut\.geojson.*cannot read"):
        read_layer(tmp_path / "cut.geojson")


def test_empty_and_garbage_files(tmp_path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"empty\.csv.*empty file"):
        read_layer(tmp_path / "empty.csv")
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage at all")
    with pytest.raises(UnreadableFileError, match=r"junk\.gpkg"):
        read_layer(tmp_path / "junk.gpkg")
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(UnreadableFileError, match=r"junk\.xlsx"):
        read_layer(tmp_path / "junk.xlsx")


def test_geopackage_with_several_layers_needs_a_choice(tmp_path):
    path = tmp_path / "multi.gpkg"
    write_layer(polygons(), path, layer="grids")
    write_layer(points(), path, layer="houses")
    with pytest.raises(InputError, match=r"several layers.*grids, houses"):
        read_layer(path)
    assert len(read_layer(path, layer="houses", geometry_type="point")) == 3
    with pytest.raises(InputError, match="no layer 'roads'"):
        read_layer(path, layer="roads")


# --- geometry types and invalid geometry ------------------------------------------------


def test_wrong_geometry_type_names_the_first_offending_feature(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["ok", "line", "point"]},
        geometry=[
            polygons().geometry.iloc[0],
            LineString([(121.49, 31.24), (121.5, 31.25)]),
            Point(121.5, 31.25),
        ],
        crs=4326,
    )
    write_layer(frame, tmp_path / "mixed.geojson")
    with pytest.raises(
        GeometryTypeError, match=r"mixed\.geojson.*feature 2.*LineString.*Polygon.*2 of 3"
    ):
        read_layer(tmp_path / "mixed.geojson", geometry_type="polygon")
    assert len(read_layer(tmp_path / "mixed.geojson")) == 3  # no type asked: fine


def test_points_read_as_polygons_fail_and_as_points_pass(tmp_path):
    write_layer(points(), tmp_path / "p.gpkg")
    with pytest.raises(GeometryTypeError, match=r"feature 1.*Point"):
        read_layer(tmp_path / "p.gpkg", geometry_type="polygon")
    assert len(read_layer(tmp_path / "p.gpkg", geometry_type="point")) == 3


def test_missing_and_empty_geometries_are_the_wrong_type(tmp_path):
    frame = polygons()
    frame.loc[1, "geometry"] = None
    write_layer(frame, tmp_path / "holes.gpkg")
    with pytest.raises(GeometryTypeError, match=r"feature 2.*empty geometry"):
        read_layer(tmp_path / "holes.gpkg", geometry_type="polygon")
    assert read_layer(tmp_path / "holes.gpkg").geometry.iloc[1] is None


def test_line_geometry_type(tmp_path):
    roads = gpd.GeoDataFrame(
        {"name": ["东大名路"]}, geometry=[LineString([(121.49, 31.24), (121.5, 31.25)])], crs=4326
    )
    write_layer(roads, tmp_path / "roads.kml")
    assert read_layer(tmp_path / "roads.kml", geometry_type="line")["name"].iloc[0] == "东大名路"


def test_bow_tie_polygon_reads_untouched(tmp_path):
    bow_tie = Polygon([(121.49, 31.24), (121.50, 31.25), (121.50, 31.24), (121.49, 31.25)])
    assert not bow_tie.is_valid
    frame = gpd.GeoDataFrame({"code": ["310109001001099"]}, geometry=[bow_tie], crs=4326)
    for ext in (".geojson", ".gpkg", ".shp", ".csv"):
        back = read_layer(write_layer(frame, tmp_path / f"bow{ext}"), geometry_type="polygon")
        geometry = back.geometry.iloc[0]
        assert not geometry.is_valid
        # same vertices; a writer may reverse the ring to orient it (RFC 7946, Shapefile)
        assert shapely.equals_exact(geometry, bow_tie, tolerance=1e-12) or shapely.equals_exact(
            geometry.reverse(), bow_tie, tolerance=1e-12
        )


def test_unknown_geometry_type_argument(tmp_path):
    write_layer(points(), tmp_path / "p.geojson")
    with pytest.raises(InputError, match="unknown geometry_type 'area'"):
        read_layer(tmp_path / "p.geojson", geometry_type="area")
