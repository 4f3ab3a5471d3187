"""Validation of what comes in: ID numbers against an independent MOD 11-2, each rule
rejecting a bad value with its field and reason, code tables read from data/, masks."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services.registry.codes import CODE_TABLES, code_table, special_status_fields
from api.services.registry.validators import (
    FieldError,
    IdNumberError,
    check_house,
    check_resident,
    check_special_status,
    check_staff,
    clean_resident,
    id_check_character,
    mask_id_number,
    mask_phone,
    validate_id_number,
)

CODES = Path(__file__).resolve().parents[2] / "data" / "codes"
TODAY = dt.date(2026, 11, 1)


def iso7064_mod_11_2(digits: str) -> str:
    """ISO 7064 MOD 11-2 check character, by the standard's recursive (pure) method."""
    p = 0
    for d in digits:
        p = ((p + int(d)) * 2) % 11
    c = (12 - p) % 11
    return "X" if c == 10 else str(c)


def make_id(region="110105", birth="19900307", seq="123") -> str:
    body = region + birth + seq
    return body + iso7064_mod_11_2(body)


def fields(errors: list[FieldError]) -> set[str]:
    return {e.field for e in errors}


# --------------------------------------------------------------------------- ID numbers


def test_published_example_with_x_check_character():
    info = validate_id_number("11010519491231002X")
    assert info.birth_date == dt.date(1949, 12, 31)
    assert info.gender == "2"  # 17th digit 2 is even: female
    assert info.region_code == "110105"
    assert validate_id_number("11010519491231002x").birth_date == dt.date(1949, 12, 31)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_agrees_with_iso_7064(first17):
    assert id_check_character(first17) == iso7064_mod_11_2(first17)


@settings(max_examples=60, deadline=None)
@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)
def test_valid_numbers_give_birth_date_and_gender(birth, seq):
    number = make_id("310101", birth.strftime("%Y%m%d"), f"{seq:03d}")
    info = validate_id_number(number, today=TODAY)
    assert info.birth_date == birth
    assert info.gender == ("1" if seq % 2 else "2")
    for wrong in set("0123456789X") - {number[-1]}:
        with pytest.raises(IdNumberError, match="check character"):
            validate_id_number(number[:-1] + wrong, today=TODAY)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (make_id()[:-1], "18 characters"),
        (make_id() + "1", "18 characters"),
        ("11010519900307A23" + "4", "17 digits"),
        (make_id(region="990105"), "region"),
        (make_id(birth="19900230"), "does not exist"),
        (make_id(birth="20261102"), "future"),
        (make_id(birth="18800101"), "too early"),
        ("", "18 characters"),
        (None, "18 characters"),
    ],
)
def test_bad_id_numbers_are_rejected_with_the_reason(number, reason):
    with pytest.raises(IdNumberError, match=reason) as info:
        validate_id_number(number, today=TODAY)
    assert info.value.reason_zh and isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- residents


def good_resident(**changes) -> dict:
    record = {
        "name": "王芳",
        "gender": "女",
        "ethnicity": "汉族",
        "id_number": make_id(birth="19900307", seq="124"),
        "birth_date": "1990-03-07",
        "education": "大学本科毕业",
        "relation_to_householder": "配偶",
        "marital_status": "已婚",
        "marital_status_date": "2015-05-01",
        "political_status": "群众",
        "hukou_address": "上海市黄浦区圆明园路1号",
        "population_type": "户籍人口",
        "phone": "138 1234 5678",
    }
    return record | changes


def test_a_good_resident_passes_and_is_normalised_to_codes():
    clean, errors = clean_resident(good_resident(), today=TODAY)
    assert errors == []
    assert clean["gender"] == "2" and clean["ethnicity"] == "01"
    assert clean["education"] == "21" and clean["relation_to_householder"] == "10"
    assert clean["marital_status"] == "20" and clean["political_status"] == "13"
    assert clean["population_type"] == "10" and clean["phone"] == "13812345678"
    assert clean["birth_date"] == dt.date(1990, 3, 7)
    # birth date and gender come from the ID number when not given
    clean, errors = clean_resident(good_resident(birth_date=None, gender=""), today=TODAY)
    assert errors == [] and (clean["birth_date"], clean["gender"]) == (dt.date(1990, 3, 7), "2")


@pytest.mark.parametrize(
    ("changes", "field", "reason_en"),
    [
        ({"birth_date": "1990-03-08"}, "birth_date", "disagrees"),
        ({"gender": "男"}, "gender", "disagrees"),
        ({"id_number": make_id()[:-1] + "0" if make_id()[-1] != "0" else make_id()[:-1] + "1"},
         "id_number", "check character"),
        ({"phone": "12812345678"}, "phone", "not a valid phone"),
        ({"phone": "021-1234"}, "phone", "not a valid phone"),
        ({"ethnicity": "火星族"}, "ethnicity", "code table ethnicity"),
        ({"education": "99"}, "education", "code table education"),
        ({"marital_status": "同居"}, "marital_status", "code table marital_status"),
        ({"political_status": "党员"}, "political_status", "code table political_status"),
        ({"population_type": "游客"}, "population_type", "code table population_type"),
        ({"relation_to_householder": "朋友"}, "relation_to_householder", "code table"),
        ({"marital_status_date": "2027-01-01"}, "marital_status_date", "future"),
        ({"marital_status_date": "1980-01-01"}, "marital_status_date", "before birth_date"),
        ({"marital_status_date": "2015-13-01"}, "marital_status_date", "not a date"),
        ({"population_type": "流动人口"}, "inflow_date", "required for"),
        ({"population_type": "流动人口", "inflow_date": "2030-01-01"}, "inflow_date", "future"),
        ({"name": "  "}, "name", "required"),
        ({"id_number": None}, "id_number", "required"),
    ],
)  # fmt: skip
def test_each_rule_rejects_a_bad_value_with_field_and_reason(changes, field, reason_en):
    errors = check_resident(good_resident(**changes), today=TODAY)
    mine = [e for e in errors if e.field == field]
    assert mine, errors
    assert reason_en in mine[0].reason_en and mine[0].reason_zh
    assert mine[0].message.startswith(f"{field}: ")


def test_foreign_residents_need_no_id_number_and_landlines_pass():
    record = good_resident(id_number=None, population_type="境外人员", phone="021-12345678")
    assert check_resident(record, today=TODAY) == []
    assert check_resident(good_resident(phone="0571-8888888-12"), today=TODAY) == []
    assert check_resident(good_resident(phone="+86 13912345678"), today=TODAY) == []


# --------------------------------------------------------------------------- houses, staff


def test_house_rules():
    good = {"address": "上海市黄浦区圆明园路1号", "floor_area_m2": "85.5", "house_type": "住宅",
            "use": "出租", "households": 2, "lon": 121.49, "lat": 31.24}  # fmt: skip
    assert check_house(good) == []
    cases = {
        "address": ({"address": None}, "required"),
        "floor_area_m2": ({"floor_area_m2": "-3"}, "between"),
        "house_type": ({"house_type": "城堡"}, "code table house_type"),
        "use": ({"use": "度假"}, "code table house_use"),
        "households": ({"households": 1.5}, "whole number"),
        "lat": ({"lat": 95}, "between"),
        "grid_code": ({"grid_code": "12345"}, "15 digits"),
    }
    for field, (changes, reason) in cases.items():
        errors = check_house(good | changes)
        assert fields(errors) == {field}, (field, errors)
        assert reason in errors[0].reason_en
    assert fields(check_house(good | {"lat": None})) == {"lat"}  # lon without lat


def test_staff_rules():
    good = {"name": "李四", "role": "专职网格员", "phone": "13912345678",
            "grid_codes": "310101002005001，310101002005002", "phone_published": "否"}  # fmt: skip
    assert check_staff(good) == []
    assert fields(check_staff(good | {"role": "保安"})) == {"role"}
    assert fields(check_staff(good | {"phone": None})) == {"phone"}
    assert fields(check_staff(good | {"grid_codes": ["310101002005001", "1"]})) == {"grid_codes"}
    assert fields(check_staff(good | {"phone_published": "也许"})) == {"phone_published"}


def test_special_status_rules():
    good = {"category": "残疾人", "start_date": "2020-01-01",
            "fields": {"disability_cert_no": "31010119900307124X11", "disability_kind": "肢体",
                       "disability_grade": "二级"}}  # fmt: skip
    assert check_special_status(good, today=TODAY) == []
    bad_fields = good | {"fields": good["fields"] | {"disability_grade": "五级", "colour": "red"}}
    assert fields(check_special_status(bad_fields, today=TODAY)) == {
        "fields.disability_grade",
        "fields.colour",
    }
    missing = good | {"fields": {"disability_kind": "肢体", "disability_grade": "一级"}}
    assert fields(check_special_status(missing, today=TODAY)) == {"fields.disability_cert_no"}
    assert fields(check_special_status(good | {"category": "外星人"}, today=TODAY)) == {"category"}
    assert fields(check_special_status(good | {"start_date": "2027-01-01"}, today=TODAY)) == {
        "start_date"
    }
    assert fields(check_special_status(good | {"end_date": "2019-12-31"}, today=TODAY)) == {
        "end_date"
    }
    retiree = {"category": "enterprise_retiree", "fields": {"retirement_date": "2030-01-01"}}
    assert fields(check_special_status(retiree, today=TODAY)) == {"fields.retirement_date"}


# --------------------------------------------------------------------------- code tables


def _csv(name: str) -> list[dict[str, str]]:
    with (CODES / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_ethnicity_table_has_the_56_official_nationalities():
    official = [r for r in _csv("ethnicity") if r["official"] == "1"]
    assert [r["code"] for r in official] == [f"{i:02d}" for i in range(1, 57)]
    names = {r["name_zh"] for r in official}
    assert len(names) == 56 and all(n.endswith("族") for n in names)
    assert {"汉族", "壮族", "维吾尔族", "基诺族", "珞巴族"} <= names
    table = code_table("ethnicity")
    assert table.code_of("基诺族") == "56" and table.code_of("Uyghur") == "05"


@pytest.mark.parametrize("name", CODE_TABLES)
def test_every_code_table_loads_with_unique_codes_and_names(name):
    rows = _csv(name)
    table = code_table(name)
    assert table.codes == tuple(r["code"] for r in rows) and len(rows) >= 4
    assert len(set(table.codes)) == len(rows)
    assert len({r["name_zh"] for r in rows}) == len(rows)
    for r in rows:  # every name leads back to its own code
        assert table.code_of(r["name_zh"]) == r["code"]
        assert table.code_of(r["code"]) == r["code"]


def test_special_status_categories_all_have_fields_and_the_design_list():
    categories = _csv("special_status")
    assert len(categories) == 17
    for row in categories:
        specs = special_status_fields(row["code"])
        assert specs and any(s.required for s in specs), row["code"]
        for s in specs:
            assert s.type in {"text", "int", "number", "date", "bool", "enum", "phone"}
            assert (s.type == "enum") == bool(s.choices)
    assert special_status_fields("nope") == ()


def test_reference_codes_of_national_standards():
    """A few codes checked against the standards' texts (GB/T 2261.1/.2, 4762, 4761, 4658)."""
    assert code_table("gender").code_of("男") == "1" and code_table("gender").code_of("女") == "2"
    assert code_table("marital_status").code_of("丧偶") == "30"
    assert code_table("marital_status").code_of("离婚") == "40"
    assert code_table("political_status").code_of("中共党员") == "01"
    assert code_table("political_status").code_of("共青团员") == "03"
    assert code_table("relation_to_householder").code_of("户主") == "02"
    assert code_table("relation_to_householder").code_of("非亲属") == "99"
    assert code_table("education").code_of("初中毕业") == "71"
    four = [r for r in _csv("staff_role") if r["four_in_one"] == "1"]
    assert len(four) == 4


# --------------------------------------------------------------------------- masks


def test_masks():
    assert mask_id_number("110101199003071234") == "1101**********1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("021-12345678") == "021-****5678"
    assert mask_id_number(None) is None and mask_phone(None) is None
    for value in ("110101199003071234", "13812345678", "021-12345678", "123"):
        masked = mask_id_number(value) if len(value) == 18 else mask_phone(value)
        assert len(masked) == len(value)
        hidden = sum(c == "*" for c in masked)
        assert hidden >= len(value) // 3
