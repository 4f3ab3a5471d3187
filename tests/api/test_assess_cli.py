"""``wangge assess draw | dept | score | report`` end to end on the demo community, both DBs.

The demo is loaded, residents are added to the drawn households, a field-check workbook
(from ``wangge template field-check``) is filled, and the scores are checked against figures
worked out by hand from docs/design.md §2 (6 points a sample point; 6 / 0.5 / 0.5 / 0.1 per
missing registration / house field / population field / special-status item; floor 0; one
fact deducted once):

=====  =====================================================================  ======
point  what the field data says                                               score
=====  =====================================================================  ======
k0     every house field as registered                                        6
k1     4 house fields + 10 population fields wrong: 14 × 0.5 = 7 > 6          0
k2     a person living there who is not registered (missing registration)     0
k3     door plate wrong in the house record and, with the same value, in the  5.5
       householder's 户籍地址 (one fact: 0.5 once)
k4     a phone wrong (0.5) and one field of a disability record wrong (0.1)   5.4
k5–k9  only the house key (nothing checked)                                   6 each
=====  =====================================================================  ======

Sample points 6 + 0 + 0 + 5.5 + 5.4 + 5 × 6 = 46.9; departments 8 + 7.5 + 8 + 6 + 7 = 36.5;
total 83.4.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.cli import app as main_app
from api.db.engine import make_engine, session_factory
from api.db.models import House, Resident, SpecialStatus
from api.services.assessment import derive_seed, draw_sample
from api.services.demo import load_demo
from tests.api.routes.conftest import _module_database, valid_id_number

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
COMMUNITY, MONTH = "310101002005", "2026-05"
DEPTS = {"office": 8, "social_affairs": 7.5, "economy": 8, "urban_management": 6, "stability": 7}
runner = CliRunner()
ID = {n: valid_id_number(n, birth="19800101") for n in (501, 503, 505, 507)}


APP = cli_app  # the real `wangge` command, as users run it


def assess(*args, code: int | None = 0):
    result = runner.invoke(APP, ["assess", *map(str, args)])
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def flat(text: str) -> str:
    """Console text without the line breaks rich adds to fit the terminal."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def demo_url(db_url, tmp_path_factory):
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    load_demo(db_url=url)
    yield url
    next(gen, None)


def _add_registry(url: str, keys: list[str]) -> dict[str, dict]:
    """Residents of k1..k4 as registered (these replace the demo's own residents of those
    houses, so the planted differences are the only ones); return the house rows of the
    sample by key."""
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            houses = {
                h.house_key: h for h in session.query(House).filter(House.house_key.in_(keys))
            }
            planted = [houses[k].id for k in keys[1:5]]
            session.query(Resident).filter(Resident.house_id.in_(planted)).delete()

            def person(key, name, serial, **values):
                first = valid_id_number(serial, birth="19800101")
                r = Resident(
                    house_id=houses[key].id,
                    name=name,
                    id_number=first,
                    birth_date=dt.date(1980, 1, 1),
                    population_type="10",
                    **values,
                )
                session.add(r)
                return r  # fmt: skip

            person(keys[1], "李强", 501, gender="1", ethnicity="01", education="21",
                   relation_to_householder="02", marital_status="20", political_status="13",
                   hukou_address="上海市黄浦区九江路1号", phone="13800001111")  # fmt: skip
            person(keys[2], "赵六", 503, gender="1")
            person(keys[3], "王芳", 505, hukou_address=houses[keys[3]].address)
            zhou = person(keys[4], "周八", 507, phone="13800002222")
            session.flush()
            session.add(SpecialStatus(resident_id=zhou.id, category="disability",
                                      fields={"disability_cert_no": "C001",
                                              "disability_kind": "肢体",
                                              "disability_grade": "三级"}))  # fmt: skip
            return {
                k: {"address": h.address, "owner": h.owner, "floor_area_m2": h.floor_area_m2,
                    "house_type": h.house_type, "use": h.use}
                for k, h in houses.items()
            }  # fmt: skip
    finally:
        engine.dispose()


def _other(value: str, choices: tuple[str, str]) -> str:
    return choices[0] if value != choices[0] else choices[1]


def _fill(path: Path, keys: list[str], reg: dict[str, dict]) -> None:
    wb = load_workbook(path)

    def add(sheet: str, values: dict) -> None:
        ws = wb[sheet]
        headers = [c.value for c in ws[1]]
        ws.append([values.get(h) for h in headers])

    k0, k1, k2, k3, k4 = keys[:5]
    r0 = reg[k0]
    add("房屋", {"房屋编号": k0, "门牌号码": r0["address"], "产权人": r0["owner"],
                "房屋面积(m²)": r0["floor_area_m2"], "房屋类型": r0["house_type"],
                "房屋用途": r0["use"]})  # fmt: skip
    r1 = reg[k1]
    add("房屋", {"房屋编号": k1, "产权人": "某甲", "房屋面积(m²)": r1["floor_area_m2"] * 2,
                "房屋类型": _other(r1["house_type"], ("住宅", "办公")),
                "房屋用途": _other(r1["use"], ("自住", "出租"))})  # fmt: skip
    add("人口", {"房屋编号": k1, "姓名": "李墙", "身份证号码": ID[501],
                "性别": "女", "民族": "回族", "出生日期": "1980-01-01", "文化程度": "普通高中毕业",
                "与户主关系": "妻", "婚姻状况": "离婚", "政治面貌": "共青团员",
                "户籍详细地址": "北京市朝阳区建国路1号", "人口类型": "流动人口",
                "联系电话": "13900000000"})  # fmt: skip
    add("房屋", {"房屋编号": k2})
    add(
        "人口",
        {"房屋编号": k2, "姓名": "赵六", "身份证号码": valid_id_number(503, birth="19800101")},
    )
    add("人口", {"房屋编号": k2, "姓名": "孙七", "出生日期": "2001-02-03"})
    moved = reg[k3]["address"] + "甲"
    add("房屋", {"房屋编号": k3, "门牌号码": moved})
    add("人口", {"房屋编号": k3, "姓名": "王芳", "身份证号码": ID[505],
                "户籍详细地址": moved})  # fmt: skip
    add("房屋", {"房屋编号": k4})
    add("人口", {"房屋编号": k4, "姓名": "周八", "联系电话": "13800003333",
                "身份证号码": valid_id_number(507, birth="19800101")})  # fmt: skip
    add("特殊人群", {"房屋编号": k4, "姓名": "周八", "特殊人群类别": "残疾人", "项目": "残疾等级",
                    "值": "二级"})  # fmt: skip
    add("特殊人群", {"房屋编号": k4, "姓名": "周八", "特殊人群类别": "残疾人", "项目": "残疾类别",
                    "值": "肢体"})  # fmt: skip
    for key in keys[5:]:
        add("房屋", {"房屋编号": key})
    wb.save(path)


def test_assessment_end_to_end_through_the_cli(demo_url, tmp_path):
    db = ("--db", demo_url)
    drawn = json.loads(assess("draw", "--community", COMMUNITY, "--month", MONTH, *db,
                              "--json").stdout)  # fmt: skip
    keys = [h["house_key"] for h in drawn["households"]]
    # The recorded draw is the one anyone can redo from the demo's house list and the seed.
    houses = pd.read_csv(DEMO / "houses.csv", dtype=str).rename(columns={"house_id": "house_key"})
    redo = draw_sample(houses[["house_key", "address"]], community=COMMUNITY, month=MONTH)
    assert keys == list(redo.household_ids) and len(set(keys)) == 10
    assert drawn["seed"] == derive_seed(COMMUNITY, MONTH) and drawn["created"] is True
    again = json.loads(assess("draw", "--community", "外滩源社区", "--month", MONTH, *db,
                              "--json").stdout)  # fmt: skip
    assert again["created"] is False and [h["house_key"] for h in again["households"]] == keys

    reg = _add_registry(demo_url, keys)
    workbook = tmp_path / "field.xlsx"
    made = runner.invoke(main_app, ["template", "field-check", "--out", str(workbook)])
    assert made.exit_code == 0, made.output
    _fill(workbook, keys, reg)

    # Scoring before the departments: the points are stored, the month is not complete (1).
    partial = assess("score", "--community", COMMUNITY, "--month", MONTH, "--field-data",
                     workbook, *db, "--json", code=1)  # fmt: skip
    assert json.loads(partial.stdout)["total"] is None
    for dept, points in DEPTS.items():
        assess("dept", "--community", COMMUNITY, "--month", MONTH, "--dept", dept,
               "--points", points, "--reason", f"{dept} 按期完成", *db)  # fmt: skip
    result = json.loads(
        assess(
            "score",
            "--community",
            COMMUNITY,
            "--month",
            MONTH,
            "--field-data",
            workbook,
            *db,
            "--json",
        ).stdout
    )
    points = {p["house_key"]: p for p in result["points"]}
    scores = [points[k]["score"] for k in keys]
    assert scores == [6.0, 0.0, 0.0, 5.5, 5.4, 6.0, 6.0, 6.0, 6.0, 6.0]
    assert result["sample_points"] == 46.9
    assert result["department_points"] == 36.5
    assert result["total"] == 83.4 and result["complete"] is True

    floored = points[keys[1]]["deductions"]
    assert len(floored) == 14 and sum(d["points"] for d in floored) == 6.0
    assert [d["points"] for d in floored].count(0.5) == 12
    assert {d["field"] for d in floored if d["record"] == "房屋"} == {
        "owner", "floor_area_m2", "house_type", "use"}  # fmt: skip
    owner = next(d for d in floored if d["field"] == "owner")
    assert (owner["registry_value"], owner["field_value"]) == (reg[keys[1]]["owner"], "某甲")

    (missing,) = points[keys[2]]["deductions"]
    assert missing["rule"] == "missing_registration" and missing["points"] == 6.0
    assert missing["field_value"] == "孙七"

    same = points[keys[3]]["deductions"]
    assert sorted(d["field"] for d in same) == ["address", "hukou_address"]
    assert sorted(d["points"] for d in same) == [0.0, 0.5]
    assert all(d["registry_value"] == reg[keys[3]]["address"] for d in same)
    assert all(d["field_value"] == reg[keys[3]]["address"] + "甲" for d in same)

    special = {d["rule"]: d for d in points[keys[4]]["deductions"]}
    assert set(special) == {"population_field", "special_item"}
    assert special["special_item"]["points"] == 0.1
    assert (special["special_item"]["registry_value"], special["special_item"]["field_value"]) == (
        "三级", "二级")  # fmt: skip

    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    report = json.loads(assess("report", "--month", MONTH, "--out", xlsx, *db, "--json").stdout)
    assert report["ranking"] == [{"rank": 1, "community": "外滩源社区", "total": 83.4}]
    wb = load_workbook(xlsx, read_only=True)
    ranking = list(wb["排名"].iter_rows(values_only=True))
    header = ranking[0]
    assert ranking[1][header.index("总分(100)")] == 83.4
    rows = list(wb["扣分明细"].iter_rows(values_only=True))
    assert len(rows) - 1 == 14 + 1 + 2 + 2
    text = json.dumps(rows, ensure_ascii=False, default=str)
    assert "13800002222" not in text and "13800003333" not in text  # phones masked
    wb.close()
    assess("report", "--month", MONTH, "--out", pdf, *db)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_bad_input_exits_2(demo_url, tmp_path):
    db = ("--db", demo_url)
    bad_month = assess("draw", "--community", COMMUNITY, "--month", "2026-13", *db, code=2)
    assert "YYYY-MM" in flat(bad_month.stderr)
    assert "没有社区" in flat(assess("draw", "--community", "无此社区", "--month", MONTH, *db,
                                   code=2).stderr)  # fmt: skip
    assess("dept", "--community", COMMUNITY, "--month", MONTH, "--dept", "office",
           "--points", 9, "--reason", "x", *db, code=2)  # fmt: skip
    workbook = tmp_path / "f.xlsx"
    runner.invoke(main_app, ["template", "field-check", "--out", str(workbook)])
    wb = load_workbook(workbook)
    wb["房屋"].append(["H99999"])
    wb.save(workbook)
    month = "2026-04"
    assess("draw", "--community", COMMUNITY, "--month", month, *db)
    stranger = assess("score", "--community", COMMUNITY, "--month", month, "--field-data",
                      workbook, *db, code=2)  # fmt: skip
    assert "H99999" in flat(stranger.stderr) and "not sample points" in flat(stranger.stderr)
    none = assess("report", "--month", "2025-01", "--out", tmp_path / "x.xlsx", *db, code=2)
    assert "no community has a complete assessment" in flat(none.stderr)
