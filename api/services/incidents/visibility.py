"""Who reads which incidents: in full, as the public view, and in the statistics.

:func:`full_view_clause` says who reads which incidents in full (managers all, post staff
their items, grid workers their grids and reports); other staff see the public view of
public categories (:func:`api.services.incidents.views.public_dict`,
:mod:`api.services.incidents.publication`); :func:`counted_clause` what the statistics count.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.db.models import Incident, Role, User, UserGrid
from api.services.incidents.publication import is_public, public_clause

__all__ = [
    "FULL_VIEW_ROLES",
    "check_visible",
    "counted_clause",
    "full_view_clause",
    "sees_in_full",
    "visible_clause",
]


FULL_VIEW_ROLES = (Role.ADMIN, Role.STREET_DEPT, Role.COMMUNITY_HEAD)
"""Roles that see every incident in full (the community's and street's managers)."""


def _user_grid_codes(session: Session, user: User) -> list[str]:
    return list(session.scalars(sa.select(UserGrid.grid_code).where(UserGrid.user_id == user.id)))


def full_view_clause(session: Session, user: User):
    """SQL condition: incidents ``user`` may read in full.

    Managers (:data:`FULL_VIEW_ROLES`) read all; a post-responsible person the items they
    handle; a grid worker the items of the grids they serve and their own reports; other
    roles nothing in full.
    """
    if user.role in FULL_VIEW_ROLES:
        return sa.true()
    if user.role == Role.POST_STAFF:
        mine = [Incident.handler_user_id == user.id]
        if user.staff_id is not None:
            mine.append(Incident.handler_staff_id == user.staff_id)
        return sa.or_(*mine)
    if user.role == Role.GRID_WORKER:
        return sa.or_(
            Incident.reporter_user_id == user.id,
            Incident.grid_code.in_(_user_grid_codes(session, user)),
        )
    return sa.false()


def visible_clause(session: Session, user: User):
    """SQL condition: incidents ``user`` may list: in full (:func:`full_view_clause`), and
    for staff who are not grid workers, the public ones as the public sees them."""
    full = full_view_clause(session, user)
    if user.role == Role.GRID_WORKER:
        return full
    return sa.or_(full, public_clause())


def counted_clause(session: Session, viewer: User | None):
    """SQL condition: incidents counted in the statistics ``viewer`` reads.

    Counts of a non-public (confidential) category tell what its incidents would: they are
    counted only where ``viewer`` reads the incident in full (:func:`full_view_clause`), so
    neither the groups nor the totals of a grid worker, a post-responsible person or any
    other role show (or differ by) a confidential incident outside their view. Incidents of
    public categories are counted for every signed-in user. ``viewer=None`` is the operator
    (the command line, or a caller that already admitted only full-view roles): no limit.
    """
    if viewer is None:
        return sa.true()
    return sa.or_(full_view_clause(session, viewer), public_clause())


def sees_in_full(session: Session, user: User, incident: Incident) -> bool:
    """True if ``user`` may read ``incident`` in full (see :func:`full_view_clause`)."""
    full = full_view_clause(session, user)
    return (
        session.scalar(sa.select(Incident.id).where(Incident.id == incident.id, full)) is not None
    )


def check_visible(session: Session, user: User, incident: Incident) -> bool:
    """True if ``user`` reads ``incident`` in full, False if only its public view; 404 when
    it is not theirs to see at all (not public and not theirs: as if it did not exist)."""
    if sees_in_full(session, user, incident):
        return True
    if user.role != Role.GRID_WORKER and is_public(session, incident):
        return False
    raise NotFound(f"事件 {incident.id} 不存在 / incident {incident.id} not found")
