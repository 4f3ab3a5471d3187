"""Move an incident through the workflow: scope, escalation targets, receipt, optimistic locking.

Escalations name their target (role, street department by the category's escalation rule or
by code, or one user); only that target signs receipt (:func:`_check_receiver`).

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
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from api.core.errors import Conflict, Forbidden, NotFound
from api.db.models import Incident, Role, Staff, User, UserGrid
from api.services.incidents.events import new_event
from api.services.incidents.people import Actor, community_ids_of_user, find_user
from api.services.incidents.timing import aware_utc
from api.services.incidents.workflow import (
    FINAL_STATES,
    IllegalTransition,
    RoleNotAllowed,
    apply_transition,
)
from api.services.worklog import TRANSITION_KINDS, record_action
from gis.errors import InputError

__all__ = ["ESCALATION_TARGETS", "ConcurrentChange", "EscalationTarget", "transition"]


ESCALATION_TARGETS = ("community_head", "street_dept")


class ConcurrentChange(Conflict):
    """Someone else changed the incident between the read and the write (HTTP 409)."""


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
        community_ids_of_user(session, actor.user_id, actor.staff_id)
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
    when = aware_utc(at)
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
            new_event(
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
