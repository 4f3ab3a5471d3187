"""The dashboard: per community and month, the assessment total, the on-time share of its
incidents, patrol compliance and the appraisal per worker.

It reads four domains (assessment, incidents, patrol, appraisal), so it lives beside them,
not inside one of them: the domains do not import each other for it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.models import Community, utc_now
from api.services.appraisal.service import community_summary
from api.services.assessment.sample import check_month
from api.services.assessment.service import community_score
from api.services.patrol import community_compliance

__all__ = ["dashboard"]


def _on_time_share(session: Session, community_id: int, month: str, now: dt.datetime):
    try:
        from api.services.incidents.stats import statistics_table
    except ImportError:  # the incident workflow is not installed
        return None
    year, mon = (int(p) for p in month.split("-"))
    start = pd.Timestamp(dt.datetime(year, mon, 1), tz="Asia/Shanghai")
    end = start + pd.offsets.MonthBegin(1)
    rows = statistics_table(
        session,
        viewer=None,  # the dashboard's route admits only roles that read every incident
        by=("community",),
        start=start.to_pydatetime(),
        end=end.to_pydatetime(),
        community_id=community_id,
        now=now,
    )
    return rows[0]["on_time_share"] if rows else None


def dashboard(session: Session, month: str, *, now: dt.datetime | None = None) -> dict:
    """Per community for ``month``: assessment total, on-time incident share, patrol compliance.

    ``score`` is None until the month's assessment is complete; ``on_time_share`` is the share
    of incidents reported in the month (Asia/Shanghai) handled by their deadline among those
    whose outcome is known (:func:`api.services.incidents.stats.statistics_table`), None without
    any; ``patrol_compliance`` the share of grid-worker weeks with at least 15 h inside the
    grids (:func:`api.services.patrol.community_compliance`), None without any ended week;
    ``appraisal`` the month's appraisal per worker
    (:func:`api.services.appraisal.service.community_summary`).
    """
    month = check_month(month)
    now = now or utc_now()
    today = pd.Timestamp(now).tz_convert("Asia/Shanghai").date()
    rows = []
    for c in session.scalars(sa.select(Community).order_by(Community.code)):
        score, missing = community_score(session, c, month)
        patrol = community_compliance(session, c.id, month, today=today)
        rows.append(
            {
                "community": {"id": c.id, "code": c.code, "name": c.name},
                "score": None if score is None else score.total,
                "score_missing": missing,
                "on_time_share": _on_time_share(session, c.id, month, now),
                "patrol_compliance": patrol["share"],
                "patrol": patrol,
                "appraisal": community_summary(session, c.id, month, now=now),
            }
        )
    return {"month": month, "communities": rows}
