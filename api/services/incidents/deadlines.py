"""Incident deadlines on the official working calendar, in Asia/Shanghai time.

docs/design.md §2: **major** items are handled the same day, **general** items by the end of the
3rd working day after the day of the report (a Friday's report is due on Wednesday when no
holiday falls between). Municipal standards state limits in three units, all supported by
:class:`Limit`:

- ``urgent_hours`` (紧急工作时): hours counted round the clock;
- ``working_hours`` (工作时): hours counted only inside the office-hour windows of working
  days (default 09:00–12:00 and 13:30–17:30);
- ``working_days`` (工作日): whole working days after the day of the report; the deadline is
  the end of the last one (23:59:59, or the close of office hours when they are configured).
  ``Limit(0, "working_days")`` is "the same day" — the day of the report, working or not.

A time without an offset is read as Asia/Shanghai; a time with another offset is converted
to Asia/Shanghai first (the day of the report is the Shanghai day).

Examples
--------
>>> due_at("2025-09-26T10:00", "general").due.isoformat()  # Fri; 9/28 (Sun) is a make-up day
'2025-09-30T23:59:59+08:00'
>>> due_at("2025-09-30T16:00+08:00", "general").due.isoformat()  # National Day 10/1-10/8
'2025-10-11T23:59:59+08:00'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from api.services.incidents.calendar import WorkCalendar, default_calendar
from gis.errors import InputError

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "END_OF_DAY",
    "SEVERITY_LIMITS",
    "SHANGHAI",
    "Deadline",
    "Limit",
    "LimitUnit",
    "OfficeHours",
    "due_at",
    "due_soon",
    "is_overdue",
    "to_shanghai",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


class LimitUnit(StrEnum):
    """Units of a handling limit (municipal standards)."""

    URGENT_HOURS = "urgent_hours"  # 紧急工作时: round the clock
    WORKING_HOURS = "working_hours"  # 工作时: inside office hours of working days
    WORKING_DAYS = "working_days"  # 工作日: whole working days after the day of the report


_UNIT_LABELS = {
    LimitUnit.URGENT_HOURS: ("紧急工作时", "urgent hours"),
    LimitUnit.WORKING_HOURS: ("工作时", "working hours"),
    LimitUnit.WORKING_DAYS: ("工作日", "working days"),
}


@dataclass(frozen=True)
class Limit:
    """A handling limit: ``amount`` of ``unit`` (working days must be a whole number).

    >>> Limit(3, "working_days")
    Limit(amount=3, unit=<LimitUnit.WORKING_DAYS: 'working_days'>)
    >>> Limit.parse("4 working_hours").label
    '4 工作时 / 4 working hours'
    """

    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "unit", LimitUnit(self.unit))
        except ValueError:
            units = ", ".join(u.value for u in LimitUnit)
            raise InputError(
                f"时限单位无效 {self.unit!r}（可用：{units}）/ unknown limit unit {self.unit!r} "
                f"(known: {units})"
            ) from None
        if not isinstance(self.amount, int | float) or not self.amount >= 0:
            raise InputError(
                f"时限应为非负数，实为 {self.amount!r} / a limit must be >= 0, got {self.amount!r}"
            )
        if self.unit is LimitUnit.WORKING_DAYS and self.amount != int(self.amount):
            raise InputError(
                f"工作日时限应为整数，实为 {self.amount} / a limit in working days must be a "
                f"whole number, got {self.amount}"
            )

    @classmethod
    def parse(cls, text: str) -> Limit:
        """Read ``"<amount> <unit>"``, e.g. ``"3 working_days"`` or ``"2 urgent_hours"``."""
        parts = text.split()
        if len(parts) != 2:
            raise InputError(
                f"时限应写作“数量 单位”，实为 {text!r} / a limit reads '<amount> <unit>', "
                f"got {text!r}"
            )
        try:
            amount = float(parts[0])
        except ValueError:
            raise InputError(f"时限数量无效 {parts[0]!r} / invalid amount {parts[0]!r}") from None
        return cls(int(amount) if amount.is_integer() else amount, parts[1])  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """``"3 工作日 / 3 working days"``."""
        zh, en = _UNIT_LABELS[self.unit]
        amount = f"{self.amount:g}"
        return f"{amount} {zh} / {amount} {en}"


SEVERITY_LIMITS: dict[str, Limit] = {
    "major": Limit(0, LimitUnit.WORKING_DAYS),  # the same day
    "general": Limit(3, LimitUnit.WORKING_DAYS),
}


@dataclass(frozen=True)
class OfficeHours:
    """Office-hour windows of a working day, sorted and not overlapping.

    >>> OfficeHours.parse("09:00-12:00,13:30-17:30").close
    datetime.time(17, 30)
    """

    windows: tuple[tuple[time, time], ...]

    def __post_init__(self) -> None:
        if not self.windows:
            raise InputError("办公时间为空 / office hours are empty")
        previous_end = None
        for start, end in self.windows:
            if not start < end:
                raise InputError(
                    f"办公时段 {start:%H:%M}-{end:%H:%M} 起点不早于终点 / office window "
                    f"{start:%H:%M}-{end:%H:%M} does not start before it ends"
                )
            if previous_end is not None and start < previous_end:
                raise InputError(
                    f"办公时段须按时间顺序且不重叠：{start:%H:%M} 早于 {previous_end:%H:%M} / "
                    f"office windows must be in order and not overlap: {start:%H:%M} "
                    f"before {previous_end:%H:%M}"
                )
            previous_end = end

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """Read ``"HH:MM-HH:MM[,HH:MM-HH:MM...]"``."""
        windows = []
        for part in text.split(","):
            try:
                start, end = (time.fromisoformat(x.strip()) for x in part.split("-"))
            except ValueError:
                raise InputError(
                    f"办公时段无效 {part.strip()!r}，应写作 09:00-12:00 / invalid office window "
                    f"{part.strip()!r}, expected e.g. 09:00-12:00"
                ) from None
            windows.append((start, end))
        return cls(tuple(windows))

    @property
    def close(self) -> time:
        """The end of the last window: a working day's deadline when office hours apply."""
        return self.windows[-1][1]


DEFAULT_OFFICE_HOURS = OfficeHours.parse("09:00-12:00,13:30-17:30")


class Deadline(NamedTuple):
    """When an item is due, and the working days counted to get there (in order)."""

    due: datetime
    working_days: tuple[date, ...]


def to_shanghai(value: datetime | str) -> datetime:
    """Return ``value`` as an aware Asia/Shanghai datetime (naive input is Shanghai time).

    >>> to_shanghai("2025-09-30T20:00:00Z").isoformat()
    '2025-10-01T04:00:00+08:00'
    >>> to_shanghai("2025-09-30T20:00:00").isoformat()
    '2025-09-30T20:00:00+08:00'
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(
                f"时间无效 {value!r}，应为 ISO 8601，如 2025-09-30T16:00:00+08:00 / invalid time "
                f"{value!r}, expected ISO 8601 such as 2025-09-30T16:00:00+08:00"
            ) from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise InputError(f"不是时间 / not a time: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=SHANGHAI)
    return value.astimezone(SHANGHAI)


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=SHANGHAI)


def _working_days_due(
    reported: datetime, days: int, office_hours: OfficeHours | None, cal: WorkCalendar
) -> Deadline:
    report_day = reported.date()
    if days == 0:  # the same day, working or not
        if (
            office_hours is not None
            and cal.is_working_day(report_day)
            and reported < _at(report_day, office_hours.close)
        ):
            return Deadline(_at(report_day, office_hours.close), ())
        return Deadline(_at(report_day, END_OF_DAY), ())
    due_day = cal.add_working_days(report_day, days)
    counted = tuple(cal.working_days_between(report_day, due_day))
    close = END_OF_DAY if office_hours is None else office_hours.close
    return Deadline(_at(due_day, close), counted)


def _working_hours_due(
    reported: datetime, hours: float, office_hours: OfficeHours, cal: WorkCalendar
) -> Deadline:
    remaining = timedelta(hours=hours)
    if not remaining:
        return Deadline(reported, ())
    counted: list[date] = []
    day, earliest = reported.date(), reported
    while True:
        if cal.is_working_day(day):
            for start, end in office_hours.windows:
                begin, finish = max(_at(day, start), earliest), _at(day, end)
                if begin >= finish:
                    continue
                if not counted or counted[-1] != day:
                    counted.append(day)
                if finish - begin >= remaining:
                    return Deadline(begin + remaining, tuple(counted))
                remaining -= finish - begin
        day += timedelta(days=1)
        earliest = _at(day, time())


def due_at(
    reported_at: datetime | str,
    severity: str | None = None,
    *,
    limit: Limit | None = None,
    office_hours: OfficeHours | str | None = None,
    calendar: WorkCalendar | None = None,
) -> Deadline:
    """Return when an item reported at ``reported_at`` is due, and the working days counted.

    Parameters
    ----------
    reported_at
        Time of the report (ISO 8601 text or datetime); naive means Asia/Shanghai.
    severity
        ``"major"`` (the same day) or ``"general"`` (3 working days); ignored when ``limit``
        is given.
    limit
        An explicit limit in urgent hours, working hours or working days.
    office_hours
        Office-hour windows (:class:`OfficeHours` or ``"09:00-12:00,13:30-17:30"``). With
        working days, the deadline is the close of office hours of the last day instead of
        23:59:59; a major item reported after the close (or on a day off) is still due at the
        day's end. Working hours use :data:`DEFAULT_OFFICE_HOURS` when none are given.
    calendar
        The working calendar (default: ``data/calendar``).

    Returns
    -------
    Deadline
        ``due`` (aware, Asia/Shanghai) and ``working_days``: the working days after the day
        of the report up to the due day for working days (empty for the same day), the days
        on which time was counted for working hours, none for urgent hours.

    Raises
    ------
    InputError
        An unreadable time, an unknown severity, neither severity nor limit.
    """
    reported = to_shanghai(reported_at)
    if limit is None:
        if severity not in SEVERITY_LIMITS:
            raise InputError(
                f"严重程度应为 major（重大，当日办结）或 general（一般，3 个工作日），实为 "
                f"{severity!r} / severity must be major (same day) or general (3 working days), "
                f"got {severity!r}"
            )
        limit = SEVERITY_LIMITS[severity]
    if isinstance(office_hours, str):
        office_hours = OfficeHours.parse(office_hours)
    cal = calendar or default_calendar()
    if limit.unit is LimitUnit.URGENT_HOURS:
        return Deadline(reported + timedelta(hours=limit.amount), ())
    if limit.unit is LimitUnit.WORKING_HOURS:
        return _working_hours_due(reported, limit.amount, office_hours or DEFAULT_OFFICE_HOURS, cal)
    return _working_days_due(reported, int(limit.amount), office_hours, cal)


def _now(now: datetime | str | None) -> datetime:
    return datetime.now(SHANGHAI) if now is None else to_shanghai(now)


def is_overdue(due: datetime | str, now: datetime | str | None = None) -> bool:
    """Return True if ``now`` (default: the current time) is past ``due``.

    >>> is_overdue("2025-10-11T23:59:59+08:00", "2025-10-12T00:00:00")
    True
    >>> is_overdue("2025-10-11T23:59:59+08:00", "2025-10-11T23:59:59")
    False
    """
    return _now(now) > to_shanghai(due)


def due_soon(
    due: datetime | str,
    now: datetime | str | None = None,
    *,
    within: timedelta = timedelta(hours=24),
) -> bool:
    """Return True if ``due`` is not yet past but falls within ``within`` of ``now``.

    >>> due_soon("2025-10-11T23:59:59", "2025-10-11T09:00", within=timedelta(hours=24))
    True
    >>> due_soon("2025-10-11T23:59:59", "2025-10-12T09:00")  # overdue, not "due soon"
    False
    """
    moment, deadline = _now(now), to_shanghai(due)
    return moment <= deadline <= moment + within
