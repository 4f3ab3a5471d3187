"""The monthly appraisal per worker (绩效) of a community, with rewards and accountability.

Workers are the community's active staff (``staff.community_id``), each with the users
linked to their staff record. For a month (Asia/Shanghai) a worker's components, each 0–100:

- ``assessment``: the community's monthly assessment total
  (:func:`api.services.assessment.service.community_result`; missing until the assessment is
  complete);
- ``on_time``: the worker's incidents are the community's incidents *reported in the month*
  that the worker handles (``handler_staff_id``, or ``handler_user_id`` of a linked user) or
  reported (``reporter_user_id`` of a linked user); on time = resolved by the deadline, over
  those whose outcome is known (resolved, or open and already overdue); rejected items left
  out — the rule of :func:`api.services.incidents.stats.statistics_table`;
- ``patrol``: grid workers (staff role ``grid_worker``) only: the share of the Monday–Sunday
  weeks whose Monday is in the month and that have ended with at least 15 h inside the
  worker's grids (:func:`api.services.patrol.worker_log`);
- ``satisfaction``: the favourable share (满意 + 基本满意) of the satisfaction records
  *recorded in the month* of any incident of the worker (handled or reported);

combined by :func:`api.services.appraisal.formula.appraisal_score` with the weights of
``data/codes/appraisal_weights.csv`` (a component without data is left out and listed in
``missing``). Beside it: the headline question of the community's surveys answered in the
month about the worker's grids (count, favourable share, Wilson 95 % interval), and the
worker's rewards (奖励) and accountability records (问责) decided in the month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.core.timefmt import local_iso
from api.db.communities import find_community
from api.db.models import Community, Incident, Staff, User
from api.db.models.opinion import (
    APPRAISAL_RECORD_KINDS,
    AppraisalRecord,
    Satisfaction,
    Survey,
    SurveyResponse,
)
from api.services.appraisal.formula import (
    COMPONENTS,
    appraisal_score,
    check_weights,
    favourable_levels,
    read_weights,
    survey_questions,
)
from api.services.assessment.sample import check_month
from api.services.incidents.deadlines import SHANGHAI, to_shanghai
from api.services.surveys import proportion, tally, worker_grid_codes
from gis.errors import InputError

__all__ = [
    "RECORD_KINDS_ZH",
    "add_record",
    "appraise",
    "community_summary",
    "list_records",
    "month_window",
    "record_dict",
]

RECORD_KINDS_ZH = {"reward": "奖励", "accountability": "问责"}
_OPEN = ("registered", "fed_back", "in_progress", "escalated", "received")


def month_window(month: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of ``month`` (YYYY-MM) in Asia/Shanghai, as aware datetimes."""
    month = check_month(month)
    year, mon = (int(p) for p in month.split("-"))
    start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def record_dict(session: Session, record: AppraisalRecord) -> dict[str, Any]:
    """JSON shape of a reward / accountability record."""
    staff = session.get(Staff, record.staff_id)
    return {
        "id": record.id,
        "staff_id": record.staff_id,
        "staff_name": None if staff is None else staff.name,
        "kind": record.kind,
        "kind_zh": RECORD_KINDS_ZH[record.kind],
        "reason": record.reason,
        "decided_by": record.decided_by,
        "decided_on": record.decided_on.isoformat(),
        "recorded_by": record.recorded_by,
        "recorded_at": local_iso(record.recorded_at),
    }


def add_record(
    session: Session,
    *,
    staff_id: int,
    kind: str,
    reason: str,
    decided_by: str,
    decided_on: dt.date,
    recorded_by: str | None,
) -> AppraisalRecord:
    """Record a reward (``reward``, 奖励) or accountability (``accountability``, 问责)."""
    kind = {"奖励": "reward", "问责": "accountability"}.get(kind, kind)
    if kind not in APPRAISAL_RECORD_KINDS:
        raise InputError(
            f"类型应为 奖励(reward) 或 问责(accountability)，实为 {kind!r} / kind must be "
            f"reward or accountability, got {kind!r}"
        )
    if session.get(Staff, staff_id) is None:
        raise NotFound(f"工作人员 {staff_id} 不存在 / staff member {staff_id} not found")
    for name, value in (("reason 原因", reason), ("decided_by 决定人", decided_by)):
        if not (value or "").strip():
            raise InputError(f"请填写 {name} / {name.split()[0]} is required")
    record = AppraisalRecord(staff_id=staff_id, kind=kind, reason=reason.strip(),
                             decided_by=decided_by.strip(), decided_on=decided_on,
                             recorded_by=recorded_by)  # fmt: skip
    session.add(record)
    session.flush()
    return record


def list_records(session: Session, community: str | int, month: str | None = None) -> list[dict]:
    """Rewards and accountability records of the community's staff (of ``month`` if given)."""
    c = find_community(session, community)
    query = (
        sa.select(AppraisalRecord)
        .join(Staff, Staff.id == AppraisalRecord.staff_id)
        .where(Staff.community_id == c.id)
        .order_by(AppraisalRecord.decided_on, AppraisalRecord.id)
    )
    if month is not None:
        start, end = month_window(month)
        query = query.where(
            AppraisalRecord.decided_on >= start.date(), AppraisalRecord.decided_on < end.date()
        )
    return [record_dict(session, r) for r in session.scalars(query)]


def _mine(staff_id: int, users: list[int]):
    clauses = [Incident.handler_staff_id == staff_id]
    if users:
        clauses += [Incident.handler_user_id.in_(users), Incident.reporter_user_id.in_(users)]
    return sa.or_(*clauses)


def _on_time(session: Session, c: Community, staff_id: int, users: list[int],
             start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict[str, Any]:  # fmt: skip
    rows = session.scalars(
        sa.select(Incident).where(
            Incident.community_id == c.id,
            Incident.reported_at >= start,
            Incident.reported_at < end,
            _mine(staff_id, users),
        )
    ).all()
    resolved = [r for r in rows if r.resolved_at is not None]
    overdue = [r for r in rows if r.state in _OPEN and r.due_at is not None and r.due_at < now]
    on_time = sum(r.due_at is not None and r.resolved_at <= r.due_at for r in resolved)
    known = len(resolved) + len(overdue)
    return {"incidents": len(rows), "outcome_known": known, "on_time": on_time,
            "share": on_time / known if known else None}  # fmt: skip


def _satisfaction(session: Session, c: Community, staff_id: int, users: list[int],
                  start: dt.datetime, end: dt.datetime) -> dict[str, Any]:  # fmt: skip
    levels = session.scalars(
        sa.select(Satisfaction.level)
        .join(Incident, Incident.id == Satisfaction.incident_id)
        .where(
            Incident.community_id == c.id,
            Satisfaction.recorded_at >= start,
            Satisfaction.recorded_at < end,
            _mine(staff_id, users),
        )
    ).all()
    good = sum(level in favourable_levels() for level in levels)
    return {"ratings": len(levels), "favourable": good,
            "share": good / len(levels) if levels else None}  # fmt: skip


def _patrol(session: Session, staff: Staff, users: list[int], grids: list[str],
            month: str, today: dt.date) -> dict[str, Any] | None:  # fmt: skip
    if staff.role != "grid_worker":
        return None  # the 15-hour rule binds grid workers
    from api.services.patrol import Worker, worker_log

    start, end = month_window(month)
    mondays = [
        d for d in (start.date() + dt.timedelta(days=k) for k in range((end - start).days))
        if d.weekday() == 0 and d + dt.timedelta(days=6) < today
    ]  # fmt: skip
    if not mondays:
        return {"weeks": 0, "compliant_weeks": 0, "share": None}
    worker = Worker(staff.name, users[0] if users else None, staff.id, tuple(grids))
    log = worker_log(session, worker, start=mondays[0], end=mondays[-1] + dt.timedelta(days=6))
    weeks = {dt.date.fromisoformat(str(w["week_start"])): w for w in log["weeks"]}
    compliant = sum(not weeks[m]["under_15h"] for m in mondays if m in weeks)
    return {"weeks": len(mondays), "compliant_weeks": compliant,
            "share": compliant / len(mondays)}  # fmt: skip


def _survey_answers(session: Session, c: Community, start: dt.datetime,
                    end: dt.datetime) -> list[tuple[str, dict, str]]:  # fmt: skip
    """(grid, answers, headline question) of the community's survey responses in the month."""
    rows = session.execute(
        sa.select(SurveyResponse.grid_code, SurveyResponse.answers, Survey.template)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(
            Survey.community_id == c.id,
            SurveyResponse.submitted_at >= start,
            SurveyResponse.submitted_at < end,
        )
    ).all()
    headlines: dict[str, str] = {}
    out = []
    for grid, answers, template in rows:
        if template not in headlines:
            questions = survey_questions(template)
            headlines[template] = next(
                (str(q["code"]) for q in questions if q["headline"]), str(questions[0]["code"])
            )
        out.append((grid, answers, headlines[template]))
    return out


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100.0 * share, 2)


def appraise(
    session: Session,
    community: str | int,
    month: str,
    *,
    now: dt.datetime,
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The month's appraisal of every active staff member of ``community`` (code or name).

    Returns ``{"community", "month", "weights", "assessment": {"total", "complete",
    "missing"}, "workers": [{"staff_id", "name", "role", "staff_no", "grids", "components",
    "details", "score", "missing", "survey", "rewards", "accountability"}]}`` ordered by
    score (highest first, workers without a score last), then name.
    """
    from api.services.assessment.service import community_result

    month = check_month(month)
    weights = check_weights(weights) if weights is not None else read_weights()
    c = find_community(session, community)
    start, end = month_window(month)
    today = to_shanghai(now).date()
    assessment = community_result(session, c.id, month)
    survey_rows = _survey_answers(session, c, start, end)
    staff_rows = session.scalars(
        sa.select(Staff)
        .where(Staff.community_id == c.id, Staff.active.is_(True))
        .order_by(Staff.id)
    ).all()
    records = list_records(session, c.id, month)
    workers = []
    for staff in staff_rows:
        users = sorted(session.scalars(sa.select(User.id).where(User.staff_id == staff.id)))
        grids = worker_grid_codes(session, staff.id)
        on_time = _on_time(session, c, staff.id, users, start, end, now)
        satisfaction = _satisfaction(session, c, staff.id, users, start, end)
        patrol = _patrol(session, staff, users, grids, month, today)
        components = {
            "assessment": assessment["total"],
            "on_time": _percent(on_time["share"]),
            "patrol": None if patrol is None else _percent(patrol["share"]),
            "satisfaction": _percent(satisfaction["share"]),
        }
        score = appraisal_score(components, weights)
        headline = [a for g, a, _ in survey_rows if g in grids]
        questions = {q for g, _, q in survey_rows if g in grids}
        good = n = 0
        for q in questions:
            k, m = tally([a for g, a, hq in survey_rows if g in grids and hq == q], q)
            good, n = good + k, n + m
        mine = [r for r in records if r["staff_id"] == staff.id]
        workers.append(
            {
                "staff_id": staff.id,
                "name": staff.name,
                "role": staff.role,
                "staff_no": staff.staff_no,
                "grids": grids,
                "components": components,
                "details": {"on_time": on_time, "satisfaction": satisfaction, "patrol": patrol},
                "score": None if score is None else round(score, 2),
                "missing": [k for k in COMPONENTS if components[k] is None],
                "survey": {**proportion(good, n), "sheets": len(headline)},
                "rewards": [r for r in mine if r["kind"] == "reward"],
                "accountability": [r for r in mine if r["kind"] == "accountability"],
            }
        )
    workers.sort(key=lambda w: (w["score"] is None, -(w["score"] or 0), w["name"]))
    return {
        "community": {"id": c.id, "code": c.code, "name": c.name},
        "month": month,
        "weights": weights,
        "assessment": {
            "total": assessment["total"],
            "complete": assessment["complete"],
            "missing": assessment["missing"],
        },
        "workers": workers,
    }


def community_summary(session: Session, community_id: int, month: str, *,
                      now: dt.datetime) -> dict[str, Any]:  # fmt: skip
    """The dashboard's view of a community's appraisal: workers appraised, mean score, and
    each worker's name, score and survey result."""
    result = appraise(session, community_id, month, now=now)
    scores = [w["score"] for w in result["workers"] if w["score"] is not None]
    return {
        "weights": result["weights"],
        "workers": len(result["workers"]),
        "appraised": len(scores),
        "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        "rows": [
            {"staff_id": w["staff_id"], "name": w["name"], "role": w["role"],
             "score": w["score"], "missing": w["missing"], "survey": w["survey"],
             "rewards": len(w["rewards"]), "accountability": len(w["accountability"])}
            for w in result["workers"]
        ],
    }
