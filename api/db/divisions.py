"""Divisions in time: which division of a community is in effect on a date, and replacing one.

A :class:`~api.db.models.Division` is in effect on day ``d`` when
``effective_from <= d < effective_to`` (``effective_to`` NULL = open-ended); a division with
no ``effective_from`` is a draft. :func:`put_in_effect` keeps at most one division of a
community in effect on any day: it closes the division in effect on the new start date
(``effective_to`` = that date) and refuses to start before a later division already in place,
so older divisions and their grids stay readable ("a division can be replaced without losing
history").
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Division
from gis.errors import InputError

__all__ = [
    "division_in_effect",
    "divisions_in_effect",
    "in_effect_clause",
    "in_effect_during_clause",
    "put_in_effect",
]


def in_effect_clause(day: dt.date):
    """SQL condition on :class:`Division`: in effect on ``day``."""
    return in_effect_during_clause(day, day)


def in_effect_during_clause(first: dt.date | None, last: dt.date | None):
    """SQL condition on :class:`Division`: in effect on some day from ``first`` to ``last``
    (both included; None: open-ended on that side)."""
    conditions = [Division.effective_from.is_not(None)]
    if last is not None:
        conditions.append(Division.effective_from <= last)
    if first is not None:
        conditions.append(sa.or_(Division.effective_to.is_(None), Division.effective_to > first))
    return sa.and_(*conditions)


def division_in_effect(
    session: Session, community_id: int, day: dt.date | None = None
) -> Division | None:
    """Return the division of ``community_id`` in effect on ``day`` (default today), or None.

    Should two overlap (written without :func:`put_in_effect`), the latest start wins.
    """
    day = day or dt.date.today()
    return session.scalars(
        sa.select(Division)
        .where(Division.community_id == community_id, in_effect_clause(day))
        .order_by(Division.effective_from.desc(), Division.version.desc())
        .limit(1)
    ).first()


def divisions_in_effect(session: Session, day: dt.date | None = None) -> list[Division]:
    """Return the division in effect on ``day`` (default today) of every community."""
    day = day or dt.date.today()
    rows = session.scalars(
        sa.select(Division)
        .where(in_effect_clause(day))
        .order_by(Division.community_id, Division.effective_from.desc(), Division.version.desc())
    ).all()
    seen: dict[int, Division] = {}
    for d in rows:
        seen.setdefault(d.community_id, d)
    return list(seen.values())


def put_in_effect(session: Session, division: Division, effective_from: dt.date) -> Division | None:
    """Make ``division`` take effect on ``effective_from``, closing the one it replaces.

    Returns the replaced division (its ``effective_to`` set to ``effective_from``), or None.
    Raises :class:`~gis.errors.InputError` when another division of the community starts on or
    after ``effective_from`` (history is not rewritten).
    """
    session.flush()
    later = session.scalars(
        sa.select(Division).where(
            Division.community_id == division.community_id,
            Division.id != division.id,
            Division.effective_from.is_not(None),
            Division.effective_from >= effective_from,
        )
    ).first()
    if later is not None:
        raise InputError(
            f"社区已有 {later.effective_from} 起生效的划分 {later.label!r} / the community "
            f"already has division {later.label!r} in effect from {later.effective_from}; "
            f"cannot start {division.label!r} on {effective_from}"
        )
    replaced = division_in_effect(session, division.community_id, effective_from)
    if replaced is not None and replaced.id != division.id:
        replaced.effective_to = effective_from
    else:
        replaced = None
    division.effective_from = effective_from
    division.effective_to = None
    session.flush()
    return replaced
