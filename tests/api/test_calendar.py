"""The official working calendar: holiday weeks from the State Council notices, coverage warning.

Expected days are written out here from the notices (国务院办公厅关于 2024/2025/2026 年部分节假日
安排的通知), independently of the data files; every day of 2024–2026 is also compared with the
``chinesecalendar`` package when it is installed.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services.incidents.calendar import (
    CalendarCoverageWarning,
    WorkCalendar,
    add_working_days,
    calendar_dir,
    default_calendar,
    is_working_day,
    load_calendar,
    working_days_between,
)
from gis.errors import InputError

D = date

# (first day off, last day off, make-up working days) as announced
SPRING_FESTIVAL = {
    2024: (D(2024, 2, 10), D(2024, 2, 17), [D(2024, 2, 4), D(2024, 2, 18)]),
    2025: (D(2025, 1, 28), D(2025, 2, 4), [D(2025, 1, 26), D(2025, 2, 8)]),
    2026: (D(2026, 2, 15), D(2026, 2, 23), [D(2026, 2, 14), D(2026, 2, 28)]),
}
NATIONAL_DAY = {
    2024: (D(2024, 10, 1), D(2024, 10, 7), [D(2024, 9, 29), D(2024, 10, 12)]),
    2025: (D(2025, 10, 1), D(2025, 10, 8), [D(2025, 9, 28), D(2025, 10, 11)]),
    2026: (D(2026, 10, 1), D(2026, 10, 7), [D(2026, 9, 20), D(2026, 10, 10)]),
}
# every holiday of each notice: days off (first, last) and make-up working days
NOTICES = {
    2024: (
        [(D(2024, 1, 1),) * 2, (D(2024, 2, 10), D(2024, 2, 17)), (D(2024, 4, 4), D(2024, 4, 6)),
         (D(2024, 5, 1), D(2024, 5, 5)), (D(2024, 6, 10),) * 2, (D(2024, 9, 15), D(2024, 9, 17)),
         (D(2024, 10, 1), D(2024, 10, 7))],
        [D(2024, 2, 4), D(2024, 2, 18), D(2024, 4, 7), D(2024, 4, 28), D(2024, 5, 11),
         D(2024, 9, 14), D(2024, 9, 29), D(2024, 10, 12)],
    ),
    2025: (
        [(D(2025, 1, 1),) * 2, (D(2025, 1, 28), D(2025, 2, 4)), (D(2025, 4, 4), D(2025, 4, 6)),
         (D(2025, 5, 1), D(2025, 5, 5)), (D(2025, 5, 31), D(2025, 6, 2)),
         (D(2025, 10, 1), D(2025, 10, 8))],
        [D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11)],
    ),
    2026: (
        [(D(2026, 1, 1), D(2026, 1, 3)), (D(2026, 2, 15), D(2026, 2, 23)),
         (D(2026, 4, 4), D(2026, 4, 6)), (D(2026, 5, 1), D(2026, 5, 5)),
         (D(2026, 6, 19), D(2026, 6, 21)), (D(2026, 9, 25), D(2026, 9, 27)),
         (D(2026, 10, 1), D(2026, 10, 7))],
        [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20),
         D(2026, 10, 10)],
    ),
}  # fmt: skip
HOLIDAY_NAMES = {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def _expected(day: date) -> bool:
    """Working or not, from the notice of ``day``'s year alone."""
    off, makeup = NOTICES[day.year]
    if day in makeup:
        return True
    if any(first <= day <= last for first, last in off):
        return False
    return day.weekday() < 5


@pytest.mark.parametrize("table", [SPRING_FESTIVAL, NATIONAL_DAY], ids=["spring", "national"])
@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_holiday_weeks_follow_the_notices(table, year):
    first, last, makeup = table[year]
    # three weeks around the holiday, make-up days included
    window = _days(min([first, *makeup]) - timedelta(days=3), max([last, *makeup]) + timedelta(3))
    for day in window:
        assert is_working_day(day) is _expected(day), day
    assert all(day.weekday() >= 5 for day in makeup)  # make-up days are weekends


def test_2025_spring_festival_and_national_day_spelled_out():
    assert not any(is_working_day(d) for d in _days(D(2025, 1, 28), D(2025, 2, 4)))
    assert is_working_day(D(2025, 1, 26)) and D(2025, 1, 26).weekday() == 6  # Sunday
    assert is_working_day(D(2025, 2, 8)) and D(2025, 2, 8).weekday() == 5  # Saturday
    assert not any(is_working_day(d) for d in _days(D(2025, 10, 1), D(2025, 10, 8)))
    assert is_working_day(D(2025, 9, 28)) and is_working_day(D(2025, 10, 11))
    assert not is_working_day(D(2025, 10, 12))  # the Sunday after is an ordinary Sunday
    assert default_calendar().holiday_name(D(2025, 10, 6)) == "中秋节 / Mid-autumn Festival"


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_every_day_of_the_year_follows_its_notice(year):
    for day in _days(D(year, 1, 1), D(year, 12, 31)):
        assert is_working_day(day) is _expected(day), day


def test_every_year_has_its_seven_holidays_and_weekend_makeup_days():
    cal = default_calendar()
    assert {2024, 2025, 2026} <= cal.years
    for year in cal.years:
        names = {n.split(" / ")[0] for d, n in cal.holidays.items() if d.year == year}
        assert names == HOLIDAY_NAMES, year
        assert all(d.weekday() >= 5 for d in cal.workdays if d.year == year)


def test_agrees_with_chinesecalendar_every_day():
    cc = pytest.importorskip("chinese_calendar")
    cal = default_calendar()
    for year in (2024, 2025, 2026):
        for day in _days(D(year, 1, 1), D(year, 12, 31)):
            assert cal.is_working_day(day) is cc.is_workday(day), day


def test_add_working_days_and_between():
    # Friday + 3 = Wednesday when no holiday falls between
    assert add_working_days(D(2025, 3, 7), 3) == D(2025, 3, 12)
    assert add_working_days(D(2025, 3, 7), 0) == D(2025, 3, 7)
    assert add_working_days(D(2025, 3, 12), -3) == D(2025, 3, 7)
    # the day before National Day 2025: 10/9, 10/10, 10/11 (make-up Saturday)
    assert add_working_days(D(2025, 9, 30), 3) == D(2025, 10, 11)
    assert working_days_between(D(2025, 9, 30), D(2025, 10, 11)) == [
        D(2025, 10, 9), D(2025, 10, 10), D(2025, 10, 11),
    ]  # fmt: skip
    # a make-up Saturday is a working day; from a holiday, counting starts after it
    assert add_working_days(D(2025, 10, 11), 1) == D(2025, 10, 13)
    assert add_working_days(D(2026, 2, 14), 1) == D(2026, 2, 24)  # Spring Festival 2/15-2/23
    assert working_days_between(D(2025, 3, 7), D(2025, 3, 7)) == []
    assert working_days_between(D(2025, 3, 8), D(2025, 3, 1)) == []


@settings(max_examples=80, deadline=None)
@given(
    day=st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 11, 30)),
    n=st.integers(min_value=0, max_value=15),
)
def test_add_and_between_agree(day, n):
    end = add_working_days(day, n)
    counted = working_days_between(day, end)
    assert len(counted) == n
    assert all(is_working_day(d) for d in counted)
    if n:
        assert counted[-1] == end and is_working_day(end)
        # n back from the end lands on the last working day on or before ``day``
        last_on_or_before = day if is_working_day(day) else add_working_days(day, -1)
        assert add_working_days(end, -n) == last_on_or_before


def test_past_the_data_weekdays_only_with_a_warning():
    with pytest.warns(CalendarCoverageWarning, match=r"2027.*cn_workdays_2027\.csv"):
        assert is_working_day(D(2027, 10, 1))  # a Friday, National Day unknown yet
    with pytest.warns(CalendarCoverageWarning, match="does not cover 2027"):
        assert not is_working_day(D(2027, 10, 2))  # Saturday
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not is_working_day(D(2026, 10, 1))  # covered: no warning


def test_a_missing_year_warns_and_adding_its_file_fixes_it(tmp_path):
    source = calendar_dir()
    (tmp_path / "cn_workdays_2025.csv").write_bytes((source / "cn_workdays_2025.csv").read_bytes())
    only_2025 = load_calendar(tmp_path)
    assert only_2025.years == {2025}
    with pytest.warns(CalendarCoverageWarning, match="2026"):
        assert only_2025.is_working_day(D(2026, 2, 16))  # a Monday; Spring Festival not known
    (tmp_path / "cn_workdays_2026.csv").write_bytes((source / "cn_workdays_2026.csv").read_bytes())
    both = load_calendar(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not both.is_working_day(D(2026, 2, 16))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("date,kind,name_zh,name_en\n2025-13-01,holiday,春节,Spring Festival\n", "line 2"),
        ("date,kind,name_zh,name_en\n2024-10-01,holiday,国庆节,National Day\n", "not in 2025"),
        ("date,kind,name_zh,name_en\n2025-10-01,off,国庆节,National Day\n", "holiday or workday"),
        ("date,kind,name_zh,name_en\n2025-10-10,workday,国庆节,National Day\n", "not a weekend"),
        (
            "date,kind,name_zh,name_en\n2025-10-01,holiday,国,N\n2025-10-01,holiday,国,N\n",
            "listed twice",
        ),
        ("day,kind\n2025-10-01,holiday\n", "columns must be"),
    ],
)
def test_bad_calendar_files_are_refused_with_file_and_line(tmp_path, text, match):
    (tmp_path / "cn_workdays_2025.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match) as info:
        load_calendar(tmp_path)
    assert "cn_workdays_2025.csv" in str(info.value)


def test_an_empty_calendar_counts_weekdays_with_a_warning():
    with pytest.warns(CalendarCoverageWarning):
        assert WorkCalendar().add_working_days(D(2025, 9, 26), 3) == D(2025, 10, 1)
