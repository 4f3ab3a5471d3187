"""Work-log entries written by a worker's own actions, each signed with a name and a time.

An incident report, a step on an incident (feed back, escalate, handle...), a patrol day
credited by an uploaded GPS track, a house or resident registered or changed: each writes
one :class:`~api.db.models.assessment.WorkLog` row in the same transaction as the action,
``source`` ``auto``. The signature is the worker's real name (the linked staff record's
name, else the user name) in ``signed_name`` and the time written in ``signed_at``; ``at``
is when the work was done. Actions without a signed-in user (an Open311 report by API key,
a command-line import) write nothing: there is no worker to sign.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import pandas as pd
from sqlalchemy.orm import Session

from api.db.models import Staff, User, utc_now
from api.db.models.assessment import WORK_LOG_KINDS, WORK_LOG_SOURCES, WorkLog
from gis.errors import InputError
from gis.patrol import TIMEZONE

__all__ = ["TRANSITION_KINDS", "record_action", "signer_name", "write_entry"]

TRANSITION_KINDS = {"feed_back": "fed_back", "escalate": "escalated"}
"""Work-log kind of an incident step; every other step is ``handled`` (处置)."""


class _Acting(Protocol):
    username: str | None
    user_id: int | None
    staff_id: int | None


def signer_name(session: Session, staff_id: int | None, fallback: str) -> str:
    """The name a work-log entry is signed with: the staff record's name, else ``fallback``."""
    if staff_id is not None:
        staff = session.get(Staff, staff_id)
        if staff is not None and staff.name:
            return staff.name
    return fallback


def write_entry(
    session: Session,
    *,
    worker: str,
    user_id: int | None,
    staff_id: int | None,
    kind: str,
    at: dt.datetime,
    source: str = "auto",
    record_table: str | None = None,
    record_id: int | None = None,
    note: str | None = None,
) -> WorkLog:
    """Add one signed work-log entry (its ``date`` the Asia/Shanghai day of ``at``)."""
    if kind not in WORK_LOG_KINDS:
        raise InputError(
            f"未知的工作记录类型 / unknown work-log kind {kind!r}; allowed: "
            + ", ".join(WORK_LOG_KINDS)
        )
    if source not in WORK_LOG_SOURCES:
        raise InputError(f"未知来源 / unknown source {source!r}")
    if at.tzinfo is None:
        raise InputError("时间须带时区 / the time needs a time zone (e.g. +08:00)")
    entry = WorkLog(
        worker=worker,
        user_id=user_id,
        staff_id=staff_id,
        at=at,
        date=pd.Timestamp(at).tz_convert(TIMEZONE).date(),
        kind=kind,
        record_table=record_table,
        record_id=record_id,
        note=note,
        source=source,
        signed_name=signer_name(session, staff_id, worker),
        signed_at=utc_now(),
    )
    session.add(entry)
    return entry


def record_action(
    session: Session,
    actor: _Acting | User,
    *,
    kind: str,
    at: dt.datetime | None = None,
    record_table: str | None = None,
    record_id: int | None = None,
    note: str | None = None,
) -> WorkLog | None:
    """Write the work-log entry of an action by ``actor`` (a :class:`User` or an incident
    actor); None when no signed-in user acted."""
    user_id = actor.id if isinstance(actor, User) else actor.user_id
    if user_id is None or not actor.username:
        return None
    return write_entry(
        session,
        worker=actor.username,
        user_id=user_id,
        staff_id=actor.staff_id,
        kind=kind,
        at=at or utc_now(),
        record_table=record_table,
        record_id=record_id,
        note=note,
    )
