"""Satisfaction with handled incidents: staff call-backs and residents' one-time links.

Every resolved or closed incident (办结/结案) can get exactly one satisfaction record
(:class:`api.db.models.opinion.Satisfaction`, unique per incident):

- :func:`record_callback` — staff called the resident back: level, note, who called, when;
- :func:`issue_link` — a one-time link ``{WANGGE_PUBLIC_URL}/rate/<token>`` (printed on the
  feedback slip as text and QR code). Only the SHA-256 of the token is stored; issuing a
  new link replaces an unused one (the old token stops working);
- :func:`link_facts` / :func:`rate_by_token` — what the link shows without sign-in (only the
  incident's public facts: category, status, dates and, for a public category, the redacted
  description, :mod:`api.services.incidents.publication`) and the resident's rating. A second rating
  of the incident, by link or call-back, is refused with :class:`~api.core.errors.Conflict`
  (HTTP 409).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import Conflict, NotFound
from api.core.timefmt import local_iso
from api.db.models import Incident
from api.db.models.incidents import IncidentCategory
from api.db.models.opinion import Satisfaction, SatisfactionLink
from api.services.appraisal.formula import level_code, satisfaction_levels
from api.services.incidents.publication import PublicText, is_public
from api.services.incidents.workflow import STATES
from gis.errors import InputError

__all__ = [
    "RATEABLE_STATES",
    "issue_link",
    "link_facts",
    "rate_by_token",
    "rating_url",
    "record_callback",
    "satisfaction_dict",
    "satisfaction_of",
]

RATEABLE_STATES = ("resolved", "closed")
_ALREADY = "该事件已评价，每个事件只能评价一次 / this incident has already been rated (one rating per incident)"  # noqa: E501


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def satisfaction_of(session: Session, incident_id: int) -> Satisfaction | None:
    """The satisfaction record of an incident, if any."""
    return session.scalar(sa.select(Satisfaction).where(Satisfaction.incident_id == incident_id))


def satisfaction_dict(record: Satisfaction) -> dict[str, Any]:
    """JSON shape of a satisfaction record."""
    name_zh = satisfaction_levels().get(record.level, (record.level,))[0]
    return {
        "incident_id": record.incident_id,
        "level": record.level,
        "level_zh": name_zh,
        "note": record.note,
        "source": record.source,
        "called_by": record.called_by,
        "called_at": local_iso(record.called_at),
        "recorded_by": record.recorded_by,
        "recorded_at": local_iso(record.recorded_at),
    }


def _check_rateable(session: Session, incident: Incident) -> None:
    if incident.state not in RATEABLE_STATES:
        state = STATES.get(incident.state, (incident.state,))[0]
        raise Conflict(
            f"事件 {incident.id} 尚未办结（{state}），不能评价满意度 / incident {incident.id} is "
            f"{incident.state}; only resolved or closed incidents are rated"
        )
    if satisfaction_of(session, incident.id) is not None:
        raise Conflict(_ALREADY)


def _store(session: Session, record: Satisfaction) -> Satisfaction:
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # a concurrent rating of the same incident won
        raise Conflict(_ALREADY) from None
    return record


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"事件 {incident_id} 不存在 / incident {incident_id} not found")
    return incident


def record_callback(
    session: Session,
    incident_id: int,
    *,
    level: str,
    note: str | None,
    called_by: str,
    called_at: dt.datetime,
    recorded_by: str | None,
    now: dt.datetime,
) -> Satisfaction:
    """Record a staff call-back of ``incident_id`` (409 if it is not handled or already rated)."""
    if not (called_by or "").strip():
        raise InputError("请填写回访人 / called_by (who called) is required")
    if called_at.tzinfo is None:
        raise InputError("回访时间缺少时区 / called_at needs a time zone")
    incident = _incident(session, incident_id)
    _check_rateable(session, incident)
    return _store(
        session,
        Satisfaction(
            incident_id=incident.id,
            level=level_code(level),
            note=(note or "").strip() or None,
            source="callback",
            called_by=called_by.strip(),
            called_at=called_at,
            recorded_by=recorded_by,
            recorded_at=now,
        ),
    )


def rating_url(public_url: str, token: str) -> str:
    """The address of the rating page of ``token`` under ``public_url``."""
    return f"{public_url.rstrip('/')}/rate/{token}"


def issue_link(session: Session, incident_id: int, *, issued_by: str | None,
               now: dt.datetime) -> str:  # fmt: skip
    """A new one-time rating token of ``incident_id`` (its hash stored; an earlier unused
    token no longer works). 409 if the incident is not handled or already rated."""
    incident = _incident(session, incident_id)
    _check_rateable(session, incident)
    session.execute(sa.delete(SatisfactionLink).where(SatisfactionLink.incident_id == incident.id))
    token = secrets.token_urlsafe(24)
    session.add(SatisfactionLink(incident_id=incident.id, token_hash=_hash(token),
                                 issued_by=issued_by, issued_at=now))  # fmt: skip
    session.flush()
    return token


def _link(session: Session, token: str) -> SatisfactionLink:
    link = session.scalar(
        sa.select(SatisfactionLink).where(SatisfactionLink.token_hash == _hash(token or ""))
    )
    if link is None:
        raise NotFound("评价链接无效或已被替换 / this rating link is unknown or was replaced")
    return link


def link_facts(session: Session, token: str) -> dict[str, Any]:
    """The public facts of the incident of ``token``: category, status, dates, and the
    redacted description when the category is public; whether it can still be rated."""
    link = _link(session, token)
    incident = _incident(session, link.incident_id)
    category = session.get(IncidentCategory, incident.category_code)
    public = is_public(session, incident)
    rated = satisfaction_of(session, incident.id) is not None
    return {
        "incident_id": incident.id,
        "category_code": incident.category_code,
        "category_zh": None if category is None else category.name_zh,
        "state": incident.state,
        "state_zh": STATES.get(incident.state, (incident.state,))[0],
        "reported_at": local_iso(incident.reported_at),
        "resolved_at": local_iso(incident.resolved_at),
        "closed_at": local_iso(incident.closed_at),
        "description": PublicText(session)(incident, incident.description) if public else None,
        "rated": rated,
        "levels": [{"code": c, "name_zh": v[0], "name_en": v[1]}
                   for c, v in satisfaction_levels().items()],
    }


def rate_by_token(
    session: Session, token: str, *, level: str, note: str | None, now: dt.datetime
) -> Satisfaction:
    """The resident's rating through the link ``token`` (409 on a second rating)."""
    link = _link(session, token)
    incident = _incident(session, link.incident_id)
    if link.used_at is not None:
        raise Conflict(_ALREADY)
    _check_rateable(session, incident)
    record = _store(
        session,
        Satisfaction(
            incident_id=incident.id,
            level=level_code(level),
            note=(note or "").strip()[:500] or None,
            source="resident",
            recorded_at=now,
        ),
    )
    link.used_at = now
    session.flush()
    return record
