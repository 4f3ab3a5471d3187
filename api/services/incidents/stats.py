"""Incident statistics: the daily summary per community and counts, handling time and
on-time share per grid, category or community."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Community, Incident, User
from api.services.incidents.deadlines import SHANGHAI
from api.services.incidents.timing import DUE_SOON_WITHIN, OPEN_STATES, aware_utc, utc_now
from api.services.incidents.visibility import counted_clause
from gis.errors import InputError

__all__ = ["GROUP_COLUMNS", "daily_summary", "statistics_table"]


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
    now = now or utc_now()
    query = sa.select(Incident)
    if viewer is not None:
        query = query.where(counted_clause(session, viewer))
    if start is not None:
        query = query.where(Incident.reported_at >= aware_utc(start))
    if end is not None:
        query = query.where(Incident.reported_at < aware_utc(end))
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
