"""Incidents (事件): report, read, history, transitions, photos, inbox, overdue, statistics.

Every route needs a signed-in user. Reporting is for grid workers, community heads and
admins; transitions follow the state machine of :mod:`api.services.incidents.workflow` (illegal →
409,
role not allowed → 403, reject without reason → 422), and a concurrent change → 409.
Photos: JPEG, PNG or WebP (checked by their first bytes), at most :data:`PHOTO_MAX_BYTES`,
stored under ``app.state.photo_dir`` (else the ``WANGGE_PHOTO_DIR`` setting, ./photos) as
``<incident id>/<sha256>.<ext>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from api.core.config import get_settings
from api.core.errors import Forbidden, NotFound, PayloadTooLarge, Unprocessable
from api.db.engine import begin_write
from api.db.models import Incident, Role, User
from api.db.models.incidents import IncidentPhoto
from api.routes.deps import CurrentUser, Now, OptionalUser, SessionDep, require_role
from api.routes.schemas.common import Listing
from api.routes.schemas.incidents import IncidentAnswer, UploadPhotoAnswer
from api.services.community_data import find_community
from api.services.features import DEFAULT_LIMIT, MAX_LIMIT
from api.services.images import IMAGE_HEAD_BYTES, image_type
from api.services.incidents.deadlines import to_shanghai
from api.services.incidents.events import event_dict, history, people_of
from api.services.incidents.people import actor_of, user_communities
from api.services.incidents.publication import PublicText, is_public
from api.services.incidents.queues import inbox
from api.services.incidents.report import get_incident, report_incident
from api.services.incidents.stats import daily_summary, statistics_table
from api.services.incidents.timing import DUE_SOON_WITHIN, OPEN_STATES
from api.services.incidents.transitions import transition
from api.services.incidents.views import incident_dict, public_dict, routing_warnings
from api.services.incidents.visibility import check_visible, full_view_clause, visible_clause
from api.services.locate import to_storage_lonlat

__all__ = ["PHOTO_MAX_BYTES", "PHOTO_TYPES", "photo_dir", "router"]

router = APIRouter(prefix="/incidents", tags=["incidents"])
Reporter = Annotated[User, Depends(require_role(Role.GRID_WORKER, Role.COMMUNITY_HEAD))]
Head = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD))]

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


class IncidentIn(BaseModel):
    """A report: category, description, a point (lon/lat, with its CRS) or an address."""

    category_code: str = Field(..., min_length=2, max_length=8)
    description: str | None = Field(None, max_length=4000)
    lon: float | None = None
    lat: float | None = None
    crs: str = Field("storage", description="wgs84|cgcs2000|gcj02|bd09|storage")
    address: str | None = Field(None, max_length=200)
    community: str | None = Field(None, description="社区编码或名称 / community code or name")
    reported_at: dt.datetime | None = Field(
        None, description="ISO 8601; without an offset read as Asia/Shanghai; default now"
    )
    note: str | None = Field(None, max_length=2000)


class TransitionIn(BaseModel):
    """One step: the action, a note, a reason (reject), the escalation target, a version."""

    action: str
    note: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    to: str | None = Field(None, description="escalate: community_head | street_dept")
    department: str | None = Field(
        None, description="escalate: 街道部门编码 / street department code (default: the rule)"
    )
    to_user: str | None = Field(None, description="escalate: 指定签收人 / one named user")
    version: int | None = Field(None, description="版本（乐观锁）/ version last seen")


def _visible(session, incident_id: int, user: User) -> Incident:
    """The incident if ``user`` reads it in full; 404 if they may not see it, 403 if they
    see only its public view (no history, no photos upload)."""
    incident = get_incident(session, incident_id)
    if not check_visible(session, user, incident):
        raise Forbidden(
            f"事件 {incident_id} 仅可查看公开信息 / only the public view of incident "
            f"{incident_id} is open to you"
        )
    return incident


def _full(session, incident: Incident, user: User, now: dt.datetime) -> dict[str, Any]:
    photos = list(
        session.scalars(
            sa.select(IncidentPhoto)
            .where(IncidentPhoto.incident_id == incident.id)
            .order_by(IncidentPhoto.id)
        )
    )
    events = history(session, incident.id)
    return incident_dict(
        incident,
        now=now,
        role=user.role,
        events=events,
        photos=photos,
        people=people_of(session, events),
    )


@router.post("", status_code=201, response_model=IncidentAnswer)
def create_incident(body: IncidentIn, session: SessionDep, user: Reporter, now: Now):
    """上报事件 / Report an incident (point or address): grid, handler and deadline assigned."""
    lon, lat = body.lon, body.lat
    if lon is not None and lat is not None and body.crs != "storage":
        lon, lat = to_storage_lonlat(lon, lat, body.crs)
    begin_write(session)  # routing reads, then the report is written: one writer at a time
    incident = report_incident(
        session,
        category_code=body.category_code,
        actor=actor_of(user),
        description=body.description,
        lon=lon,
        lat=lat,
        address=body.address,
        community=body.community,
        reported_at=body.reported_at or now,
        note=body.note,
    )
    session.commit()
    return {**_full(session, incident, user, now), "warnings": routing_warnings(incident)}


@router.get("", response_model=Listing)
def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    state: str | None = None,
    community: str | None = None,
    grid_code: str | None = None,
    category_code: str | None = None,
    overdue: bool | None = None,
    due_soon: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, description=f"capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """事件列表 / Incidents, filtered; ``overdue``/``due_soon`` select open items by deadline.

    ``start`` (included) and ``end`` (excluded) bound the report time, as in
    ``/incidents/stats``; a time without an offset is read as Asia/Shanghai.
    """
    query = sa.select(Incident).where(visible_clause(session, user))
    if start is not None:
        query = query.where(Incident.reported_at >= to_shanghai(start).astimezone(dt.UTC))
    if end is not None:
        query = query.where(Incident.reported_at < to_shanghai(end).astimezone(dt.UTC))
    if state:
        query = query.where(Incident.state.in_(state.split(",")))
    if community:
        query = query.where(Incident.community_id == find_community(session, community).id)
    if grid_code:
        query = query.where(Incident.grid_code == grid_code)
    if category_code:
        query = query.where(Incident.category_code == category_code)
    open_ = Incident.state.in_(OPEN_STATES)
    if overdue is not None:
        late = sa.and_(open_, Incident.due_at < now)
        query = query.where(late if overdue else sa.not_(late))
    if due_soon is not None:
        soon = sa.and_(open_, Incident.due_at >= now, Incident.due_at <= now + DUE_SOON_WITHIN)
        query = query.where(soon if due_soon else sa.not_(soon))
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    limit = min(limit, MAX_LIMIT)
    order = (Incident.due_at, Incident.id) if overdue or due_soon else (Incident.id,)
    rows = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    full = set(
        session.scalars(
            sa.select(Incident.id).where(
                Incident.id.in_([r.id for r in rows]), full_view_clause(session, user)
            )
        )
    )
    text = PublicText(session)
    data = [
        incident_dict(r, now=now, role=user.role) if r.id in full else public_dict(r, text)
        for r in rows
    ]
    return {"data": data, "count": count}


@router.get("/inbox", response_model=Listing)
def read_inbox(session: SessionDep, user: CurrentUser, now: Now) -> dict[str, Any]:
    """我的待办 / The signed-in user's queue: overdue first, then by deadline."""
    items = inbox(session, user, now=now)
    return {"data": items, "count": len(items)}


@router.get("/summary", response_model=Listing)
def read_daily_summary(
    session: SessionDep, user: CurrentUser, now: Now, day: dt.date | None = None
) -> dict[str, Any]:
    """每日汇总 / Per-community summary of one day (default today, Asia/Shanghai)."""
    from api.services.incidents.deadlines import SHANGHAI

    day = day or now.astimezone(SHANGHAI).date()
    rows = daily_summary(session, day, viewer=user, now=now)
    return {"data": rows, "count": len(rows)}


@router.get("/stats", response_model=Listing)
def read_statistics(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    by: Annotated[str, Query(description="grid,category,community (comma list)")] = "grid",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    community: str | None = None,
) -> dict[str, Any]:
    """统计 / Counts, median handling time and on-time share per grid / category / window."""
    community_id = find_community(session, community).id if community else None
    rows = statistics_table(
        session,
        viewer=user,
        by=tuple(b.strip() for b in by.split(",") if b.strip()),
        start=start,
        end=end,
        community_id=community_id,
        now=now,
    )
    return {"data": rows, "count": len(rows)}


@router.get("/{incident_id}", response_model=IncidentAnswer)
def read_incident(incident_id: int, session: SessionDep, user: CurrentUser, now: Now):
    """事件详情（含处理记录）/ One incident with its history, photos and allowed actions (the
    public view only, for staff who may not read it in full)."""
    incident = get_incident(session, incident_id)
    if not check_visible(session, user, incident):
        return public_dict(incident, PublicText(session))
    return _full(session, incident, user, now)


@router.get("/{incident_id}/history", response_model=Listing)
def read_history(incident_id: int, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """处理记录 / The append-only history of an incident."""
    _visible(session, incident_id, user)
    rows = history(session, incident_id)
    people = people_of(session, rows)
    events = [event_dict(e, people) for e in rows]
    return {"data": events, "count": len(events)}


@router.get(
    "/{incident_id}/slip.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def read_feedback_slip(incident_id: int, session: SessionDep, user: CurrentUser, now: Now):
    """信息反馈单（PDF）/ The printable feedback slip: every step, signature lines, times."""
    import tempfile

    from api.core.config import get_settings
    from api.services.incidents.slips import write_slip

    incident = _visible(session, incident_id, user)
    with tempfile.TemporaryDirectory() as folder:
        path = write_slip(
            session,
            incident,
            Path(folder) / "slip.pdf",
            now=now,
            public_url=get_settings().public_url,
            issued_by=user.username,
        )
        data = path.read_bytes()
    session.commit()  # keep the rating link printed on the slip
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="feedback-slip-{incident_id}.pdf"'},
    )


@router.post("/{incident_id}/transitions", response_model=IncidentAnswer)
def take_transition(
    incident_id: int, body: TransitionIn, session: SessionDep, user: CurrentUser, now: Now
):
    """流转 / Take an action (feed_back, start, escalate, receive, resolve, close, reject)."""
    incident = transition(
        session,
        incident_id,
        body.action,
        actor_of(user),
        note=body.note,
        reason=body.reason,
        to=body.to,
        department=body.department,
        to_user=body.to_user,
        expected_version=body.version,
        at=now,
    )
    return _full(session, incident, user, now)


class ReassignIn(BaseModel):
    """Hand an open incident to another active staff member."""

    staff_id: int
    note: str | None = Field(None, max_length=2000)


@router.post("/{incident_id}/reassign", response_model=IncidentAnswer)
def reassign_incident(
    incident_id: int, body: ReassignIn, session: SessionDep, user: Head, now: Now
):
    """改派 / Reassign an open incident to another active staff member (history: reassign)."""
    from api.services.incidents.routing import reassign

    incident = get_incident(session, incident_id)
    if user.role == Role.COMMUNITY_HEAD and incident.community_id not in user_communities(
        session, user
    ):
        raise Forbidden(
            f"事件 {incident_id} 不属于您的社区 / incident {incident_id} is not in your community"
        )
    begin_write(session)
    reassign(
        session,
        incident,
        body.staff_id,
        actor_username=user.username,
        actor_role=user.role,
        actor_user_id=user.id,
        at=now,
        note=body.note,
    )
    session.commit()
    return _full(session, incident, user, now)


def photo_dir(request: Request) -> Path:
    """Folder of the stored photos (``app.state.photo_dir``, else ``WANGGE_PHOTO_DIR``)."""
    folder = getattr(request.app.state, "photo_dir", None) or get_settings().photo_dir
    return Path(folder)


@router.post("/{incident_id}/photos", status_code=201, response_model=UploadPhotoAnswer)
async def upload_photo(
    incident_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="JPEG/PNG/WebP")],
) -> dict[str, Any]:
    """上传照片 / Attach a photo (JPEG, PNG or WebP, at most 10 MiB)."""
    _visible(session, incident_id, user)
    data = await file.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        raise PayloadTooLarge(
            f"照片超过 {PHOTO_MAX_BYTES // 1024 // 1024} MiB / photo larger than "
            f"{PHOTO_MAX_BYTES // 1024 // 1024} MiB"
        )
    kind = image_type(data[:IMAGE_HEAD_BYTES])
    if kind is None:
        raise Unprocessable(
            f"照片 {file.filename!r} 不是 JPEG、PNG 或 WebP 图像 / photo {file.filename!r} is "
            "not a JPEG, PNG or WebP image"
        )
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(str(incident_id)) / f"{digest}{PHOTO_TYPES[kind]}"
    target = photo_dir(request) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(data)
    photo = IncidentPhoto(
        incident_id=incident_id,
        path=relative.as_posix(),
        content_type=kind,
        size_bytes=len(data),
        sha256=digest,
        uploaded_by=user.username,
    )
    session.add(photo)
    session.commit()
    return {
        "id": photo.id,
        "content_type": kind,
        "size_bytes": len(data),
        "sha256": digest,
        "url": f"/incidents/{incident_id}/photos/{photo.id}",
    }


@router.get("/{incident_id}/photos/{photo_id}", response_class=FileResponse)
def read_photo(
    incident_id: int, photo_id: int, request: Request, session: SessionDep, user: OptionalUser
):
    """照片文件（公开类别的事件公开，供 Open311 media_url）/ The photo file: public for
    incidents of a public category (Open311 media_url), else for those who read it in full."""
    photo = session.get(IncidentPhoto, photo_id)
    incident = session.get(Incident, incident_id)
    shown = incident is not None and (
        is_public(session, incident)
        if user is None
        else check_visible(session, user, incident) or is_public(session, incident)
    )
    if photo is None or photo.incident_id != incident_id or not shown:
        raise NotFound(f"照片 {photo_id} 不存在 / photo {photo_id} not found")
    path = photo_dir(request) / photo.path
    if not path.exists():
        raise NotFound(f"照片文件缺失 / photo file missing: {photo.path}")
    return FileResponse(path, media_type=photo.content_type)
