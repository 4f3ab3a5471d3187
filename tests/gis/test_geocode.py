"""Unit tests of gis.address (normalisation, parsing) and gis.geocode (gazetteer, reverse, table).

Truth comes from construction: door plates laid along a straight street at known positions,
distances checked with pyproj.Geod on the ellipsoid, numerals written by an independent
converter in this file.
"""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import Point, box

from gis.address import (
    chinese_to_int,
    is_placeholder,
    normalise,
    parse_address,
    road_short_forms,
    split_admin_prefix,
)
from gis.assign import GridIndex
from gis.errors import GeometryTypeError, InputError
from gis.geocode import (
    CONFIDENCE_THRESHOLD,
    Gazetteer,
    geocode,
    geocode_table,
    reverse_geocode,
)

GEOD = Geod(ellps="WGS84")
LON0, LAT0 = 121.480, 31.240
STEP_DEG = 0.0002  # about 19 m east per door-plate step


def _plate_lon(n: int) -> float:
    return LON0 + n * STEP_DEG


def _gazetteer_frame() -> gpd.GeoDataFrame:
    rows = []
    for n in (1, 3, 7, 11, 2, 4, 10):  # 九江路: odd 1 3 7 11, even 2 4 10
        rows.append((f"上海市黄浦区九江路{n}号", Point(_plate_lon(n), LAT0)))
    rows += [
        ("上海市黄浦区四川中路5号", Point(LON0, LAT0 + 0.001)),
        ("上海市黄浦区四川南路5号", Point(LON0, LAT0 - 0.001)),
        ("上海市黄浦区中山东一路10号", Point(LON0 + 0.003, LAT0 + 0.002)),
        ("上海市黄浦区九江路36弄8号", Point(LON0 + 0.0005, LAT0 + 0.0003)),
        ("上海市黄浦区汉口路5号", Point(LON0 + 0.001, LAT0 + 0.0006)),
        ("上海市黄浦区汉口路5号", Point(LON0 + 0.002, LAT0 + 0.0006)),  # duplicate plate
        ("上海市黄浦区阳光花园3号楼", Point(LON0 - 0.002, LAT0)),
        ("上海市黄浦区阳光花园3号楼2单元", Point(LON0 - 0.0021, LAT0)),
        ("上海市黄浦区阳光花园3号楼2单元502室", Point(LON0 - 0.0022, LAT0)),
    ]
    return gpd.GeoDataFrame(
        {"address": [a for a, _ in rows], "house_id": [f"H{i}" for i in range(len(rows))]},
        geometry=[g for _, g in rows],
        crs=4326,
    )


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_frame(_gazetteer_frame())


# --- numerals and normalisation ----------------------------------------------------------

_DIGIT_ZH = "零一二三四五六七八九"


def _to_chinese(n: int) -> str:
    """Independent integer → Chinese numerals (1..9999), as people write them."""
    units = [(1000, "千"), (100, "百"), (10, "十")]
    out, zero_pending, started = "", False, False
    for value, unit in units:
        digit = n // value % 10
        if digit:
            if zero_pending:
                out += "零"
            out += ("" if (value == 10 and digit == 1 and not started) else _DIGIT_ZH[digit]) + unit
            started, zero_pending = True, False
        elif started:
            zero_pending = True
    if n % 10:
        out += ("零" if zero_pending else "") + _DIGIT_ZH[n % 10]
    return out


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=9999))
def test_chinese_numerals_read_positionally(n):
    assert chinese_to_int(_to_chinese(n)) == n
    assert normalise(f"九江路{_to_chinese(n)}号") == f"九江路{n}号"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=10, max_value=9999))
def test_chinese_numerals_read_digit_by_digit(n):
    spelled = "".join("〇一二三四五六七八九"[int(d)] for d in str(n))
    assert chinese_to_int(spelled) == n


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("三号楼", "3号楼"),
        ("十二栋", "12栋"),
        ("一百零五号", "105号"),
        ("一〇五号", "105号"),
        ("一零五号", "105号"),
        ("二十三号", "23号"),
        ("九江路１２號", "九江路12号"),
        ("圓明園路7號", "圆明园路7号"),
        ("　虎丘 路1号 ", "虎丘路1号"),
        ("Ａ座１５０６室", "A座1506室"),
        ("（近路口）", "(近路口)"),
        ("3#楼", "3号楼"),
        ("十六铺码头", "十六铺码头"),  # not a number: left alone
        ("中山东一路", "中山东1路"),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize("text", ["", "　", "不详", "同上", "/", "？？？", None])
def test_placeholders(text):
    assert is_placeholder(text)


def test_split_admin_prefix_levels_and_leftover():
    tokens, rest = split_admin_prefix("中华人民共和国山东省青岛市市南区八大关街道某社区")
    assert [t.level for t in tokens] == [
        "country",
        "province",
        "city",
        "district",
        "street",
        "community",
    ]
    assert [t.name for t in tokens][1:4] == ["山东省", "青岛市", "市南区"]
    assert rest == ""
    assert split_admin_prefix("王先生")[1] == "王先生"


def test_road_short_forms():
    assert road_short_forms("四川中路") == {"四川路"}
    assert road_short_forms("中山东1路") == {"中山东路", "中山路"}
    assert road_short_forms("南苏州路") == {"苏州路"}
    assert road_short_forms("九江路") == set()


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("九江路12号", {"road": "九江路", "number": "12", "lane": None}),
        ("九江路12弄", {"road": "九江路", "number": None, "lane": "12"}),
        ("九江路36弄8号", {"road": "九江路", "number": "8", "lane": "36"}),
        ("九江路12号楼", {"road": "九江路", "number": None, "building": "12"}),
        (
            "侯家路8号2号楼4单元1103室",
            {"number": "8", "building": "2", "unit": "4", "room": "1103"},
        ),
        ("福州路5号14层1401室", {"number": "5", "floor": "14", "room": "1401"}),
        ("九江路12号-502", {"number": "12", "room": "502"}),
        ("福佑路7号18F", {"number": "7", "floor": "18"}),
        ("四川中路21号B座1203室", {"number": "21", "building": "B", "room": "1203"}),
        ("泗泾路十四号二楼", {"number": "14", "floor": "2"}),
        (
            "金陵东路30号（近江西中路口）",
            {"road": "金陵东路", "number": "30", "note": "近江西中路口"},
        ),
        (
            "阳光花园3号楼2单元502室",
            {"road": "阳光花园", "building": "3", "unit": "2", "room": "502"},
        ),
        ("12号", {"road": None, "number": None}),
        (
            "上海市黄浦区外滩街道外滩源社区圆明园路 7 号",
            {
                "city": "上海市",
                "district": "黄浦区",
                "street": "外滩街道",
                "community": "外滩源社区",
                "road": "圆明园路",
                "number": "7",
            },
        ),
    ],
)
def test_parse_address(text, parts):
    parsed = parse_address(text)
    for name, value in parts.items():
        assert getattr(parsed, name) == value, name
    assert parsed.raw == text


def test_parse_with_known_roads_accepts_a_missing_lu():
    parsed = parse_address("汉口15号", roads=["汉口路"])
    assert (parsed.road, parsed.number, parsed.road_alias) == ("汉口路", "15", True)


# --- geocoding ------------------------------------------------------------------------------


def test_exact_door_plate_in_any_spelling(gaz):
    for text in ("九江路3号", "上海市黄浦区九江路三号", "沪黄浦九江路３號", "九江3号", "九江路3"):
        result = gaz.geocode(text)
        assert result.match_level == "doorplate", text
        assert result.matched_address == "上海市黄浦区九江路3号"
        assert (result.lon, result.lat) == pytest.approx((_plate_lon(3), LAT0))
        assert CONFIDENCE_THRESHOLD <= result.score <= 1.0
    assert gaz.geocode("九江路3号").score == 1.0
    assert gaz.geocode("九江3号").score < 1.0  # 路 left out costs a little


def test_suffixes_and_notes_do_not_change_the_door_plate(gaz):
    for text in (
        "九江路3号5号楼2单元502室",
        "九江路3号（近汉口路）",
        "九江路3号 王先生 13812345678",
    ):
        result = gaz.geocode(text)
        assert (result.match_level, result.matched_address) == (
            "doorplate",
            "上海市黄浦区九江路3号",
        )


def test_missing_number_is_interpolated_between_same_parity_neighbours(gaz):
    result = gaz.geocode("九江路5号")  # odd neighbours 3 and 7
    assert (result.match_level, result.interpolated) == ("road", True)
    assert result.score >= CONFIDENCE_THRESHOLD
    assert result.lat == pytest.approx(LAT0, abs=1e-7)
    # halfway between 3号 and 7号 by number: check by ellipsoidal distance
    _, _, from_3 = GEOD.inv(_plate_lon(3), LAT0, result.lon, result.lat)
    _, _, from_7 = GEOD.inv(_plate_lon(7), LAT0, result.lon, result.lat)
    assert from_3 == pytest.approx(from_7, rel=1e-3)
    result = gaz.geocode("九江路8号")  # even neighbours 4 and 10: t = 4/6
    _, _, span = GEOD.inv(_plate_lon(4), LAT0, _plate_lon(10), LAT0)
    _, _, from_4 = GEOD.inv(_plate_lon(4), LAT0, result.lon, result.lat)
    assert from_4 == pytest.approx(span * 4 / 6, rel=1e-3)


def test_missing_number_without_neighbours_on_both_sides_is_not_interpolated(gaz):
    for text in ("九江路13号", "九江路12号", "九江路99号"):
        result = gaz.geocode(text)
        assert (result.match_level, result.interpolated, result.road) == ("road", False, "九江路")
        assert result.matched_address == "九江路"


def test_a_missing_door_plate_is_never_a_door_plate(gaz):
    for text in ("九江路5号", "九江路12弄", "九江路36弄9号", "九江路3弄", "九江路7号楼"):
        assert gaz.geocode(text).match_level == "road", text


def test_lane_door_plate_is_matched_apart_from_the_number(gaz):
    result = gaz.geocode("九江路36弄8号")
    assert (result.match_level, result.matched_address) == (
        "doorplate",
        "上海市黄浦区九江路36弄8号",
    )
    assert gaz.geocode("九江路8号").matched_address != "上海市黄浦区九江路36弄8号"


def test_contradicting_place_gives_none(gaz):
    for text in (
        "北京市九江路3号",
        "上海市浦东新区九江路3号",
        "江西省九江市九江路3号",
        "九江市九江路3号",
    ):
        result = gaz.geocode(text)
        assert result.match_level == "none", text
        assert result.lon is None


def test_unverifiable_street_is_accepted_but_costs_a_little(gaz):
    result = gaz.geocode("上海市黄浦区外滩街道九江路3号")
    assert result.match_level == "doorplate"
    assert CONFIDENCE_THRESHOLD <= result.score < 1.0


def test_ambiguous_short_road_name_gives_candidates_not_a_guess(gaz):
    result = gaz.geocode("四川路5号")
    assert result.match_level == "none"
    assert {c["address"] for c in result.candidates} == {
        "上海市黄浦区四川中路5号",
        "上海市黄浦区四川南路5号",
    }


def test_road_name_numerals_in_digits(gaz):
    for text in ("中山东一路十号", "中山东1路10号"):
        assert gaz.geocode(text).matched_address == "上海市黄浦区中山东一路10号"
    assert gaz.geocode("中山东二路10号").match_level == "none"


def test_duplicate_door_plates_are_ambiguous(gaz):
    result = gaz.geocode("汉口路5号")
    assert result.match_level == "road"
    assert len(result.candidates) == 2


def test_building_unit_room_levels_when_the_gazetteer_has_them(gaz):
    assert gaz.geocode("阳光花园3号楼").match_level == "building"
    assert gaz.geocode("阳光花园3号楼2单元").match_level == "unit"
    result = gaz.geocode("上海市黄浦区阳光花园三号楼二单元五〇二室")
    assert (result.match_level, result.matched_address) == (
        "room",
        "上海市黄浦区阳光花园3号楼2单元502室",
    )
    # a room the gazetteer lacks stops at the finest level it has
    assert gaz.geocode("阳光花园3号楼2单元503室").match_level == "unit"


def test_nothing_usable_gives_none(gaz):
    for text in ("", None, float("nan"), "不详", "12号", "asdf", "上海市黄浦区", "南京西路1号"):
        assert geocode(gaz, text).match_level == "none"


def test_gazetteer_rejects_non_points_and_reports_skipped_rows():
    frame = _gazetteer_frame()
    with pytest.raises(GeometryTypeError):
        Gazetteer.from_frame(frame.set_geometry([box(0, 0, 1, 1)] * len(frame), crs=4326))
    with pytest.raises(InputError):
        Gazetteer.from_frame(frame, address_column="地址")
    frame.loc[0, "address"] = "不详"
    assert Gazetteer.from_frame(frame).skipped == [0]


def test_gazetteer_in_a_projected_crs_answers_in_lon_lat():
    frame = _gazetteer_frame()
    projected = Gazetteer.from_frame(frame.to_crs(4549))
    result = projected.geocode("九江路3号")
    assert (result.lon, result.lat) == pytest.approx((_plate_lon(3), LAT0), abs=1e-8)


# --- reverse ---------------------------------------------------------------------------------


def test_reverse_geocode_distances_in_metres(gaz):
    lon, lat = _plate_lon(3) + 0.00005, LAT0 + 0.00003
    found = reverse_geocode(gaz, lon, lat, radius_m=50, k=3)
    assert found.matches["address"].iloc[0] == "上海市黄浦区九江路3号"
    for row in found.matches.itertuples():
        _, _, metres = GEOD.inv(lon, lat, row.lon, row.lat)
        assert row.distance_m == pytest.approx(metres, rel=2e-3)
        assert row.distance_m <= 50
    assert list(found.matches["distance_m"]) == sorted(found.matches["distance_m"])
    assert len(found.matches) <= 3
    assert found.grid_code is None


def test_reverse_geocode_radius_and_grid(gaz):
    far = reverse_geocode(gaz, LON0 + 0.05, LAT0, radius_m=50)
    assert far.matches.empty
    grids = gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[
            box(LON0 - 0.01, LAT0 - 0.01, LON0 + 0.001, LAT0 + 0.01),
            box(LON0 + 0.001, LAT0 - 0.01, LON0 + 0.01, LAT0 + 0.01),
        ],
        crs=4326,
    )
    assert reverse_geocode(gaz, _plate_lon(1), LAT0, grids=grids).grid_code == "A"
    assert reverse_geocode(gaz, _plate_lon(10), LAT0, grids=GridIndex(grids)).grid_code == "B"
    with pytest.raises(InputError):
        reverse_geocode(gaz, LON0, LAT0, radius_m=-1)


# --- batch --------------------------------------------------------------------------------------


def test_geocode_table_keeps_rows_and_adds_columns(gaz):
    df = pd.DataFrame(
        {
            "名称": ["a", "b", "c", "d", "e"],
            "地址": ["九江路3号", "四川路5号", None, "九江路5号", "九江路3号"],
        },
        index=[10, 11, 12, 13, 14],
    )
    grids = gpd.GeoDataFrame(
        {"code": ["A"]},
        geometry=[box(LON0 - 0.01, LAT0 - 0.01, LON0 + 0.001, LAT0 + 0.01)],
        crs=4326,
    )
    out = geocode_table(df, column="地址", gazetteer=gaz, grids=grids)
    assert list(out.index) == list(df.index)
    assert list(out["名称"]) == list(df["名称"])
    assert list(out["match_level"]) == ["doorplate", "none", "none", "road", "doorplate"]
    assert out["interpolated"].tolist() == [False, False, False, True, False]
    assert out.loc[10, "grid_code"] == "A"
    assert pd.isna(out.loc[11, "lon"]) and out.loc[11, "grid_code"] is None
    candidates = json.loads(out.loc[11, "candidates"])
    assert len(candidates) == 2 and all("address" in c for c in candidates)
    assert out.loc[10, "candidates"] is None
    assert np.isclose(out.loc[10, "lon"], _plate_lon(3))
    with pytest.raises(InputError):
        geocode_table(df, column="address", gazetteer=gaz)


def test_geocode_table_reports_progress(gaz):
    seen = []
    geocode_table(
        pd.DataFrame({"a": ["九江路3号"] * 4}), column="a", gazetteer=gaz, progress=seen.append
    )
    assert seen == [1, 2, 3, 4]
