"""Incidents in the database: report, route, transitions with optimistic locking, inboxes,
overdue and due-soon lists, a daily summary and statistics.

Routing
-------
The grid is the one covering the point in the division in effect on the day of the report
(Asia/Shanghai; :func:`api.db.dialect.grid_code_at`); a point outside every grid is refused
(:class:`OutsideGrids`, HTTP 422). The category (table ``incident_categories``, loaded by the
migrations) gives the severity, the deadline (:func:`api.services.incidents.deadlines.due_at`) and
the
handling post (an admin changes it: :mod:`api.services.incidents.routing`). The handler is the
active staff member of the grid's community holding that ``post`` — one serving the grid if
several do, else the lowest id — and the active user linked to that staff record, if any.
With no such person the item is accepted anyway; it has no handler (``unassigned``, with a
warning: :func:`routing_warnings`) and shows in the community head's inbox.

Escalations name their target (role, street department by the category's escalation rule or
by code, or one user); only that target signs receipt (:func:`_check_receiver`).

Visibility
----------
:func:`full_view_clause` says who reads which incidents in full (managers all, post staff
their items, grid workers their grids and reports); other staff see the public view of
public categories (:func:`public_dict`, :mod:`api.services.incidents.publication`).

Users and communities
---------------------
A user belongs to the community of their staff record (``users.staff_id`` →
``staff.community_id``), else to the communities of the grids they serve (``user_grids``; a
grid code starts with its 12-digit community code). A street department user with a staff
record sees the escalations of their community's street; without one, all escalations to
street departments.

Transitions and concurrency
---------------------------
:func:`transition` reads the incident, checks the move with the pure state machine
(:func:`api.services.incidents.workflow.apply_transition`) and writes it with a conditional
``UPDATE incidents SET state=…, version=version+1 WHERE id=:id AND version=:read``; no row
updated means someone else moved the item first: :class:`ConcurrentChange` (HTTP 409). The
history row (``seq`` = the new version, unique per incident) is inserted in the same
transaction, so every committed version has exactly one history row and no step is lost.
The function ends the session's read transaction before the UPDATE: on SQLite (WAL) a
transaction that has read cannot take the write lock after another writer committed, while
one that starts with the UPDATE waits for the lock (``busy_timeout``) and then sees the
newest row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import statistics
from dataclasses import dataclass
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from api.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.core.timefmt import local_iso
from api.db.dialect import grid_code_at
from api.db.divisions import divisions_in_effect
from api.db.models import (
    STORAGE_SRID,
    Community,
    Grid,
    Incident,
    Role,
    Staff,
    StaffGrid,
    User,
    UserGrid,
    from_db_geometry,
    to_db_geometry,
)
from api.db.models.incidents import ApiKey, IncidentCategory, IncidentEvent, IncidentPhoto
from api.services.geocoding import locate_address
from api.services.incidents.deadlines import SHANGHAI, due_at, to_shanghai
from api.services.incidents.publication import PublicText, is_public, public_clause
from api.services.incidents.workflow import (
    FINAL_STATES,
    IllegalTransition,
    RoleNotAllowed,
    allowed_actions,
    apply_transition,
    open311_status,
)
from api.services.worklog import TRANSITION_KINDS, record_action
from gis.errors import InputError

__all__ = [
    "DUE_SOON_WITHIN",
    "ESCALATION_TARGETS",
    "GROUP_COLUMNS",
    "Actor",
    "ConcurrentChange",
    "EscalationTarget",
    "OutsideGrids",
    "actor_of",
    "check_visible",
    "counted_clause",
    "create_api_key",
    "daily_summary",
    "due_soon_items",
    "find_api_key",
    "find_user",
    "full_view_clause",
    "get_category",
    "history",
    "inbox",
    "incident_dict",
    "list_categories",
    "overdue_items",
    "people_of",
    "public_dict",
    "report_incident",
    "route_incident",
    "routing_warnings",
    "sees_in_full",
    "statistics_table",
    "transition",
    "user_communities",
    "visible_clause",
]

DUE_SOON_WITHIN = dt.timedelta(hours=24)
ESCALATION_TARGETS = ("community_head", "street_dept")
OPEN_STATES = ("registered", "fed_back", "in_progress", "escalated", "received")


class OutsideGrids(Unprocessable):
    """The point of a report lies outside every grid in effect (HTTP 422)."""


class ConcurrentChange(Conflict):
    """Someone else changed the incident between the read and the write (HTTP 409)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id, username, role, staff id) or a named system/channel actor."""

    role: str
    username: str | None = None
    user_id: int | None = None
    staff_id: int | None = None


def actor_of(user: User) -> Actor:
    """The :class:`Actor` of a signed-in user."""
    return Actor(role=user.role, username=user.username, user_id=user.id, staff_id=user.staff_id)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | str | None, default: dt.datetime | None = None) -> dt.datetime:
    """A timezone-aware time (naive or text read as Asia/Shanghai), in UTC."""
    if value is None:
        return default or _utc_now()
    return to_shanghai(value).astimezone(dt.UTC)


# --------------------------------------------------------------------------- categories


def list_categories(session: Session) -> list[IncidentCategory]:
    """All categories (top level first within each code range), ordered by code."""
    return list(session.scalars(sa.select(IncidentCategory).order_by(IncidentCategory.code)))


def get_category(session: Session, code: str) -> IncidentCategory:
    """The category ``code``; :class:`InputError` (422) naming a few known codes otherwise."""
    found = session.get(IncidentCategory, str(code).strip())
    if found is None:
        known = [c.code for c in list_categories(session) if c.parent][:8]
        raise InputError(
            f"未知事件类别 {code!r}（例如：{', '.join(known)}）/ unknown incident category "
            f"{code!r} (e.g. {', '.join(known)})"
        )
    return found


# --------------------------------------------------------------------------- routing


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


# --------------------------------------------------------------------------- report


def _event(
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
    at = _aware(reported_at)
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
    session.add(_event(incident.id, 1, None, "registered", "report", actor, at, note=note))
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


# --------------------------------------------------------------------------- transitions


def _community_ids_of_user(session: Session, user_id: int | None, staff_id: int | None) -> set:
    ids: set[int] = set()
    if staff_id is not None:
        cid = session.scalar(sa.select(Staff.community_id).where(Staff.id == staff_id))
        if cid is not None:
            ids.add(int(cid))
    if not ids and user_id is not None:
        codes = session.scalars(sa.select(UserGrid.grid_code).where(UserGrid.user_id == user_id))
        prefixes = {c[:12] for c in codes}
        if prefixes:
            ids |= set(session.scalars(sa.select(Community.id).where(Community.code.in_(prefixes))))
    return ids


def user_communities(session: Session, user: User) -> set[int]:
    """The communities a user belongs to (staff record, else grids served; see module doc)."""
    return _community_ids_of_user(session, user.id, user.staff_id)


def _check_scope(session: Session, incident: Incident, actor: Actor) -> None:
    """403 when the actor's role fits the step but the item is not theirs."""
    if actor.role == Role.ADMIN or actor.user_id is None:
        return
    if actor.role == Role.POST_STAFF:
        mine = actor.staff_id is not None and actor.staff_id == incident.handler_staff_id
        mine = mine or (actor.user_id is not None and actor.user_id == incident.handler_user_id)
        if not mine:
            raise Forbidden(
                f"事件 {incident.id} 不由您承办 / incident {incident.id} is not handled by you"
            )
    elif actor.role == Role.GRID_WORKER and actor.user_id != incident.reporter_user_id:
        grids = session.scalars(
            sa.select(UserGrid.grid_code).where(UserGrid.user_id == actor.user_id)
        )
        if incident.grid_code not in set(grids):
            raise Forbidden(
                f"事件 {incident.id} 不在您负责的网格 / incident {incident.id} is not in your grids"
            )
    elif actor.role == Role.COMMUNITY_HEAD and incident.community_id not in (
        _community_ids_of_user(session, actor.user_id, actor.staff_id)
    ):
        raise Forbidden(
            f"事件 {incident.id} 不属于您的社区 / incident {incident.id} is not in your community"
        )


def _changes(
    session: Session,
    incident: Incident,
    action: str,
    new_state: str,
    at: dt.datetime,
    target: EscalationTarget,
) -> dict[str, Any]:
    values: dict[str, Any] = {"state": new_state, "updated_at": at}
    if action == "escalate":
        values.update(_escalation(session, incident, target))
    if new_state == "resolved":
        values["resolved_at"] = at
    if new_state in FINAL_STATES:
        values["closed_at"] = at
    return values


@dataclass(frozen=True)
class EscalationTarget:
    """Where an escalation goes: ``to`` (``community_head`` or ``street_dept``; default
    community head from the post, street from a community head), a department code (street;
    default from the escalation rules of the category) or one user by name."""

    to: str | None = None
    department: str | None = None
    user: str | None = None


def _escalation(session: Session, incident: Incident, target: EscalationTarget) -> dict:
    from api.services.incidents.routing import department_by_code, department_for

    to = target.to
    if to is None:
        to = "street_dept" if (incident.state == "received" or target.department) else None
        to = to or "community_head"
    if to not in ESCALATION_TARGETS:
        raise InputError(
            f"上报对象应为 community_head 或 street_dept，实为 {to!r} / escalate to "
            f"community_head or street_dept, got {to!r}"
        )
    department_id = user_id = None
    if target.department:
        if to != "street_dept":
            raise InputError("上报部门仅用于 street_dept / a department goes with street_dept")
        department_id = department_by_code(session, target.department, field="department").id
    elif to == "street_dept":
        found = department_for(session, incident.category_code)
        department_id = None if found is None else found.id
    if target.user:
        named = find_user(session, target.user)
        if not named.active or named.role not in (to, Role.ADMIN):
            raise InputError(
                f"{target.user} 不是在岗的{to} / {target.user} is not an active {to} user"
            )
        user_id = named.id
    return {"escalated_to": to, "escalated_department_id": department_id,
            "escalated_user_id": user_id}  # fmt: skip


def _check_receiver(session: Session, incident: Incident, actor: Actor, action: str) -> None:
    """After an escalation only its target signs, resolves or rejects it: the named user,
    else a member of the named department, else the role escalated to (403 with a reason)."""
    if incident.state not in ("escalated", "received") or actor.role == Role.ADMIN:
        return
    if action == "escalate":  # a community head passing it on to the street
        return
    if incident.escalated_user_id is not None:
        if actor.user_id != incident.escalated_user_id:
            named = session.get(User, incident.escalated_user_id)
            who = named.username if named is not None else incident.escalated_user_id
            raise Forbidden(
                f"事件 {incident.id} 上报给 {who}，须由其本人签收办理 / incident {incident.id} "
                f"was escalated to {who}: only they may {action} it"
            )
        return
    if actor.role != incident.escalated_to:
        raise Forbidden(
            f"事件 {incident.id} 上报给 {incident.escalated_to}，{actor.role} 不能{action} / "
            f"incident {incident.id} was escalated to {incident.escalated_to}: a {actor.role} "
            f"may not {action} it"
        )
    if incident.escalated_department_id is None:
        return
    from api.db.models.incidents import Department

    department = session.get(Department, incident.escalated_department_id)
    mine = None
    if actor.staff_id is not None:
        mine = session.scalar(sa.select(Staff.department_id).where(Staff.id == actor.staff_id))
    if mine != incident.escalated_department_id:
        name = f"{department.name}（{department.code}）" if department else "?"
        raise Forbidden(
            f"事件 {incident.id} 上报至 {name}，您不是该部门成员，不能{action} / incident "
            f"{incident.id} was escalated to department {name}; you are not a member of it",
            errors=[{"department": department.code if department else None}],
        )


def transition(
    session: Session,
    incident_id: int,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
    reason: str | None = None,
    to: str | None = None,
    department: str | None = None,
    to_user: str | None = None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Incident:
    """Take ``action`` on incident ``incident_id`` as ``actor`` and commit; return it fresh.

    ``to`` is the escalation target (``community_head``, default from the post, or
    ``street_dept``, default from a community head), ``department`` a street department's
    code (default: the escalation rule of the category), ``to_user`` one named user; after
    an escalation only its target may receive, resolve or reject it (see
    :func:`_check_receiver`). ``expected_version`` (optional) is the
    version the caller last saw. Commits the session's pending work first (see the module
    doc), then the change and its history row in one transaction.

    Raises
    ------
    NotFound
        No such incident.
    IllegalTransition, RoleNotAllowed, ReasonRequired
        From the state machine (409, 403, 422).
    Forbidden
        The role fits but the item is not the actor's (another post's item, another
        community).
    ConcurrentChange
        The incident changed since it was read (or since ``expected_version``): 409.
    """
    session.commit()
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(f"事件 {incident_id} 不存在 / incident {incident_id} not found")
    read_version, old_state = incident.version, incident.state
    if expected_version is not None and expected_version != read_version:
        raise ConcurrentChange(
            f"事件 {incident_id} 已被修改（当前版本 {read_version}，您的版本 "
            f"{expected_version}）/ incident {incident_id} has changed (version {read_version}, "
            f"you had {expected_version})"
        )
    try:
        new_state = apply_transition(old_state, action, actor.role, note=note, reason=reason)
    except IllegalTransition as exc:
        raise Conflict(str(exc), errors=[{"allowed_actions": exc.allowed}]) from exc
    except RoleNotAllowed as exc:
        raise Forbidden(str(exc), errors=[{"roles": exc.roles}]) from exc
    _check_scope(session, incident, actor)
    _check_receiver(session, incident, actor, action)
    when = _aware(at)
    target = EscalationTarget(to=to, department=department, user=to_user)
    values = _changes(session, incident, action, new_state, when, target)
    session.commit()  # end the read transaction: the UPDATE below opens the write one
    table = Incident.__table__
    try:
        updated = session.execute(
            sa.update(table)
            .where(table.c.id == incident_id, table.c.version == read_version)
            .values(version=table.c.version + 1, **values)
        ).rowcount
        if updated != 1:
            session.rollback()
            raise ConcurrentChange(
                f"事件 {incident_id} 已被他人修改（{old_state} → ?），请刷新后重试 / incident "
                f"{incident_id} was changed by someone else first (it was {old_state}); "
                "reload and retry"
            )
        session.add(
            _event(
                incident_id,
                read_version + 1,
                old_state,
                new_state,
                action,
                actor,
                when,
                note=note,
                reason=reason,
            )
        )
        record_action(
            session, actor, kind=TRANSITION_KINDS.get(action, "handled"), at=when,
            record_table="incidents", record_id=incident_id,
            note=f"事件 {incident.external_id or incident_id}: {action} → {new_state}",
        )  # fmt: skip
        session.commit()
    except (IntegrityError, OperationalError) as exc:
        session.rollback()
        if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
            raise
        raise ConcurrentChange(
            f"事件 {incident_id} 正被他人修改，请重试 / incident {incident_id} is being changed "
            "by someone else; retry"
        ) from exc
    return session.get(Incident, incident_id, populate_existing=True)


def history(session: Session, incident_id: int) -> list[IncidentEvent]:
    """The history of an incident, in order."""
    return list(
        session.scalars(
            sa.select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.seq)
        )
    )


# --------------------------------------------------------------------------- presentation


_iso = local_iso


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
    now = now or _utc_now()
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
        "reported_at": _iso(incident.reported_at),
        "due_at": _iso(incident.due_at),
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
        "updated_at": _iso(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "closed_at": _iso(incident.closed_at),
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
        "at": _iso(event.at),
        "note": event.note,
        "reason": event.reason,
    }


def _role_name(role: str) -> str:
    from api.services.incidents.workflow import ROLES

    return ROLES.get(role, (role, role))[0]


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


# --------------------------------------------------------------------------- visibility

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
        "reported_at": _iso(incident.reported_at),
        "due_at": _iso(incident.due_at),
        "updated_at": _iso(incident.updated_at),
        "resolved_at": _iso(incident.resolved_at),
        "closed_at": _iso(incident.closed_at),
        "public_view": True,
    }


# --------------------------------------------------------------------------- inboxes


def find_user(session: Session, username: str) -> User:
    """The user called ``username``; :class:`NotFound` otherwise."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username!r} 不存在 / user {username!r} not found")
    return user


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
    now = now or _utc_now()
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
    now = now or _utc_now()
    return list(session.scalars(_open_query(community_id).where(Incident.due_at < now)))


def due_soon_items(
    session: Session,
    *,
    now: dt.datetime | None = None,
    within: dt.timedelta = DUE_SOON_WITHIN,
    community_id: int | None = None,
) -> list[Incident]:
    """Open items not yet overdue but due within ``within`` of ``now``."""
    now = now or _utc_now()
    query = _open_query(community_id).where(Incident.due_at >= now, Incident.due_at <= now + within)
    return list(session.scalars(query))


def daily_summary(
    session: Session, day: dt.date, *, viewer: User | None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Per community, for ``day`` (Asia/Shanghai): reported, resolved, and at the day's end
    (or ``now`` if earlier) open, overdue and due-soon counts, and open items by state.

    Only incidents counted for ``viewer`` (:func:`counted_clause`; None: all)."""
    start = dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.UTC)
    end = start + dt.timedelta(days=1)
    moment = min(now or end, end)
    counted = counted_clause(session, viewer)
    out = []
    for community in session.scalars(sa.select(Community).order_by(Community.code)):
        rows = session.scalars(
            sa.select(Incident).where(
                Incident.community_id == community.id, Incident.reported_at < end, counted
            )
        ).all()
        open_rows = [r for r in rows if _state_at(r, moment)]
        by_state: dict[str, int] = {}
        for r in open_rows:
            by_state[r.state] = by_state.get(r.state, 0) + 1
        out.append(
            {
                "community_code": community.code,
                "community_name": community.name,
                "day": day.isoformat(),
                "reported": sum(start <= r.reported_at < end for r in rows),
                "resolved": sum(
                    r.resolved_at is not None and start <= r.resolved_at < end for r in rows
                ),
                "open": len(open_rows),
                "overdue": sum(r.due_at is not None and r.due_at < moment for r in open_rows),
                "due_soon": sum(
                    r.due_at is not None and moment <= r.due_at <= moment + DUE_SOON_WITHIN
                    for r in open_rows
                ),
                "open_by_state": by_state,
            }
        )
    return out


def _state_at(incident: Incident, moment: dt.datetime) -> bool:
    """Was the item open at ``moment``? (reported before, not yet resolved/closed)."""
    ended = incident.resolved_at or incident.closed_at
    return incident.reported_at <= moment and (ended is None or ended > moment)


# --------------------------------------------------------------------------- statistics

GROUP_COLUMNS = {"grid": "grid_code", "category": "category_code", "community": "community_id"}
_GROUPS = GROUP_COLUMNS


def statistics_table(
    session: Session,
    *,
    viewer: User | None,
    by: tuple[str, ...] = ("grid",),
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    community_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Counts, median handling time and on-time share per group of ``by`` (grid, category,
    community) for items reported in ``[start, end)``. Each row names its group by column
    (``grid_code``, ``category_code``, ``community_id``).

    - ``count``: items reported; ``open``, ``resolved`` (resolved or closed after resolution),
      ``rejected``, ``overdue_open`` (open and past due at ``now``);
    - ``median_handling_hours``: median of resolved time − report time over resolved items;
    - ``on_time_share``: items resolved by their deadline ÷ items whose outcome on time is
      known (resolved, or open and already overdue); None when there are none. Rejected
      items are left out.

    Only incidents counted for ``viewer`` (:func:`counted_clause`; None: all).
    """
    unknown = [b for b in by if b not in _GROUPS]
    if unknown or not by:
        raise InputError(
            f"分组应为 {', '.join(_GROUPS)}，实为 {list(by)} / group by one or more of "
            f"{', '.join(_GROUPS)}, got {list(by)}"
        )
    now = now or _utc_now()
    query = sa.select(Incident)
    if viewer is not None:
        query = query.where(counted_clause(session, viewer))
    if start is not None:
        query = query.where(Incident.reported_at >= _aware(start))
    if end is not None:
        query = query.where(Incident.reported_at < _aware(end))
    if community_id is not None:
        query = query.where(Incident.community_id == community_id)
    groups: dict[tuple, list[Incident]] = {}
    for r in session.scalars(query):
        groups.setdefault(tuple(getattr(r, _GROUPS[b]) for b in by), []).append(r)
    out = []
    for key in sorted(groups, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        rows = groups[key]
        resolved = [r for r in rows if r.resolved_at is not None]
        hours = [(r.resolved_at - r.reported_at).total_seconds() / 3600 for r in resolved]
        overdue_open = [
            r for r in rows if r.state in OPEN_STATES and r.due_at is not None and r.due_at < now
        ]
        on_time = [r for r in resolved if r.due_at is not None and r.resolved_at <= r.due_at]
        known = len(resolved) + len(overdue_open)
        out.append(
            {
                **{_GROUPS[b]: v for b, v in zip(by, key, strict=True)},
                "count": len(rows),
                "open": sum(r.state in OPEN_STATES for r in rows),
                "resolved": len(resolved),
                "rejected": sum(r.state == "rejected" for r in rows),
                "overdue_open": len(overdue_open),
                "median_handling_hours": statistics.median(hours) if hours else None,
                "on_time_share": len(on_time) / known if known else None,
            }
        )
    return out


# --------------------------------------------------------------------------- API keys


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(session: Session, name: str) -> str:
    """Store a new Open311 API key called ``name`` (its SHA-256 only); return the key."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise InputError("密钥名称须为 1–64 个字符 / a key name has 1-64 characters")
    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"密钥名称 {name!r} 已存在 / a key named {name!r} exists")
    key = secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=_hash_key(key), active=True))
    session.flush()
    return key


def find_api_key(session: Session, key: str | None) -> ApiKey | None:
    """The active key record of ``key``, or None."""
    if not key:
        return None
    found = session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == _hash_key(key)))
    return found if found is not None and found.active else None
