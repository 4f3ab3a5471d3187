"""Sample-point and community scores, each expected score computed by hand from docs/design.md §2.

Rules: missing registration 6, wrong/missing house field 0.5, population field 0.5,
special-status item 0.1, floor 0 per point, no double deduction.
"""

from __future__ import annotations

import datetime as dt
import doctest
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services.assessment import (
    DEPARTMENTS,
    DeptScore,
    HouseholdRecord,
    PointScore,
    ResidentRecord,
    ScoringRules,
    household_records,
    rank_communities,
    score_community,
    score_sample_point,
)
from api.services.assessment.scoring import match_residents
from gis.errors import InputError

ZHANG = ResidentRecord(
    name="张三",
    gender="男",
    ethnicity="汉族",
    id_number="310101198001011234",
    birth_date=dt.date(1980, 1, 1),
    education="大学本科毕业",
    relation_to_householder="户主",
    marital_status="已婚",
    marital_status_date=dt.date(2005, 5, 1),
    political_status="群众",
    hukou_address="上海市黄浦区九江路1号",
    population_type="户籍人口",
    phone="13812345678",
)
LI = ResidentRecord(
    name="李梅",
    gender="女",
    ethnicity="汉族",
    id_number="31010119820202242X",
    birth_date=dt.date(1982, 2, 2),
    education="普通高中毕业",
    relation_to_householder="配偶",
    marital_status="已婚",
    marital_status_date=dt.date(2005, 5, 1),
    political_status="群众",
    hukou_address="上海市黄浦区九江路1号",
    population_type="户籍人口",
    residence_permit_no="沪暂2020-001",
    phone="13912345678",
    special_statuses={
        "disability": {"disability_cert_no": "D-001", "disability_kind": "肢体",
                       "disability_grade": "三级"},
    },
)  # fmt: skip
REGISTRY = HouseholdRecord(
    house_key="H001",
    address="上海市黄浦区九江路1号",
    owner="张三",
    floor_area_m2=86.5,
    house_type="住宅",
    use="自住",
    residents=(ZHANG, LI),
)

# The same household as written down on the spot: other spellings of the same facts
# (codes for names, Chinese dates, full-width digits, +86 phone, area within 1 %).
ZHANG_SPOT = replace(
    ZHANG,
    ethnicity="01",
    birth_date="1980年1月1日",
    relation_to_householder="02",
    marital_status_date="2005/5/1",
    hukou_address="九江路１号",
    phone="+86 138 1234 5678",
    special_statuses={},
)
LI_SPOT = replace(
    LI,
    name=" 李 梅",
    gender="2",
    id_number="31010119820202242x",
    birth_date="19820202",
    special_statuses={"残疾人": {"disability_kind": "肢体", "disability_grade": "三级"}},
)
SPOT = replace(
    REGISTRY,
    address="上海市黄浦区九江路１号",
    floor_area_m2="87.3",
    house_type="01",
    residents=(ZHANG_SPOT, LI_SPOT),
)


def charged(score: PointScore) -> list[tuple[str, str, float]]:
    return [(d.record, d.field, d.points) for d in score.deductions if d.points > 0]


def test_clean_household_scores_six() -> None:
    score = score_sample_point(REGISTRY, SPOT)
    assert score.deductions == ()
    assert score.points == 6.0
    assert score.registered


def test_one_house_field_and_two_population_fields() -> None:
    # 6 − 0.5 (use) − 0.5 (张三's phone) − 0.5 (李梅's education) = 4.5
    spot = replace(
        SPOT,
        use="出租",
        residents=(
            replace(ZHANG_SPOT, phone="13800000000"),
            replace(LI_SPOT, education="大学本科毕业"),
        ),
    )
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 4.5
    assert charged(score) == [
        ("房屋", "use", 0.5),
        ("张三", "phone", 0.5),
        ("李梅", "education", 0.5),
    ]
    use = score.deductions[0]
    assert (use.rule, use.kind, use.registry_value, use.field_value) == (
        "house_field", "wrong", "自住", "出租",
    )  # fmt: skip
    assert use.field_zh == "房屋用途"


def test_area_tolerance_is_one_percent_but_at_least_half_a_square_metre() -> None:
    # 86.5 m² ± 1 % = ± 0.865 m²: 87.36 is the same, 87.4 is not; 20 m² ± 0.5 m² (1 % = 0.2).
    assert score_sample_point(REGISTRY, replace(SPOT, floor_area_m2=87.36)).points == 6.0
    assert score_sample_point(REGISTRY, replace(SPOT, floor_area_m2=87.4)).points == 5.5
    small = replace(REGISTRY, floor_area_m2=20.0)
    assert score_sample_point(small, replace(SPOT, floor_area_m2=20.45)).points == 6.0
    assert score_sample_point(small, replace(SPOT, floor_area_m2=20.55)).points == 5.5


def test_many_errors_floor_at_zero_with_every_deduction_listed() -> None:
    # house: owner, area, type, use                       4 × 0.5 = 2.0  (left 4.0)
    # 张三: gender, ethnicity, education, political,
    #       population type, phone                       6 × 0.5 = 3.0  (left 1.0)
    # 张三: a special item unknown to the registry         0.1             (left 0.9)
    # 李梅: ethnicity 0.5 (left 0.4), education 0.4 of 0.5 (left 0), phone 0 of 0.5
    spot = replace(
        SPOT,
        owner="王五",
        floor_area_m2=100,
        house_type="商业",
        use="出租",
        residents=(
            replace(ZHANG_SPOT, gender="女", ethnicity="回族", education="普通高中毕业",
                    political_status="中共党员", population_type="流动人口",
                    phone="13000000000", special_statuses={"military": {"service_status": "退役"}}),
            replace(LI_SPOT, ethnicity="满族", education="大学本科毕业", phone="13100000000"),
        ),
    )  # fmt: skip
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 0.0
    assert len(score.deductions) == 4 + 6 + 1 + 3
    assert sum(d.nominal for d in score.deductions) == pytest.approx(2.0 + 3.0 + 0.1 + 1.5)
    assert sum(d.points for d in score.deductions) == pytest.approx(6.0)
    *_, eth, edu, phone = score.deductions
    assert (eth.points, edu.points, phone.points) == (0.5, pytest.approx(0.4), 0.0)
    assert "扣至 0" in edu.note and "已扣完" in phone.note
    special = score.deductions[10]
    assert (special.rule, special.record) == ("special_item", "张三·现役退役军人")
    assert special.points == 0.1


def test_house_not_registered_costs_the_whole_point() -> None:
    score = score_sample_point(None, SPOT)
    assert score.points == 0.0 and not score.registered
    [d] = score.deductions
    assert (d.rule, d.kind, d.nominal, d.points) == ("missing_registration", "missing", 6.0, 6.0)
    assert d.registry_value is None and d.field_value == "上海市黄浦区九江路１号"


def test_person_found_but_not_registered_costs_the_whole_point() -> None:
    wang = ResidentRecord(name="王五", id_number="310101200001011111", gender="男")
    score = score_sample_point(REGISTRY, replace(SPOT, residents=(*SPOT.residents, wang)))
    assert score.points == 0.0
    [d] = score.deductions
    assert (d.rule, d.record, d.points) == ("missing_registration", "王五", 6.0)
    # after a 0.5 house error the missing registration takes what is left: 5.5, total 6
    score = score_sample_point(
        REGISTRY, replace(SPOT, use="出租", residents=(wang, *SPOT.residents))
    )
    assert [d.points for d in score.deductions] == [0.5, 5.5]
    assert score.points == 0.0


def test_door_plate_wrong_in_house_and_population_record_is_deducted_once() -> None:
    # The registry's door plate and 张三's 户籍地址 hold the same fact; both are recorded as
    # 九江路1号 where the household really is 九江路3号: one wrong fact, 0.5 → 5.5.
    spot = replace(
        SPOT,
        address="上海市黄浦区九江路3号",
        residents=(replace(ZHANG_SPOT, hukou_address="上海市黄浦区九江路3号"), LI_SPOT),
    )
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.5
    house, person = score.deductions
    assert (house.record, house.field, house.points) == ("房屋", "address", 0.5)
    assert (person.record, person.field, person.points) == ("张三", "hukou_address", 0.0)
    assert "同一事实" in person.note
    assert person.registry_value == "上海市黄浦区九江路1号"
    assert person.field_value == "上海市黄浦区九江路3号"
    # a 户籍地址 wrong in another way is a separate fact: 6 − 0.5 − 0.5 = 5.0
    other = replace(
        spot, residents=(replace(ZHANG_SPOT, hukou_address="上海市黄浦区九江路5号"), LI_SPOT)
    )
    assert score_sample_point(REGISTRY, other).points == 5.0


def test_owner_and_householder_name_wrong_alike_is_deducted_once() -> None:
    # 张三 is really 张叁, as owner and as a person (found by ID number): 0.5 once.
    spot = replace(SPOT, owner="张叁", residents=(replace(ZHANG_SPOT, name="张叁"), LI_SPOT))
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.5
    assert [d.points for d in score.deductions] == [0.5, 0.0]


def test_marital_status_and_its_date_are_one_item() -> None:
    # 婚姻状况及时间 is one item in the seed: both wrong → 0.5, not 1.0.
    spot = replace(
        SPOT,
        residents=(
            ZHANG_SPOT,
            replace(LI_SPOT, marital_status="离婚", marital_status_date="2019-03-01"),
        ),
    )
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.5
    assert [(d.field, d.points) for d in score.deductions] == [
        ("marital_status", 0.5),
        ("marital_status_date", 0.0),
    ]


def test_special_status_items_cost_a_tenth_each_item_once() -> None:
    # 张三: 退役军人 not registered (0.1); 李梅: disability grade and kind wrong (one item,
    # 0.1 once) → 6 − 0.2 = 5.8
    spot = replace(
        SPOT,
        residents=(
            replace(ZHANG_SPOT, special_statuses={"military": {"service_status": "退役"}}),
            replace(LI_SPOT, special_statuses={
                "disability": {"disability_kind": "视力", "disability_grade": "二级"}}),
        ),
    )  # fmt: skip
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.8
    assert score.deducted == 0.2
    assert [(d.record, d.field, d.points) for d in score.deductions] == [
        ("张三·现役退役军人", "military", 0.1),
        ("李梅·残疾人", "disability_kind", 0.1),
        ("李梅·残疾人", "disability_grade", 0.0),
    ]
    assert score.deductions[1].registry_value == "肢体"
    assert score.deductions[1].field_value == "视力"
    # a registered item the household no longer has (checked, none found): 0.1
    gone = replace(SPOT, residents=(ZHANG_SPOT, replace(LI_SPOT, special_statuses={})))
    assert score_sample_point(REGISTRY, gone).points == 5.9
    # not checked (None): nothing
    unchecked = replace(SPOT, residents=(ZHANG_SPOT, replace(LI_SPOT, special_statuses=None)))
    assert score_sample_point(REGISTRY, unchecked).points == 6.0


def test_wrong_id_number_is_a_wrong_field_when_name_and_birth_date_match() -> None:
    spot = replace(SPOT, residents=(ZHANG_SPOT, replace(LI_SPOT, id_number="310101198202022421")))
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.5
    [d] = score.deductions
    assert (d.rule, d.field) == ("population_field", "id_number")


def test_blank_is_unchecked_and_wu_says_the_fact_does_not_exist() -> None:
    blank = replace(SPOT, residents=(ZHANG_SPOT, replace(LI_SPOT, residence_permit_no=None)))
    assert score_sample_point(REGISTRY, blank).points == 6.0
    none = replace(SPOT, residents=(ZHANG_SPOT, replace(LI_SPOT, residence_permit_no="无")))
    score = score_sample_point(REGISTRY, none)
    assert score.points == 5.5
    assert score.deductions[0].registry_value == "沪暂2020-001"
    # and a value the registry lacks is missing: 张三 has no residence permit registered
    missing = replace(SPOT, residents=(replace(ZHANG_SPOT, residence_permit_no="沪暂9"), LI_SPOT))
    [d] = score_sample_point(REGISTRY, missing).deductions
    assert (d.kind, d.registry_value, d.field_value, d.points) == ("missing", None, "沪暂9", 0.5)


def test_registered_person_not_found_unless_living_elsewhere() -> None:
    only_zhang = replace(SPOT, residents=(ZHANG_SPOT,))
    score = score_sample_point(REGISTRY, only_zhang)
    assert score.points == 5.5
    assert [(d.rule, d.record) for d in score.deductions] == [("stale_resident", "李梅")]
    li_away = replace(LI, population_type="人户分离(户在人不在)")  # half-width brackets too
    away = replace(REGISTRY, residents=(ZHANG, li_away))
    assert score_sample_point(away, only_zhang).points == 6.0
    # residents not checked on the spot: nothing
    assert score_sample_point(REGISTRY, replace(SPOT, residents=None)).points == 6.0
    # the rule can be switched off
    rules = ScoringRules(stale_resident=0)
    assert score_sample_point(REGISTRY, only_zhang, rules=rules).points == 6.0


def test_administrative_prefix_omitted_is_not_an_error_but_a_different_district_is() -> None:
    assert score_sample_point(REGISTRY, replace(SPOT, address="黄浦区九江路1号")).points == 6.0
    assert score_sample_point(REGISTRY, replace(SPOT, address="浦东新区九江路1号")).points == 5.5


def test_match_residents_by_id_then_name_and_birth_date() -> None:
    found = [
        replace(LI, id_number="000"),  # by name + birth
        ResidentRecord(name="赵六", birth_date="1990-01-01"),
        replace(ZHANG, birth_date=None),
    ]
    pairs, unmatched_found, unmatched_registry = match_residents([ZHANG, LI], found)
    assert pairs == [(0, 1, "name_birth_date"), (2, 0, "id_number")]
    assert unmatched_found == [1] and unmatched_registry == []


def test_household_records_from_frames() -> None:
    houses = pd.DataFrame(
        {"house_key": ["H001", None], "address": ["九江路1号", "九江路2号"], "owner": ["张三", "x"]}
    )
    residents = pd.DataFrame(
        {"door_plate": ["九江路1号", "九江路２号"], "name": ["张三", "赵六"],
         "id_number": ["310101198001011234", float("nan")]}
    )  # fmt: skip
    specials = pd.DataFrame(
        {"house_key": ["H001"], "name": ["张三"], "category": ["empty_nest"], "lives_alone": ["是"]}
    )
    records = household_records(houses, residents, specials)
    assert list(records) == ["H001", "九江路2号"]
    [zhang] = records["H001"].residents
    assert zhang.special_statuses == {"empty_nest": {"lives_alone": "是"}}
    [zhao] = records["九江路2号"].residents
    assert zhao.name == "赵六" and zhao.id_number is None
    bad = residents.assign(door_plate=["九江路9号", "九江路1号"])
    with pytest.raises(InputError, match="row 0"):
        household_records(houses, bad)


# --------------------------------------------------------------------------- community


def depts(*points: float) -> list[DeptScore]:
    return [DeptScore(code, p, "按标准考评") for code, p in zip(DEPARTMENTS, points, strict=True)]


def flat_points(*values: float) -> list[PointScore]:
    return [PointScore(f"H{i:03d}", None, v, (), True) for i, v in enumerate(values)]


def test_community_total_from_scored_points() -> None:
    spot_45 = replace(
        SPOT,
        use="出租",
        residents=(replace(ZHANG_SPOT, phone="1"), replace(LI_SPOT, education="大学本科毕业")),
    )
    scored = [
        score_sample_point(REGISTRY, SPOT),  # 6
        score_sample_point(replace(REGISTRY, house_key="H002"), replace(spot_45, house_key="H002")),
        score_sample_point(None, replace(SPOT, house_key="H003")),  # 0
    ]
    assert [p.points for p in scored] == [6.0, 4.5, 0.0]
    others = [PointScore(f"H1{i}", None, 6.0, (), True) for i in range(7)]
    result = score_community(
        depts(8, 7.5, 8, 6, 8), scored + others, community="九江社区", month="2024-05"
    )
    # departments 8 + 7.5 + 8 + 6 + 8 = 37.5; points 6 + 4.5 + 0 + 7 × 6 = 52.5; total 90
    assert (result.department_points, result.sample_points, result.total) == (37.5, 52.5, 90.0)
    assert result.note == ""
    assert result.charged_deductions == 3 + 1


def test_department_names_and_validation() -> None:
    by_name = [DeptScore(name, 8, "好") for name in DEPARTMENTS.values()]
    assert [d.dept for d in by_name] == list(DEPARTMENTS)
    assert by_name[1].dept_zh == "社会事务中心"
    with pytest.raises(InputError, match="0–8"):
        DeptScore("office", 8.5, "超额")
    with pytest.raises(InputError, match="reason"):
        DeptScore("office", 8, " ")
    with pytest.raises(InputError, match="unknown department"):
        DeptScore("财政所", 8, "好")
    with pytest.raises(InputError, match="not scored"):
        score_community(depts(8, 8, 8, 8, 8)[:4], flat_points(6), community="A")
    with pytest.raises(InputError, match="twice"):
        score_community([*depts(8, 8, 8, 8, 8), DeptScore("office", 1, "x")],
                        flat_points(6), community="A")  # fmt: skip
    with pytest.raises(InputError, match="more than 10"):
        score_community(depts(8, 8, 8, 8, 8), flat_points(*[6] * 11), community="A")


def test_fewer_sample_points_are_scaled_to_sixty() -> None:
    # 3 points worth 6 + 3 + 0 = 9 of 18 → 9 / 18 × 60 = 30
    result = score_community(depts(8, 8, 8, 8, 8), flat_points(6, 3, 0), community="小社区")
    assert result.sample_points == 30.0 and result.total == 70.0
    assert "折算" in result.note


def test_ranking_shares_ranks_on_ties() -> None:
    # A: 37.5 + 45.8 = 83.3; B: 40 + 43.3 = 83.3; C: 40 + 50 = 90; D: 20 + 30 = 50
    a = score_community(depts(8, 7.5, 8, 6, 8), flat_points(6, 4.5, 0, 0, 5.5, 5.8, 6, 6, 6, 6),
                        community="A社区", month="2024-05")  # fmt: skip
    b = score_community(depts(8, 8, 8, 8, 8), flat_points(6, 6, 6, 6, 6, 6, 1.3, 0, 0, 6),
                        community="B社区", month="2024-05")  # fmt: skip
    c = score_community(depts(8, 8, 8, 8, 8), flat_points(*[5] * 10),
                        community="C社区", month="2024-05")  # fmt: skip
    d = score_community(depts(4, 4, 4, 4, 4), flat_points(*[3] * 10),
                        community="D社区", month="2024-05")  # fmt: skip
    assert (a.total, b.total, c.total, d.total) == (83.3, 83.3, 90.0, 50.0)
    ranking = rank_communities([d, b, a, c])
    assert ranking[["community", "rank"]].values.tolist() == [
        ["C社区", 1], ["A社区", 2], ["B社区", 2], ["D社区", 4],
    ]  # fmt: skip
    # ranks are per month
    june = replace(d, month="2024-06")
    assert rank_communities([a, june]).set_index("month")["rank"].to_dict() == {
        "2024-05": 1, "2024-06": 1,
    }  # fmt: skip
    with pytest.raises(InputError, match="twice"):
        rank_communities([a, a])
    assert rank_communities([]).empty


# --------------------------------------------------------------------------- properties

# Independent errors (no shared fact, no shared item), each with its hand-assigned cost.
_HOUSE = {"owner": "王五", "floor_area_m2": 100, "house_type": "商业", "use": "出租"}
_ZHANG = {
    "gender": "女",
    "ethnicity": "回族",
    "education": "普通高中毕业",
    "political_status": "中共党员",
    "population_type": "流动人口",
    "phone": "13000000000",
    "inflow_date": "2020-01-01",
    "residence_permit_no": "沪暂9",
}
_LI = {"ethnicity": "满族", "education": "大学本科毕业", "phone": "13100000000"}
_SPECIALS = {
    "zhang_military": (0, {"military": {"service_status": "退役"}}),
    "li_grade": (1, {"disability": {"disability_grade": "二级"}}),
}  # fmt: skip
ERRORS = [("house", k) for k in _HOUSE] + [("zhang", k) for k in _ZHANG]
ERRORS += [("li", k) for k in _LI] + [("special", k) for k in _SPECIALS]
COST = {e: 0.1 if e[0] == "special" else 0.5 for e in ERRORS}


def _apply(errors: list[tuple[str, str]]) -> HouseholdRecord:
    house = {k: _HOUSE[k] for t, k in errors if t == "house"}
    people: list[dict] = [{}, {}]
    for target, key in errors:
        if target == "zhang":
            people[0][key] = _ZHANG[key]
        elif target == "li":
            people[1][key] = _LI[key]
        elif target == "special":
            who, item = _SPECIALS[key]
            people[who]["special_statuses"] = item
    zhang, li = replace(ZHANG_SPOT, **people[0]), replace(LI_SPOT, **people[1])
    return replace(SPOT, **house, residents=(zhang, li))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(ERRORS), unique=True))
def test_score_is_six_minus_costs_floored_at_zero(errors) -> None:
    score = score_sample_point(REGISTRY, _apply(errors))
    expected = max(0.0, 6 - sum(COST[e] for e in errors))
    assert score.points == pytest.approx(expected, abs=1e-9)
    assert len(score.deductions) == len(errors)
    assert sum(d.points for d in score.deductions) == pytest.approx(6 - score.points)
    assert all(0 <= d.points <= d.nominal for d in score.deductions)
    # once at 0, everything after costs nothing
    left, seen_zero = 6.0, False
    for d in score.deductions:
        if seen_zero:
            assert d.points == 0
        left -= d.points
        seen_zero = seen_zero or left <= 1e-9


def test_docstring_examples() -> None:
    import api.services.assessment.community as community_module
    import api.services.assessment.compare as compare_module
    import api.services.assessment.sample as sample_module
    import api.services.assessment.scoring as scoring_module

    for module in (sample_module, compare_module, scoring_module, community_module):
        assert doctest.testmod(module).failed == 0


def test_same_wrong_address_written_with_and_without_prefix_is_one_fact() -> None:
    spot = replace(
        SPOT,
        address="九江路3号",
        residents=(replace(ZHANG_SPOT, hukou_address="上海市黄浦区九江路３号"), LI_SPOT),
    )
    score = score_sample_point(REGISTRY, spot)
    assert score.points == 5.5
    assert [d.points for d in score.deductions] == [0.5, 0.0]
    assert score.deducted == 0.5


def test_spreadsheet_types_compare_as_their_values() -> None:
    # what openpyxl/pandas hand over: numbers as floats, dates as Timestamps, codes as ints
    zhang = replace(
        ZHANG_SPOT,
        phone=13812345678.0,
        birth_date=pd.Timestamp("1980-01-01"),
        ethnicity=1,
        marital_status_date=dt.datetime(2005, 5, 1),
    )
    assert score_sample_point(REGISTRY, replace(SPOT, residents=(zhang, LI_SPOT))).points == 6.0
