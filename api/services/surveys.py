"""Public-opinion surveys (民意测评) of a community or one grid, and their results.

A survey uses a questionnaire template of ``data/codes/survey_questions.csv``; every
question is answered with a satisfaction level (满意 / 基本满意 / 不满意). Answers are
anonymous: a response keeps the grid it speaks of, the answers, whether it came from the
phone page (``/survey/{id}``, no sign-in) or was entered from paper by staff (who entered
it), and when. Results (:func:`survey_results`) per grid and per worker (the pooled
responses of the grids the worker serves) give, for each question, the response count, the
favourable share (满意 + 基本满意) and its Wilson 95 % interval
(:func:`api.services.appraisal.formula.wilson_interval`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Conflict, NotFound
from api.core.timefmt import local_iso
from api.db.communities import find_community
from api.db.models import Community, Grid, Staff, StaffGrid
from api.db.models.opinion import Survey, SurveyResponse
from api.services.appraisal.formula import (
    favourable_levels,
    level_code,
    satisfaction_levels,
    survey_questions,
    wilson_interval,
)
from api.services.incidents.deadlines import to_shanghai
from gis.errors import InputError

__all__ = [
    "community_grid_codes",
    "create_survey",
    "proportion",
    "submit_response",
    "survey_form",
    "survey_results",
    "tally",
    "worker_grid_codes",
]


def community_grid_codes(session: Session, community_id: int) -> list[str]:
    """Codes of the community's grids (any division)."""
    return sorted(
        set(session.scalars(sa.select(Grid.code).where(Grid.community_id == community_id)))
    )


def worker_grid_codes(session: Session, staff_id: int) -> list[str]:
    """Grid codes a staff member serves."""
    return sorted(
        session.scalars(sa.select(StaffGrid.grid_code).where(StaffGrid.staff_id == staff_id))
    )


def _survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"问卷 {survey_id} 不存在 / survey {survey_id} not found")
    return survey


def survey_dict(session: Session, survey: Survey) -> dict[str, Any]:
    """JSON shape of a survey (without responses)."""
    community = session.get(Community, survey.community_id)
    return {
        "id": survey.id,
        "community": {"id": community.id, "code": community.code, "name": community.name},
        "grid_code": survey.grid_code,
        "template": survey.template,
        "title": survey.title,
        "opens_on": survey.opens_on.isoformat(),
        "closes_on": survey.closes_on.isoformat(),
        "active": bool(survey.active),
        "created_by": survey.created_by,
        "created_at": local_iso(survey.created_at),
    }


def create_survey(
    session: Session,
    *,
    community: str,
    template: str,
    title: str,
    opens_on: dt.date,
    closes_on: dt.date,
    grid_code: str | None = None,
    created_by: str | None = None,
) -> Survey:
    """Open a survey of ``community`` (code or name), or of one of its grids."""
    c = find_community(session, community)
    survey_questions(template)  # an unknown template is refused here
    if not (title or "").strip():
        raise InputError("请填写问卷标题 / a survey needs a title")
    if closes_on < opens_on:
        raise InputError(
            f"结束日期 {closes_on} 早于开始日期 {opens_on} / closes_on is before opens_on"
        )
    if grid_code is not None and grid_code not in community_grid_codes(session, c.id):
        raise InputError(
            f"网格 {grid_code} 不属于社区 {c.name} / grid {grid_code} is not in {c.name}"
        )
    survey = Survey(community_id=c.id, grid_code=grid_code, template=template,
                    title=title.strip(), opens_on=opens_on, closes_on=closes_on, active=True,
                    created_by=created_by)  # fmt: skip
    session.add(survey)
    session.flush()
    return survey


def _grids_of(session: Session, survey: Survey) -> list[str]:
    if survey.grid_code is not None:
        return [survey.grid_code]
    return community_grid_codes(session, survey.community_id)


def survey_form(session: Session, survey_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """What the phone page shows: title, grids to choose from, questions, answer levels and
    whether the survey is open today (Asia/Shanghai)."""
    survey = _survey(session, survey_id)
    names = dict(
        session.execute(
            sa.select(Grid.code, Grid.name).where(Grid.community_id == survey.community_id)
        ).all()
    )
    today = to_shanghai(now).date()
    return {
        **survey_dict(session, survey),
        "open": bool(survey.active) and survey.opens_on <= today <= survey.closes_on,
        "grids": [{"code": g, "name": names.get(g)} for g in _grids_of(session, survey)],
        "questions": survey_questions(survey.template),
        "levels": [{"code": c, "name_zh": v[0], "name_en": v[1]}
                   for c, v in satisfaction_levels().items()],
    }


def submit_response(
    session: Session,
    survey_id: int,
    *,
    grid_code: str | None,
    answers: Mapping[str, str],
    source: str,
    entered_by: str | None,
    now: dt.datetime,
) -> SurveyResponse:
    """Store one anonymous response. Phone answers only while the survey is open (409
    otherwise); paper sheets entered by staff also afterwards. Every answer must be a
    satisfaction level of a question of the template (the question is named otherwise)."""
    survey = _survey(session, survey_id)
    if source not in ("phone", "paper"):
        raise InputError(f"来源应为 phone 或 paper / source must be phone or paper, got {source!r}")
    today = to_shanghai(now).date()
    if source == "phone" and not (survey.active and survey.opens_on <= today <= survey.closes_on):
        raise Conflict(
            f"问卷 {survey.id} 不在填写期内（{survey.opens_on}–{survey.closes_on}）/ survey "
            f"{survey.id} is not open ({survey.opens_on} to {survey.closes_on})"
        )
    grids = _grids_of(session, survey)
    grid = grid_code or (grids[0] if len(grids) == 1 else None)
    if grid not in grids:
        raise InputError(
            f"请选择本社区的网格（{', '.join(grids)}），而非 {grid_code!r} / grid_code must be "
            f"one of the survey's grids, got {grid_code!r}"
        )
    codes = {q["code"] for q in survey_questions(survey.template)}
    clean: dict[str, str] = {}
    for question, value in (answers or {}).items():
        if question not in codes:
            raise InputError(
                f"问题 {question!r} 不在问卷中 / question {question!r} is not in the survey"
            )
        if value in (None, ""):
            continue
        clean[question] = level_code(value, what=f"问题 {question} / question {question}")
    if not clean:
        raise InputError("至少回答一个问题 / answer at least one question")
    response = SurveyResponse(survey_id=survey.id, grid_code=grid, answers=clean, source=source,
                              entered_by=entered_by if source == "paper" else None,
                              submitted_at=now)  # fmt: skip
    session.add(response)
    session.flush()
    return response


def proportion(favourable: int, n: int) -> dict[str, Any]:
    """``{"responses", "favourable", "share", "wilson_low", "wilson_high"}`` (None without
    responses); shares rounded to 4 digits."""
    interval = wilson_interval(favourable, n)
    return {
        "responses": n,
        "favourable": favourable,
        "share": round(favourable / n, 4) if n else None,
        "wilson_low": None if interval is None else round(interval[0], 4),
        "wilson_high": None if interval is None else round(interval[1], 4),
    }


def tally(answer_sets: Iterable[Mapping[str, str]], question: str) -> tuple[int, int]:
    """(favourable answers, answers) to ``question`` among ``answer_sets``."""
    good = favourable_levels()
    values = [a[question] for a in answer_sets if question in a]
    return sum(v in good for v in values), len(values)


def _block(answer_sets: list[Mapping[str, str]], questions: list[dict]) -> dict[str, Any]:
    return {
        "responses": len(answer_sets),
        "questions": {q["code"]: proportion(*tally(answer_sets, q["code"])) for q in questions},
    }


def survey_results(session: Session, survey_id: int) -> dict[str, Any]:
    """Results per grid and per worker (active staff serving the survey's grids), with
    response counts and Wilson 95 % intervals of the favourable share of each question;
    ``headline`` names the template's headline question."""
    survey = _survey(session, survey_id)
    questions = survey_questions(survey.template)
    headline = next((q["code"] for q in questions if q["headline"]), questions[0]["code"])
    rows = session.execute(
        sa.select(SurveyResponse.grid_code, SurveyResponse.answers)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.id)
    ).all()
    by_grid: dict[str, list[Mapping[str, str]]] = {g: [] for g in _grids_of(session, survey)}
    for grid, answers in rows:
        by_grid.setdefault(grid, []).append(answers)
    staff = session.execute(
        sa.select(Staff.id, Staff.name, Staff.role, StaffGrid.grid_code)
        .join(StaffGrid, StaffGrid.staff_id == Staff.id)
        .where(Staff.active.is_(True), StaffGrid.grid_code.in_(list(by_grid) or [""]))
        .order_by(Staff.id, StaffGrid.grid_code)
    ).all()
    workers: dict[int, dict[str, Any]] = {}
    for sid, name, role, grid in staff:
        w = workers.setdefault(sid, {"staff_id": sid, "name": name, "role": role, "grids": []})
        w["grids"].append(grid)
    return {
        **survey_dict(session, survey),
        "headline": headline,
        "questions": questions,
        "total": _block([a for _, a in rows], questions),
        "grids": [{"grid_code": g, **_block(a, questions)} for g, a in sorted(by_grid.items())],
        "workers": [
            {**w, **_block([a for g in w["grids"] for a in by_grid.get(g, [])], questions)}
            for w in workers.values()
        ],
    }
