"""The columns of the registry's spreadsheets: one source of truth for template, import, export.

The monthly assessment's field-check workbook (``wangge template field-check``) uses the same
columns: :data:`FIELD_CHECK_SHEETS` names its three data sheets (house fields, population
fields, special-status items), each a kind of :data:`COLUMNS`.

Staff keep their registers in spreadsheets with Chinese headers. :data:`COLUMNS` lists, per
kind (``houses``, ``residents``, ``staff``), each column: the Chinese header, the field it
fills (the model / validator key), whether it is required, its type, its code table and an
example. :func:`write_template` writes the blank XLSX from it (header row, an explanation
sheet, drop-downs for enumerations, ID numbers and phones formatted as text);
:func:`header_map` tells the importer which header means which field (Chinese header,
English header or field name); the exporter uses the same headers in XLSX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from api.services.registry.codes import code_table
from gis.errors import InputError, MissingFieldError

__all__ = [
    "COLUMNS",
    "DATA_SHEET",
    "FIELD_CHECK",
    "FIELD_CHECK_SHEETS",
    "KINDS",
    "TEMPLATE_ROWS",
    "Column",
    "ColumnType",
    "column",
    "header_map",
    "normalise_header",
    "write_template",
]

ColumnType = Literal[
    "text",
    "number",
    "int",
    "date",
    "code",
    "phone",
    "id_number",
    "bool",
    "grid_codes",
    "special_item",
]
KINDS = ("houses", "residents", "staff")
DATA_SHEET = {"houses": "房屋", "residents": "人口", "staff": "人员"}
"""Name of the data sheet (the first sheet) of each kind's template."""
TEMPLATE_ROWS = 2000
"""Rows (below the header) given text format and drop-downs in a template."""

_TYPE_ZH = {
    "text": "文本",
    "number": "数字",
    "int": "整数",
    "date": "日期 YYYY-MM-DD",
    "code": "代码表取值（名称或代码）",
    "phone": "电话（文本）",
    "id_number": "18 位身份证号码（文本）",
    "bool": "是/否",
    "grid_codes": "15 位网格编码，多个用逗号分隔",
    "special_item": "特殊人群类别的项目名称（中文或字段名）",
}


@dataclass(frozen=True)
class Column:
    """One spreadsheet column: Chinese header ↔ field, required, type, code table, example."""

    field: str
    header_zh: str
    header_en: str
    type: ColumnType = "text"
    required: bool = False
    code_table: str | None = None
    example: str = ""
    note_zh: str = ""

    @property
    def is_text_format(self) -> bool:
        """True for columns Excel must keep as text (leading zeros, a final X, 11+ digits)."""
        return self.type in {"phone", "id_number", "grid_codes"} or self.field == "house_key"


COLUMNS: dict[str, tuple[Column, ...]] = {
    "houses": (
        Column("address", "门牌号码", "door plate", required=True,
               example="上海市黄浦区九江路1号", note_zh="完整门牌地址；人口表按此关联房屋"),
        Column("owner", "产权人", "owner", example="张三"),
        Column("floor_area_m2", "房屋面积(m²)", "floor area (m2)", "number", example="86.5"),
        Column("house_type", "房屋类型", "house type", "code", code_table="house_type",
               example="住宅"),
        Column("use", "房屋用途", "house use", "code", code_table="house_use", example="自住"),
        Column("lon", "经度", "longitude", "number", example="121.48447887",
               note_zh="WGS84 经度（GCJ-02/BD-09 导入时用 --input-crs 说明）"),
        Column("lat", "纬度", "latitude", "number", example="31.23980855",
               note_zh="WGS84 纬度"),
        Column("house_key", "房屋编号", "house id", example="H00001",
               note_zh="社区内唯一，可空"),
        Column("road", "路名", "road", example="九江路"),
        Column("number", "门牌号", "number", example="1"),
        Column("building", "楼栋", "building", example="3号楼"),
        Column("households", "户数", "households", "int", example="1"),
    ),
    "residents": (
        Column("name", "姓名", "name", required=True, example="李四"),
        Column("gender", "性别", "gender", "code", code_table="gender", example="男",
               note_zh="可空，空时取自身份证号码"),
        Column("ethnicity", "民族", "ethnicity", "code", code_table="ethnicity", example="汉族"),
        Column("id_number", "身份证号码", "ID number", "id_number", example="11010519491231002X",
               note_zh="境外人员以外必填；GB 11643 校验"),
        Column("birth_date", "出生日期", "birth date", "date", example="1949-12-31",
               note_zh="须与身份证号码一致"),
        Column("education", "文化程度", "education", "code", code_table="education",
               example="大学本科毕业"),
        Column("relation_to_householder", "与户主关系", "relation to householder", "code",
               code_table="relation_to_householder", example="户主"),
        Column("marital_status", "婚姻状况", "marital status", "code",
               code_table="marital_status", example="已婚"),
        Column("marital_status_date", "婚姻状况日期", "marital status date", "date",
               example="1975-05-01"),
        Column("political_status", "政治面貌", "political status", "code",
               code_table="political_status", example="群众"),
        Column("hukou_address", "户籍详细地址", "hukou address",
               example="北京市朝阳区某街道1号"),
        Column("population_type", "人口类型", "population type", "code", required=True,
               code_table="population_type", example="户籍人口"),
        Column("inflow_date", "流入日期", "inflow date", "date", example="",
               note_zh="流动、寄住人口必填"),
        Column("residence_permit_no", "暂住证号", "residence permit number", example=""),
        Column("phone", "联系电话", "phone", "phone", example="13812345678"),
        Column("door_plate", "门牌号码", "door plate", required=True,
               example="上海市黄浦区九江路1号", note_zh="须为本社区已登记房屋的门牌号码"),
    ),
    "staff": (
        Column("name", "姓名", "name", required=True, example="王五"),
        Column("role", "岗位/角色", "role", "code", required=True, code_table="staff_role",
               example="专职网格员"),
        Column("phone", "联系电话", "phone", "phone", required=True, example="13912345678"),
        Column("phone_published", "是否公开电话", "phone published", "bool", example="是",
               note_zh="空为是"),
        Column("duties", "职责", "duties", example="入户登记、巡查"),
        Column("grid_codes", "负责网格编码", "grid codes", "grid_codes",
               example="310101002005001", note_zh="本社区现行划分的网格编码"),
        Column("photo_path", "照片", "photo", example="photos/wangwu.jpg",
               note_zh="照片文件路径"),
        Column("post", "岗位名称", "post name", example="城建管理岗",
               note_zh="可空；须为已有岗位（GET /posts）；“岗位/角色”一列仍为角色"),
        Column("staff_no", "工号", "staff number", example="G0001", note_zh="可空"),
        Column("is_4050", "4050人员", "4050 staff", "bool", example="否",
               note_zh="可空，空为否；是 = “4050”公益性岗位人员，按人数划分网格时不计入"),
    ),
}  # fmt: skip

# --------------------------------------------------------------------------- field check

FIELD_CHECK = "field-check"
"""The kind of the assessment's field-check workbook (several data sheets)."""
FIELD_CHECK_SHEETS = {
    "field_check_houses": "房屋",
    "field_check_residents": "人口",
    "field_check_specials": "特殊人群",
}
"""Data sheets of the field-check workbook: kind of :data:`COLUMNS` → sheet name."""

_FIELD_KEY = Column("house_key", "房屋编号", "house id", required=True, example="H00001",
                    note_zh="抽中样本点的房屋编号（见 wangge assess draw）")  # fmt: skip
_HOUSE_FIELDS = ("address", "owner", "floor_area_m2", "house_type", "use")
_PERSON_SKIP = ("door_plate",)
COLUMNS["field_check_houses"] = (
    _FIELD_KEY,
    *(replace(c, required=False) for c in COLUMNS["houses"] if c.field in _HOUSE_FIELDS),
    Column("residents_checked", "人口已核查", "residents checked", "bool", example="是",
           note_zh="是 = 已核查人口（无人口行 = 无人居住）；否 = 未核查；空 = 有人口行即已核查"),
)  # fmt: skip
COLUMNS["field_check_residents"] = (
    _FIELD_KEY,
    *(replace(c, required=c.field == "name") for c in COLUMNS["residents"]
      if c.field not in _PERSON_SKIP),
)  # fmt: skip
COLUMNS["field_check_specials"] = (
    _FIELD_KEY,
    Column("name", "姓名", "name", required=True, example="李四", note_zh="人口表中的姓名"),
    Column("category", "特殊人群类别", "special-status category", "code", required=True,
           code_table="special_status", example="残疾人"),
    Column("item", "项目", "item", "special_item", example="",
           note_zh="该类别的字段名称；空 = 只核对有无此类别"),
    Column("value", "值", "value", example=""),
)  # fmt: skip
DATA_SHEET.update(FIELD_CHECK_SHEETS)


def _check_kind(kind: str) -> tuple[Column, ...]:
    if kind not in COLUMNS:
        raise InputError(
            f"未知的登记类型 / unknown register kind {kind!r}; expected one of {', '.join(KINDS)}"
        )
    return COLUMNS[kind]


def column(kind: str, field: str) -> Column:
    """Return the column of ``kind`` filling ``field`` (KeyError when there is none)."""
    for col in _check_kind(kind):
        if col.field == field:
            return col
    raise MissingFieldError(f"{kind}: 没有字段 / no field {field!r}")


def normalise_header(text: object) -> str:
    """Return a header as compared: no spaces, half-width brackets and slash, casefolded.

    >>> normalise_header(" 房屋面积（m²） "), normalise_header("ID Number")
    ('房屋面积(m²)', 'idnumber')
    """
    s = str(text).translate(str.maketrans("（）／", "()/"))
    return re.sub(r"\s+", "", s).casefold()


def header_map(kind: str) -> dict[str, str]:
    """Return {normalised header: field} for ``kind``: Chinese header, English header, field.

    A Chinese header's text before a bracket (``房屋面积`` for ``房屋面积(m²)``) and before a
    slash (``岗位`` for ``岗位/角色``) is accepted too.
    """
    out: dict[str, str] = {}
    for col in _check_kind(kind):
        names = [col.header_zh, col.header_en, col.field, col.header_zh.split("(")[0]]
        names += col.header_zh.split("/")
        for name in names:
            out.setdefault(normalise_header(name), col.field)
    return out


def _allowed_values(col: Column) -> list[str]:
    if col.type == "bool":
        return ["是", "否"]
    if col.code_table is not None:
        return [r["name_zh"] for r in code_table(col.code_table).rows]
    return []


def write_template(kind: str, path: str | Path) -> Path:
    """Write the blank XLSX template of ``kind`` (houses, residents, staff, field-check).

    Sheets: the data sheet (:data:`DATA_SHEET`, header row only, frozen; for
    :data:`FIELD_CHECK` the three sheets of :data:`FIELD_CHECK_SHEETS`), 说明 (each column:
    header, field, required, type, allowed values, example, note) and 代码 (the code tables
    the drop-downs list, Chinese names). Enumerations get drop-downs, required headers are
    bold red, ID numbers, phones and codes are text cells. Returns the path.
    """
    # openpyxl only here: importing a register (header maps, columns) does not need it
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter, quote_sheetname

    kinds = list(FIELD_CHECK_SHEETS) if kind == FIELD_CHECK else [kind]
    sheets = [(k, _check_kind(k)) for k in kinds]
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: 模板须为 .xlsx / the template must be an .xlsx file")
    wb = Workbook()
    data_sheets = [wb.active]
    data_sheets[0].title = DATA_SHEET[kinds[0]]
    data_sheets += [wb.create_sheet(DATA_SHEET[k]) for k in kinds[1:]]
    help_ws = wb.create_sheet("说明")
    codes_ws = wb.create_sheet("代码")

    # code-table sheet: one column per enumeration, used by the drop-downs
    lists: dict[str, str] = {}
    for _, columns in sheets:
        for col in columns:
            values = _allowed_values(col)
            if not values or col.field in lists:
                continue
            j = len(lists) + 1
            letter = get_column_letter(j)
            codes_ws.cell(row=1, column=j, value=col.header_zh).font = Font(bold=True)
            for i, value in enumerate(values, start=2):
                codes_ws.cell(row=i, column=j, value=value)
            codes_ws.column_dimensions[letter].width = 24
            lists[col.field] = (
                f"{quote_sheetname(codes_ws.title)}!${letter}$2:${letter}${len(values) + 1}"
            )

    for ws, (_, columns) in zip(data_sheets, sheets, strict=True):
        _fill_data_sheet(ws, columns, lists)

    help_headers = ("列名", "字段 field", "必填 required", "类型 type", "允许值 allowed",
                    "示例 example", "说明 note")  # fmt: skip
    for j, text in enumerate(help_headers, start=1):
        help_ws.cell(row=1, column=j, value=text).font = Font(bold=True)
    i = 2
    for k, columns in sheets:
        for col in columns:
            allowed = _allowed_values(col)
            shown = "、".join(allowed[:60]) + ("……" if len(allowed) > 60 else "")
            header = col.header_zh if len(sheets) == 1 else f"{DATA_SHEET[k]}：{col.header_zh}"
            row = (header, col.field, "是" if col.required else "否", _TYPE_ZH[col.type],
                   shown, col.example, col.note_zh)  # fmt: skip
            for j, value in enumerate(row, start=1):
                cell = help_ws.cell(row=i, column=j, value=value)
                cell.number_format = "@"
            i += 1
    for letter, width in zip("ABCDEFG", (16, 24, 10, 26, 60, 26, 40), strict=True):
        help_ws.column_dimensions[letter].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _fill_data_sheet(ws, columns: tuple[Column, ...], lists: dict[str, str]) -> None:
    """Header row, column formats and drop-downs of one data sheet."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for j, col in enumerate(columns, start=1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j, value=col.header_zh)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[letter].width = max(12, 2 * len(col.header_zh) + 4)
        cells = f"{letter}2:{letter}{TEMPLATE_ROWS + 1}"
        if col.is_text_format or col.type == "date":
            fmt = "@" if col.is_text_format else "yyyy-mm-dd"
            ws.column_dimensions[letter].number_format = fmt
            for (c,) in ws[cells]:
                c.number_format = fmt
        if col.field in lists:
            dv = DataValidation(
                type="list",
                formula1=lists[col.field],
                allow_blank=not col.required,
                showErrorMessage=False,  # a code typed by hand is accepted too
                promptTitle=col.header_zh[:32],
                prompt="从下拉列表选择，或填写代码 / pick from the list or type a code",
            )
            dv.add(cells)
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
