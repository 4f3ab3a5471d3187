"""Deadlines: same day, 3 working days, urgent hours, working hours; Asia/Shanghai time.

Expected dates are worked out by hand from the State Council notices (see test_calendar.py);
working hours are checked against a minute-by-minute count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services.incidents.calendar import CalendarCoverageWarning, is_working_day
from api.services.incidents.deadlines import (
    DEFAULT_OFFICE_HOURS,
    SHANGHAI,
    Limit,
    LimitUnit,
    OfficeHours,
    due_at,
    due_soon,
    is_overdue,
    to_shanghai,
)
from gis.errors import InputError

try:  # the independent oracle, when installed (test dependency ``chinesecalendar``)
    import chinese_calendar
except ImportError:  # pragma: no cover
    chinese_calendar = None

D = date
CST = "+08:00"


def iso(deadline) -> str:
    return deadline.due.isoformat()


# ---------------------------------------------------------------------- general: 3 working days
@pytest.mark.parametrize(
    ("reported", "due"),
    [
        # Friday -> Wednesday, no holiday between
        ("2025-03-07T10:00:00", "2025-03-12"),
        ("2026-08-14T23:30:00", "2026-08-19"),
        # Friday before the Dragon Boat Festival Monday (2024-06-10): Thursday
        ("2024-06-07T09:00:00", "2024-06-13"),
        # the day before National Day
        ("2024-09-30T16:00:00", "2024-10-10"),  # 10/1-10/7 off -> Tue 8, Wed 9, Thu 10
        ("2025-09-30T16:00:00", "2025-10-11"),  # 10/1-10/8 off -> 9, 10, Sat 11 (make-up)
        ("2026-09-30T16:00:00", "2026-10-10"),  # 10/1-10/7 off -> 8, 9, Sat 10 (make-up)
        # reported on a make-up Saturday: counting starts the day after
        ("2025-10-11T10:00:00", "2025-10-15"),
        ("2026-02-14T10:00:00", "2026-02-26"),  # Spring Festival 2/15-2/23 follows
        ("2025-01-26T10:00:00", "2025-02-06"),  # Sun make-up; Mon 1/27, 1/28-2/4 off, 5, 6
        # reported on a holiday
        ("2025-10-03T10:00:00", "2025-10-11"),
        # reported on a Saturday (not a make-up day): Mon, Tue, Wed
        ("2025-03-08T10:00:00", "2025-03-12"),
    ],
)
def test_general_is_due_at_the_end_of_the_third_working_day(reported, due):
    deadline = due_at(reported, "general")
    assert iso(deadline) == f"{due}T23:59:59{CST}"
    assert len(deadline.working_days) == 3
    assert deadline.working_days[-1] == D.fromisoformat(due)
    assert all(d > D.fromisoformat(reported[:10]) for d in deadline.working_days)


def test_friday_to_wednesday_working_days_listed():
    deadline = due_at("2025-03-07T10:00:00+08:00", "general")
    assert deadline.working_days == (D(2025, 3, 10), D(2025, 3, 11), D(2025, 3, 12))
    assert deadline.due.tzinfo is not None and deadline.due.utcoffset() == timedelta(hours=8)


# --------------------------------------------------------------------------- major: the same day
@pytest.mark.parametrize(
    "reported",
    ["2025-03-07T08:00:00", "2025-10-01T15:00:00", "2025-03-08T23:59:00", "2025-10-11T00:00:01"],
)
def test_major_is_due_the_same_day_even_on_a_holiday(reported):
    deadline = due_at(reported, "major")
    assert iso(deadline) == f"{reported[:10]}T23:59:59{CST}"
    assert deadline.working_days == ()


def test_office_hours_move_the_deadline_to_the_close():
    def due(reported: str, severity: str) -> str:
        return iso(due_at(reported, severity, office_hours="09:00-12:00,13:30-17:30"))

    assert due("2025-03-07T10:00", "general") == f"2025-03-12T17:30:00{CST}"
    assert due("2025-03-07T10:00", "major") == f"2025-03-07T17:30:00{CST}"
    # after the close, or on a day off, a major item is still due that day
    assert due("2025-03-07T18:00", "major") == f"2025-03-07T23:59:59{CST}"
    assert due("2025-10-02T10:00", "major") == f"2025-10-02T23:59:59{CST}"


# --------------------------------------------------------------------------- time zones
def test_naive_time_is_shanghai_and_an_offset_is_converted():
    naive = due_at("2025-09-30T20:00:00", "major")
    same = due_at("2025-09-30T20:00:00+08:00", "major")
    utc = due_at("2025-09-30T20:00:00Z", "major")  # 2025-10-01 04:00 in Shanghai
    assert iso(naive) == iso(same) == f"2025-09-30T23:59:59{CST}"
    assert iso(utc) == f"2025-10-01T23:59:59{CST}"
    # a datetime object works the same, naive or aware
    assert due_at(datetime(2025, 9, 30, 20), "major") == naive
    assert due_at(datetime(2025, 9, 30, 20, tzinfo=UTC), "major") == utc
    # general from the UTC evening: the Shanghai day is 10/1 (a holiday) -> 10/9, 10/10, 10/11
    assert iso(due_at("2025-09-30T20:00:00Z", "general")) == f"2025-10-11T23:59:59{CST}"
    assert to_shanghai("2025-09-30T12:00:00-04:00").isoformat() == f"2025-10-01T00:00:00{CST}"


@pytest.mark.parametrize("bad", ["yesterday", "2025-02-30T10:00", "2025-09-30 25:00", ""])
def test_unreadable_times_are_input_errors(bad):
    with pytest.raises(InputError, match="ISO 8601"):
        due_at(bad, "general")


@pytest.mark.parametrize("bad", ["urgent", "", None, "MAJOR "])
def test_unknown_severity_is_an_input_error(bad):
    with pytest.raises(InputError, match="severity must be major"):
        due_at("2025-03-07T10:00", bad)


# --------------------------------------------------------------------------- units
def test_urgent_hours_run_round_the_clock_through_holidays():
    deadline = due_at("2025-09-30T22:00", limit=Limit(4, "urgent_hours"))
    assert iso(deadline) == f"2025-10-01T02:00:00{CST}"
    assert deadline.working_days == ()
    assert iso(due_at("2025-10-01T10:00", limit=Limit(1.5, "urgent_hours"))) == (
        f"2025-10-01T11:30:00{CST}"
    )


@pytest.mark.parametrize(
    ("reported", "hours", "due", "days"),
    [
        # across lunch: 11:00-12:00 (1 h) + 13:30-14:30 (1 h)
        ("2025-03-07T11:00", 2, "2025-03-07T14:30", ["2025-03-07"]),
        # exactly to a window's end stays at its end
        ("2025-03-07T11:00", 1, "2025-03-07T12:00", ["2025-03-07"]),
        # reported at lunch or before work: counting starts at the next opening
        ("2025-03-07T12:30", 1, "2025-03-07T14:30", ["2025-03-07"]),
        ("2025-03-07T07:00", 1, "2025-03-07T10:00", ["2025-03-07"]),
        # across a weekend: Fri 16:00-17:30 (1.5 h), Mon 09:00-11:30 (2.5 h)
        ("2025-03-07T16:00", 4, "2025-03-10T11:30", ["2025-03-07", "2025-03-10"]),
        # after the close on Friday: Monday
        ("2025-03-07T18:00", 3, "2025-03-10T12:00", ["2025-03-10"]),
        # across National Day 2025 and into the make-up Saturday
        ("2025-09-30T17:00", 7.5, "2025-10-09T17:30", ["2025-09-30", "2025-10-09"]),
        ("2025-09-30T17:00", 8, "2025-10-10T09:30", ["2025-09-30", "2025-10-09", "2025-10-10"]),
        # on a make-up Saturday the office is open
        ("2025-10-11T08:00", 2, "2025-10-11T11:00", ["2025-10-11"]),
    ],
)
def test_working_hours_count_only_office_windows_on_working_days(reported, hours, due, days):
    deadline = due_at(reported, limit=Limit(hours, LimitUnit.WORKING_HOURS))
    assert iso(deadline) == f"{due}:00{CST}"
    assert [d.isoformat() for d in deadline.working_days] == days


def _minute_count_due(reported: datetime, minutes: int, office: OfficeHours) -> datetime:
    """Step minute by minute: a minute counts if it starts inside a window of a working day."""
    t = reported
    while minutes:
        if not is_working_day(t.date()):  # skip the rest of a day off
            t = datetime.combine(t.date() + timedelta(days=1), time(), tzinfo=t.tzinfo)
            continue
        if any(s <= t.time() < e for s, e in office.windows):
            minutes -= 1
        t += timedelta(minutes=1)
    return t


@settings(max_examples=50, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 20)),
    minutes=st.integers(min_value=1, max_value=10 * 60),
)
def test_working_hours_agree_with_a_minute_count(start, minutes):
    start = start.replace(second=0, microsecond=0, tzinfo=SHANGHAI)
    deadline = due_at(start, limit=Limit(minutes / 60, "working_hours"))
    expected = _minute_count_due(start, minutes, DEFAULT_OFFICE_HOURS)
    assert abs(deadline.due - expected) < timedelta(seconds=1)
    assert all(is_working_day(d) for d in deadline.working_days)


@pytest.mark.skipif(chinese_calendar is None, reason="chinesecalendar not installed")
@settings(max_examples=80, deadline=None)
@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 20)))
def test_general_due_day_against_chinesecalendar(reported):
    cc = chinese_calendar
    deadline = due_at(reported, "general")
    day, counted = reported.date(), []
    while len(counted) < 3:
        day += timedelta(days=1)
        if cc.is_workday(day):
            counted.append(day)
    assert deadline.due == datetime.combine(counted[-1], time(23, 59, 59), tzinfo=SHANGHAI)
    assert list(deadline.working_days) == counted


def test_explicit_working_days_limit():
    assert iso(due_at("2025-09-26T10:00", limit=Limit(1, "working_days"))) == (
        f"2025-09-28T23:59:59{CST}"  # Friday + 1 = the make-up Sunday
    )
    assert Limit.parse("5 working_days") == Limit(5, LimitUnit.WORKING_DAYS)
    assert Limit.parse("2.5 urgent_hours").amount == 2.5


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1.5, "working_days"), "whole number"),
        ((-1, "urgent_hours"), ">= 0"),
        ((2, "fortnights"), "unknown limit unit"),
    ],
)
def test_bad_limits_are_refused(args, match):
    with pytest.raises(InputError, match=match):
        Limit(*args)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("17:30-09:00", "does not start before"),
        ("09:00-12:00,11:00-17:30", "not overlap"),
        ("9-12", "invalid office window"),
    ],
)
def test_bad_office_hours_are_refused(text, match):
    with pytest.raises(InputError, match=match):
        OfficeHours.parse(text)


def test_past_the_calendar_data_warns_and_counts_weekdays():
    with pytest.warns(CalendarCoverageWarning, match="2027"):
        deadline = due_at("2027-09-30T10:00", "general")  # a Thursday: Fri, Mon, Tue
    assert iso(deadline) == f"2027-10-05T23:59:59{CST}"


# --------------------------------------------------------------------------- overdue, due soon
def test_overdue_and_due_soon_boundaries():
    due = due_at("2025-09-30T16:00", "general").due  # 2025-10-11T23:59:59+08:00
    assert not is_overdue(due, "2025-10-11T23:59:59")
    assert is_overdue(due, "2025-10-12T00:00:00")
    assert is_overdue(due, "2025-10-11T16:00:00Z")  # 2025-10-12 00:00 in Shanghai
    assert due_soon(due, "2025-10-11T09:00")
    assert not due_soon(due, "2025-10-10T09:00")  # more than 24 h ahead
    assert due_soon(due, "2025-10-10T09:00", within=timedelta(days=2))
    assert not due_soon(due, "2025-10-12T00:00:01")  # overdue is not "due soon"
    assert is_overdue(datetime(2000, 1, 1, tzinfo=SHANGHAI))  # default now
