"""Validation of what comes in: ID numbers, phones, dates, code-table enumerations (no database).

``check_resident/house/staff/special_status(record)`` return a list of :class:`FieldError`
(empty = acceptable); ``clean_*`` return the normalised record too (codes instead of names,
``datetime.date`` instead of text, upper-case ``X`` in ID numbers, phones without spaces), as an
importer wants to store it. A record is a plain ``dict`` keyed by the model's column names.

Rules (docs/design.md §2):

- ID number (GB 11643-1999): 18 characters, 17 digits and an ISO 7064 MOD 11-2 check character
  (``0-9`` or ``X``), a known province prefix, a real birth date (YYYYMMDD at 7–14) not in the
  future and not before 1890; the 17th digit is odd for men, even for women.
- The resident's ``birth_date`` and ``gender`` must agree with the ID number.
- Phones: mainland mobile ``1[3-9]`` + 9 digits (``+86``/``0086`` and separators allowed), or a
  landline with its area code, ``0`` + 2–3 digits, ``-``, 7–8 digits (``021-12345678``,
  ``0571-8888888``), optionally ``-`` extension.
- Dates of events (birth, marital status, inflow, start of a special status...) not in the
  future; an end date not before its start date.
- Enumerations come from the code tables (:mod:`api.services.registry.codes`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from api.services.registry.codes import code_table, special_status_fields
from gis.errors import InputError

__all__ = [
    "FieldError",
    "IdInfo",
    "IdNumberError",
    "check_house",
    "check_resident",
    "check_special_status",
    "check_staff",
    "clean_house",
    "clean_resident",
    "clean_special_status",
    "clean_staff",
    "id_check_character",
    "mask_id_number",
    "mask_phone",
    "normalise_phone",
    "validate_id_number",
]

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
_ID_CHECK = "10X98765432"  # check character for (sum of weighted digits) mod 11
# GB/T 2260 provinces, plus 81/82/83 (Hong Kong, Macao, Taiwan residence permits)
_PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
     "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
     "65", "71", "81", "82", "83")
)  # fmt: skip
_EARLIEST_BIRTH = dt.date(1890, 1, 1)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-\d{7,8}(?:-\d{1,6})?")
_GRID_CODE = re.compile(r"\d{15}")


@dataclass(frozen=True)
class FieldError:
    """A rejected value: the field, the value given, and why (Chinese and English)."""

    field: str
    value: Any
    reason_zh: str
    reason_en: str

    @property
    def message(self) -> str:
        """``"field: 中文 / English"``."""
        return f"{self.field}: {self.reason_zh} / {self.reason_en}"


class IdInfo(NamedTuple):
    """What an ID number says: birth date, gender code (GB/T 2261.1 ``1`` male, ``2`` female),
    and the 6-digit region code of the first registration."""

    birth_date: dt.date
    gender: str
    region_code: str


class IdNumberError(InputError):
    """An ID number that is not valid; ``reason_zh``/``reason_en`` say why."""

    def __init__(self, value: object, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"身份证号码 {value!r}: {reason_zh} / ID number {value!r}: {reason_en}")
        self.value, self.reason_zh, self.reason_en = value, reason_zh, reason_en


# --------------------------------------------------------------------------- ID numbers


def id_check_character(first17: str) -> str:
    """Return the GB 11643 check character (ISO 7064 MOD 11-2) of 17 digits.

    >>> id_check_character("11010519491231002")
    'X'
    """
    if len(first17) != 17 or not first17.isdigit():
        raise InputError(f"需要 17 位数字 / 17 digits expected: {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_id_number(value: object, *, today: dt.date | None = None) -> IdInfo:
    """Return the birth date, gender and region of an 18-character ID number, or raise.

    Raises :class:`IdNumberError` (an ``InputError``/``ValueError``) naming the reason.

    >>> validate_id_number("11010519491231002X")
    IdInfo(birth_date=datetime.date(1949, 12, 31), gender='2', region_code='110105')
    >>> validate_id_number("110105194912310021")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    api.services.registry.validators.IdNumberError: 身份证号码 '110105194912310021': ...
    """
    today = today or dt.date.today()
    s = str(value).strip().upper() if value is not None else ""
    if len(s) != 18:
        raise IdNumberError(
            value, f"应为 18 位，实为 {len(s)} 位", f"18 characters expected, got {len(s)}"
        )
    if not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        raise IdNumberError(
            value, "前 17 位须为数字，末位为数字或 X", "17 digits and a digit or X expected"
        )
    if s[:2] not in _PROVINCES:
        raise IdNumberError(value, f"地区码 {s[:6]} 无效", f"unknown region code {s[:6]}")
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise IdNumberError(
            value, f"出生日期 {s[6:14]} 不存在", f"birth date {s[6:14]} does not exist"
        ) from None
    if birth > today:
        raise IdNumberError(
            value, f"出生日期 {birth} 在未来", f"birth date {birth} is in the future"
        )
    if birth < _EARLIEST_BIRTH:
        raise IdNumberError(
            value, f"出生日期 {birth} 早于 {_EARLIEST_BIRTH}", f"birth date {birth} is too early"
        )
    check = id_check_character(s[:17])
    if s[17] != check:
        raise IdNumberError(
            value, f"校验码错误，应为 {check}", f"wrong check character, expected {check}"
        )
    return IdInfo(birth, "1" if int(s[16]) % 2 else "2", s[:6])


# --------------------------------------------------------------------------- masks, phones


def mask_id_number(value: str | None) -> str | None:
    """Mask an ID number, keeping the first 4 and last 4 characters.

    >>> mask_id_number("110101199003071234")
    '1101**********1234'
    >>> mask_id_number("1234"), mask_id_number(None)
    ('****', None)
    """
    if value is None:
        return None
    s = str(value)
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_phone(value: str | None) -> str | None:
    """Mask a phone number, keeping the first 3 and last 4 characters.

    >>> mask_phone("13812345678"), mask_phone("021-12345678")
    ('138****5678', '021-****5678')
    """
    if value is None:
        return None
    s = str(value)
    if len(s) <= 7:
        return "*" * len(s)
    middle = "".join("*" if c.isdigit() else c for c in s[3:-4])
    return s[:3] + middle + s[-4:]


def normalise_phone(value: object) -> str | None:
    """Return a phone number in canonical form (mobile: 11 digits; landline: ``0AA-NNNNNNNN``),
    or None when it is neither a mainland mobile nor a landline with area code.

    >>> normalise_phone("+86 138-1234-5678"), normalise_phone("(021)12345678")
    ('13812345678', None)
    """
    s = re.sub(r"[\s()]", "", str(value)) if value is not None else ""
    digits = s.replace("-", "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    if _MOBILE.fullmatch(digits):
        return digits
    if _LANDLINE.fullmatch(s):
        return s
    return None


# --------------------------------------------------------------------------- field rules


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _to_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    s = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise InputError(s)


class _Rejected(Exception):
    def __init__(self, reason_zh: str, reason_en: str) -> None:
        self.reason_zh, self.reason_en = reason_zh, reason_en


def _text(max_len: int) -> Callable[[Any, dt.date], str]:
    def rule(value, today):
        s = str(value).strip()
        if len(s) > max_len:
            raise _Rejected(f"超过 {max_len} 个字符", f"longer than {max_len} characters")
        return s

    return rule


def _code(table: str) -> Callable[[Any, dt.date], str]:
    def rule(value, today):
        t = code_table(table)
        code = t.code_of(value)
        if code is None:
            raise _Rejected(
                f"不在代码表 {table} 中（如 {t.examples()}）",
                f"not in code table {table} (e.g. {t.examples()})",
            )
        return code

    return rule


def _past_date(value, today) -> dt.date:
    try:
        d = _to_date(value)
    except ValueError:
        raise _Rejected("不是日期（YYYY-MM-DD）", "not a date (YYYY-MM-DD)") from None
    if d > today:
        raise _Rejected(f"日期在未来（今天 {today}）", f"date in the future (today is {today})")
    return d


def _any_date(value, today) -> dt.date:
    try:
        return _to_date(value)
    except ValueError:
        raise _Rejected("不是日期（YYYY-MM-DD）", "not a date (YYYY-MM-DD)") from None


def _phone(value, today) -> str:
    phone = normalise_phone(value)
    if phone is None:
        raise _Rejected(
            "不是有效电话（手机 1[3-9] 开头 11 位，或固话如 021-12345678）",
            "not a valid phone (mobile 1[3-9] + 9 digits, or landline such as 021-12345678)",
        )
    return phone


def _id_number(value, today) -> str:
    try:
        validate_id_number(value, today=today)
    except IdNumberError as exc:
        raise _Rejected(exc.reason_zh, exc.reason_en) from None
    return str(value).strip().upper()


def _number(*, minimum: float = 0.0, maximum: float = math.inf, integer: bool = False):
    def rule(value, today):
        try:
            x = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
        except ValueError:
            raise _Rejected("不是数字", "not a number") from None
        if math.isnan(x) or not minimum <= x <= maximum:
            raise _Rejected(
                f"应在 {minimum:g} 与 {maximum:g} 之间",
                f"must be between {minimum:g} and {maximum:g}",
            )
        if integer:
            if x != int(x):
                raise _Rejected("应为整数", "must be a whole number")
            return int(x)
        return x

    return rule


_TRUE = {"1", "true", "yes", "y", "是", "公开", "t"}
_FALSE = {"0", "false", "no", "n", "否", "不公开", "f"}


def _bool(value, today) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().casefold()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise _Rejected("应为 是/否", "must be yes/no")


def _grid_codes(value, today) -> list[str]:
    items = value if isinstance(value, list | tuple) else re.split(r"[,，;；、\s]+", str(value))
    codes = [str(c).strip() for c in items if str(c).strip()]
    bad = [c for c in codes if not _GRID_CODE.fullmatch(c)]
    if bad:
        raise _Rejected(f"网格编码应为 15 位数字：{bad}", f"grid codes must be 15 digits: {bad}")
    return codes


_Rule = Callable[[Any, dt.date], Any]

RESIDENT_RULES: dict[str, tuple[_Rule, bool]] = {  # field: (rule, required)
    "name": (_text(50), True),
    "gender": (_code("gender"), False),
    "ethnicity": (_code("ethnicity"), False),
    "id_number": (_id_number, False),
    "birth_date": (_past_date, False),
    "education": (_code("education"), False),
    "relation_to_householder": (_code("relation_to_householder"), False),
    "marital_status": (_code("marital_status"), False),
    "marital_status_date": (_past_date, False),
    "political_status": (_code("political_status"), False),
    "hukou_address": (_text(200), False),
    "population_type": (_code("population_type"), True),
    "inflow_date": (_past_date, False),
    "residence_permit_no": (_text(40), False),
    "phone": (_phone, False),
}
HOUSE_RULES: dict[str, tuple[_Rule, bool]] = {
    "house_key": (_text(64), False),
    "address": (_text(200), True),
    "road": (_text(100), False),
    "number": (_text(32), False),
    "building": (_text(64), False),
    "owner": (_text(100), False),
    "floor_area_m2": (_number(minimum=0.0, maximum=1e6), False),
    "households": (_number(minimum=0, maximum=10_000, integer=True), False),
    "house_type": (_code("house_type"), False),
    "use": (_code("house_use"), False),
    "lon": (_number(minimum=-180.0, maximum=180.0), False),
    "lat": (_number(minimum=-90.0, maximum=90.0), False),
    "grid_code": (lambda v, today: _grid_codes([v], today)[0], False),
}
STAFF_RULES: dict[str, tuple[_Rule, bool]] = {
    "name": (_text(50), True),
    "role": (_code("staff_role"), True),
    "phone": (_phone, True),
    "phone_published": (_bool, False),
    "photo_path": (_text(500), False),
    "duties": (_text(2000), False),
    "grid_codes": (_grid_codes, False),
    "post": (_text(32), False),
    "staff_no": (_text(32), False),
    "is_4050": (_bool, False),
}
SPECIAL_STATUS_RULES: dict[str, tuple[_Rule, bool]] = {
    "category": (_code("special_status"), True),
    "start_date": (_past_date, False),
    "end_date": (_any_date, False),
    "note": (_text(2000), False),
}


def _apply(
    record: Mapping[str, Any], rules: dict[str, tuple[_Rule, bool]], today: dt.date
) -> tuple[dict[str, Any], list[FieldError]]:
    clean: dict[str, Any] = {k: v for k, v in record.items() if k not in rules}
    errors: list[FieldError] = []
    for name, (rule, required) in rules.items():
        value = record.get(name)
        if _missing(value):
            clean[name] = None
            if required:
                errors.append(FieldError(name, value, "必填", "required"))
            continue
        try:
            clean[name] = rule(value, today)
        except _Rejected as exc:
            clean[name] = None
            errors.append(FieldError(name, value, exc.reason_zh, exc.reason_en))
    return clean, errors


def _order(
    clean: Mapping[str, Any], record: Mapping[str, Any], first: str, then: str, errors
) -> None:
    """``then`` must not be before ``first`` (both cleaned dates)."""
    a, b = clean.get(first), clean.get(then)
    if a is not None and b is not None and b < a:
        errors.append(
            FieldError(then, record.get(then), f"早于 {first}（{a}）", f"before {first} ({a})")
        )


def clean_resident(
    record: Mapping[str, Any], *, today: dt.date | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Return the normalised resident record and the errors found (see :func:`check_resident`)."""
    today = today or dt.date.today()
    clean, errors = _apply(record, RESIDENT_RULES, today)
    bad = {e.field for e in errors}
    id_number = clean.get("id_number")
    foreign = clean.get("population_type") == "50"
    if id_number is None and "id_number" not in bad and not foreign:
        errors.append(
            FieldError(
                "id_number", record.get("id_number"), "必填（境外人员除外）",
                "required (except for foreign or overseas persons)",
            )
        )  # fmt: skip
    if id_number is not None:
        info = validate_id_number(id_number, today=today)
        if clean.get("birth_date") is None and "birth_date" not in bad:
            clean["birth_date"] = info.birth_date
        elif clean.get("birth_date") is not None and clean["birth_date"] != info.birth_date:
            errors.append(
                FieldError(
                    "birth_date", record.get("birth_date"),
                    f"与身份证号码的出生日期 {info.birth_date} 不一致",
                    f"disagrees with the ID number's birth date {info.birth_date}",
                )
            )  # fmt: skip
        if clean.get("gender") is None and "gender" not in bad:
            clean["gender"] = info.gender
        elif clean.get("gender") is not None and clean["gender"] != info.gender:
            said = code_table("gender").name_zh(info.gender)
            said_en = code_table("gender").row(info.gender)["name_en"].lower()
            errors.append(
                FieldError(
                    "gender", record.get("gender"), f"与身份证号码的性别（{said}）不一致",
                    f"disagrees with the ID number's gender ({said_en})",
                )
            )  # fmt: skip
    for later in ("marital_status_date", "inflow_date"):
        _order(clean, record, "birth_date", later, errors)
    ptype = clean.get("population_type")
    if ptype is not None:
        for need in filter(None, code_table("population_type").row(ptype)["requires"].split("|")):
            if clean.get(need) is None and need not in {e.field for e in errors}:
                name = code_table("population_type").name_zh(ptype)
                errors.append(
                    FieldError(need, record.get(need), f"{name}必填", f"required for {name}")
                )
    return clean, errors


def check_resident(record: Mapping[str, Any], *, today: dt.date | None = None) -> list[FieldError]:
    """Return the errors of a resident record (empty when acceptable).

    ``name`` and ``population_type`` are required, and ``id_number`` except for foreign or
    overseas persons (population type 50); ``birth_date``/``gender`` must agree with the ID
    number; enumerations accept a code or a name of their code table.
    """
    return clean_resident(record, today=today)[1]


def clean_house(
    record: Mapping[str, Any], *, today: dt.date | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Return the normalised house record and the errors found (see :func:`check_house`)."""
    today = today or dt.date.today()
    clean, errors = _apply(record, HOUSE_RULES, today)
    if (clean.get("lon") is None) != (clean.get("lat") is None) and not {
        e.field for e in errors
    } & {"lon", "lat"}:
        missing = "lat" if clean.get("lat") is None else "lon"
        errors.append(FieldError(missing, None, "经纬度须成对给出", "lon and lat go together"))
    return clean, errors


def check_house(record: Mapping[str, Any], *, today: dt.date | None = None) -> list[FieldError]:
    """Return the errors of a house record: door plate (``address``) required; area ≥ 0;
    ``house_type``/``use`` from the code tables; lon/lat in range and given together."""
    return clean_house(record, today=today)[1]


def clean_staff(
    record: Mapping[str, Any], *, today: dt.date | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Return the normalised staff record and the errors found (see :func:`check_staff`)."""
    clean, errors = _apply(record, STAFF_RULES, today or dt.date.today())
    if clean.get("phone_published") is None:
        clean["phone_published"] = True
    if clean.get("is_4050") is None:
        clean["is_4050"] = False
    return clean, errors


def check_staff(record: Mapping[str, Any], *, today: dt.date | None = None) -> list[FieldError]:
    """Return the errors of a staff record: name, role (``staff_role`` table) and phone
    required; ``grid_codes`` a list (or a comma-separated text) of 15-digit codes."""
    return clean_staff(record, today=today)[1]


_FIELD_RULES: dict[str, _Rule] = {
    "text": _text(500),
    "int": _number(minimum=0, maximum=1e9, integer=True),
    "number": _number(minimum=0, maximum=1e12),
    "date": _past_date,
    "bool": _bool,
    "phone": _phone,
}


def clean_special_status(
    record: Mapping[str, Any], *, today: dt.date | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Return the normalised special-status record and the errors (see
    :func:`check_special_status`)."""
    today = today or dt.date.today()
    clean, errors = _apply(record, SPECIAL_STATUS_RULES, today)
    _order(clean, record, "start_date", "end_date", errors)
    category = clean.get("category")
    given = record.get("fields") or {}
    if not isinstance(given, Mapping):
        errors.append(FieldError("fields", given, "应为键值对象", "must be an object (mapping)"))
        return clean, errors
    if category is None:
        return clean, errors
    specs = {s.field: s for s in special_status_fields(category)}
    fields: dict[str, Any] = {}
    for key in given:
        if key not in specs:
            errors.append(
                FieldError(
                    f"fields.{key}", given[key],
                    f"{category} 类别没有此项（可用：{', '.join(specs)}）",
                    f"no such field for {category} (known: {', '.join(specs)})",
                )
            )  # fmt: skip
    for name, spec in specs.items():
        value = given.get(name)
        if _missing(value):
            if spec.required:
                errors.append(
                    FieldError(f"fields.{name}", value, f"{spec.label_zh}必填", "required")
                )
            continue
        try:
            if spec.type == "enum":
                if str(value).strip() not in spec.choices:
                    raise _Rejected(
                        f"应为 {'、'.join(spec.choices)} 之一",
                        f"must be one of {', '.join(spec.choices)}",
                    )
                out = str(value).strip()
            else:
                out = _FIELD_RULES[spec.type](value, today)
            fields[name] = out.isoformat() if isinstance(out, dt.date) else out
        except _Rejected as exc:
            errors.append(FieldError(f"fields.{name}", value, exc.reason_zh, exc.reason_en))
    clean["fields"] = fields
    return clean, errors


def check_special_status(
    record: Mapping[str, Any], *, today: dt.date | None = None
) -> list[FieldError]:
    """Return the errors of a special-status record: ``category`` from the ``special_status``
    table; ``fields`` (a mapping) with exactly that category's fields
    (``data/codes/special_status_fields.csv``: required ones present, types and choices
    respected, dates not in the future); ``start_date`` not in the future, ``end_date`` not
    before it."""
    return clean_special_status(record, today=today)[1]
