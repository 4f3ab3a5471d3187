"""Patrol logs in the database: a worker's grids, hours from a track, stored days, work log.

A *worker* is named as on the command line (``--worker``): a user name (:class:`User`, whose
``user_grids`` are the grids) or a staff member's name (:class:`Staff`, ``staff_grids``); a
user with no grids of their own but linked to a staff record takes the staff record's grids.

Grids change over time (a division is replaced), so the grids of a worker on a day are the
grids with the worker's codes in the division in effect *on that day*
(:func:`api.db.divisions.divisions_in_effect`): :func:`patrol_hours` times the track against
each day's grids (days that share the same divisions are timed together) and keeps, for each
day, only the time computed with that day's grids. Time is split at local midnight by
:func:`gis.patrol.time_in_grids`, so a fix pair across midnight is credited to both days
with each day's grids. Cleaning, the gap cap and the speed and accuracy filters are those of
:mod:`gis.patrol` (documented there).

Stored tracks are identified by worker and SHA-256 of the file: uploading the same file
again credits nothing more (:func:`store_track` returns the stored one). Different files are
summed, even when they overlap in time (two devices carried at once count twice: a known
limitation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.timefmt import local_iso, local_text
from api.db.divisions import divisions_in_effect
from api.db.models import Grid, Role, Staff, StaffGrid, User, UserGrid, utc_now
from api.db.models.assessment import WORK_LOG_KIND_ZH, ManualPatrol, PatrolDay, PatrolTrack, WorkLog
from api.services.community_data import read_grids_in_effect
from api.services.patrol_manual import combine_weeks, manual_days
from api.services.worklog import signer_name, write_entry
from gis.errors import InputError
from gis.patrol import (
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_THRESHOLD_HOURS,
    TIMEZONE,
    clean_track,
    time_in_grids,
    weekly_summary,
)

__all__ = [
    "Worker",
    "add_work_log",
    "community_compliance",
    "find_worker",
    "patrol_hours",
    "report_dict",
    "store_track",
    "weekly_log",
    "with_manual_hours",
    "worker_log",
]


@dataclass(frozen=True)
class Worker:
    """A grid worker as the patrol log knows them: name, user and/or staff id, grid codes."""

    name: str
    user_id: int | None
    staff_id: int | None
    grid_codes: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "user_id": self.user_id,
            "staff_id": self.staff_id,
            "grid_codes": list(self.grid_codes),
        }


def _staff_codes(session: Session, staff_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(StaffGrid.grid_code)
            .where(StaffGrid.staff_id == staff_id)
            .order_by(StaffGrid.grid_code)
        )
    )


def find_worker(session: Session, name: str) -> Worker:
    """Return the worker named ``name``: a user name first, else an active staff member.

    Raises :class:`~gis.errors.InputError` for an unknown name, a staff name held by several
    people, or a worker without grids.
    """
    name = str(name).strip()
    user = session.scalars(sa.select(User).where(User.username == name)).first()
    if user is not None:
        codes = sorted(user.grid_codes)
        if not codes and user.staff_id is not None:
            codes = _staff_codes(session, user.staff_id)
        worker = Worker(user.username, user.id, user.staff_id, tuple(codes))
    else:
        staff = session.scalars(
            sa.select(Staff).where(Staff.name == name, Staff.active.is_(True)).order_by(Staff.id)
        ).all()
        if not staff:
            raise InputError(
                f"没有名为 {name!r} 的用户或工作人员 / no user or staff member named {name!r}"
            )
        if len(staff) > 1:
            raise InputError(
                f"工作人员 {name!r} 重名（{len(staff)} 人），请用用户名 / {len(staff)} staff "
                f"members are named {name!r}; use a user name"
            )
        linked = session.scalar(sa.select(User.id).where(User.staff_id == staff[0].id))
        worker = Worker(name, linked, staff[0].id, tuple(_staff_codes(session, staff[0].id)))
    if not worker.grid_codes:
        raise InputError(f"{name} 没有负责的网格 / {name} serves no grids")
    return worker


def _local_dates(track: pd.DataFrame) -> list[dt.date]:
    local = track["time"].dt.tz_convert(TIMEZONE)
    first, last = local.min().date(), local.max().date()
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def _grids_by_day(
    session: Session, codes: Iterable[str], days: list[dt.date]
) -> list[tuple[set[dt.date], gpd.GeoDataFrame]]:
    """Group ``days`` by the divisions in effect; the worker's grids of each group."""
    groups: dict[tuple[int, ...], set[dt.date]] = {}
    for day in days:
        key = tuple(sorted(d.id for d in divisions_in_effect(session, day)))
        groups.setdefault(key, set()).add(day)
    wanted = set(codes)
    out = []
    for key, group in groups.items():
        if not key:
            continue
        grids = read_grids_in_effect(session, min(group))
        out.append((group, grids[grids["code"].isin(wanted)].reset_index(drop=True)))
    return out


def patrol_hours(
    session: Session,
    worker: Worker,
    track: pd.DataFrame,
    *,
    max_speed_kmh: float | None = DEFAULT_MAX_SPEED_KMH,
    max_accuracy_m: float | None = DEFAULT_MAX_ACCURACY_M,
    max_gap_s: float | None = DEFAULT_MAX_GAP_S,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time ``track`` inside the worker's grids in effect on each day.

    Returns ``(days, weeks)``: the frames of :func:`gis.patrol.time_in_grids` (``date``,
    ``grid_code``, ``seconds``, ``hours``) and :func:`gis.patrol.weekly_summary` (every week
    from the track's first to last local day).
    """
    cleaned = clean_track(
        track, max_speed_kmh=max_speed_kmh, max_accuracy_m=max_accuracy_m, max_gap_s=max_gap_s
    )
    dates = _local_dates(track)
    pieces = []
    for group, grids in _grids_by_day(session, worker.grid_codes, dates):
        if grids.empty:
            continue
        timed = time_in_grids(cleaned, grids, code_field="code", max_gap_s=max_gap_s)
        pieces.append(timed[timed["date"].isin(group)])
    columns = ["date", "grid_code", "seconds", "hours"]
    pieces = [p for p in pieces if len(p)]
    if pieces:
        days = pd.concat(pieces, ignore_index=True)
        days = days.sort_values(["date", "grid_code"], kind="stable").reset_index(drop=True)
    else:
        days = pd.DataFrame(
            {c: pd.Series(dtype=float if c in ("seconds", "hours") else object) for c in columns}
        )
    days = days[columns]
    weeks = weekly_summary(days, threshold_hours=threshold_hours, period=(dates[0], dates[-1]))
    return days, weeks


def with_manual_hours(
    session: Session,
    worker: Worker,
    days: pd.DataFrame,
    weeks: pd.DataFrame,
    *,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
) -> pd.DataFrame:
    """``weeks`` (of :func:`patrol_hours`) with the worker's approved manual hours of the same
    weeks counted apart (:func:`api.services.patrol_manual.combine_weeks`)."""
    if not len(weeks):
        return weeks
    period = (weeks["week_start"].min(), weeks["week_start"].max() + dt.timedelta(days=6))
    manual = manual_days(session, _worker_clause(ManualPatrol, worker), *period)
    return combine_weeks(days, manual, period=period, threshold_hours=threshold_hours)


def report_dict(days: pd.DataFrame, weeks: pd.DataFrame, *, digits: int = 3) -> dict:
    """The ``wangge patrol hours --json`` shape: ``{"days": [...], "weeks": [...]}``; weeks
    from :func:`api.services.patrol_manual.combine_weeks` also carry ``gps_hours`` and
    ``manual_hours`` (``hours`` is their sum)."""
    week_rows = []
    for _, w in weeks.iterrows():
        row = {"week_start": w["week_start"].isoformat(), "hours": round(float(w["hours"]), digits),
               "under_15h": bool(w["under_15h"])}  # fmt: skip
        for extra in ("gps_hours", "manual_hours"):
            if extra in weeks.columns:
                row[extra] = round(float(w[extra]), digits)
        week_rows.append(row)
    return {
        "days": [
            {"date": d.isoformat(), "grid_code": str(c), "hours": round(float(h), digits)}
            for d, c, h in zip(days["date"], days["grid_code"], days["hours"], strict=True)
        ],
        "weeks": week_rows,
    }


def store_track(
    session: Session,
    worker: Worker,
    *,
    file_name: str,
    content: bytes,
    track: pd.DataFrame,
    days: pd.DataFrame,
    uploaded_by: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[PatrolTrack, bool]:
    """Store a track and the time it credits per day and grid; return ``(track, created)``.

    The same file (SHA-256) of the same worker is stored once: a second upload returns the
    stored track and ``created`` False, and credits nothing more.
    """
    sha = hashlib.sha256(content).hexdigest()
    existing = session.scalars(
        sa.select(PatrolTrack).where(PatrolTrack.worker == worker.name, PatrolTrack.sha256 == sha)
    ).first()
    if existing is not None:
        return existing, False
    times = track["time"].dt.tz_convert("UTC")
    record = PatrolTrack(
        worker=worker.name,
        user_id=worker.user_id,
        staff_id=worker.staff_id,
        uploaded_at=now or utc_now(),
        uploaded_by=uploaded_by,
        file_name=file_name,
        sha256=sha,
        fixes=len(track),
        first_fix_at=times.min().to_pydatetime() if len(track) else None,
        last_fix_at=times.max().to_pydatetime() if len(track) else None,
    )
    record.days = [
        PatrolDay(
            worker=worker.name,
            user_id=worker.user_id,
            staff_id=worker.staff_id,
            date=d,
            grid_code=str(code),
            seconds=float(s),
        )
        for d, code, s in zip(days["date"], days["grid_code"], days["seconds"], strict=True)
    ]
    session.add(record)
    session.flush()
    per_day = days.groupby("date")["seconds"].sum() if len(days) else {}
    for day, seconds in sorted(dict(per_day).items()):
        write_entry(
            session, worker=worker.name, user_id=worker.user_id, staff_id=worker.staff_id,
            kind="patrol", at=_day_end(day, record.last_fix_at), record_table="patrol_tracks",
            record_id=record.id,
            note=f"GPS 巡查 {float(seconds) / 3600.0:.2f} 小时 / hours ({file_name})",
        )  # fmt: skip
    session.flush()
    return record, True


def _day_end(day: dt.date, last_fix: dt.datetime | None) -> dt.datetime:
    """When a patrol day's entry is dated: the track's last fix if on that day, else the
    day's last second (Asia/Shanghai)."""
    if last_fix is not None and pd.Timestamp(last_fix).tz_convert(TIMEZONE).date() == day:
        return last_fix
    end = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59, 59))).tz_localize(TIMEZONE)
    return end.to_pydatetime()


def add_work_log(
    session: Session,
    worker: Worker,
    *,
    kind: str,
    at: dt.datetime,
    record_table: str | None = None,
    record_id: int | None = None,
    note: str | None = None,
) -> WorkLog:
    """Add a manual work-log entry (signed like the automatic ones); its ``date`` is the
    Asia/Shanghai day of ``at``."""
    entry = write_entry(
        session, worker=worker.name, user_id=worker.user_id, staff_id=worker.staff_id,
        kind=kind, at=at, source="manual", record_table=record_table, record_id=record_id,
        note=note,
    )  # fmt: skip
    session.flush()
    return entry


def _worker_clause(model, worker: Worker):
    if worker.user_id is not None and worker.staff_id is not None:
        return sa.or_(model.user_id == worker.user_id, model.staff_id == worker.staff_id)
    if worker.user_id is not None:
        return model.user_id == worker.user_id
    if worker.staff_id is not None:
        return model.staff_id == worker.staff_id
    return model.worker == worker.name


def worker_log(
    session: Session,
    worker: Worker,
    *,
    start: dt.date,
    end: dt.date,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
) -> dict:
    """A worker's stored patrol from ``start`` to ``end`` (inclusive) with the work log.

    Returns ``{"worker", "start", "end", "threshold_hours" (the weekly requirement),
    "days": [{"date", "grid_code", "hours"}] (GPS), "manual_days": [...] (approved manual
    hours), "weeks": [{"week_start", "hours", "gps_hours", "manual_hours", "under_15h"}],
    "dates": [{"date", "hours", "work_log": [...]}]}``: ``dates`` links each day's GPS
    patrol hours with the work-log entries of the same day (every day with either); each
    entry is signed (``signed_name``, ``signed_at``).
    """
    if end < start:
        raise InputError(f"结束日期早于开始日期 / end {end} is before start {start}")
    rows = session.execute(
        sa.select(PatrolDay.date, PatrolDay.grid_code, sa.func.sum(PatrolDay.seconds))
        .where(_worker_clause(PatrolDay, worker), PatrolDay.date.between(start, end))
        .group_by(PatrolDay.date, PatrolDay.grid_code)
        .order_by(PatrolDay.date, PatrolDay.grid_code)
    ).all()
    days = pd.DataFrame(
        {
            "date": [r[0] for r in rows],
            "grid_code": [r[1] for r in rows],
            "seconds": [float(r[2]) for r in rows],
        },
        columns=["date", "grid_code", "seconds"],
    )
    days["hours"] = days["seconds"] / 3600.0
    manual = manual_days(session, _worker_clause(ManualPatrol, worker), start, end)
    weeks = combine_weeks(days, manual, period=(start, end), threshold_hours=threshold_hours)
    report = report_dict(days, weeks)
    report["manual_days"] = [
        {"date": d.isoformat(), "grid_code": c, "hours": round(sec / 3600.0, 3)}
        for d, c, sec in zip(manual["date"], manual["grid_code"], manual["seconds"], strict=True)
    ]
    entries = session.scalars(
        sa.select(WorkLog)
        .where(_worker_clause(WorkLog, worker), WorkLog.date.between(start, end))
        .order_by(WorkLog.at, WorkLog.id)
    ).all()
    by_date: dict[dt.date, dict] = {}
    for d, s in days.groupby("date")["seconds"].sum().items():
        by_date[d] = {"date": d.isoformat(), "hours": round(s / 3600.0, 3), "work_log": []}
    for e in entries:
        slot = by_date.setdefault(e.date, {"date": e.date.isoformat(), "hours": 0.0,
                                           "work_log": []})  # fmt: skip
        slot["work_log"].append(
            {
                "id": e.id,
                "at": local_iso(e.at),
                "kind": e.kind,
                "record_table": e.record_table,
                "record_id": e.record_id,
                "note": e.note,
                "source": e.source,
                "signed_name": e.signed_name or e.worker,
                "signed_at": local_iso(e.signed_at),
            }
        )
    return {
        "worker": worker.as_dict(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "threshold_hours": threshold_hours,
        **report,
        "dates": [by_date[d] for d in sorted(by_date)],
    }


_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def weekly_log(
    session: Session,
    worker: Worker,
    week: dt.date,
    *,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
    now: dt.datetime | None = None,
):
    """The printable weekly log (:class:`maps.work_log_print.WeeklyLog`) of the week
    (Monday–Sunday) holding ``week``, from :func:`worker_log`."""
    from maps.work_log_print import LogDay, LogEntry, WeeklyLog

    monday = week - dt.timedelta(days=week.weekday())
    sunday = monday + dt.timedelta(days=6)
    log = worker_log(session, worker, start=monday, end=sunday, threshold_hours=threshold_hours)
    gps = {d["date"]: d["hours"] for d in log["dates"]}
    manual: dict[str, float] = {}
    for m in log["manual_days"]:
        manual[m["date"]] = manual.get(m["date"], 0.0) + m["hours"]
    entries = {d["date"]: d["work_log"] for d in log["dates"]}
    days = []
    for k in range(7):
        day = (monday + dt.timedelta(days=k)).isoformat()
        lines = [
            LogEntry(
                time=dt.datetime.fromisoformat(e["at"]).isoformat(timespec="minutes")[11:],
                kind=WORK_LOG_KIND_ZH.get(e["kind"], e["kind"]),
                what=" ".join(
                    p for p in (e["note"], e["record_table"] and
                                f"{e['record_table']}#{e['record_id']}") if p
                ),
                signed=e["signed_name"],
            )
            for e in entries.get(day, [])
        ]  # fmt: skip
        days.append(LogDay(day, _WEEKDAYS[k], gps.get(day, 0.0), manual.get(day, 0.0), lines))
    return WeeklyLog(
        worker=worker.name,
        signed_name=signer_name(session, worker.staff_id, worker.name),
        grids="、".join(worker.grid_codes),
        week_start=monday.isoformat(),
        week_end=sunday.isoformat(),
        threshold_hours=threshold_hours,
        days=days,
        printed_at=local_text(now or utc_now()) or "",
    )


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    year, mon = (int(p) for p in month.split("-"))
    first = dt.date(year, mon, 1)
    following = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def community_compliance(
    session: Session,
    community_id: int,
    month: str,
    *,
    today: dt.date | None = None,
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
) -> dict:
    """Patrol-hour compliance of a community's grid workers in ``month`` (``YYYY-MM``).

    Workers: active staff of the community with role ``grid_worker``, and users of role
    ``grid_worker`` serving one of the community's grids (a user linked to one of those
    staff records is the same worker). Weeks: Monday–Sunday weeks whose Monday falls in the
    month and that have ended before ``today`` (default: today). A worker-week complies with
    at least ``threshold_hours`` inside the worker's grids, GPS and approved manual hours
    together. Returns ``{"workers",
    "worker_weeks", "compliant", "share"}`` (``share`` None without any worker-week).
    """
    first, last = _month_bounds(month)
    today = today or dt.date.today()
    mondays = [
        d
        for d in (first + dt.timedelta(days=k) for k in range((last - first).days + 1))
        if d.weekday() == 0 and d + dt.timedelta(days=6) < today
    ]
    codes = set(session.scalars(sa.select(Grid.code).where(Grid.community_id == community_id)))
    staff_ids = set(
        session.scalars(
            sa.select(Staff.id).where(
                Staff.community_id == community_id,
                Staff.role == "grid_worker",
                Staff.active.is_(True),
            )
        )
    )
    workers: list[Worker] = []
    linked: set[int] = set()
    users = session.scalars(
        sa.select(User)
        .join(UserGrid, UserGrid.user_id == User.id)
        .where(User.role == Role.GRID_WORKER.value, User.active.is_(True),
               UserGrid.grid_code.in_(codes or {""}))
        .distinct()
        .order_by(User.id)
    ).all()  # fmt: skip
    for user in users:
        workers.append(Worker(user.username, user.id, user.staff_id, tuple(user.grid_codes)))
        if user.staff_id is not None:
            linked.add(user.staff_id)
    for sid in sorted(staff_ids - linked):
        workers.append(Worker("", None, sid, ()))
    total = compliant = 0
    for worker in workers:
        for monday in mondays:
            seconds = sum(
                float(session.scalar(
                    sa.select(sa.func.coalesce(sa.func.sum(model.seconds), 0.0)).where(
                        _worker_clause(model, worker),
                        model.date.between(monday, monday + dt.timedelta(days=6)),
                        *extra,
                    )
                ))
                for model, extra in ((PatrolDay, ()),
                                     (ManualPatrol, (ManualPatrol.status == "approved",)))
            )  # fmt: skip
            total += 1
            compliant += float(seconds) >= threshold_hours * 3600.0
    return {
        "workers": len(workers),
        "worker_weeks": total,
        "compliant": compliant,
        "share": round(compliant / total, 4) if total else None,
    }
