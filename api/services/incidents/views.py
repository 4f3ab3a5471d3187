"""An incident as JSON: in full (with deadline flags and history), its routing warnings,
and the public view of a public category."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.core.timefmt import local_iso
from api.db.models import Incident, from_db_geometry
from api.db.models.incidents import IncidentEvent, IncidentPhoto
from api.services.incidents.events import event_dict
from api.services.incidents.publication import PublicText
from api.services.incidents.timing import DUE_SOON_WITHIN, OPEN_STATES, utc_now
from api.services.incidents.workflow import allowed_actions, open311_status

__all__ = ["incident_dict", "public_dict", "routing_warnings"]


def incident_dict(
    incident: Incident,
    *,
    now: dt.datetime | None = None,
    role: str | None = None,
    events: list[IncidentEvent] | None = None,
    photos: list[IncidentPhoto] | None = None,
    people: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON shape of an incident (times in Asia/Shanghai with offset); ``people`` (see
    :func:`people_of`) gives the history's real names, roles and departments."""
    now = now or utc_now()
    point = from_db_geometry(incident.geom)
    is_open = incident.state in OPEN_STATES
    overdue = bool(is_open and incident.due_at is not None and now > incident.due_at)
    soon = bool(
        is_open
        and not overdue
        and incident.due_at is not None
        and incident.due_at - now <= DUE_SOON_WITHIN
    )
    out: dict[str, Any] = {
        "id": incident.id,
        "community_id": incident.community_id,
        "external_id": incident.external_id,
        "category_code": incident.category_code,
        "description": incident.description,
        "address": incident.address,
        "lon": None if point is None else point.x,
        "lat": None if point is None else point.y,
        "grid_code": incident.grid_code,
        "state": incident.state,
        "open311_status": open311_status(incident.state),
        "severity": incident.severity,
        "reported_at": local_iso(incident.reported_at),
        "due_at": local_iso(incident.due_at),
        "overdue": overdue,
        "due_soon": soon,
        "handler_post": incident.handler_post,
        "handler_staff_id": incident.handler_staff_id,
        "handler_user_id": incident.handler_user_id,
        "escalated_to": incident.escalated_to,
        "escalated_department_id": incident.escalated_department_id,
        "escalated_user_id": incident.escalated_user_id,
        "unassigned": incident.handler_staff_id is None and incident.handler_user_id is None,
        "reporter_user_id": incident.reporter_user_id,
        "reporter_name": incident.reporter_name,
        "version": incident.version,
        "updated_at": local_iso(incident.updated_at),
        "resolved_at": local_iso(incident.resolved_at),
        "closed_at": local_iso(incident.closed_at),
    }
    if role is not None:
        out["allowed_actions"] = allowed_actions(incident.state, role)
    if events is not None:
        out["history"] = [event_dict(e, people) for e in events]
    if photos is not None:
        out["photos"] = [
            {
                "id": p.id,
                "content_type": p.content_type,
                "size_bytes": p.size_bytes,
                "sha256": p.sha256,
                "url": f"/incidents/{incident.id}/photos/{p.id}",
            }
            for p in photos
        ]
    return out


def routing_warnings(incident: Incident) -> list[str]:
    """Warnings of a new report: no active person holds its post (routed to the community
    head, unassigned)."""
    if incident.handler_staff_id is not None or incident.handler_user_id is not None:
        return []
    post = incident.handler_post or "（类别未配置岗位 / no post for the category）"
    return [
        f"无在岗的 {post} 承办人，已转社区负责人待分派 / nobody active holds post {post}: "
        "routed to the community head, unassigned"
    ]


def public_dict(incident: Incident, text: PublicText) -> dict[str, Any]:
    """The public view of an incident of a public category: category, status, dates, a
    location and the redacted description and address; no reporter, handler or notes."""
    point = from_db_geometry(incident.geom)
    return {
        "id": incident.id,
        "community_id": incident.community_id,
        "category_code": incident.category_code,
        "description": text(incident, incident.description),
        "address": text(incident, incident.address),
        "lon": None if point is None else point.x,
        "lat": None if point is None else point.y,
        "grid_code": incident.grid_code,
        "state": incident.state,
        "open311_status": open311_status(incident.state),
        "reported_at": local_iso(incident.reported_at),
        "due_at": local_iso(incident.due_at),
        "updated_at": local_iso(incident.updated_at),
        "resolved_at": local_iso(incident.resolved_at),
        "closed_at": local_iso(incident.closed_at),
        "public_view": True,
    }
