"""Bulk import of houses, residents and staff, on both databases; reassignment of houses when a
new division takes effect.

Each database test gets a database of its own with the demo community (its division in effect
from 2026-01-01). Expected grid codes are computed by brute force (plain ``shapely.covers``,
smallest code wins) on the grids read from ``data/demo/grids.geojson``, not by the code tested.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from openpyxl import load_workbook

from api.db.dialect import assign_codes_in_db
from api.db.divisions import division_in_effect
from api.db.engine import make_engine, session_factory
from api.db.history import set_actor
from api.db.models import (
    ChangeLog,
    Community,
    Division,
    Grid,
    House,
    Incident,
    Resident,
    Staff,
    StaffGrid,
    from_db_geometry,
    to_db_geometry,
)
from api.services.registry.importer import (
    UnknownCommunityError,
    import_file,
    read_table,
    write_report,
)
from api.services.registry.reassign import put_in_effect_and_reassign
from api.services.registry.templates import DATA_SHEET, write_template
from api.services.registry.validators import id_check_character
from gis.errors import InputError, UnreadableFileError
from gis.io import read_layer
from tests.conftest import expected_code

DATA = Path(__file__).resolve().parents[2] / "data"
COMMUNITY = "310101002005"
TODAY = dt.date(2026, 6, 1)  # the demo division is in effect (from 2026-01-01)


def make_id(birth: str, seq: int, region: str = "110105") -> str:
    """A valid ID number: region, birth date YYYYMMDD, sequence (odd = male), check character."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check_character(first17)


def fill_template(kind: str, path: Path, rows: list[dict | None]) -> Path:
    """Write the template of ``kind`` and type ``rows`` (header → value; None = blank row)."""
    write_template(kind, path)
    wb = load_workbook(path)
    ws = wb[DATA_SHEET[kind]]
    headers = [c.value for c in ws[1]]
    for i, row in enumerate(rows, start=2):
        for j, header in enumerate(headers, start=1):
            if row and header in row:
                ws.cell(row=i, column=j, value=row[header])
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[dict | None], encoding: str = "utf-8-sig") -> Path:
    headers = list(dict.fromkeys(k for r in rows if r for k in r))
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for r in rows:
            writer.writerow([(r or {}).get(h, "") for h in headers])
    return path


@pytest.fixture(scope="module")
def demo_grids():
    return read_layer(DATA / "demo" / "grids.geojson")


@pytest.fixture(scope="module")
def demo_addresses() -> list[str]:
    with (DATA / "demo" / "houses.csv").open(encoding="utf-8") as f:
        return [r["address"] for r in csv.DictReader(f)]


@functools.cache
def demo_frames():
    """The demo files, read once per process (shared by the import, export and CLI tests)."""
    from api.core.config import get_settings
    from api.services.demo import _read_demo

    return _read_demo(Path(get_settings().data_dir))


def store_demo(url: str, frames) -> None:
    """Store the demo community as ``load_demo`` does (its division in effect from 2026-01-01,
    houses and incidents with their grid codes), without re-reading and re-validating it."""
    from api.db.engine import init_db
    from api.services.demo import _store

    engine = make_engine(url)
    init_db(engine)
    with session_factory(engine).begin() as s:
        community = _store(s, frames)
        for model in (House, Incident):
            assign_codes_in_db(s, model, division="current", community_id=community.id)
    engine.dispose()


@pytest.fixture
def demo_db(fresh_db_url):
    """A sessionmaker on a fresh database holding the demo community."""
    store_demo(fresh_db_url, demo_frames())
    engine = make_engine(fresh_db_url)
    yield session_factory(engine)
    engine.dispose()


def _count(session, model, *where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _errors(result) -> set[tuple[int, str]]:
    return {(e.row, e.field) for e in result.errors}


# --------------------------------------------------------------------------- reading (no database)


RESIDENT_ROWS = [
    {"姓名": "李四", "身份证号码": "11010519491231002x", "人口类型": "户籍人口",
     "门牌号码": "甲路1号"},
    None,
    {"姓名": "王芳", "身份证号码": "110105199003071234", "人口类型": "10", "门牌号码": "乙路2号",
     "联系电话": "13812345678"},
]  # fmt: skip


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_in_utf8_with_and_without_bom_and_gbk_reads_the_same(encoding, tmp_path):
    path = write_csv(tmp_path / "r.csv", RESIDENT_ROWS, encoding=encoding)
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    rows, ignored = read_table(path, "residents")
    assert ignored == []
    assert [r.row for r in rows] == [2, 4]  # the blank line 3 keeps its number
    assert rows[0].values["name"] == "李四" and rows[1].values["door_plate"] == "乙路2号"
    assert rows[1].values["phone"] == "13812345678"  # text, not a number
    assert rows[0].values["id_number"] == "11010519491231002x"


def test_xlsx_rows_are_numbered_as_excel_shows_them(tmp_path):
    path = fill_template("residents", tmp_path / "r.xlsx", [*RESIDENT_ROWS, None, None])
    rows, _ = read_table(path, "residents")
    assert [r.row for r in rows] == [2, 4]
    csv_rows, _ = read_table(write_csv(tmp_path / "r.csv", RESIDENT_ROWS), "residents")

    def given(values: dict) -> dict:
        return {k: v for k, v in values.items() if v is not None}

    assert [given(r.values) for r in rows] == [given(r.values) for r in csv_rows]


def test_english_headers_and_unknown_columns(tmp_path):
    path = write_csv(
        tmp_path / "h.csv",
        [{"door plate": "甲路1号", "floor_area_m2": "86.5", "LON": "121.48", "lat": "31.24",
          "备注": "x"}],
    )  # fmt: skip
    rows, ignored = read_table(path, "houses")
    assert ignored == ["备注"]
    assert rows[0].values == {"address": "甲路1号", "floor_area_m2": "86.5", "lon": "121.48",
                              "lat": "31.24"}  # fmt: skip


def test_unusable_files_are_refused_with_the_reason(tmp_path):
    no_plate = write_csv(tmp_path / "a.csv", [{"产权人": "张三", "经度": "121.4"}])
    with pytest.raises(InputError, match="缺少必填列 门牌号码"):
        read_table(no_plate, "houses")
    twice = write_csv(tmp_path / "b.csv", [{"门牌号码": "甲路1号", "经度": "121", "lon": "121"}])
    with pytest.raises(InputError, match="both mean field lon"):
        read_table(twice, "houses")
    broken = tmp_path / "c.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(UnreadableFileError, match="cannot read XLSX"):
        read_table(broken, "houses")
    with pytest.raises(UnreadableFileError, match=r"must be an \.xlsx, \.csv or \.parquet"):
        read_table(tmp_path / "d.txt", "houses")
    with pytest.raises(UnreadableFileError, match="file not found"):
        read_table(tmp_path / "missing.csv", "houses")
    empty = tmp_path / "e.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="no header row"):
        read_table(empty, "houses")
    latin = tmp_path / "f.csv"
    latin.write_bytes("门牌号码\n".encode() + b"\xff\xfe\xfa\n")
    with pytest.raises(UnreadableFileError, match="neither UTF-8 nor GBK"):
        read_table(latin, "houses")


# --------------------------------------------------------------------------- houses


def _shared_vertex(grids) -> tuple[float, float]:
    """A vertex shared by at least two demo grids (exact doubles)."""
    xy = np.concatenate([np.unique(shapely.get_coordinates(g), axis=0) for g in grids.geometry])
    values, counts = np.unique(xy, axis=0, return_counts=True)
    return tuple(values[np.argmax(counts >= 2)])


def test_houses_get_the_grid_of_the_division_in_effect(demo_db, demo_grids, tmp_path):
    Session = demo_db
    inside = [g.representative_point() for g in demo_grids.geometry[:3]]
    vx, vy = _shared_vertex(demo_grids)
    rows = [
        {"门牌号码": f"测试路{i}号", "产权人": "张三", "房屋面积(m²)": 80 + i, "房屋类型": "住宅",
         "房屋用途": "自住", "经度": p.x, "纬度": p.y}
        for i, p in enumerate(inside, start=1)
    ]  # fmt: skip
    rows.append({"门牌号码": "测试路4号", "经度": vx, "纬度": vy})
    rows.append({"门牌号码": "测试路5号", "经度": 121.0, "纬度": 31.0})  # outside the community
    rows.append({"门牌号码": "测试路6号"})  # no point
    path = fill_template("houses", tmp_path / "houses.xlsx", rows)
    points = [shapely.Point(r["经度"], r["纬度"]) if "经度" in r else None for r in rows]
    expected = [expected_code(demo_grids, p) for p in points]
    assert expected[3] is not None and expected[4] is None and expected[5] is None
    assert len(set(expected[:3])) == 3

    with Session.begin() as s:
        before = _count(s, House)
        set_actor(s, user_id=None, username="导入员")
        result = import_file(s, "houses", path, community=COMMUNITY, today=TODAY)
    assert (result.rows, result.imported, result.errors, result.outside) == (6, 6, [], 2)
    with Session.begin() as s:
        assert _count(s, House) == before + 6
        houses = s.scalars(sa.select(House).where(House.id.in_(result.ids)).order_by(House.id))
        houses = list(houses)
        assert [h.address for h in houses] == [r["门牌号码"] for r in rows]
        assert [h.grid_code for h in houses] == expected
        assert houses[0].house_type == "01" and houses[0].use == "01"  # names → codes
        assert houses[0].floor_area_m2 == 81.0 and houses[0].owner == "张三"
        # the database's own ST_Covers (assign_codes_in_db) agrees on every house
        assign_codes_in_db(s, House, on=TODAY, community_id=houses[0].community_id)
        again = s.scalars(sa.select(House.grid_code).where(House.id.in_(result.ids)).order_by(
            House.id)).all()  # fmt: skip
        assert list(again) == expected
        s.rollback()
    with Session() as s:
        log = s.scalars(
            sa.select(ChangeLog).where(
                ChangeLog.table_name == "houses", ChangeLog.record_id.in_(result.ids)
            )
        ).all()
        assert len(log) == 6 and {r.action for r in log} == {"insert"}
        assert {r.username for r in log} == {"导入员"}
        assert {r.new_value["grid_code"] for r in log} == set(expected)


def test_a_file_with_bad_rows_imports_nothing_unless_asked(demo_db, demo_addresses, tmp_path):
    Session = demo_db
    rows = [
        {"门牌号码": "新路1号", "房屋面积(m²)": "86.5", "经度": 121.484, "纬度": 31.240},  # ok
        {"门牌号码": "新路2号", "房屋面积(m²)": "八十"},  # 3: not a number
        {"门牌号码": "新路3号", "房屋类型": "宫殿"},  # 4: not in the code table
        {"门牌号码": "新路4号", "房屋编号": "N4"},  # 5: duplicated door plate (with 6)
        {"门牌号码": "新路4号", "房屋编号": "N5"},  # 6
        {"门牌号码": demo_addresses[0]},  # 7: already registered
        {"门牌号码": "新路7号", "经度": 121.484},  # 8: lon without lat
        {"产权人": "无门牌"},  # 9: door plate missing
        {"门牌号码": "新路9号", "房屋编号": "H00001"},  # 10: house id of a demo house
        {"门牌号码": "新路10号", "户数": 2},  # ok
    ]
    path = write_csv(tmp_path / "houses.csv", rows)
    with Session.begin() as s:
        before = _count(s, House)
        result = import_file(s, "houses", path, community=COMMUNITY, today=TODAY)
        assert _count(s, House) == before
    assert (result.imported, result.written, result.ids) == (0, False, [])
    assert _errors(result) == {(3, "floor_area_m2"), (4, "house_type"), (5, "address"),
                               (6, "address"), (7, "address"), (8, "lat"), (9, "address"),
                               (10, "house_key")}  # fmt: skip
    reasons = {(e.row, e.field): e for e in result.errors}
    assert reasons[(3, "floor_area_m2")].reason_en == "not a number"
    assert reasons[(3, "floor_area_m2")].value == "八十"
    assert reasons[(3, "floor_area_m2")].column == "房屋面积(m²)"
    assert "not in code table house_type" in reasons[(4, "house_type")].reason_en
    assert reasons[(5, "address")].reason_zh == "文件中重复（第 6 行）"
    assert reasons[(7, "address")].reason_en == "door plate already registered here"
    assert reasons[(9, "address")].reason_en == "required"
    assert result.rejected_rows == [3, 4, 5, 6, 7, 8, 9, 10]

    with Session.begin() as s:
        result = import_file(
            s, "houses", path, community=COMMUNITY, today=TODAY, only_good_rows=True
        )
    assert result.imported == 2 and len(result.errors) == 8
    with Session() as s:
        assert _count(s, House) == before + 2
        got = s.scalars(sa.select(House.address).where(House.id.in_(result.ids))).all()
        assert sorted(got) == ["新路10号", "新路1号"]

    report = write_report(result, tmp_path / "report.xlsx")
    lines = list(load_workbook(report).active.iter_rows(values_only=True))
    assert lines[0][0] == "行号 row" and len(lines) == 1 + 8
    assert (str(lines[1][0]), *lines[1][1:4]) == ("3", "房屋面积(m²)", "floor_area_m2", "八十")


def test_gcj02_coordinates_are_converted_on_import(demo_db, demo_grids, tmp_path):
    from gis.crs import wgs84_to_gcj02

    Session = demo_db
    p = demo_grids.geometry.iloc[5].representative_point()
    gx, gy = wgs84_to_gcj02(p.x, p.y)
    path = write_csv(tmp_path / "h.csv", [{"门牌号码": "火星路1号", "经度": gx, "纬度": gy}])
    with Session.begin() as s:
        result = import_file(s, "houses", path, community=COMMUNITY, today=TODAY, input_crs="gcj02")
        house = s.get(House, result.ids[0])
        geod_m = _geod_distance_m(house, p)
        assert geod_m < 0.5
        assert house.grid_code == expected_code(demo_grids, p)


def _geod_distance_m(house, p) -> float:
    from pyproj import Geod

    q = from_db_geometry(house.geom)
    return Geod(ellps="WGS84").inv(q.x, q.y, p.x, p.y)[2]


def refuse_house(engine, address: str) -> None:
    """Make the database refuse to insert the house at ``address`` ('refused by test
    trigger'), on either engine: a database error in the middle of a write."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_row BEFORE INSERT ON houses WHEN NEW.address = '{address}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.address = '{address}' THEN RAISE EXCEPTION 'refused by test trigger'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_row BEFORE INSERT ON houses FOR EACH ROW "
                "EXECUTE FUNCTION refuse_row()"
            )


def test_a_database_error_on_row_n_leaves_nothing_written(demo_db, tmp_path):
    Session = demo_db
    engine = Session.kw["bind"]
    refuse_house(engine, "拒绝路4号")
    rows = [{"门牌号码": f"拒绝路{i}号", "经度": 121.484, "纬度": 31.24} for i in range(1, 7)]
    path = write_csv(tmp_path / "h.csv", rows)
    with Session() as s:
        houses, log = _count(s, House), _count(s, ChangeLog)
    with pytest.raises(sa.exc.DBAPIError, match="refused by test trigger"), Session.begin() as s:
        import_file(s, "houses", path, community=COMMUNITY, today=TODAY)
    with Session() as s:
        assert _count(s, House) == houses
        assert _count(s, ChangeLog) == log
        assert _count(s, House, House.address.like("拒绝路%")) == 0


def test_unknown_community_is_refused(demo_db, tmp_path):
    Session = demo_db
    path = write_csv(tmp_path / "h.csv", [{"门牌号码": "甲路1号"}])
    with Session() as s, pytest.raises(UnknownCommunityError, match=r"310101002999.*310101002005"):
        import_file(s, "houses", path, community="310101002999")


# --------------------------------------------------------------------------- residents


def test_residents_link_to_their_house_and_are_normalised(demo_db, demo_addresses, tmp_path):
    Session = demo_db
    rows = [
        {"姓名": "李四", "身份证号码": "11010519491231002x", "民族": "汉", "人口类型": "户籍人口",
         "门牌号码": demo_addresses[0], "联系电话": "+86 138-1234-5678"},
        {"姓名": "王五", "身份证号码": make_id("19851120", 13), "性别": "男",
         "人口类型": "流动人口", "流入日期": "2024/03/01", "门牌号码": demo_addresses[1],
         "婚姻状况": "已婚"},
    ]  # fmt: skip
    path = fill_template("residents", tmp_path / "r.xlsx", rows)
    with Session.begin() as s:
        set_actor(s, user_id=None, username="网格员甲")
        result = import_file(s, "residents", path, community=COMMUNITY, today=TODAY)
    assert (result.imported, result.errors) == (2, [])
    with Session() as s:
        li, wang = (s.get(Resident, i) for i in result.ids)
        assert li.house.address == demo_addresses[0] and wang.house.address == demo_addresses[1]
        assert li.id_number == "11010519491231002X"  # upper-case X
        assert (li.gender, li.birth_date) == ("2", dt.date(1949, 12, 31))  # from the ID number
        assert (li.ethnicity, li.population_type, li.phone) == ("01", "10", "13812345678")
        assert (wang.gender, wang.population_type, wang.marital_status) == ("1", "30", "20")
        assert wang.inflow_date == dt.date(2024, 3, 1)
        log = s.scalars(sa.select(ChangeLog).where(ChangeLog.table_name == "residents")).all()
        assert sorted(r.record_id for r in log) == sorted(result.ids)
        assert {r.username for r in log} == {"网格员甲"}


def test_resident_rows_rejected_with_field_and_reason(demo_db, demo_addresses, tmp_path):
    Session = demo_db
    known = make_id("19700101", 21)
    first = write_csv(
        tmp_path / "first.csv",
        [{"姓名": "已登记", "身份证号码": known, "人口类型": "户籍人口",
          "门牌号码": demo_addresses[2]}],
    )  # fmt: skip
    with Session.begin() as s:
        assert import_file(s, "residents", first, community=COMMUNITY, today=TODAY).imported == 1
    twin = make_id("19920202", 44)
    bad_check = make_id("19800505", 31)[:-1] + ("0" if make_id("19800505", 31)[-1] != "0" else "1")
    plate = demo_addresses[3]
    rows = [
        {"姓名": "好人", "身份证号码": make_id("19900307", 123), "人口类型": "户籍人口",
         "门牌号码": plate},  # 2: good
        {"姓名": "错校验", "身份证号码": bad_check, "人口类型": "户籍人口", "门牌号码": plate},  # 3
        {"姓名": "无门牌", "身份证号码": make_id("19900101", 11), "人口类型": "户籍人口",
         "门牌号码": "不存在路99号"},  # 4
        {"姓名": "双胞甲", "身份证号码": twin, "人口类型": "户籍人口", "门牌号码": plate},  # 5
        {"姓名": "双胞乙", "身份证号码": twin.lower(), "人口类型": "户籍人口", "门牌号码": plate},
        {"姓名": "重登记", "身份证号码": known, "人口类型": "户籍人口", "门牌号码": plate},  # 7
        {"姓名": "生日错", "身份证号码": make_id("19880808", 51), "出生日期": "1988-08-09",
         "人口类型": "户籍人口", "门牌号码": plate},  # 8
        None,  # 9: blank
        {"身份证号码": make_id("19770707", 61), "人口类型": "户籍人口", "门牌号码": plate},  # 10
        {"姓名": "流动无日期", "身份证号码": make_id("19990909", 71), "人口类型": "流动人口",
         "门牌号码": plate},  # 11: inflow date required
        {"姓名": "数字格式", "身份证号码": float(make_id("19990909", 73)), "人口类型": "户籍人口",
         "门牌号码": plate},  # 12: typed into a number cell
    ]  # fmt: skip
    path = fill_template("residents", tmp_path / "r.xlsx", rows)
    with Session.begin() as s:
        before = _count(s, Resident)
        result = import_file(s, "residents", path, community=COMMUNITY, today=TODAY)
        assert _count(s, Resident) == before
    assert _errors(result) == {(3, "id_number"), (4, "door_plate"), (5, "id_number"),
                               (6, "id_number"), (7, "id_number"), (8, "birth_date"),
                               (10, "name"), (11, "inflow_date"), (12, "id_number")}  # fmt: skip
    by = {(e.row, e.field): e for e in result.errors}
    assert by[(3, "id_number")].reason_en.startswith("wrong check character")
    assert by[(4, "door_plate")].reason_en == "no house with this door plate in the community"
    assert by[(4, "door_plate")].column == "门牌号码"
    assert by[(5, "id_number")].reason_en == "duplicated in the file (rows 6)"
    assert by[(6, "id_number")].reason_en == "duplicated in the file (rows 5)"
    assert by[(7, "id_number")].reason_en == "ID number already registered"
    assert "1988-08-08" in by[(8, "birth_date")].reason_en
    assert by[(10, "name")].reason_zh == "必填"
    assert "format the column as text" in by[(12, "id_number")].reason_en

    with Session.begin() as s:
        result = import_file(
            s, "residents", path, community=COMMUNITY, today=TODAY, only_good_rows=True
        )
    assert result.imported == 1
    with Session() as s:
        assert _count(s, Resident) == before + 1
        assert s.get(Resident, result.ids[0]).name == "好人"


# --------------------------------------------------------------------------- staff


def test_staff_with_grids_of_the_community(demo_db, demo_grids, tmp_path):
    Session = demo_db
    a, b = sorted(demo_grids["code"])[:2]
    rows = [
        {"姓名": "王五", "岗位/角色": "专职网格员", "联系电话": "13912345678", "是否公开电话": "否",
         "职责": "入户登记", "负责网格编码": f"{a}，{b}", "照片": "photos/w5.jpg"},
        {"姓名": "赵六", "岗位/角色": "grid_leader", "联系电话": "021-12345678",
         "负责网格编码": "310101002005999"},  # unknown grid
        {"姓名": "钱七", "岗位/角色": "厨师", "联系电话": "12345"},  # bad role, bad phone
    ]  # fmt: skip
    path = fill_template("staff", tmp_path / "s.xlsx", rows)
    with Session.begin() as s:
        before = _count(s, Staff)
        result = import_file(s, "staff", path, community=COMMUNITY, today=TODAY)
        assert _count(s, Staff) == before
    assert _errors(result) == {(3, "grid_codes"), (4, "role"), (4, "phone")}
    assert "310101002005999" in result.errors[0].reason_en
    with Session.begin() as s:
        result = import_file(
            s, "staff", path, community=COMMUNITY, today=TODAY, only_good_rows=True
        )
    with Session() as s:
        assert _count(s, Staff) == before + 1
        member = s.get(Staff, result.ids[0])
        assert (member.name, member.role, member.phone_published) == ("王五", "grid_worker", False)
        assert member.photo_path == "photos/w5.jpg"
        grids = s.execute(
            sa.select(StaffGrid.grid_code, StaffGrid.community_id).where(
                StaffGrid.staff_id == member.id
            )
        ).all()
        community_id = s.scalar(sa.select(Community.id).where(Community.code == COMMUNITY))
        assert sorted(grids) == [(a, community_id), (b, community_id)]
    # the same person again is a duplicate
    with Session.begin() as s:
        again = import_file(s, "staff", path, community=COMMUNITY, today=TODAY)
    assert (2, "name") in _errors(again)


# --------------------------------------------------------------------------- reassignment


def _adjacent_pair_with_houses(grids, points):
    """Two grids sharing an edge, and the strip of the second one next to the first (about 40
    m wide) holding at least three houses."""
    for (ia, a), (ib, b) in itertools.permutations(enumerate(grids.geometry), 2):
        if a.boundary.intersection(b.boundary).length == 0:
            continue
        strip = b.intersection(a.buffer(0.0004))
        inside = shapely.contains(strip, points).sum()
        if inside >= 3:
            return ia, ib, strip
    raise AssertionError("no adjacent pair of demo grids with houses near their shared edge")


def test_a_new_division_reassigns_exactly_the_houses_whose_grid_changed(demo_db):
    Session = demo_db
    redraw_day = dt.date(2026, 7, 1)
    with Session.begin() as s:
        community = s.scalars(sa.select(Community).where(Community.code == COMMUNITY)).one()
        old = division_in_effect(s, community.id, redraw_day)
        old_grids = s.scalars(sa.select(Grid).where(Grid.division_id == old.id)).all()
        codes = [g.code for g in old_grids]
        geoms = [from_db_geometry(g.geom) for g in old_grids]
        houses = s.scalars(sa.select(House).where(House.community_id == community.id)).all()
        points = np.array([from_db_geometry(h.geom) for h in houses], dtype=object)
        before = {h.id: h.grid_code for h in houses}

        old_frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
        ia, ib, strip = _adjacent_pair_with_houses(old_frame, points)
        new_geoms = list(geoms)
        new_geoms[ia] = shapely.union(geoms[ia], strip)
        new_geoms[ib] = shapely.difference(geoms[ib], strip)
        new = Division(community_id=community.id, label="2026-redraw", version=2)
        s.add(new)
        s.flush()
        s.add_all(
            Grid(community_id=community.id, division_id=new.id, code=c, name=g.name,
                 geom=to_db_geometry(geom, multi=True))
            for c, g, geom in zip(codes, old_grids, new_geoms, strict=True)
        )  # fmt: skip
        set_actor(s, user_id=None, username="规划员")
        replaced, result = put_in_effect_and_reassign(s, new, redraw_day)
        assert replaced.id == old.id and result.division == "2026-redraw"

    # expected, by brute force on the geometries as stored
    with Session() as s:
        stored = s.scalars(sa.select(Grid).where(Grid.division_id == new.id)).all()
        new_frame = gpd.GeoDataFrame(
            {"code": [g.code for g in stored]},
            geometry=[from_db_geometry(g.geom) for g in stored],
            crs=4326,
        )
        after = dict(s.execute(sa.select(House.id, House.grid_code).where(
            House.community_id == community.id)).all())  # fmt: skip
        expected_before = {
            h.id: expected_code(old_frame, p) for h, p in zip(houses, points, strict=True)
        }
        expected_after = {
            h.id: expected_code(new_frame, p) for h, p in zip(houses, points, strict=True)
        }
        assert before == expected_before and after == expected_after
        changed = {i for i in after if after[i] != before[i]}
        assert len(changed) >= 3
        assert changed == {i for i, _, _ in result.changed}
        assert result.unchanged == len(houses) - len(changed)
        # codes changed exactly where the geometry changed: inside the strip moved from B to A
        moved = shapely.symmetric_difference(geoms[ib], new_geoms[ib]).buffer(1e-9)
        point_of = {h.id: p for h, p in zip(houses, points, strict=True)}
        assert all(moved.covers(point_of[i]) for i in changed)
        assert {(before[i], after[i]) for i in changed} == {(codes[ib], codes[ia])}
        strictly_inside = {i for i, p in point_of.items() if strip.buffer(-1e-7).contains(p)}
        assert strictly_inside and strictly_inside <= changed
        # the change log shows old → new, with who
        log = s.scalars(
            sa.select(ChangeLog).where(
                ChangeLog.table_name == "houses", ChangeLog.field == "grid_code"
            )
        ).all()
        assert {(r.record_id, r.old_value, r.new_value) for r in log} == set(result.changed)
        assert {r.username for r in log} == {"规划员"} and {r.action for r in log} == {"update"}


def test_staff_post_and_number_columns_and_yesterdays_template(demo_db, demo_grids, tmp_path):
    """The new optional columns 岗位名称 and 工号 fill post and staff number (a post must
    exist); a file with only the previous columns, and one using the short header 岗位 for
    the role, still import."""
    Session = demo_db
    a = sorted(demo_grids["code"])[0]
    rows = [
        {"姓名": "孙八", "岗位/角色": "岗位责任人", "联系电话": "13912340001",
         "岗位名称": "城建管理岗", "工号": "G0108", "负责网格编码": a},
        {"姓名": "周九", "岗位/角色": "岗位责任人", "联系电话": "13912340002",
         "岗位名称": "并不存在的岗"},
    ]  # fmt: skip
    path = fill_template("staff", tmp_path / "new.xlsx", rows)
    with Session.begin() as s:
        refused = import_file(s, "staff", path, community=COMMUNITY, today=TODAY)
    assert _errors(refused) == {(3, "post")} and "城建管理岗" in refused.errors[0].reason_en
    with Session.begin() as s:
        done = import_file(s, "staff", path, community=COMMUNITY, today=TODAY,
                           only_good_rows=True)  # fmt: skip
    with Session() as s:
        member = s.get(Staff, done.ids[0])
        assert (member.name, member.role, member.post, member.staff_no) == (
            "孙八", "post_staff", "城建管理岗", "G0108")  # fmt: skip
    # yesterday's template: no 岗位名称/工号 columns at all; and the short role header 岗位
    old_headers = ["姓名", "岗位/角色", "联系电话", "是否公开电话", "职责", "负责网格编码", "照片"]
    old = write_csv(tmp_path / "old.csv", [dict(zip(old_headers, ["吴十", "专职网格员",
                    "13912340003", "是", "巡查", a, ""], strict=True))])  # fmt: skip
    short = write_csv(tmp_path / "short.csv", [{"姓名": "郑十一", "岗位": "网格长",
                                                "联系电话": "13912340004"}])  # fmt: skip
    with Session.begin() as s:
        first = import_file(s, "staff", old, community=COMMUNITY, today=TODAY)
        second = import_file(s, "staff", short, community=COMMUNITY, today=TODAY)
    assert not first.errors and not second.errors
    with Session() as s:
        w, z = s.get(Staff, first.ids[0]), s.get(Staff, second.ids[0])
        assert (w.role, w.post, w.staff_no) == ("grid_worker", None, None)
        assert (z.role, z.post) == ("grid_leader", None)


def test_staff_4050_column_is_stored_and_optional(demo_db, demo_grids, tmp_path):
    """The optional column 4050人员 (是/否) is stored as ``is_4050``; a file without it (the
    template of before) imports with ``is_4050`` false; a value that is not yes/no is named."""
    Session = demo_db
    a = sorted(demo_grids["code"])[0]
    rows = [
        {"姓名": "钱一", "岗位/角色": "专职网格员", "联系电话": "13912340011", "4050人员": "是",
         "负责网格编码": a},
        {"姓名": "钱二", "岗位/角色": "专职网格员", "联系电话": "13912340012", "4050人员": "否"},
        {"姓名": "钱三", "岗位/角色": "专职网格员", "联系电话": "13912340013"},
    ]  # fmt: skip
    path = fill_template("staff", tmp_path / "with4050.xlsx", rows)
    old = write_csv(tmp_path / "old.csv", [{"姓名": "钱四", "岗位/角色": "专职网格员",
                                             "联系电话": "13912340014"}])  # fmt: skip
    bad = write_csv(tmp_path / "bad.csv", [{"姓名": "钱五", "岗位/角色": "专职网格员",
                                             "联系电话": "13912340015",
                                             "4050人员": "大概"}])  # fmt: skip
    with Session.begin() as s:
        done = import_file(s, "staff", path, community=COMMUNITY, today=TODAY)
        before = import_file(s, "staff", old, community=COMMUNITY, today=TODAY)
        refused = import_file(s, "staff", bad, community=COMMUNITY, today=TODAY)
    assert not done.errors and not before.errors
    assert _errors(refused) == {(2, "is_4050")} and not refused.written
    with Session() as s:
        flags = [s.get(Staff, i).is_4050 for i in done.ids + before.ids]
    assert flags == [True, False, False, False]
