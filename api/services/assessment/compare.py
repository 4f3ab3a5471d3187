"""Compare a registry value with a field value after normalisation (see
:mod:`api.services.assessment.scoring`, *What counts as wrong or missing*)."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from api.services.assessment.rules import ScoringRules
from api.services.registry.codes import code_table
from gis.address import normalise, split_admin_prefix

__all__ = [
    "Outcome",
    "as_date",
    "birth_from_id",
    "coded_value",
    "compare_outcome",
    "display_value",
    "is_blank",
    "is_explicit_none",
    "normal_id_number",
    "scalar_text",
]


_EXPLICIT_NONE = frozenset({"无", "没有", "NONE", "-", "/", "—"})
_UNKNOWN = frozenset({"不详", "未知", "NAN", "NAT", "<NA>"})


def is_blank(value: object) -> bool:
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


def scalar_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def is_explicit_none(value: Any) -> bool:
    return isinstance(value, str) and normalise(value) in _EXPLICIT_NONE


_DATE_YMD = re.compile(r"^(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})\D{0,2}$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def as_date(value: Any) -> dt.date | None:
    """Read a date from a date, datetime, Timestamp or common Chinese/ISO spellings.

    >>> as_date("1990年1月2日"), as_date("19900102") == as_date("1990/01/02")
    (datetime.date(1990, 1, 2), True)
    >>> as_date("1990-02-30") is None
    True
    """
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = scalar_text(value).replace(" ", "")
    match = _DATE_YMD.match(text) or _DATE_COMPACT.match(text)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value if isinstance(value, int | float) else scalar_text(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _digits(value: Any) -> str:
    digits = re.sub(r"\D", "", scalar_text(value))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normal_id_number(value: Any) -> str:
    return re.sub(r"\s", "", scalar_text(value)).upper()


def birth_from_id(value: Any) -> dt.date | None:
    text = normal_id_number(value)
    return as_date(text[6:14]) if len(text) == 18 else None


_TRUE = frozenset({"是", "有", "Y", "YES", "TRUE", "1", "T"})
_FALSE = frozenset({"否", "无", "N", "NO", "FALSE", "0", "F"})


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = scalar_text(value).upper()
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


def coded_value(table: str, value: Any) -> str | None:
    """The code of a coded value (code, Chinese/short/English name, any width), else None."""
    try:
        codes = code_table(table)
    except FileNotFoundError:
        return None
    text = scalar_text(value)
    code = codes.code_of(str(value).strip()) or _normalised_codes(table).get(normalise(text))
    if code is None and text.isdigit():
        for width in sorted({len(c) for c in codes.codes}):
            code = code or codes.code_of(text.zfill(width))
    return code


def _address_equal(a: Any, b: Any) -> bool:
    na, nb = normalise(scalar_text(a)), normalise(scalar_text(b))
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
        a, b = coded_value(table, registry), coded_value(table, found)
        if a is not None and b is not None:
            return a == b
    if kind == "date":
        a, b = as_date(registry), as_date(found)
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
        return normal_id_number(registry) == normal_id_number(found)
    if kind == "bool":
        a, b = _as_bool(registry), _as_bool(found)
        if a is not None and b is not None:
            return a == b
    # text, names, codes outside their table, unparsable typed values: as normalised text
    return normalise(scalar_text(registry)) == normalise(scalar_text(found))


Outcome = Literal["ok", "unchecked", "missing", "wrong"]


def compare_outcome(spec_kind: str, registry: Any, found: Any, *, table, rules) -> Outcome:
    if is_blank(found):
        return "unchecked"
    if is_explicit_none(found):
        return "ok" if is_blank(registry) or is_explicit_none(registry) else "wrong"
    if is_blank(registry) or is_explicit_none(registry):
        return "missing"
    return "ok" if _equal(spec_kind, registry, found, table=table, rules=rules) else "wrong"


def display_value(value: Any) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):  # pd.Timestamp too
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
