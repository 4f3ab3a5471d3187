"""The official Chinese working calendar: weekends, public holidays and make-up working days.

One CSV file per year in ``data/calendar/cn_workdays_<year>.csv`` lists the exceptions to the
Monday–Friday week as announced by the State Council (国务院办公厅关于<year>年部分节假日安排的通知):
``date,kind,name_zh,name_en`` with ``kind`` ``holiday`` (a day off, whatever the weekday) or
``workday`` (a make-up working day, 调休上班, always a Saturday or Sunday). Any other day is a
working day from Monday to Friday and a day off on Saturday and Sunday.

A year without a file (past the last one in the data, typically until the State Council
publishes the next year's notice in the autumn) counts weekdays/weekends only and raises a
:class:`CalendarCoverageWarning` naming the missing file.

Examples
--------
>>> from datetime import date
>>> cal = load_calendar()
>>> cal.is_working_day(date(2025, 10, 1)), cal.is_working_day(date(2025, 10, 11))
(False, True)
>>> cal.add_working_days(date(2025, 9, 30), 3)  # 10/1-10/8 off, 10/11 (Sat) a make-up day
datetime.date(2025, 10, 11)
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import islice
from pathlib import Path
from types import MappingProxyType

from gis.errors import InputError, UnreadableFileError

__all__ = [
    "CalendarCoverageWarning",
    "WorkCalendar",
    "add_working_days",
    "calendar_dir",
    "default_calendar",
    "is_working_day",
    "load_calendar",
    "working_days_between",
]

_FILE_RE = re.compile(r"cn_workdays_(\d{4})\.csv")
_COLUMNS = ("date", "kind", "name_zh", "name_en")
_KINDS = ("holiday", "workday")


class CalendarCoverageWarning(UserWarning):
    """A date lies in a year that the calendar data does not cover (weekdays/weekends only)."""


def calendar_dir(data_dir: Path | None = None) -> Path:
    """Return the folder of the calendar files: ``<data_dir>/calendar`` (default: the settings)."""
    if data_dir is None:
        from api.core.config import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "calendar"


@dataclass(frozen=True)
class WorkCalendar:
    """Working calendar: the holidays and make-up days of the covered years.

    Parameters
    ----------
    holidays
        Days off that would otherwise be weekdays (or weekend days inside a holiday), mapped to
        the holiday's name ``"中文 / English"``.
    workdays
        Make-up working days (调休上班) on a Saturday or Sunday, mapped to the holiday they
        compensate.
    years
        The years the data covers; other years count Monday–Friday only, with a warning.
    """

    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def covers(self, year: int) -> bool:
        """Return True if the calendar has data for ``year``."""
        return year in self.years

    def _warn_uncovered(self, day: date) -> None:
        span = f"{min(self.years)}–{max(self.years)}" if self.years else "无 / none"
        warnings.warn(
            f"工作日历未覆盖 {day.year} 年（已有 {span}）：按周一至周五计算工作日，"
            f"未计法定节假日和调休；请添加 data/calendar/cn_workdays_{day.year}.csv"
            f"（国务院办公厅每年秋季公布）/ the working calendar does not cover {day.year} "
            f"(data: {span}): counting Monday–Friday only, without public holidays or make-up "
            f"days; add data/calendar/cn_workdays_{day.year}.csv (the State Council publishes "
            f"it each autumn)",
            CalendarCoverageWarning,
            stacklevel=4,
        )

    def is_working_day(self, day: date) -> bool:
        """Return True if ``day`` is a working day (a make-up Saturday is; a holiday Monday not)."""
        if day.year not in self.years:
            self._warn_uncovered(day)
            return day.weekday() < 5
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """Return the name of the holiday ``day`` belongs to (off or made up), else None."""
        return self.holidays.get(day) or self.workdays.get(day)

    def iter_working_days(self, start: date, *, step: int = 1) -> Iterator[date]:
        """Yield the working days after ``start`` (``step=-1``: before it), nearest first."""
        day = start
        while True:
            day += timedelta(days=step)
            if self.is_working_day(day):
                yield day

    def add_working_days(self, day: date, n: int) -> date:
        """Return the ``n``-th working day after ``day`` (``n < 0``: before it; ``0``: ``day``).

        ``day`` itself is not counted, working or not: a Friday plus 3 is the next Wednesday
        when no holiday falls between, and a Saturday plus 1 the Monday.
        """
        if n == 0:
            return day
        days = self.iter_working_days(day, step=1 if n > 0 else -1)
        return next(islice(days, abs(n) - 1, None))

    def working_days_between(self, start: date, end: date) -> list[date]:
        """Return the working days after ``start`` up to and including ``end``, in order.

        So ``len(working_days_between(d, add_working_days(d, n))) == n`` for ``n >= 0``;
        empty when ``end <= start``.
        """
        days = []
        day = start + timedelta(days=1)
        while day <= end:
            if self.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days


def _read_year(path: Path, year: int) -> tuple[dict[date, str], dict[date, str]]:
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != _COLUMNS:
                raise InputError(
                    f"{path.name}: 列应为 {','.join(_COLUMNS)}，实为 {reader.fieldnames} / "
                    f"columns must be {','.join(_COLUMNS)}, got {reader.fieldnames}"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableFileError(f"无法读取工作日历 / cannot read calendar {path}: {exc}") from exc
    for line, row in enumerate(rows, 2):
        where = f"{path.name} 第 {line} 行 / line {line}"
        try:
            day = date.fromisoformat(row["date"])
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: 日期无效 {row['date']!r} / invalid date {row['date']!r}"
            ) from None
        if day.year != year:
            raise InputError(f"{where}: {day} 不属于 {year} 年 / {day} is not in {year}")
        if row["kind"] not in _KINDS:
            raise InputError(
                f"{where}: kind 应为 holiday 或 workday，实为 {row['kind']!r} / "
                f"kind must be holiday or workday, got {row['kind']!r}"
            )
        if day in holidays or day in workdays:
            raise InputError(f"{where}: {day} 重复 / {day} listed twice")
        if row["kind"] == "workday" and day.weekday() < 5:
            raise InputError(
                f"{where}: 调休上班日 {day} 不是周末 / make-up working day {day} is not a weekend"
            )
        name = f"{row['name_zh']} / {row['name_en']}"
        (holidays if row["kind"] == "holiday" else workdays)[day] = name
    return holidays, workdays


def load_calendar(directory: Path | None = None) -> WorkCalendar:
    """Read every ``cn_workdays_<year>.csv`` in ``directory`` (default ``data/calendar``).

    Raises
    ------
    UnreadableFileError
        A file cannot be read.
    InputError
        A row is wrong (bad date, date of another year, unknown kind, a make-up working day
        on a weekday, a date twice), naming the file and line.
    """
    directory = calendar_dir() if directory is None else Path(directory)
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    years = set()
    for path in sorted(directory.glob("cn_workdays_*.csv")):
        match = _FILE_RE.fullmatch(path.name)
        if match is None:
            continue
        year = int(match.group(1))
        h, w = _read_year(path, year)
        holidays.update(h)
        workdays.update(w)
        years.add(year)
    return WorkCalendar(MappingProxyType(holidays), MappingProxyType(workdays), frozenset(years))


@lru_cache(maxsize=4)
def _cached(directory: Path) -> WorkCalendar:
    return load_calendar(directory)


def default_calendar() -> WorkCalendar:
    """Return the calendar of ``<settings.data_dir>/calendar`` (read once, cached)."""
    return _cached(calendar_dir().resolve())


def is_working_day(day: date, *, calendar: WorkCalendar | None = None) -> bool:
    """Return True if ``day`` is a working day on the official calendar.

    >>> from datetime import date
    >>> is_working_day(date(2025, 1, 26)), is_working_day(date(2025, 1, 28))  # Sun made up; 春节
    (True, False)
    """
    return (calendar or default_calendar()).is_working_day(day)


def add_working_days(day: date, n: int, *, calendar: WorkCalendar | None = None) -> date:
    """Return the ``n``-th working day after ``day`` (``day`` itself not counted).

    >>> from datetime import date
    >>> add_working_days(date(2024, 6, 7), 3)  # Friday; 6/10 Dragon Boat Festival
    datetime.date(2024, 6, 13)
    """
    return (calendar or default_calendar()).add_working_days(day, n)


def working_days_between(
    start: date, end: date, *, calendar: WorkCalendar | None = None
) -> list[date]:
    """Return the working days after ``start`` up to and including ``end``."""
    return (calendar or default_calendar()).working_days_between(start, end)
