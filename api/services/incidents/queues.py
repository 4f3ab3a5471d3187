"""Work queues: a user's inbox, the overdue and the due-soon items."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Community, Incident, Role, Staff, User
from api.services.incidents.deadlines import to_shanghai
from api.services.incidents.people import user_communities
from api.services.incidents.timing import DUE_SOON_WITHIN, OPEN_STATES, utc_now
from api.services.incidents.views import incident_dict

__all__ = ["due_soon_items", "inbox", "overdue_items"]


def _street_dept_filter(session: Session, user: User):
    cond = sa.and_(
        Incident.state.in_(("escalated", "received")), Incident.escalated_to == "street_dept"
    )
    mine = None
    if user.staff_id is not None:
        mine = session.scalar(sa.select(Staff.department_id).where(Staff.id == user.staff_id))
    cond = sa.and_(
        cond,
        sa.or_(Incident.escalated_user_id.is_(None), Incident.escalated_user_id == user.id),
        sa.or_(
            Incident.escalated_department_id.is_(None),
            Incident.escalated_department_id == mine,
        ),
    )
    communities = user_communities(session, user)
    if communities:
        streets = sa.select(Community.street_id).where(Community.id.in_(communities))
        in_street = sa.select(Community.id).where(Community.street_id.in_(streets))
        # a community stored without its street still counts as the user's own
        cond = sa.and_(
            cond,
            sa.or_(Incident.community_id.in_(in_street), Incident.community_id.in_(communities)),
        )
    return cond


def inbox(session: Session, user: User, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The user's queue: open items awaiting them, overdue first, then by deadline.

    - ``post_staff``: items they handle (their staff record or their user) not yet
      resolved or escalated (an escalated item is in the head's or street's queue);
    - ``community_head``: escalations to the community head, and open items without a
      handler, of their communities;
    - ``street_dept``: escalations to street departments (of their street when known);
    - ``grid_worker``: what they reported, in every state (closed ones last);
    - ``admin``: every open item; other roles: nothing.

    Each item carries ``overdue`` and ``due_soon`` (due within :data:`DUE_SOON_WITHIN`).
    """
    now = now or utc_now()
    open_ = Incident.state.in_(OPEN_STATES)
    role = user.role
    if role == Role.POST_STAFF:
        mine = [Incident.handler_user_id == user.id]
        if user.staff_id is not None:
            mine.append(Incident.handler_staff_id == user.staff_id)
        cond = sa.and_(Incident.state.in_(("registered", "fed_back", "in_progress")), sa.or_(*mine))
    elif role == Role.COMMUNITY_HEAD:
        communities = user_communities(session, user)
        cond = sa.and_(
            Incident.community_id.in_(communities),
            sa.or_(
                sa.and_(
                    Incident.state.in_(("escalated", "received")),
                    Incident.escalated_to == "community_head",
                ),
                sa.and_(
                    Incident.state.in_(("registered", "fed_back", "in_progress")),
                    Incident.handler_staff_id.is_(None),
                    Incident.handler_user_id.is_(None),
                ),
            ),
        )
    elif role == Role.STREET_DEPT:
        cond = _street_dept_filter(session, user)
    elif role == Role.GRID_WORKER:
        cond = Incident.reporter_user_id == user.id
    elif role == Role.ADMIN:
        cond = open_
    else:
        return []
    rows = session.scalars(sa.select(Incident).where(cond).order_by(Incident.id)).all()
    items = [incident_dict(r, now=now, role=role) for r in rows]
    items.sort(
        key=lambda d: (
            d["state"] not in OPEN_STATES,
            not d["overdue"],
            d["due_at"] is None,
            to_shanghai(d["due_at"]) if d["due_at"] else now,
            d["id"],
        )
    )
    return items


def _open_query(community_id: int | None):
    query = sa.select(Incident).where(Incident.state.in_(OPEN_STATES))
    if community_id is not None:
        query = query.where(Incident.community_id == community_id)
    return query.order_by(Incident.due_at, Incident.id)


def overdue_items(
    session: Session, *, now: dt.datetime | None = None, community_id: int | None = None
) -> list[Incident]:
    """Open items past their deadline, most overdue first."""
    now = now or utc_now()
    return list(session.scalars(_open_query(community_id).where(Incident.due_at < now)))


def due_soon_items(
    session: Session,
    *,
    now: dt.datetime | None = None,
    within: dt.timedelta = DUE_SOON_WITHIN,
    community_id: int | None = None,
) -> list[Incident]:
    """Open items not yet overdue but due within ``within`` of ``now``."""
    now = now or utc_now()
    query = _open_query(community_id).where(Incident.due_at >= now, Incident.due_at <= now + within)
    return list(session.scalars(query))
