"""Score the monthly assessment: sample points against the registry, departments, ranking.

docs/design.md §2 (from the seed's 督查与考核方式): 100 points per community and month, 40 from
the street's five departments ("one office, four centres", 8 each, entered with a reason) and
60 from 10 sample points (households), 6 each. On the spot the households' data is collected
and compared with the registry (:func:`score_sample_point`).

Deductions per sample point
---------------------------
=========================  =====  ==========================================================
rule                       pts    when
=========================  =====  ==========================================================
``missing_registration``   6      the house is not in the registry at all, or a person found
                                  on the spot is not registered (matched neither by ID
                                  number nor by name + birth date): the whole point
``house_field``            0.5    per house field wrong or missing in the registry: 门牌号码,
                                  产权人, 房屋面积, 房屋类型, 房屋用途
``population_field``       0.5    per population field wrong or missing: 姓名 (an addition:
                                  a misspelt name is a wrong record), 性别, 民族, 身份证号码,
                                  出生日期, 文化程度, 与户主关系, 婚姻状况及时间 (status and
                                  date are *one* item, as in the seed), 政治面貌, 户籍详细地址,
                                  人口类型, 流入日期, 暂住证号, 联系电话
``special_item``           0.1    per special-status item (one category of one person, e.g.
                                  李四's 残疾人 record) missing, wrong in any field, or
                                  registered but not found on the spot
``stale_resident``         0.5    a registered person not found in the household (moved
                                  away, not deregistered) — a wrong population record; not
                                  for population type 11 人户分离（户在人不在）, who is
                                  expected to be away. Not in the seed: a decision, set the
                                  rule to 0 to drop it
=========================  =====  ==========================================================

What counts as wrong or missing (the field data is the truth):

* a value collected on the spot that differs from the registry is *wrong*; one the registry
  lacks is *missing*; a field left blank on the spot was not checked and costs nothing
  (``不详``/``未知`` count as blank). To say a fact does not exist (no residence permit, no
  inflow date) write ``无`` (or ``没有``, ``-``, ``/``): a registry value there is wrong;
* comparison after normalisation: text and names through :func:`gis.address.normalise`
  (full/half width, white space, traditional/simplified, case); door plates and addresses
  likewise, and an administrative prefix one side omits does not count (``上海市黄浦区九江路
  1号`` = ``九江路1号``; ``浦东新区九江路1号`` ≠ ``黄浦区九江路1号``); coded fields through
  their code tables (``汉`` = ``汉族`` = ``01``); dates as dates (``1990-1-2``,
  ``1990/01/02``, ``1990年1月2日``, ``19900102``, date/datetime objects); phones by their
  digits (``+86``/``86`` dropped); ID numbers upper-cased; floor area as a number with a
  tolerance of ±1 % of the registry area, but at least ±0.5 m² (tape measurements of the
  same flat differ by that much); other numbers within 0.005.

Residents are matched between registry and field data by ID number, else by name + birth date
(a missing birth date is read from an 18-digit ID number). A wrong ID number on a person found
by name + birth date is a wrong field, not a missing registration.

No double deduction, precisely
------------------------------
1. One fact, one deduction: every deduction has a *fact key*; the first deduction of a key is
   charged, later ones with the same key are listed with 0 points and the note "同一事实".
   Keys: a house field ``(house, field)``; a person's field ``(person, field)``, where
   婚姻状况 and 婚姻状况日期 share one key; a special-status item ``(person, category)`` (its
   second wrong field costs nothing); and two *shared facts* recorded in both the house
   record and resident records: **an address** (the house's door plate and each person's
   户籍详细地址) keyed by ``(address, registry value, field value)`` after normalisation and
   without the administrative prefix (as they are compared), and
   **a person's name** (the house's owner and each person's name) keyed by ``(name, registry
   value, field value)``. So a door plate wrong in the house record and, with the same wrong
   value, in the householder's 户籍地址 costs 0.5 once; a 户籍地址 wrong differently from the
   door plate is a separate fact and costs its own 0.5.
2. Floor at 0: deductions are charged in order (house fields, then each person found on the
   spot in the order given — population fields, then special items —, then registered
   persons not found) against what is left of the 6 points; the one that crosses 0 is charged
   only the remainder, later ones are listed with 0 points and the note "已扣完". A missing
   registration takes what is left (the whole point when it comes first).
Every deduction is listed with rule, record, field, registry value, field value, the rule's
points (``nominal``) and the points charged (``points``); the point's score is 6 minus the sum
charged, never below 0. Arithmetic is decimal (no float drift: 6 − 12 × 0.5 is exactly 0).

Community score
---------------
:func:`score_community` adds the five department scores (each 0–8, with a reason; exactly
the five departments of :data:`DEPARTMENTS`) and the sample points (10 × 6). A community with
fewer than 10 sample points (fewer households) has its sample points scaled to 60 and a
note. :func:`rank_communities` ranks communities within a month by total, ties sharing the
best rank (1, 1, 3).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from api.services.assessment.sample import household_ids
from api.services.registry.codes import code_table, special_status_fields
from gis.address import normalise, split_admin_prefix
from gis.errors import InputError

__all__ = [
    "DEFAULT_RULES",
    "DEPARTMENTS",
    "DEPARTMENT_POINTS",
    "HOUSE_FIELDS",
    "POINT_MAX",
    "POPULATION_FIELDS",
    "RULE_LABELS",
    "CommunityScore",
    "Deduction",
    "DeptScore",
    "FieldSpec",
    "HouseholdRecord",
    "PointScore",
    "ResidentRecord",
    "ScoringRules",
    "household_records",
    "match_residents",
    "rank_communities",
    "score_community",
    "score_sample_point",
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
_NOTE_SAME_FACT = "同一事实已扣分，不重复扣分 / same fact already deducted"
_NOTE_FLOORED = "样本点已扣完 / sample point already at 0"
_NOTE_PARTIAL = "扣至 0 为止 / charged down to 0"
_EXPLICIT_NONE = frozenset({"无", "没有", "NONE", "-", "/", "—"})
_UNKNOWN = frozenset({"不详", "未知", "NAN", "NAT", "<NA>"})

Kind = Literal["text", "name", "address", "code", "date", "area", "number", "int", "phone",
               "id_number", "bool"]  # fmt: skip


def _dec(value: object, what: str) -> Decimal:
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
            value = _dec(getattr(self, name), name)
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
_AWAY_POPULATION_TYPE = "11"  # 人户分离（户在人不在）


# --------------------------------------------------------------------------- records


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().upper()
        return text == "" or text in _UNKNOWN
    return False


def _clean(value: object) -> Any:
    return None if _blank(value) else value


@dataclass(frozen=True)
class ResidentRecord:
    """A person of a household, with the docs/design.md §2 population fields.

    ``special_statuses`` maps a special-status category (code such as ``disability`` or its
    Chinese name) to that item's fields; ``None`` means not checked (field data) or none
    (registry).
    """

    name: str | None = None
    gender: Any = None
    ethnicity: Any = None
    id_number: Any = None
    birth_date: Any = None
    education: Any = None
    relation_to_householder: Any = None
    marital_status: Any = None
    marital_status_date: Any = None
    political_status: Any = None
    hukou_address: Any = None
    population_type: Any = None
    inflow_date: Any = None
    residence_permit_no: Any = None
    phone: Any = None
    special_statuses: Mapping[str, Mapping[str, Any]] | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> ResidentRecord:
        """Build from a dict or a DataFrame row (unknown keys ignored, NaN/blank → None)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: _clean(v) for k, v in dict(row).items() if k in names})


@dataclass(frozen=True)
class HouseholdRecord:
    """A house with its residents, as registered or as found on the spot.

    ``residents`` None (field data) means the people were not checked: registered persons
    are then not reported as missing from the house.
    """

    house_key: str | None = None
    address: Any = None
    owner: Any = None
    floor_area_m2: Any = None
    house_type: Any = None
    use: Any = None
    residents: tuple[ResidentRecord, ...] | None = ()

    @classmethod
    def from_mapping(
        cls, house: Mapping[str, Any], residents: Iterable[Mapping[str, Any]] | None = ()
    ) -> HouseholdRecord:
        """Build from a house row and its resident rows (dicts or DataFrame rows)."""
        names = {f.name for f in fields(cls)} - {"residents"}
        kwargs = {k: _clean(v) for k, v in dict(house).items() if k in names}
        people = (
            None
            if residents is None
            else tuple(
                r if isinstance(r, ResidentRecord) else ResidentRecord.from_mapping(r)
                for r in residents
            )
        )
        return cls(**kwargs, residents=people)

    @property
    def key(self) -> str:
        """The household's identifier: house key, else door plate."""
        return str(self.house_key if not _blank(self.house_key) else self.address)


def household_records(
    houses: pd.DataFrame,
    residents: pd.DataFrame | None = None,
    special_statuses: pd.DataFrame | None = None,
) -> dict[str, HouseholdRecord]:
    """Build :class:`HouseholdRecord` objects from registry or field-data tables.

    ``houses`` has ``house_key`` and/or ``address``; ``residents`` links to a house by
    ``house_key`` or by ``door_plate``/``address`` (the house's door plate);
    ``special_statuses`` has ``house_key`` (or ``door_plate``), ``name`` (the person's),
    ``category`` and either a ``fields`` column of dicts or one column per field. Returns a
    dict keyed by :attr:`HouseholdRecord.key`.
    """
    ids = household_ids(houses)
    by_plate = {
        normalise(str(a)): k
        for a, k in zip(houses.get("address", pd.Series(dtype=object)), ids, strict=False)
        if not _blank(a)
    }
    keys = set(ids)

    def _house_of(row: Mapping[str, Any], what: str, i: object) -> str:
        key = _clean(row.get("house_key"))
        if key is not None and str(key).strip() in keys:
            return str(key).strip()
        plate = _clean(row.get("door_plate", row.get("address")))
        if plate is not None and normalise(str(plate)) in by_plate:
            return by_plate[normalise(str(plate))]
        raise InputError(f"{what}第 {i} 行找不到所属房屋 / {what} row {i}: house not found")

    specials: dict[tuple[str, str], dict[str, dict]] = {}
    if special_statuses is not None:
        for i, row in special_statuses.iterrows():
            house = _house_of(row, "特殊人群表", i)
            person = normalise(str(row.get("name", "")))
            if "fields" in row and isinstance(row["fields"], Mapping):
                item = dict(row["fields"])
            else:
                skip = {"house_key", "door_plate", "address", "name", "category", "id_number"}
                item = {k: v for k, v in row.items() if k not in skip and not _blank(v)}
            specials.setdefault((house, person), {})[str(row["category"])] = item

    people: dict[str, list[ResidentRecord]] = {k: [] for k in ids}
    if residents is not None:
        for i, row in residents.iterrows():
            house = _house_of(row, "人口表", i)
            record = ResidentRecord.from_mapping(row)
            item = specials.get((house, normalise(str(record.name or ""))))
            if item is not None:
                record = replace(record, special_statuses=item)
            people[house].append(record)
    return {
        key: HouseholdRecord.from_mapping(row, people[key])
        for key, (_, row) in zip(ids, houses.iterrows(), strict=True)
    }


# --------------------------------------------------------------------------- normalisation


def _scalar_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def _is_explicit_none(value: Any) -> bool:
    return isinstance(value, str) and normalise(value) in _EXPLICIT_NONE


_DATE_YMD = re.compile(r"^(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})\D{0,2}$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _as_date(value: Any) -> dt.date | None:
    """Read a date from a date, datetime, Timestamp or common Chinese/ISO spellings.

    >>> _as_date("1990年1月2日"), _as_date("19900102") == _as_date("1990/01/02")
    (datetime.date(1990, 1, 2), True)
    >>> _as_date("1990-02-30") is None
    True
    """
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _scalar_text(value).replace(" ", "")
    match = _DATE_YMD.match(text) or _DATE_COMPACT.match(text)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value if isinstance(value, int | float) else _scalar_text(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _digits(value: Any) -> str:
    digits = re.sub(r"\D", "", _scalar_text(value))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def _id_number(value: Any) -> str:
    return re.sub(r"\s", "", _scalar_text(value)).upper()


def _birth_from_id(value: Any) -> dt.date | None:
    text = _id_number(value)
    return _as_date(text[6:14]) if len(text) == 18 else None


_TRUE = frozenset({"是", "有", "Y", "YES", "TRUE", "1", "T"})
_FALSE = frozenset({"否", "无", "N", "NO", "FALSE", "0", "F"})


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _scalar_text(value).upper()
    return True if text in _TRUE else False if text in _FALSE else None


@lru_cache(maxsize=32)
def _normalised_codes(table: str) -> dict[str, str]:
    """Code, names and short names of a code table, spelled through :func:`normalise`."""
    index: dict[str, str] = {}
    for row in code_table(table).rows:
        for column in ("code", "name_zh", "short_zh", "name_en"):
            if row.get(column):
                index.setdefault(normalise(row[column]), row["code"])
    return index


def _code(table: str, value: Any) -> str | None:
    """The code of a coded value (code, Chinese/short/English name, any width), else None."""
    try:
        codes = code_table(table)
    except FileNotFoundError:
        return None
    text = _scalar_text(value)
    code = codes.code_of(str(value).strip()) or _normalised_codes(table).get(normalise(text))
    if code is None and text.isdigit():
        for width in sorted({len(c) for c in codes.codes}):
            code = code or codes.code_of(text.zfill(width))
    return code


def _address_equal(a: Any, b: Any) -> bool:
    na, nb = normalise(_scalar_text(a)), normalise(_scalar_text(b))
    if na == nb:
        return True
    tokens_a, rest_a = split_admin_prefix(na)
    tokens_b, rest_b = split_admin_prefix(nb)
    if rest_a != rest_b or not rest_a:
        return False
    levels_a = {t.level: t.name for t in tokens_a}
    levels_b = {t.level: t.name for t in tokens_b}
    return all(levels_a[k] == levels_b[k] for k in levels_a.keys() & levels_b.keys())


def _equal(kind: str, registry: Any, found: Any, *, table: str | None, rules: ScoringRules) -> bool:
    """True when the registry value and the value found on the spot mean the same."""
    if kind == "address":
        return _address_equal(registry, found)
    if kind == "code" and table:
        a, b = _code(table, registry), _code(table, found)
        if a is not None and b is not None:
            return a == b
    if kind == "date":
        a, b = _as_date(registry), _as_date(found)
        if a is not None and b is not None:
            return a == b
    if kind in ("area", "number", "int"):
        a, b = _as_float(registry), _as_float(found)
        if a is not None and b is not None:
            if kind == "area":
                tolerance = max(abs(a) * rules.area_tolerance, rules.area_tolerance_min_m2)
            else:
                tolerance = rules.number_tolerance
            return abs(a - b) <= tolerance + 1e-9
    if kind == "phone":
        return _digits(registry) == _digits(found)
    if kind == "id_number":
        return _id_number(registry) == _id_number(found)
    if kind == "bool":
        a, b = _as_bool(registry), _as_bool(found)
        if a is not None and b is not None:
            return a == b
    # text, names, codes outside their table, unparsable typed values: as normalised text
    return normalise(_scalar_text(registry)) == normalise(_scalar_text(found))


Outcome = Literal["ok", "unchecked", "missing", "wrong"]


def _outcome(spec_kind: str, registry: Any, found: Any, *, table, rules) -> Outcome:
    if _blank(found):
        return "unchecked"
    if _is_explicit_none(found):
        return "ok" if _blank(registry) or _is_explicit_none(registry) else "wrong"
    if _blank(registry) or _is_explicit_none(registry):
        return "missing"
    return "ok" if _equal(spec_kind, registry, found, table=table, rules=rules) else "wrong"


def _display(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):  # pd.Timestamp too
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Deduction:
    """One deduction of a sample point: which rule, where, the two values, points charged.

    ``nominal`` is the rule's points; ``points`` what was charged (0 when the same fact was
    already deducted or the point was already at 0; see ``note``).
    """

    rule: str
    kind: Literal["missing", "wrong"]
    record: str
    field: str
    field_zh: str
    registry_value: str | None
    field_value: str | None
    nominal: float
    points: float
    note: str = ""

    @property
    def rule_zh(self) -> str:
        """Chinese label of the rule."""
        return RULE_LABELS.get(self.rule, self.rule)


@dataclass(frozen=True)
class PointScore:
    """The score of one sample point (household): 6 minus the deductions, at least 0."""

    house_key: str
    address: str | None
    points: float
    deductions: tuple[Deduction, ...]
    registered: bool
    max_points: float = float(POINT_MAX)

    @property
    def deducted(self) -> float:
        """Points charged in total (≤ ``max_points``)."""
        return float(Decimal(str(self.max_points)) - Decimal(str(self.points)))

    def deductions_frame(self) -> pd.DataFrame:
        """The deductions as a DataFrame (one row each, in charging order)."""
        columns = [f.name for f in fields(Deduction)]
        rows = [{c: getattr(d, c) for c in columns} | {"rule_zh": d.rule_zh}
                for d in self.deductions]  # fmt: skip
        frame = pd.DataFrame(rows, columns=[*columns, "rule_zh"])
        frame.insert(0, "address", self.address)
        frame.insert(0, "house_key", self.house_key)
        return frame


class _Ledger:
    """Charges deductions against what is left of a point, once per fact key."""

    def __init__(self, rules: ScoringRules) -> None:
        self.rules = rules
        self.left = rules.point_max
        self.charged: dict[tuple, str] = {}
        self.items: list[Deduction] = []

    def add(self, rule: str, kind: str, record: str, spec_key: str, label: str,
            registry: Any, found: Any, fact: tuple) -> None:  # fmt: skip
        nominal = self.rules.points_of(rule)
        note = ""
        if fact in self.charged:
            charge = Decimal(0)
            note = f"{_NOTE_SAME_FACT}（{self.charged[fact]}）"
        else:
            self.charged[fact] = f"{record}·{label}"
            charge = min(nominal, self.left)
            if charge < nominal:
                note = _NOTE_FLOORED if charge == 0 else _NOTE_PARTIAL
            self.left -= charge
        self.items.append(
            Deduction(rule=rule, kind=kind, record=record, field=spec_key, field_zh=label,  # type: ignore[arg-type]
                      registry_value=_display(registry), field_value=_display(found),
                      nominal=float(nominal), points=float(charge), note=note)
        )  # fmt: skip


def _fact_text(kind: str, value: Any) -> str:
    if _blank(value) or _is_explicit_none(value):
        return ""
    text = normalise(_scalar_text(value))
    if kind == "address":  # the part after the administrative prefix, as compared
        return split_admin_prefix(text)[1] or text
    return text


def _fact(spec: FieldSpec, owner: tuple, registry: Any, found: Any) -> tuple:
    """The fact a wrong value is about (see "No double deduction" in the module docstring)."""
    if spec.kind in ("address", "name"):
        return (spec.kind, _fact_text(spec.kind, registry), _fact_text(spec.kind, found))
    return (*owner, spec.group or spec.key)


def _person_label(name: Any, fallback: str) -> str:
    """A person's name as a record label: NFKC, white space removed (``李 梅`` → ``李梅``)."""
    return fallback if _blank(name) else re.sub(r"\s", "", _scalar_text(name)) or fallback


def _match_key_birth(person: ResidentRecord) -> dt.date | None:
    if not _blank(person.birth_date):
        found = _as_date(person.birth_date)
        if found is not None:
            return found
    return _birth_from_id(person.id_number) if not _blank(person.id_number) else None


def match_residents(
    registry: Sequence[ResidentRecord], found: Sequence[ResidentRecord]
) -> tuple[list[tuple[int, int, str]], list[int], list[int]]:
    """Pair persons found on the spot with registered ones: by ID number, else name + birth.

    Returns ``(pairs, unmatched_found, unmatched_registry)``: pairs as ``(found index,
    registry index, "id_number" | "name_birth_date")``, and the indexes left over.
    """
    pairs: list[tuple[int, int, str]] = []
    free = set(range(len(registry)))
    by_id: dict[str, int] = {}
    for j, person in enumerate(registry):
        if not _blank(person.id_number):
            by_id.setdefault(_id_number(person.id_number), j)
    left: list[int] = []
    for i, person in enumerate(found):
        j = by_id.get(_id_number(person.id_number)) if not _blank(person.id_number) else None
        if j is not None and j in free:
            pairs.append((i, j, "id_number"))
            free.discard(j)
        else:
            left.append(i)
    unmatched: list[int] = []
    for i in left:
        person = found[i]
        name, birth = normalise(_scalar_text(person.name or "")), _match_key_birth(person)
        j = next(
            (j for j in sorted(free)
             if name and birth is not None
             and normalise(_scalar_text(registry[j].name or "")) == name
             and _match_key_birth(registry[j]) == birth),
            None,
        )  # fmt: skip
        if j is None:
            unmatched.append(i)
        else:
            pairs.append((i, j, "name_birth_date"))
            free.discard(j)
    pairs.sort()
    return pairs, unmatched, sorted(free)


def _special_category(value: str) -> tuple[str, str]:
    try:
        table = code_table("special_status")
    except FileNotFoundError:
        return str(value), str(value)
    code = table.code_of(value) or str(value)
    try:
        return code, table.name_zh(code)
    except KeyError:
        return code, str(value)


def _special_kinds(category: str) -> dict[str, tuple[str, str]]:
    try:
        specs = special_status_fields(category)
    except FileNotFoundError:
        return {}
    kind = {"enum": "text", "phone": "phone"}
    return {s.field: (kind.get(s.type, s.type), s.label_zh) for s in specs}


def _by_category(items: Mapping[str, Mapping[str, Any]] | None) -> dict[str, tuple[str, Mapping]]:
    out: dict[str, tuple[str, Mapping]] = {}
    for category, values in (items or {}).items():
        code, name_zh = _special_category(category)
        out[code] = (name_zh, values or {})
    return out


def _score_specials(ledger: _Ledger, who: str, owner: tuple, registry: ResidentRecord,
                    found: ResidentRecord) -> None:  # fmt: skip
    if found.special_statuses is None:
        return
    reg_items, found_items = (
        _by_category(registry.special_statuses),
        _by_category(found.special_statuses),
    )
    for code, (name_zh, values) in found_items.items():
        record, fact = f"{who}·{name_zh}", (*owner, "special", code)
        if code not in reg_items:
            ledger.add("special_item", "missing", record, code, name_zh, None, name_zh, fact)
            continue
        reg_values = reg_items[code][1]
        kinds = _special_kinds(code)
        for key, value in values.items():
            kind, label = kinds.get(key, ("text", key))
            outcome = _outcome(kind, reg_values.get(key), value, table=None, rules=ledger.rules)
            if outcome in ("missing", "wrong"):
                ledger.add("special_item", outcome, record, key, label, reg_values.get(key),
                           value, fact)  # fmt: skip
    for code, (name_zh, _) in reg_items.items():
        if code not in found_items:
            ledger.add("special_item", "wrong", f"{who}·{name_zh}", code, name_zh, name_zh,
                       "无", (*owner, "special", code))  # fmt: skip


def score_sample_point(
    registry: HouseholdRecord | None,
    field: HouseholdRecord,
    *,
    rules: ScoringRules = DEFAULT_RULES,
) -> PointScore:
    """Score one sample point: compare the field data with the registry, list deductions.

    Parameters
    ----------
    registry : HouseholdRecord or None
        The household as registered; None when the house is not in the registry (6 points).
    field : HouseholdRecord
        The household as found on the spot (the truth).
    rules : ScoringRules
        Points per rule and tolerances (default 6 / 0.5 / 0.5 / 0.1, stale resident 0.5).

    Returns
    -------
    PointScore
        ``points`` = 6 minus the charged deductions, never below 0; every deduction listed
        (see the module docstring for the no-double-deduction and floor rules).

    Examples
    --------
    >>> house = HouseholdRecord(house_key="H1", address="九江路1号", owner="张三",
    ...                         floor_area_m2=86.5, house_type="住宅", use="自住")
    >>> score_sample_point(house, replace(house, floor_area_m2=87.0)).points  # within 1 %
    6.0
    >>> score_sample_point(house, replace(house, use="出租")).points
    5.5
    >>> score_sample_point(None, house).points
    0.0
    """
    ledger = _Ledger(rules)
    key = field.key if not _blank(field.house_key) or registry is None else registry.key
    address = _display(field.address if not _blank(field.address) else
                       registry.address if registry is not None else None)  # fmt: skip
    if registry is None:
        ledger.add("missing_registration", "missing", "房屋", "house", "房屋登记", None,
                   field.address or field.house_key, ("registration", "house"))  # fmt: skip
        return PointScore(key, address, float(ledger.left), tuple(ledger.items), False,
                          float(rules.point_max))  # fmt: skip

    for spec in HOUSE_FIELDS:
        reg, found = getattr(registry, spec.key), getattr(field, spec.key)
        outcome = _outcome(spec.kind, reg, found, table=spec.code_table, rules=rules)
        if outcome in ("missing", "wrong"):
            ledger.add("house_field", outcome, "房屋", spec.key, spec.label_zh, reg, found,
                       _fact(spec, ("house",), reg, found))  # fmt: skip

    registered = tuple(registry.residents or ())
    found_people = tuple(field.residents or ())
    pairs, unmatched_found, unmatched_registry = match_residents(registered, found_people)
    paired = {i: j for i, j, _ in pairs}
    for i, person in enumerate(found_people):
        owner = ("person", i)
        if i in unmatched_found:
            who = _person_label(person.name, f"第{i + 1}人")
            ledger.add("missing_registration", "missing", who, "resident", "人口登记", None,
                       who, ("registration", "person", i))  # fmt: skip
            continue
        reg_person = registered[paired[i]]
        who = _person_label(reg_person.name, _person_label(person.name, f"第{i + 1}人"))
        for spec in POPULATION_FIELDS:
            reg, found = getattr(reg_person, spec.key), getattr(person, spec.key)
            outcome = _outcome(spec.kind, reg, found, table=spec.code_table, rules=rules)
            if outcome in ("missing", "wrong"):
                ledger.add("population_field", outcome, who, spec.key, spec.label_zh, reg,
                           found, _fact(spec, owner, reg, found))  # fmt: skip
        _score_specials(ledger, who, owner, reg_person, person)

    if field.residents is not None:
        for j in unmatched_registry:
            person = registered[j]
            if _code("population_type", person.population_type or "") == _AWAY_POPULATION_TYPE:
                continue
            who = _person_label(person.name, f"登记第{j + 1}人")
            ledger.add("stale_resident", "wrong", who, "resident", "人口登记", who, "无",
                       ("stale", j))  # fmt: skip
    return PointScore(key, address, float(ledger.left), tuple(ledger.items), True,
                      float(rules.point_max))  # fmt: skip


# --------------------------------------------------------------------------- community


def _department_code(value: str) -> str:
    text = str(value).strip()
    if text in DEPARTMENTS:
        return text
    for code, name in DEPARTMENTS.items():
        if normalise(text) == normalise(name):
            return code
    raise InputError(
        f"未知部门 / unknown department {value!r}; expected one of "
        + ", ".join(f"{c} {n}" for c, n in DEPARTMENTS.items())
    )


@dataclass(frozen=True)
class DeptScore:
    """One department's score of a community for the month: 0–8 points with a reason.

    ``dept`` is a code of :data:`DEPARTMENTS` or its Chinese name (stored as the code).
    """

    dept: str
    points: float
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "dept", _department_code(self.dept))
        value = _dec(self.points, f"{self.dept} points")
        if not Decimal(0) <= value <= DEPARTMENT_POINTS:
            raise InputError(
                f"{DEPARTMENTS[self.dept]} 评分须在 0–8 之间 / "
                f"{self.dept} points must be within 0–8: {self.points}"
            )
        object.__setattr__(self, "points", float(value))
        if self.reason is None or not str(self.reason).strip():
            raise InputError(
                f"{DEPARTMENTS[self.dept]} 评分须写明理由 / {self.dept}: a reason is required"
            )

    @property
    def dept_zh(self) -> str:
        """The department's Chinese name."""
        return DEPARTMENTS[self.dept]


@dataclass(frozen=True)
class CommunityScore:
    """A community's monthly score: departments (≤ 40) + sample points (≤ 60) = total."""

    community: str
    month: str
    departments: tuple[DeptScore, ...]
    points: tuple[PointScore, ...]
    department_points: float
    sample_points: float
    total: float
    note: str = ""

    @property
    def charged_deductions(self) -> int:
        """How many deductions cost points."""
        return sum(1 for p in self.points for d in p.deductions if d.points > 0)


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def score_community(
    department_scores: Sequence[DeptScore],
    points: Sequence[PointScore],
    *,
    community: str,
    month: str = "",
    expected_points: int = 10,
) -> CommunityScore:
    """Add up a community's month: five department scores and its sample points.

    Raises :class:`~gis.errors.InputError` unless each of the five departments of
    :data:`DEPARTMENTS` scored exactly once, and unless there are 1..``expected_points``
    sample points with distinct households. Fewer sample points than expected are scaled to
    60 (noted in ``note``).

    >>> depts = [DeptScore(code, 8, "按时完成") for code in DEPARTMENTS]
    >>> clean = PointScore("H1", None, 6.0, (), True)
    >>> score_community(depts, [replace(clean, house_key=f"H{i}") for i in range(10)],
    ...                 community="九江社区").total
    100.0
    """
    community = str(community).strip()
    if not community:
        raise InputError("社区不能为空 / community must not be empty")
    seen: dict[str, DeptScore] = {}
    for score in department_scores:
        if score.dept in seen:
            raise InputError(f"{community}: 部门重复评分 / department scored twice: {score.dept}")
        seen[score.dept] = score
    missing = [f"{c} {n}" for c, n in DEPARTMENTS.items() if c not in seen]
    if missing:
        raise InputError(
            f"{community}: 缺少部门评分 / departments not scored: {', '.join(missing)}"
        )
    if not points:
        raise InputError(f"{community}: 没有样本点 / no sample points")
    if len(points) > expected_points:
        raise InputError(
            f"{community}: 样本点 {len(points)} 个，多于 {expected_points} 个 / "
            f"{len(points)} sample points, more than {expected_points}"
        )
    keys = [p.house_key for p in points]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise InputError(f"{community}: 样本点重复 / sample point twice: {dup}")

    dept_total = sum((Decimal(str(seen[c].points)) for c in DEPARTMENTS), Decimal(0))
    raw = sum((Decimal(str(p.points)) for p in points), Decimal(0))
    point_max = sum((Decimal(str(p.max_points)) for p in points), Decimal(0))
    full = POINT_MAX * expected_points
    note = ""
    sample = raw
    if point_max != full:
        sample = _q(raw * full / point_max)
        note = (
            f"样本点 {len(points)} 个（满分 {point_max}），按 {full} 分折算 / "
            f"{len(points)} sample points (max {point_max}) scaled to {full}"
        )
    return CommunityScore(
        community=community,
        month=month,
        departments=tuple(seen[c] for c in DEPARTMENTS),
        points=tuple(points),
        department_points=float(dept_total),
        sample_points=float(sample),
        total=float(_q(dept_total + sample)),
        note=note,
    )


def rank_communities(scores: Iterable[CommunityScore]) -> pd.DataFrame:
    """Rank communities by total within each month; ties share the best rank (1, 1, 3).

    Returns a DataFrame with ``month``, ``rank``, ``community``, ``department_points``,
    ``sample_points``, ``total``, ``charged_deductions`` and ``note``, sorted by month,
    rank and community.
    """
    rows = [
        {
            "month": s.month,
            "community": s.community,
            "department_points": s.department_points,
            "sample_points": s.sample_points,
            "total": s.total,
            "charged_deductions": s.charged_deductions,
            "note": s.note,
        }
        for s in scores
    ]
    columns = ["month", "rank", "community", "department_points", "sample_points", "total",
               "charged_deductions", "note"]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    dup = frame[frame.duplicated(["month", "community"])]
    if len(dup):
        raise InputError(
            f"社区重复 / community scored twice: {dup.iloc[0]['community']} {dup.iloc[0]['month']}"
        )
    exact = frame["total"].round(2)
    frame["rank"] = exact.groupby(frame["month"]).rank(method="min", ascending=False).astype(int)
    frame = frame.sort_values(["month", "rank", "community"], kind="stable")
    return frame[columns].reset_index(drop=True)
