"""Manual patrol hours: a worker without a phone records start, end, grid and a note;
the community head approves; approved hours count in the weekly total apart from GPS hours.

Rules: start and end carry a time zone, end after start, both on the same Asia/Shanghai day
(an entry never spans midnight), the grid one of the worker's own, and no overlap with the
worker's other entries still standing (requested or approved). Approvers are community
heads (of the worker's community), street departments and admins, never the worker who
entered it. Approving writes a signed work-log entry (``manual_patrol``) for the worker.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict, Forbidden, NotFound
from api.core.timefmt import local_iso
from api.db.models import Grid, Role, User, utc_now
from api.db.models.assessment import ManualPatrol
from api.services.worklog import write_entry
from gis.errors import InputError
from gis.patrol import DEFAULT_THRESHOLD_HOURS, TIMEZONE, weekly_summary

__all__ = [
    "MANUAL_APPROVERS",
    "add_manual_hours",
    "combine_weeks",
    "decide_manual_hours",
    "manual_days",
    "manual_dict",
]

MANUAL_APPROVERS = frozenset({Role.COMMUNITY_HEAD, Role.STREET_DEPT, Role.ADMIN})


def _local(value: dt.datetime, what: str) -> pd.Timestamp:
    if value.tzinfo is None:
        raise InputError(f"{what} 须带时区 / {what} needs a time zone (e.g. +08:00)")
    return pd.Timestamp(value).tz_convert(TIMEZONE)


def add_manual_hours(
    session: Session,
    worker,
    *,
    grid_code: str,
    start: dt.datetime,
    end: dt.datetime,
    note: str | None = None,
    entered_by: str | None = None,
    now: dt.datetime | None = None,
) -> ManualPatrol:
    """Record manual patrol hours of ``worker`` (a :class:`api.services.patrol.Worker`),
    awaiting approval. Raises InputError naming the field for a bad entry."""
    first, last = _local(start, "start"), _local(end, "end")
    if last <= first:
        raise InputError(f"结束时间须晚于开始时间 / end {last} must be after start {first}")
    if first.date() != last.date() and last != (first.normalize() + pd.Timedelta(days=1)):
        raise InputError(
            "一条补录不能跨越午夜，请分两条 / an entry may not span midnight (Asia/Shanghai); "
            "enter one per day"
        )
    if grid_code not in worker.grid_codes:
        raise InputError(
            f"网格 {grid_code} 不是 {worker.name} 负责的网格 / grid {grid_code} is not one of "
            f"{worker.name}'s grids ({', '.join(worker.grid_codes)})"
        )
    overlap = session.scalars(
        sa.select(ManualPatrol.id).where(
            ManualPatrol.worker == worker.name,
            ManualPatrol.status != "rejected",
            ManualPatrol.start_at < end,
            ManualPatrol.end_at > start,
        )
    ).first()
    if overlap is not None:
        raise InputError(
            f"与已有补录 {overlap} 时间重叠 / overlaps manual entry {overlap} of {worker.name}"
        )
    entry = ManualPatrol(
        worker=worker.name,
        user_id=worker.user_id,
        staff_id=worker.staff_id,
        grid_code=grid_code,
        start_at=start,
        end_at=end,
        date=first.date(),
        seconds=(last - first).total_seconds(),
        note=note,
        status="requested",
        entered_by=entered_by,
        entered_at=now or utc_now(),
    )
    session.add(entry)
    session.flush()
    return entry


def _community_of(session: Session, grid_code: str) -> int | None:
    return session.scalar(sa.select(Grid.community_id).where(Grid.code == grid_code).limit(1))


def decide_manual_hours(
    session: Session,
    *,
    entry_id: int,
    approver: User,
    approve: bool,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> ManualPatrol:
    """Approve or reject a requested entry (403 for a non-approver, the worker themself, or a
    community head of another community; 409 when already decided)."""
    from api.services.incidents.people import user_communities

    if approver.role not in MANUAL_APPROVERS:
        raise Forbidden(
            f"角色 {approver.role} 无权审批补录巡查 / role {approver.role} may not approve "
            "manual patrol hours"
        )
    entry = session.get(ManualPatrol, entry_id)
    if entry is None:
        raise NotFound(f"补录 {entry_id} 不存在 / manual entry {entry_id} not found")
    if approver.id == entry.user_id or approver.username in (entry.worker, entry.entered_by):
        raise Forbidden("不能审批自己的补录 / you cannot decide your own entry")
    if approver.role == Role.COMMUNITY_HEAD and (
        _community_of(session, entry.grid_code) not in user_communities(session, approver)
    ):
        raise Forbidden(
            f"网格 {entry.grid_code} 不属于您的社区 / grid {entry.grid_code} is not in your "
            "community"
        )
    if entry.status != "requested":
        raise Conflict(f"补录 {entry_id} 已处理（{entry.status}）/ entry already {entry.status}")
    when = now or utc_now()
    entry.status = "approved" if approve else "rejected"
    entry.decided_by = approver.username
    entry.decided_at = when
    entry.decision_note = note
    if approve:
        write_entry(
            session, worker=entry.worker, user_id=entry.user_id, staff_id=entry.staff_id,
            kind="manual_patrol", at=entry.end_at, source="manual",
            record_table="patrol_manual", record_id=entry.id,
            note=f"补录巡查 {entry.seconds / 3600:.2f} 小时 {entry.grid_code}，"
                 f"{approver.username} 批准 / approved",
        )  # fmt: skip
    session.flush()
    return entry


def manual_days(session: Session, worker_clause, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Approved manual seconds per day and grid (``date``, ``grid_code``, ``seconds``)."""
    rows = session.execute(
        sa.select(ManualPatrol.date, ManualPatrol.grid_code, sa.func.sum(ManualPatrol.seconds))
        .where(
            worker_clause,
            ManualPatrol.status == "approved",
            ManualPatrol.date.between(start, end),
        )
        .group_by(ManualPatrol.date, ManualPatrol.grid_code)
        .order_by(ManualPatrol.date, ManualPatrol.grid_code)
    ).all()
    return pd.DataFrame(
        {"date": [r[0] for r in rows], "grid_code": [r[1] for r in rows],
         "seconds": [float(r[2]) for r in rows]},
        columns=["date", "grid_code", "seconds"],
    )  # fmt: skip


def combine_weeks(
    gps: pd.DataFrame,
    manual: pd.DataFrame,
    *,
    period: tuple[dt.date, dt.date],
    threshold_hours: float = DEFAULT_THRESHOLD_HOURS,
) -> pd.DataFrame:
    """Weekly totals with GPS and approved manual hours apart: ``week_start``,
    ``gps_hours``, ``manual_hours``, ``hours`` (their sum), ``seconds``, ``under_15h`` (the
    sum below ``threshold_hours``)."""
    g = weekly_summary(gps, threshold_hours=threshold_hours, period=period)
    m = weekly_summary(manual, threshold_hours=threshold_hours, period=period)
    out = g[["week_start"]].copy()
    out["gps_hours"] = g["seconds"].to_numpy() / 3600.0
    manual_by_week = dict(zip(m["week_start"], m["seconds"], strict=True))
    out["manual_hours"] = [manual_by_week.get(w, 0.0) / 3600.0 for w in out["week_start"]]
    out["seconds"] = g["seconds"].to_numpy() + out["manual_hours"].to_numpy() * 3600.0
    out["hours"] = out["seconds"] / 3600.0
    out["under_15h"] = out["seconds"] < threshold_hours * 3600.0
    return out


def manual_dict(entry: ManualPatrol) -> dict:
    """An entry as the API shows it (times in Asia/Shanghai with the offset)."""
    return {
        "id": entry.id,
        "worker": entry.worker,
        "grid_code": entry.grid_code,
        "start": local_iso(entry.start_at),
        "end": local_iso(entry.end_at),
        "date": entry.date.isoformat(),
        "hours": round(entry.seconds / 3600.0, 3),
        "note": entry.note,
        "status": entry.status,
        "entered_by": entry.entered_by,
        "entered_at": local_iso(entry.entered_at),
        "decided_by": entry.decided_by,
        "decided_at": local_iso(entry.decided_at),
        "decision_note": entry.decision_note,
    }
