"""Fictional residents of the demo houses, with special statuses, for ``data/make_demo.py``.

Every person is made up: names from the demo's name generator, ID numbers that pass GB 11643
(birth date inside the number, check character computed here), phones in the fictional
139 0000 xxxx range. Residential and mixed-use houses get one or two households of one to
four people (householder, spouse, children, sometimes a parent); about one person in ten has
one special status whose fields follow ``data/codes/special_status_fields.csv``.
The same seed always gives the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["RESIDENT_COLUMNS", "id_number", "make_residents"]

CODES = Path(__file__).resolve().parent / "codes"
RESIDENT_COLUMNS = (
    "name", "gender", "ethnicity", "id_number", "birth_date", "education",
    "relation_to_householder", "marital_status", "political_status", "hukou_address",
    "population_type", "inflow_date", "phone", "door_plate",
)  # fmt: skip
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_CHECK = "10X98765432"
# county codes (GB/T 2260) of the hukou of people from elsewhere, with their address prefix:
# counties whose code has not changed since codes began, so any birth year fits the number
_ELSEWHERE = {
    "330122": "浙江省杭州市桐庐县",
    "340121": "安徽省合肥市长丰县",
    "360121": "江西省南昌市南昌县",
    "430121": "湖南省长沙市长沙县",
    "510121": "四川省成都市金堂县",
    "350121": "福建省福州市闽侯县",
}
_HOME = ("310101", "上海市黄浦区")
_RESIDENTIAL = ("住宅", "商住")
_EDUCATION = ["大学本科毕业", "大学专科毕业", "普通高中毕业", "初中毕业", "小学毕业"]
_SPECIAL_SHARE = 0.1
_TODAY = dt.date(2026, 11, 1)  # dates are drawn before this day


def id_number(region: str, birth: dt.date, seq: int, female: bool) -> str:
    """An 18-character ID number (GB 11643): region, birth date, sequence (odd for men,
    even for women) and the check character.

    >>> id_number("110105", dt.date(1949, 12, 31), 1, True)
    '11010519491231002X'
    """
    seq3 = 2 * (seq // 2) + (0 if female else 1)
    seq3 = seq3 % 1000 if seq3 % 1000 else (2 if female else 1)
    first17 = f"{region}{birth:%Y%m%d}{seq3:03d}"
    return first17 + _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _birth(rng, lo: int, hi: int) -> dt.date:
    """A birth date of someone aged ``lo``–``hi`` on :data:`_TODAY`."""
    days = int(rng.integers(lo * 365 + 1, hi * 365 + 1))
    return _TODAY - dt.timedelta(days=days)


def _special_fields() -> dict[str, list[dict[str, str]]]:
    with (CODES / "special_status_fields.csv").open(encoding="utf-8") as fh:
        out: dict[str, list[dict[str, str]]] = {}
        for row in csv.DictReader(fh):
            out.setdefault(row["category"], []).append(row)
        return out


def _field_value(field: dict[str, str], rng):
    kind = field["type"]
    if kind == "enum":
        return str(rng.choice(field["choices"].split("|")))
    if kind == "int":
        return int(rng.integers(1, 3))
    if kind == "number":
        return float(rng.integers(3, 30) * 50)
    if kind == "date":
        return (_TODAY - dt.timedelta(days=int(rng.integers(200, 5000)))).isoformat()
    if kind == "bool":
        return bool(rng.random() < 0.7)
    if kind == "phone":
        return f"1390001{int(rng.integers(0, 10_000)):04d}"
    return f"示例{field['label_zh']}{int(rng.integers(100, 999))}"


def _marital(relation: str, size: int, adult: bool, rng) -> str:
    if relation in ("户主", "配偶") and size >= 2:
        return "已婚"
    return "未婚" if not adult or rng.random() < 0.6 else "丧偶"


def _political(age: int, rng) -> str:
    if age >= 18 and rng.random() < 0.12:
        return "中共党员"
    return "共青团员" if 14 <= age < 28 else "群众"


def _special_values(fields: list[dict[str, str]], rng) -> dict:
    """Values of a category's fields: every required one, about half of the others."""
    return {
        f["field"]: _field_value(f, rng)
        for f in fields
        if f["required"] == "1" or rng.random() < 0.5
    }


def _special(age: int, rng) -> str:
    """A special-status category plausible at ``age``."""
    if age >= 65:
        options = ["empty_nest", "enterprise_retiree", "disability", "low_income", "veteran"]
    elif age < 18:
        options = ["education", "disability"]
    else:
        options = ["employment", "assistance", "reproductive_health", "disability", "low_income",
                   "insurance", "military", "medical_aid", "released_prisoner",
                   "community_correction", "special_group"]  # fmt: skip
    return str(rng.choice(options))


def make_residents(houses: pd.DataFrame, *, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Residents of the residential and mixed houses of ``houses`` (``address``,
    ``house_type``), and their special statuses (``id_number``, ``category``, ``fields`` as
    JSON, ``start_date``)."""
    from demo_maker.people import fake_names  # the demo's own name generator

    rng = np.random.default_rng(seed)
    fields = _special_fields()
    people: list[dict] = []
    specials: list[dict] = []
    seq = 0
    taken: set[str] = set()
    homes = houses[houses["house_type"].isin(_RESIDENTIAL)]
    for address in homes["address"]:
        for _ in range(int(rng.integers(1, 3))):
            local = rng.random() < 0.7
            region, prefix = (
                _HOME if local else list(_ELSEWHERE.items())[int(rng.integers(0, len(_ELSEWHERE)))]
            )
            pop_type = (
                "户籍人口" if local else str(rng.choice(["流动人口", "常住人口（非本地户籍）"]))
            )
            inflow = None if local else _birth(rng, 0, 8)
            head_age = int(rng.integers(24, 88))
            size = int(rng.integers(1, 5))
            members = [("户主", head_age)]
            if size >= 2:
                members.append(("配偶", max(20, head_age + int(rng.integers(-5, 6)))))
            for _ in range(size - len(members)):
                child_age = head_age - int(rng.integers(22, 36))
                members.append(("子" if rng.random() < 0.5 else "女", max(0, child_age)))
            head_female = bool(rng.random() < 0.5)
            for relation, age in members:
                seq += 1
                if relation == "配偶":
                    female = not head_female
                elif relation == "户主":
                    female = head_female
                else:
                    female = relation == "女"
                birth = _birth(rng, age, age + 1)
                number = id_number(region, birth, int(rng.integers(1, 999)), female)
                while number in taken:  # another person of that place and day
                    number = id_number(region, birth, int(rng.integers(1, 999)), female)
                taken.add(number)
                adult = age >= 18
                person = {
                    "name": fake_names(rng, 1)[0],
                    "gender": "女" if female else "男",
                    "ethnicity": "汉族" if rng.random() < 0.95 else "回族",
                    "id_number": number,
                    "birth_date": birth.isoformat(),
                    "education": str(rng.choice(_EDUCATION)) if age >= 16 else None,
                    "relation_to_householder": relation,
                    "marital_status": _marital(relation, size, adult, rng),
                    "political_status": _political(age, rng),
                    "hukou_address": f"{prefix}示例路{int(rng.integers(1, 400))}号",
                    "population_type": pop_type,
                    # a child born here arrived at birth
                    "inflow_date": None if inflow is None else max(inflow, birth).isoformat(),
                    "phone": f"1390000{seq % 10_000:04d}" if adult else None,
                    "door_plate": address,
                }
                people.append(person)
                if rng.random() < _SPECIAL_SHARE:
                    category = _special(age, rng)
                    specials.append(
                        {
                            "id_number": number,
                            "category": category,
                            "fields": json.dumps(
                                _special_values(fields.get(category, []), rng), ensure_ascii=False
                            ),
                            "start_date": (
                                _TODAY - dt.timedelta(days=int(rng.integers(30, 2000)))
                            ).isoformat(),
                        }
                    )
    residents = pd.DataFrame(people, columns=list(RESIDENT_COLUMNS))
    return residents, pd.DataFrame(
        specials, columns=["id_number", "category", "fields", "start_date"]
    )
