"""Patrol logs: upload a GPS track (GPX/CSV) → hours inside the worker's grids; read a
worker's days and weeks with the work log of each day; add work-log entries; manual patrol
hours (entered for a worker without a phone, approved by the community head, counted apart
from GPS hours); the printable weekly log (PDF).

Grid workers upload and read their own (a worker is theirs when it is their user, or the
staff record their user is linked to); community heads and street departments (and admins)
upload for and read any worker. The hours are those of ``wangge patrol hours --db``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.core.errors import Forbidden
from api.core.timefmt import local_iso
from api.db.models import Role, User
from api.db.models.assessment import ManualPatrol
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.common import Listing
from api.routes.schemas.patrol import (
    CreateWorkLogAnswer,
    ManualHoursAnswer,
    ReadWorkerLogAnswer,
    TrackUploadAnswer,
)
from api.services.patrol import (
    Worker,
    add_work_log,
    find_worker,
    patrol_hours,
    report_dict,
    store_track,
    weekly_log,
    worker_log,
)
from api.services.patrol_manual import (
    MANUAL_APPROVERS,
    add_manual_hours,
    decide_manual_hours,
    manual_dict,
)
from gis.patrol import (
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    read_track,
)
from maps.work_log_print import render_weekly_log

__all__ = ["router"]

router = APIRouter(prefix="/patrol", tags=["patrol"])
Patroller = Annotated[
    User, Depends(require_role(Role.GRID_WORKER, Role.COMMUNITY_HEAD, Role.STREET_DEPT))
]
_SUPERVISORS = {Role.COMMUNITY_HEAD.value, Role.STREET_DEPT.value, Role.ADMIN.value}


def _is_own(user: User, worker: Worker) -> bool:
    return worker.user_id == user.id or (
        user.staff_id is not None and worker.staff_id == user.staff_id
    )


def _worker_for(session, user: User, name: str | None) -> Worker:
    """The worker named ``name`` (default: the signed-in user), if the user may act for them."""
    if name is None or not name.strip():
        if user.role in _SUPERVISORS:
            raise Forbidden("请指明网格员 / name the worker (worker=...)")
        name = user.username
    worker = find_worker(session, name)
    if user.role not in _SUPERVISORS and not _is_own(user, worker):
        raise Forbidden(
            f"网格员只能查看、上传本人的巡查记录 / a grid worker may only see and upload "
            f"their own patrol log, not {worker.name}'s"
        )
    return worker


@router.post("/tracks", status_code=201, response_model=TrackUploadAnswer)
def upload_track(
    session: SessionDep,
    user: Patroller,
    now: Now,
    track: Annotated[UploadFile, File(description="GPS 轨迹 GPX 或 CSV / GPS track")],
    worker: Annotated[str | None, Form(description="网格员（默认本人）/ worker")] = None,
    gcj02: Annotated[bool, Form(description="坐标为 GCJ-02 / GCJ-02 coordinates")] = False,
    input_crs: Annotated[
        str | None, Form(description="轨迹坐标系 wgs84|cgcs2000|gcj02|bd09 / the track's CRS")
    ] = None,
    max_gap_s: Annotated[float, Form(ge=0)] = DEFAULT_MAX_GAP_S,
    max_speed_kmh: Annotated[float, Form(ge=0)] = DEFAULT_MAX_SPEED_KMH,
    max_accuracy_m: Annotated[float, Form(ge=0)] = DEFAULT_MAX_ACCURACY_M,
) -> dict[str, Any]:
    """上传巡查轨迹，计算网格内时长并入库 / Upload a track: hours per grid per day, stored.

    Answers ``{"track_id", "stored", "worker", "days", "weeks"}``; ``stored`` is False when
    the same file was uploaded before for this worker (nothing added; the hours shown are
    computed again with today's records).
    """
    who = _worker_for(session, user, worker)
    content = track.file.read()
    name = Path(track.filename or "track").name or "track"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        fixes = read_track(path, gcj02=gcj02, input_crs=input_crs)
    days, weeks = patrol_hours(
        session,
        who,
        fixes,
        max_gap_s=max_gap_s,
        max_speed_kmh=max_speed_kmh,
        max_accuracy_m=max_accuracy_m,
    )
    record, created = store_track(
        session, who, file_name=name, content=content, track=fixes, days=days,
        uploaded_by=user.username, now=now,
    )  # fmt: skip
    session.commit()
    return {"track_id": record.id, "stored": created, "worker": who.as_dict(),
            **report_dict(days, weeks)}  # fmt: skip


@router.get("/workers/{worker}", response_model=ReadWorkerLogAnswer)
def read_worker_log(
    session: SessionDep,
    user: Patroller,
    now: Now,
    worker: str,
    start: Annotated[dt.date | None, Query(description="起始日期（默认 28 天前）")] = None,
    end: Annotated[dt.date | None, Query(description="结束日期（默认今天）/ end")] = None,
) -> dict[str, Any]:
    """网格员的每日、每周巡查时长及当日工作记录 / A worker's days, weeks and work log."""
    who = _worker_for(session, user, worker)
    end = end or now.date()
    start = start or end - dt.timedelta(days=27)
    return worker_log(session, who, start=start, end=end)


class WorkLogIn(BaseModel):
    """A work-log entry: what was done, when, about which record."""

    kind: str = Field(description="registered|fed_back|handled|escalated|visited|other")
    at: dt.datetime = Field(description="时间（带时区）/ time with offset")
    worker: str | None = None
    record_table: str | None = None
    record_id: int | None = None
    note: str | None = None


@router.post("/work-log", status_code=201, response_model=CreateWorkLogAnswer)
def create_work_log(session: SessionDep, user: Patroller, body: WorkLogIn) -> dict[str, Any]:
    """记一条工作记录（与当天巡查关联）/ Add a work-log entry (linked to that day's patrol)."""
    who = _worker_for(session, user, body.worker)
    entry = add_work_log(
        session, who, kind=body.kind, at=body.at, record_table=body.record_table,
        record_id=body.record_id, note=body.note,
    )  # fmt: skip
    session.commit()
    return {"id": entry.id, "worker": who.name, "date": entry.date.isoformat(),
            "kind": entry.kind, "at": local_iso(entry.at)}  # fmt: skip


@router.get("/workers/{worker}/week.pdf", response_class=Response)
def print_weekly_log(
    session: SessionDep,
    user: Patroller,
    now: Now,
    worker: str,
    week: Annotated[
        dt.date | None, Query(description="周内任一日（默认本周）/ a day of it")
    ] = None,
) -> Response:
    """打印一周工作日志（PDF）/ The printable weekly work log (A4 PDF, signed entries)."""
    who = _worker_for(session, user, worker)
    log = weekly_log(session, who, week or now.date(), now=now)
    with tempfile.TemporaryDirectory() as folder:
        data = render_weekly_log(log, Path(folder) / "week.pdf").read_bytes()
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="work-log-{log.week_start}.pdf"'},
    )


class ManualHoursIn(BaseModel):
    """Manual patrol hours: start, end (same local day, with offsets), grid, note."""

    grid_code: str
    start: dt.datetime = Field(description="开始时间（带时区）/ start with offset")
    end: dt.datetime = Field(description="结束时间（带时区）/ end with offset")
    note: str | None = Field(None, max_length=2000)
    worker: str | None = None


class ManualDecision(BaseModel):
    note: str | None = Field(None, max_length=2000)


Approver = Annotated[User, Depends(require_role(*MANUAL_APPROVERS))]


@router.post("/manual", status_code=201, response_model=ManualHoursAnswer)
def create_manual_hours(
    session: SessionDep, user: Patroller, now: Now, body: ManualHoursIn
) -> dict[str, Any]:
    """补录巡查时长（待社区负责人审批）/ Enter manual patrol hours (awaiting approval)."""
    who = _worker_for(session, user, body.worker)
    entry = add_manual_hours(
        session, who, grid_code=body.grid_code, start=body.start, end=body.end, note=body.note,
        entered_by=user.username, now=now,
    )  # fmt: skip
    session.commit()
    return manual_dict(entry)


@router.get("/manual", response_model=Listing)
def list_manual_hours(
    session: SessionDep,
    user: Patroller,
    worker: str | None = None,
    status: Annotated[str | None, Query(pattern="^(requested|approved|rejected)$")] = None,
) -> dict[str, Any]:
    """补录巡查（网格员看本人的）/ Manual patrol entries (grid workers: their own)."""
    query = select(ManualPatrol)
    if worker is not None or user.role not in _SUPERVISORS:
        who = _worker_for(session, user, worker)
        query = query.where(ManualPatrol.worker == who.name)
    if status is not None:
        query = query.where(ManualPatrol.status == status)
    rows = session.scalars(query.order_by(ManualPatrol.id)).all()
    return {"data": [manual_dict(r) for r in rows], "count": len(rows)}


def _decide(session, user: User, now, entry_id: int, body, approve: bool) -> dict[str, Any]:
    note = None if body is None else body.note
    entry = decide_manual_hours(session, entry_id=entry_id, approver=user, approve=approve,
                                note=note, now=now)  # fmt: skip
    session.commit()
    return manual_dict(entry)


@router.post("/manual/{entry_id}/approve", response_model=ManualHoursAnswer)
def approve_manual_hours(
    session: SessionDep, user: Approver, now: Now, entry_id: int,
    body: ManualDecision | None = None,
) -> dict[str, Any]:  # fmt: skip
    """批准补录（计入周合计）/ Approve manual hours (they count in the weekly total)."""
    return _decide(session, user, now, entry_id, body, True)


@router.post("/manual/{entry_id}/reject", response_model=ManualHoursAnswer)
def reject_manual_hours(
    session: SessionDep, user: Approver, now: Now, entry_id: int,
    body: ManualDecision | None = None,
) -> dict[str, Any]:  # fmt: skip
    """驳回补录 / Reject manual hours."""
    return _decide(session, user, now, entry_id, body, False)
