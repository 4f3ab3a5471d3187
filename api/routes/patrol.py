"""Patrol logs: upload a GPS track (GPX/CSV) → hours inside the worker's grids; read a
worker's days and weeks with the work log of each day; add work-log entries.

Grid workers upload and read their own (a worker is theirs when it is their user, or the
staff record their user is linked to); community heads and street departments (and admins)
upload for and read any worker. The hours are those of ``wangge patrol hours --db``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from api.db.models import Role, User
from api.deps import Now, SessionDep, require_role
from api.errors import Forbidden
from api.services.patrol import (
    Worker,
    add_work_log,
    find_worker,
    patrol_hours,
    report_dict,
    store_track,
    worker_log,
)
from api.timefmt import local_iso
from gis.patrol import (
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    read_track,
)

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


@router.post("/tracks", status_code=201)
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


@router.get("/workers/{worker}")
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


@router.post("/work-log", status_code=201)
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
