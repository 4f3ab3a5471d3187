"""The 信息反馈单 of an incident from the database: fills :class:`maps.feedback_slip.Slip`
(every step with the real name, role, post and department of who took it, times in
Asia/Shanghai with the offset) and renders it (``GET /incidents/{id}/slip.pdf``,
``wangge incidents slip``). A handled (resolved or closed) incident not yet rated gets a new
one-time satisfaction link on its slip when ``public_url`` (``WANGGE_PUBLIC_URL``) is set
(:func:`api.services.incidents.satisfaction.issue_link`: printing again replaces the earlier
link)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from api.core.timefmt import local_text
from api.db.models import Incident, Staff, User, from_db_geometry
from api.db.models.incidents import Department, IncidentCategory
from api.services.incidents.events import history, people_of
from api.services.incidents.satisfaction import (
    RATEABLE_STATES,
    issue_link,
    rating_url,
    satisfaction_of,
)
from api.services.incidents.workflow import ACTIONS, ROLES, STATES
from maps.feedback_slip import Slip, SlipStep, render_feedback_slip

__all__ = ["SLIP_TITLE", "build_slip", "slip_rating_url", "write_slip"]

SLIP_TITLE = "信息反馈单"
_SEVERITY = {"major": "重大（当日办结）", "general": "一般（3 个工作日）"}
_ESCALATED = {"community_head": "社区负责人", "street_dept": "街道部门"}
_STEP = {"report": "发现登记", "feed_back": "反馈岗位", "start": "开始处理", "escalate": "上报",
         "receive": "签收", "resolve": "办结", "close": "结案", "reject": "退回",
         "reassign": "改派"}  # fmt: skip


def _zh(table: dict[str, tuple[str, str]], key: str | None) -> str:
    return "" if key is None else table.get(key, (key, key))[0]


def _staff_name(session: Session, staff_id: int | None) -> str | None:
    staff = session.get(Staff, staff_id) if staff_id is not None else None
    return None if staff is None else staff.name


def _escalation_target(session: Session, incident: Incident) -> str:
    if incident.escalated_to is None:
        return "—"
    parts = [_ESCALATED.get(incident.escalated_to, incident.escalated_to)]
    if incident.escalated_department_id is not None:
        department = session.get(Department, incident.escalated_department_id)
        if department is not None:
            parts.append(department.name)
    if incident.escalated_user_id is not None:
        user = session.get(User, incident.escalated_user_id)
        if user is not None:
            parts.append(_staff_name(session, user.staff_id) or user.username)
    return " · ".join(parts)


def build_slip(
    session: Session, incident: Incident, *, now: dt.datetime, rating_url: str | None = None
) -> Slip:
    """The slip of ``incident`` as printed at ``now`` (with ``rating_url`` when given)."""
    category = session.get(IncidentCategory, incident.category_code)
    point = from_db_geometry(incident.geom)
    place = incident.address or (f"{point.x:.6f}, {point.y:.6f}" if point is not None else "—")
    handler = _staff_name(session, incident.handler_staff_id)
    events = history(session, incident.id)
    people = people_of(session, events)
    steps = []
    for e in events:
        person = people.get(e.user_id) or {}
        steps.append(
            SlipStep(
                seq=e.seq,
                action=_STEP.get(e.action) or _zh(ACTIONS, e.action),
                state=_zh(STATES, e.to_state),
                who=person.get("name") or e.username or "—",
                role=_zh(ROLES, e.role) or e.role,
                department=person.get("department"),
                at=local_text(e.at) or "",
                note=e.reason or e.note,
            )
        )
    name = category.name_zh if category is not None else ""
    fields = [
        ("事件类别", f"{incident.category_code} {name}"),
        ("所在网格", incident.grid_code or "—"),
        ("发生地点", place),
        ("紧急程度", _SEVERITY.get(incident.severity, incident.severity)),
        ("上报时间", local_text(incident.reported_at) or "—"),
        ("办理时限", local_text(incident.due_at) or "—"),
        ("承办岗位", incident.handler_post or "—"),
        ("承办人", handler or "未分派（社区负责人）"),
        ("上报对象", _escalation_target(session, incident)),
        ("当前状态", _zh(STATES, incident.state)),
    ]
    return Slip(
        incident_id=incident.id,
        title=SLIP_TITLE,
        fields=fields,
        description=incident.description or "",
        steps=steps,
        printed_at=local_text(now) or "",
        rating_url=rating_url,
    )


def slip_rating_url(
    session: Session, incident: Incident, *, public_url: str | None, issued_by: str | None,
    now: dt.datetime,
) -> str | None:
    """A new one-time rating link of ``incident`` if it can be rated and ``public_url`` is
    set; else None (the caller commits the session to keep the link)."""
    if not public_url or incident.state not in RATEABLE_STATES:
        return None
    if satisfaction_of(session, incident.id) is not None:
        return None
    token = issue_link(session, incident.id, issued_by=issued_by, now=now)
    return rating_url(public_url, token)


def write_slip(
    session: Session,
    incident: Incident,
    out: str | Path,
    *,
    now: dt.datetime,
    public_url: str | None = None,
    issued_by: str | None = None,
) -> Path:
    """Render the slip of ``incident`` to the PDF ``out``; return the path. With
    ``public_url``, a handled incident not yet rated gets a new rating link on it."""
    url = slip_rating_url(session, incident, public_url=public_url, issued_by=issued_by, now=now)
    return render_feedback_slip(build_slip(session, incident, now=now, rating_url=url), out)
