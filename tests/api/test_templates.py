"""Import templates: Chinese headers, explanation sheet, drop-downs from the code tables, text
cells for ID numbers and phones; header mapping for the importer."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from api.services.registry.templates import (
    COLUMNS,
    DATA_SHEET,
    KINDS,
    header_map,
    normalise_header,
    write_template,
)

CODES = Path(__file__).resolve().parents[2] / "data" / "codes"

# The headers the issue names, by kind (the contract with the staff's spreadsheets).
NAMED_HEADERS = {
    "houses": ["门牌号码", "产权人", "房屋面积(m²)", "房屋类型", "房屋用途", "经度", "纬度"],
    "residents": ["姓名", "性别", "民族", "身份证号码", "出生日期", "文化程度", "与户主关系",
                  "婚姻状况", "婚姻状况日期", "政治面貌", "户籍详细地址", "人口类型", "流入日期",
                  "暂住证号", "联系电话", "门牌号码"],
    "staff": ["姓名", "岗位/角色", "联系电话", "是否公开电话", "职责", "负责网格编码", "照片"],
}  # fmt: skip
TEXT_COLUMNS = {"身份证号码", "联系电话", "负责网格编码", "房屋编号"}


def _names_in_csv(table: str) -> list[str]:
    with (CODES / f"{table}.csv").open(encoding="utf-8") as f:
        return [row["name_zh"].strip() for row in csv.DictReader(f)]


def _validations(ws) -> dict[str, str]:
    """{column letter: formula} of the list validations of a sheet."""
    found = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        for rng in dv.sqref.ranges:
            found[rng.coord.split(":")[0].rstrip("0123456789")] = dv.formula1
    return found


def _list_values(wb, formula: str) -> list[str]:
    sheet, cells = formula.split("!")
    ws = wb[sheet.strip("'")]
    return [c.value for (c,) in ws[cells.replace("$", "")]]


@pytest.mark.parametrize("kind", KINDS)
def test_template_header_row_is_the_chinese_headers(kind, tmp_path):
    path = write_template(kind, tmp_path / f"{kind}.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == [DATA_SHEET[kind], "说明", "代码"]
    ws = wb[DATA_SHEET[kind]]
    header = [c.value for c in ws[1]]
    assert header == [c.header_zh for c in COLUMNS[kind]]
    assert set(NAMED_HEADERS[kind]) <= set(header)
    assert ws.max_row == 1 or all(c.value is None for row in ws.iter_rows(min_row=2) for c in row)
    # required headers stand out
    red = {c.value for c in ws[1] if c.font.color is not None and c.font.color.rgb == "00C00000"}
    assert red == {c.header_zh for c in COLUMNS[kind] if c.required}


@pytest.mark.parametrize("kind", KINDS)
def test_drop_downs_list_exactly_the_code_table_names(kind, tmp_path):
    wb = load_workbook(write_template(kind, tmp_path / f"{kind}.xlsx"))
    ws = wb[DATA_SHEET[kind]]
    letters = {c.value: c.column_letter for c in ws[1]}
    validations = _validations(ws)
    enumerated = {c.header_zh for c in COLUMNS[kind] if c.code_table or c.type == "bool"}
    assert {h for h, letter in letters.items() if letter in validations} == enumerated
    for col in COLUMNS[kind]:
        if col.code_table:
            listed = _list_values(wb, validations[letters[col.header_zh]])
            assert listed == _names_in_csv(col.code_table), col.header_zh
        elif col.type == "bool":
            assert _list_values(wb, validations[letters[col.header_zh]]) == ["是", "否"]


def test_ethnicity_drop_down_has_the_56_official_names(tmp_path):
    wb = load_workbook(write_template("residents", tmp_path / "r.xlsx"))
    ws = wb[DATA_SHEET["residents"]]
    letter = next(c.column_letter for c in ws[1] if c.value == "民族")
    listed = _list_values(wb, _validations(ws)[letter])
    with (CODES / "ethnicity.csv").open(encoding="utf-8") as f:
        official = [r["name_zh"] for r in csv.DictReader(f) if r["official"] == "1"]
    assert len(official) == 56 and set(official) <= set(listed)
    assert "汉族" in listed and "维吾尔族" in listed


@pytest.mark.parametrize("kind", KINDS)
def test_id_numbers_and_phones_are_text_cells(kind, tmp_path):
    ws = load_workbook(write_template(kind, tmp_path / f"{kind}.xlsx"))[DATA_SHEET[kind]]
    for cell in ws[1]:
        below = [ws.cell(row=r, column=cell.column).number_format for r in (2, 500, 2001)]
        if cell.value in TEXT_COLUMNS:
            assert below == ["@", "@", "@"], cell.value
        elif cell.value in {"出生日期", "婚姻状况日期", "流入日期"}:
            assert below == ["yyyy-mm-dd"] * 3
        else:
            assert "@" not in below, cell.value


@pytest.mark.parametrize("kind", KINDS)
def test_explanation_sheet_has_a_row_per_column(kind, tmp_path):
    ws = load_workbook(write_template(kind, tmp_path / f"{kind}.xlsx"))["说明"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [c.header_zh for c in COLUMNS[kind]]
    by_header = {r[0]: r for r in rows}
    for col in COLUMNS[kind]:
        assert by_header[col.header_zh][1] == col.field
        assert by_header[col.header_zh][2] == ("是" if col.required else "否")
    if kind == "residents":
        assert "户籍人口" in by_header["人口类型"][4] and "流动人口" in by_header["人口类型"][4]
        assert by_header["身份证号码"][5] == "11010519491231002X"


def test_template_must_be_xlsx(tmp_path):
    with pytest.raises(ValueError, match="xlsx"):
        write_template("houses", tmp_path / "houses.csv")
    with pytest.raises(ValueError, match="unknown register kind 'people'"):
        write_template("people", tmp_path / "p.xlsx")


def test_header_map_accepts_chinese_english_and_field_names():
    houses = header_map("houses")
    for given, field in [
        ("门牌号码", "address"),
        (" 房屋面积（m²） ", "floor_area_m2"),
        ("房屋面积", "floor_area_m2"),
        ("Floor Area (m2)", "floor_area_m2"),
        ("floor_area_m2", "floor_area_m2"),
        ("经度", "lon"),
        ("LON", "lon"),
    ]:
        assert houses[normalise_header(given)] == field, given
    staff = header_map("staff")
    assert staff[normalise_header("岗位/角色")] == "role"
    assert staff[normalise_header("角色")] == "role" and staff[normalise_header("岗位")] == "role"
    residents = header_map("residents")
    assert residents[normalise_header("门牌号码")] == "door_plate"
    assert residents[normalise_header("ID number")] == "id_number"
    # every field is reachable from its own name, and no two fields share a Chinese header
    for kind in KINDS:
        m = header_map(kind)
        assert all(m[normalise_header(c.field)] == c.field for c in COLUMNS[kind])
        assert len({c.header_zh for c in COLUMNS[kind]}) == len(COLUMNS[kind])
