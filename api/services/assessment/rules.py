"""The rules of the monthly assessment: points per deduction rule and per department,
the street's departments, and the house and population fields compared (see
:mod:`api.services.assessment.scoring`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from gis.errors import InputError

__all__ = [
    "DEFAULT_RULES",
    "DEPARTMENTS",
    "DEPARTMENT_POINTS",
    "HOUSE_FIELDS",
    "POINT_MAX",
    "POPULATION_FIELDS",
    "RULE_LABELS",
    "FieldSpec",
    "Kind",
    "ScoringRules",
    "to_decimal",
]


POINT_MAX = Decimal(6)
DEPARTMENT_POINTS = Decimal(8)
DEPARTMENTS: dict[str, str] = {
    "office": "党政办公室",
    "social_affairs": "社会事务中心",
    "economy": "经济发展中心",
    "urban_management": "城市管理中心",
    "stability": "综治维稳中心",
}
"""The street's "one office, four centres" (一办四中心). The seed names only the 社会事务中心
(where the grid leading group's office sits); the other four are the usual street-office
set and can be renamed here."""

RULE_LABELS: dict[str, str] = {
    "missing_registration": "房屋/人口未建档登记",
    "house_field": "房屋基本信息错误或缺失",
    "population_field": "人口基本信息错误或缺失",
    "special_item": "特殊人群信息错误或缺失",
    "stale_resident": "登记人员实地未见（未注销）",
}


Kind = Literal["text", "name", "address", "code", "date", "area", "number", "int", "phone",
               "id_number", "bool"]  # fmt: skip


def to_decimal(value: object, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except Exception as exc:
        raise InputError(f"{what} 须为数字 / {what} must be a number: {value!r}") from exc
    if not d.is_finite():
        raise InputError(f"{what} 须为有限数字 / {what} must be finite: {value!r}")
    return d


@dataclass(frozen=True)
class ScoringRules:
    """Points of each deduction rule and the comparison tolerances (see the module docstring)."""

    missing_registration: Decimal = Decimal(6)
    house_field: Decimal = Decimal("0.5")
    population_field: Decimal = Decimal("0.5")
    special_item: Decimal = Decimal("0.1")
    stale_resident: Decimal = Decimal("0.5")
    point_max: Decimal = POINT_MAX
    area_tolerance: float = 0.01
    area_tolerance_min_m2: float = 0.5
    number_tolerance: float = 0.005

    def __post_init__(self) -> None:
        for name in ("missing_registration", "house_field", "population_field",
                     "special_item", "stale_resident", "point_max"):  # fmt: skip
            value = to_decimal(getattr(self, name), name)
            if value < 0:
                raise InputError(f"{name} 不能为负 / must not be negative: {value}")
            object.__setattr__(self, name, value)

    def points_of(self, rule: str) -> Decimal:
        """Return the points of ``rule`` (one of :data:`RULE_LABELS`)."""
        return getattr(self, rule)


DEFAULT_RULES = ScoringRules()


@dataclass(frozen=True)
class FieldSpec:
    """A compared field: its key, Chinese label, kind, code table and fact group."""

    key: str
    label_zh: str
    kind: Kind
    code_table: str | None = None
    group: str | None = None


HOUSE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("address", "门牌号码", "address"),
    FieldSpec("owner", "产权人", "name"),
    FieldSpec("floor_area_m2", "房屋面积(m²)", "area"),
    FieldSpec("house_type", "房屋类型", "code", "house_type"),
    FieldSpec("use", "房屋用途", "code", "house_use"),
)
POPULATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "姓名", "name"),
    FieldSpec("gender", "性别", "code", "gender"),
    FieldSpec("ethnicity", "民族", "code", "ethnicity"),
    FieldSpec("id_number", "身份证号码", "id_number"),
    FieldSpec("birth_date", "出生日期", "date"),
    FieldSpec("education", "文化程度", "code", "education"),
    FieldSpec("relation_to_householder", "与户主关系", "code", "relation_to_householder"),
    FieldSpec("marital_status", "婚姻状况", "code", "marital_status", group="marital"),
    FieldSpec("marital_status_date", "婚姻状况日期", "date", group="marital"),
    FieldSpec("political_status", "政治面貌", "code", "political_status"),
    FieldSpec("hukou_address", "户籍详细地址", "address"),
    FieldSpec("population_type", "人口类型", "code", "population_type"),
    FieldSpec("inflow_date", "流入日期", "date"),
    FieldSpec("residence_permit_no", "暂住证号", "text"),
    FieldSpec("phone", "联系电话", "phone"),
)
