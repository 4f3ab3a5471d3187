"""Report an incident: route it to its grid, deadline and handler, and register it; find a
registered one by id (:func:`get_incident`).

The grid is the one covering the point in the division in effect on the day of the report
(Asia/Shanghai; :func:`api.db.dialect.grid_code_at`); a point outside every grid is refused
(:class:`OutsideGrids`, HTTP 422). The category (:mod:`api.services.incidents.categories`)
gives the severity, the deadline (:func:`api.services.incidents.deadlines.due_at`) and the
handling post (an admin changes it: :mod:`api.services.incidents.routing`). The handler is the
active staff member of the grid's community holding that ``post`` — one serving the grid if
several do, else the lowest id — and the active user linked to that staff record, if any.
With no such person the item is accepted anyway; it has no handler (``unassigned``, with a
warning: :func:`api.services.incidents.views.routing_warnings`) and shows in the community
head's inbox.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import NotFound, Unprocessable
from api.db.dialect import grid_code_at
from api.db.divisions import divisions_in_effect
from api.db.models import STORAGE_SRID, Grid, Incident, Staff, StaffGrid, User, to_db_geometry
from api.services.geocoding import locate_address
from api.services.incidents.categories import get_category
from api.services.incidents.deadlines import SHANGHAI, due_at, to_shanghai
from api.services.incidents.events import new_event
from api.services.incidents.people import Actor
from api.services.incidents.timing import aware_utc
from api.services.worklog import record_action
from gis.errors import InputError

__all__ = [
    "OutsideGrids",
    "Route",
    "get_incident",
    "incident_number",
    "report_incident",
    "route_incident",
]


class OutsideGrids(Unprocessable):
    """The point of a report lies outside every grid in effect (HTTP 422)."""


@dataclass(frozen=True)
class Route:
    """Where a report goes: community, grid, severity, due time, post, handler."""

    community_id: int
    grid_code: str
    severity: str
    due_at: dt.datetime
    handler_post: str | None
    handler_staff_id: int | None
    handler_user_id: int | None


def _community_of_grid(session: Session, code: str, on: dt.date) -> int:
    ids = [d.id for d in divisions_in_effect(session, on)]
    found = session.scalar(
        sa.select(Grid.community_id).where(Grid.code == code, Grid.division_id.in_(ids)).limit(1)
    )
    if found is None:  # cannot happen for a code from grid_code_at; be explicit anyway
        raise NotFound(f"网格 {code} 不存在 / grid {code} not found")
    return int(found)


def _handler(
    session: Session, community_id: int, grid_code: str, post: str | None
) -> tuple[int | None, int | None]:
    """(staff id, user id) of the post-responsible person, or (None, None)."""
    if not post:
        return None, None
    serves = (
        sa.select(StaffGrid.staff_id)
        .where(StaffGrid.staff_id == Staff.id, StaffGrid.grid_code == grid_code)
        .exists()
    )
    staff_id = session.scalar(
        sa.select(Staff.id)
        .where(
            Staff.community_id == community_id,
            Staff.post == post,
            Staff.active.is_(True),
        )
        .order_by(sa.case((serves, 0), else_=1), Staff.id)
        .limit(1)
    )
    if staff_id is None:
        return None, None
    user_id = session.scalar(
        sa.select(User.id)
        .where(User.staff_id == staff_id, User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    return int(staff_id), user_id


def route_incident(
    session: Session,
    *,
    category_code: str,
    lon: float,
    lat: float,
    reported_at: dt.datetime,
    srid: int = STORAGE_SRID,
) -> Route:
    """Route a report: the grid covering the point on the report day, severity, due, handler.

    Raises :class:`OutsideGrids` (422) for a point outside every grid in effect that day.
    """
    category = get_category(session, category_code)
    day = to_shanghai(reported_at).date()
    code = grid_code_at(session, lon, lat, on=day, srid=srid)
    if code is None:
        raise OutsideGrids(
            f"位置 ({lon:.6f}, {lat:.6f}) 不在 {day} 生效的任何网格内，无法受理 / the point "
            f"({lon:.6f}, {lat:.6f}) lies outside every grid in effect on {day}: not accepted"
        )
    community_id = _community_of_grid(session, code, day)
    staff_id, user_id = _handler(session, community_id, code, category.post)
    return Route(
        community_id=community_id,
        grid_code=code,
        severity=category.severity,
        due_at=due_at(reported_at, category.severity).due.astimezone(dt.UTC),
        handler_post=category.post,
        handler_staff_id=staff_id,
        handler_user_id=user_id,
    )


def report_incident(
    session: Session,
    *,
    category_code: str,
    actor: Actor,
    description: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    address: str | None = None,
    community: str | None = None,
    reported_at: dt.datetime | str | None = None,
    reporter_name: str | None = None,
    external_id: str | None = None,
    note: str | None = None,
) -> Incident:
    """Register a report (state ``registered``, version 1, history row 1); flushed, not
    committed.

    The location is a point (``lon``/``lat`` in the storage CRS) or an ``address`` geocoded
    against the stored door plates (of ``community`` if given). Raises :class:`InputError`
    for an unknown category or no location, :class:`OutsideGrids` outside every grid, 422
    for an address that cannot be located with confidence.
    """
    if (lon is None) != (lat is None):
        raise InputError("lon 与 lat 须同时给出 / give both lon and lat")
    if lon is None:
        if not (address and address.strip()):
            raise InputError("须给出位置（坐标或地址）/ give a location: lon/lat or an address")
        lon, lat = locate_address(session, address.strip(), community)
    if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):
        raise InputError(f"坐标超出范围 / coordinates out of range: ({lon}, {lat})")
    at = aware_utc(reported_at)
    route = route_incident(
        session, category_code=category_code, lon=float(lon), lat=float(lat), reported_at=at
    )
    incident = Incident(
        community_id=route.community_id,
        external_id=external_id,
        category_code=str(category_code).strip(),
        reported_at=at,
        description=description,
        geom=to_db_geometry(shapely.Point(float(lon), float(lat))),
        grid_code=route.grid_code,
        state="registered",
        severity=route.severity,
        due_at=route.due_at,
        handler_post=route.handler_post,
        handler_staff_id=route.handler_staff_id,
        handler_user_id=route.handler_user_id,
        version=1,
        reporter_user_id=actor.user_id,
        reporter_name=reporter_name or actor.username,
        address=address,
        updated_at=at,
    )
    session.add(incident)
    session.flush()
    if incident.external_id is None:
        incident.external_id = incident_number(incident.id, at)
    session.add(new_event(incident.id, 1, None, "registered", "report", actor, at, note=note))
    record_action(
        session, actor, kind="registered", at=at, record_table="incidents",
        record_id=incident.id,
        note=f"上报事件 {incident.external_id}（{incident.category_code}）/ reported incident",
    )  # fmt: skip
    session.flush()
    return incident


def incident_number(incident_id: int, reported_at: dt.datetime) -> str:
    """The 事件编号 of an incident reported without one: ``SJ`` + the Asia/Shanghai report
    date (``YYYYMMDD``) + ``-`` + the record id zero-padded to 6 digits (unique, since the id
    is).

    >>> import datetime as dt
    >>> incident_number(42, dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC))
    'SJ20260302-000042'
    """
    day = reported_at.astimezone(SHANGHAI).date()
    return f"SJ{day:%Y%m%d}-{incident_id:06d}"


def get_incident(session: Session, incident_id: int) -> Incident:
    """The incident ``incident_id``; :class:`NotFound` (404) when there is none."""
    found = session.get(Incident, incident_id)
    if found is None:
        raise NotFound(f"事件 {incident_id} 不存在 / incident {incident_id} not found")
    return found
