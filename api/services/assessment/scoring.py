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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from api.services.assessment.compare import (
    as_date,
    birth_from_id,
    coded_value,
    compare_outcome,
    display_value,
    is_blank,
    is_explicit_none,
    normal_id_number,
    scalar_text,
)
from api.services.assessment.records import HouseholdRecord, ResidentRecord
from api.services.assessment.rules import (
    DEFAULT_RULES,
    HOUSE_FIELDS,
    POINT_MAX,
    POPULATION_FIELDS,
    RULE_LABELS,
    FieldSpec,
    ScoringRules,
)
from api.services.registry.codes import code_table, special_status_fields
from gis.address import normalise, split_admin_prefix

__all__ = ["Deduction", "PointScore", "match_residents", "score_sample_point"]


_NOTE_SAME_FACT = "同一事实已扣分，不重复扣分 / same fact already deducted"
_NOTE_FLOORED = "样本点已扣完 / sample point already at 0"
_NOTE_PARTIAL = "扣至 0 为止 / charged down to 0"


_AWAY_POPULATION_TYPE = "11"  # 人户分离（户在人不在）


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
                      registry_value=display_value(registry), field_value=display_value(found),
                      nominal=float(nominal), points=float(charge), note=note)
        )  # fmt: skip


def _fact_text(kind: str, value: Any) -> str:
    if is_blank(value) or is_explicit_none(value):
        return ""
    text = normalise(scalar_text(value))
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
    return fallback if is_blank(name) else re.sub(r"\s", "", scalar_text(name)) or fallback


def _match_key_birth(person: ResidentRecord) -> dt.date | None:
    if not is_blank(person.birth_date):
        found = as_date(person.birth_date)
        if found is not None:
            return found
    return birth_from_id(person.id_number) if not is_blank(person.id_number) else None


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
        if not is_blank(person.id_number):
            by_id.setdefault(normal_id_number(person.id_number), j)
    left: list[int] = []
    for i, person in enumerate(found):
        j = (
            by_id.get(normal_id_number(person.id_number))
            if not is_blank(person.id_number)
            else None
        )
        if j is not None and j in free:
            pairs.append((i, j, "id_number"))
            free.discard(j)
        else:
            left.append(i)
    unmatched: list[int] = []
    for i in left:
        person = found[i]
        name, birth = normalise(scalar_text(person.name or "")), _match_key_birth(person)
        j = next(
            (j for j in sorted(free)
             if name and birth is not None
             and normalise(scalar_text(registry[j].name or "")) == name
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
            outcome = compare_outcome(
                kind, reg_values.get(key), value, table=None, rules=ledger.rules
            )
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
    >>> from dataclasses import replace
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
    key = field.key if not is_blank(field.house_key) or registry is None else registry.key
    address = display_value(field.address if not is_blank(field.address) else
                       registry.address if registry is not None else None)  # fmt: skip
    if registry is None:
        ledger.add("missing_registration", "missing", "房屋", "house", "房屋登记", None,
                   field.address or field.house_key, ("registration", "house"))  # fmt: skip
        return PointScore(key, address, float(ledger.left), tuple(ledger.items), False,
                          float(rules.point_max))  # fmt: skip

    for spec in HOUSE_FIELDS:
        reg, found = getattr(registry, spec.key), getattr(field, spec.key)
        outcome = compare_outcome(spec.kind, reg, found, table=spec.code_table, rules=rules)
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
            outcome = compare_outcome(spec.kind, reg, found, table=spec.code_table, rules=rules)
            if outcome in ("missing", "wrong"):
                ledger.add("population_field", outcome, who, spec.key, spec.label_zh, reg,
                           found, _fact(spec, owner, reg, found))  # fmt: skip
        _score_specials(ledger, who, owner, reg_person, person)

    if field.residents is not None:
        for j in unmatched_registry:
            person = registered[j]
            population_type = coded_value("population_type", person.population_type or "")
            if population_type == _AWAY_POPULATION_TYPE:
                continue
            who = _person_label(person.name, f"登记第{j + 1}人")
            ledger.add("stale_resident", "wrong", who, "resident", "人口登记", who, "无",
                       ("stale", j))  # fmt: skip
    return PointScore(key, address, float(ledger.left), tuple(ledger.items), True,
                      float(rules.point_max))  # fmt: skip
