"""The append-only history of an incident: its rows, who made them, and their JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.timefmt import local_iso
from api.db.models import Staff, User
from api.db.models.incidents import IncidentEvent
from api.services.incidents.people import Actor

__all__ = ["event_dict", "history", "new_event", "people_of"]


def new_event(
    incident_id: int,
    seq: int,
    from_state: str | None,
    to_state: str,
    action: str,
    actor: Actor,
    at: dt.datetime,
    note: str | None = None,
    reason: str | None = None,
) -> IncidentEvent:
    return IncidentEvent(
        incident_id=incident_id,
        seq=seq,
        from_state=from_state,
        to_state=to_state,
        action=action,
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        at=at,
        note=note,
        reason=reason,
    )


def history(session: Session, incident_id: int) -> list[IncidentEvent]:
    """The history of an incident, in order."""
    return list(
        session.scalars(
            sa.select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.seq)
        )
    )


def people_of(session: Session, events: list[IncidentEvent]) -> dict[int, dict[str, Any]]:
    """Per user id of ``events``: the real name, staff number, post, role name and department
    of the user's staff record (None where unknown)."""
    from api.db.models.incidents import Department
    from api.services.incidents.workflow import ROLES

    ids = {e.user_id for e in events if e.user_id is not None}
    if not ids:
        return {}
    rows = session.execute(
        sa.select(User.id, User.role, Staff.name, Staff.staff_no, Staff.post, Department.name)
        .outerjoin(Staff, Staff.id == User.staff_id)
        .outerjoin(Department, Department.id == Staff.department_id)
        .where(User.id.in_(ids))
    )
    return {
        uid: {
            "name": name,
            "staff_no": staff_no,
            "post": post,
            "role_name": ROLES.get(role, (role, role))[0],
            "department": department,
        }
        for uid, role, name, staff_no, post, department in rows
    }


def event_dict(event: IncidentEvent, people: dict[int, dict[str, Any]] | None = None) -> dict:
    """The JSON shape of a history row (with the actor's real name, role name, post and
    department when ``people`` knows the user)."""
    person = (people or {}).get(event.user_id) or {}
    return {
        "name": person.get("name"),
        "staff_no": person.get("staff_no"),
        "post": person.get("post"),
        "role_name": person.get("role_name") or _role_name(event.role),
        "department": person.get("department"),
        "seq": event.seq,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "action": event.action,
        "user_id": event.user_id,
        "username": event.username,
        "role": event.role,
        "at": local_iso(event.at),
        "note": event.note,
        "reason": event.reason,
    }


def _role_name(role: str) -> str:
    from api.services.incidents.workflow import ROLES

    return ROLES.get(role, (role, role))[0]
