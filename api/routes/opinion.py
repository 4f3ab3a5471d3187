"""Satisfaction with handled incidents and public-opinion surveys (民意测评).

Staff record a call-back (``POST /incidents/{id}/satisfaction``) or issue a one-time link
(``POST /incidents/{id}/satisfaction/link``; the feedback slip prints one too). The link's
page ``/rate/{token}`` needs no sign-in, shows only the incident's public facts
(``GET /rate/{token}/facts``) and takes one rating (``POST /rate/{token}``; a second is 409).
Surveys: opened by the community head or street department (``POST /surveys``), answered
anonymously on the phone page ``/survey/{id}`` (``GET /surveys/{id}/form``,
``POST /surveys/{id}/responses``) or entered from paper by staff
(``POST /surveys/{id}/paper-responses``); results per grid and per worker with Wilson 95 %
intervals (``GET /surveys/{id}/results``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.core.config import get_settings
from api.core.errors import Forbidden, NotFound
from api.db.communities import find_community
from api.db.models import Incident, Role, Staff, User
from api.db.models.opinion import Survey
from api.routes.deps import CurrentUser, Now, SessionDep, require_role
from api.routes.schemas.common import Listing
from api.routes.schemas.opinion import (
    AnswerSurveyAnswer,
    EnterPaperResponseAnswer,
    RateAnswer,
    RatingFactsAnswer,
    RatingLinkAnswer,
    SatisfactionAnswer,
    SurveyAnswer,
    SurveyFormAnswer,
    SurveyResultsAnswer,
)
from api.services import surveys
from api.services.incidents import satisfaction as sat
from api.services.incidents.visibility import check_visible
from maps.assets import STATIC_DIR

__all__ = ["router"]

router = APIRouter(tags=["opinion"])
CallBacker = Annotated[
    User,
    Depends(require_role(Role.GRID_WORKER, Role.POST_STAFF, Role.COMMUNITY_HEAD,
                         Role.STREET_DEPT)),
]  # fmt: skip
Organiser = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD, Role.STREET_DEPT))]
_PAGES = STATIC_DIR / "opinion"


class CallbackIn(BaseModel):
    level: str = Field(description="satisfied|basic|dissatisfied（满意/基本满意/不满意）")
    note: str | None = Field(default=None, max_length=2000)
    called_by: str | None = Field(
        default=None, max_length=64, description="回访人（默认当前用户）/ who called"
    )
    called_at: dt.datetime | None = Field(
        default=None, description="回访时间（带时区，默认现在）/ when (default now)"
    )


class RatingIn(BaseModel):
    level: str = Field(description="satisfied|basic|dissatisfied（满意/基本满意/不满意）")
    note: str | None = Field(default=None, max_length=500)


def _in_full(session, incident_id: int, user: User) -> None:
    """Only those who read the incident in full record or read its satisfaction (404 if it
    is not theirs to see, 403 if they see only its public view)."""
    incident = session.get(Incident, incident_id)
    if incident is None or not check_visible(session, user, incident):
        raise (NotFound if incident is None else Forbidden)(
            f"无权处理事件 {incident_id} 的满意度 / incident {incident_id} is not yours to rate"
            if incident is not None
            else f"事件 {incident_id} 不存在 / incident {incident_id} not found"
        )


def _name(session, user: User) -> str:
    staff = session.get(Staff, user.staff_id) if user.staff_id is not None else None
    return staff.name if staff is not None else user.username


@router.post(
    "/incidents/{incident_id}/satisfaction", status_code=201, response_model=SatisfactionAnswer
)
def record_callback(
    incident_id: int, body: CallbackIn, session: SessionDep, user: CallBacker, now: Now
) -> dict[str, Any]:
    """满意度回访 / Record a staff call-back of a handled incident (once per incident)."""
    _in_full(session, incident_id, user)
    record = sat.record_callback(
        session, incident_id, level=body.level, note=body.note,
        called_by=body.called_by or _name(session, user), called_at=body.called_at or now,
        recorded_by=user.username, now=now,
    )  # fmt: skip
    session.commit()
    return sat.satisfaction_dict(record)


@router.get("/incidents/{incident_id}/satisfaction", response_model=SatisfactionAnswer)
def read_satisfaction(incident_id: int, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """事件满意度 / The satisfaction record of an incident (404 until rated)."""
    _in_full(session, incident_id, user)
    record = sat.satisfaction_of(session, incident_id)
    if record is None:
        raise NotFound(f"事件 {incident_id} 尚无满意度记录 / incident {incident_id} not rated")
    return sat.satisfaction_dict(record)


@router.post(
    "/incidents/{incident_id}/satisfaction/link", status_code=201, response_model=RatingLinkAnswer
)
def issue_link(incident_id: int, session: SessionDep, user: CallBacker, now: Now) -> dict:
    """生成一次性评价链接（只显示一次）/ Issue a one-time rating link (shown once)."""
    _in_full(session, incident_id, user)
    token = sat.issue_link(session, incident_id, issued_by=user.username, now=now)
    session.commit()
    base = get_settings().public_url
    return {"incident_id": incident_id, "token": token, "path": f"/rate/{token}",
            "url": sat.rating_url(base, token) if base else None}  # fmt: skip


def _page(name: str) -> HTMLResponse:
    # the token is in the address: never sent on as a referrer, never cached
    headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return HTMLResponse((_PAGES / name).read_text(encoding="utf-8"), headers=headers)


@router.get("/rate/{token}", response_class=HTMLResponse, include_in_schema=False)
def rating_page(token: str) -> HTMLResponse:
    """The resident's rating page (its script reads the facts and posts the rating)."""
    return _page("rate.html")


@router.get("/rate/{token}/facts", response_model=RatingFactsAnswer)
def rating_facts(token: str, session: SessionDep) -> dict[str, Any]:
    """评价链接对应事件的公开信息 / The public facts of the link's incident."""
    return sat.link_facts(session, token)


@router.post("/rate/{token}", status_code=201, response_model=RateAnswer)
def rate(token: str, body: RatingIn, session: SessionDep, now: Now) -> dict[str, Any]:
    """群众评价（每个事件一次）/ The resident's rating (one per incident; again: 409)."""
    record = sat.rate_by_token(session, token, level=body.level, note=body.note, now=now)
    session.commit()
    return {"incident_id": record.incident_id, "level": record.level,
            "level_zh": sat.satisfaction_dict(record)["level_zh"],
            "message": "感谢您的评价 / thank you for your rating"}  # fmt: skip


# --------------------------------------------------------------------------- surveys


class SurveyIn(BaseModel):
    community: str = Field(description="社区编码或名称 / community code or name")
    template: str = Field(default="grid_service", description="问卷模板 / questionnaire template")
    title: str = Field(min_length=1, max_length=200)
    opens_on: dt.date
    closes_on: dt.date
    grid_code: str | None = Field(default=None, description="只测评一个网格时 / one grid only")


class ResponseIn(BaseModel):
    grid_code: str | None = Field(default=None, description="所评网格 / the grid answered for")
    answers: dict[str, str] = Field(description="{问题代码: 满意/基本满意/不满意}")


@router.post("/surveys", status_code=201, response_model=SurveyAnswer)
def create_survey(body: SurveyIn, session: SessionDep, user: Organiser) -> dict[str, Any]:
    """发起民意测评 / Open a public-opinion survey of a community or grid."""
    survey = surveys.create_survey(session, community=body.community, template=body.template,
                                   title=body.title, opens_on=body.opens_on,
                                   closes_on=body.closes_on, grid_code=body.grid_code,
                                   created_by=user.username)  # fmt: skip
    session.commit()
    return surveys.survey_dict(session, survey)


@router.get("/surveys", response_model=Listing)
def list_surveys(
    session: SessionDep, user: CurrentUser, community: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    """民意测评列表 / Surveys (of one community if given)."""
    query = sa.select(Survey).order_by(Survey.id)
    if community:
        query = query.where(Survey.community_id == find_community(session, community).id)
    data = [surveys.survey_dict(session, s) for s in session.scalars(query)]
    return {"data": data, "count": len(data)}


@router.get("/surveys/{survey_id}/form", response_model=SurveyFormAnswer)
def survey_form(survey_id: int, session: SessionDep, now: Now) -> dict[str, Any]:
    """问卷（无需登录）/ The questionnaire as the phone page shows it (no sign-in)."""
    return surveys.survey_form(session, survey_id, now=now)


@router.post("/surveys/{survey_id}/responses", status_code=201, response_model=AnswerSurveyAnswer)
def answer_survey(survey_id: int, body: ResponseIn, session: SessionDep, now: Now) -> dict:
    """匿名填写问卷（无需登录）/ Answer anonymously on the phone page (while open)."""
    response = surveys.submit_response(session, survey_id, grid_code=body.grid_code,
                                       answers=body.answers, source="phone", entered_by=None,
                                       now=now)  # fmt: skip
    session.commit()
    return {"id": response.id, "grid_code": response.grid_code,
            "message": "感谢参与 / thank you"}  # fmt: skip


@router.post(
    "/surveys/{survey_id}/paper-responses", status_code=201, response_model=EnterPaperResponseAnswer
)
def enter_paper_response(
    survey_id: int, body: ResponseIn, session: SessionDep, user: CallBacker, now: Now
) -> dict[str, Any]:
    """录入纸质问卷 / Enter a paper answer sheet (who entered it is recorded)."""
    response = surveys.submit_response(session, survey_id, grid_code=body.grid_code,
                                       answers=body.answers, source="paper",
                                       entered_by=user.username, now=now)  # fmt: skip
    session.commit()
    return {"id": response.id, "grid_code": response.grid_code, "entered_by": user.username}


@router.get("/surveys/{survey_id}/results", response_model=SurveyResultsAnswer)
def survey_results(survey_id: int, session: SessionDep, user: Organiser) -> dict[str, Any]:
    """测评结果：按网格、按工作人员，含份数与 Wilson 95% 区间 / Results per grid and worker."""
    return surveys.survey_results(session, survey_id)


@router.get("/survey/{survey_id}", response_class=HTMLResponse, include_in_schema=False)
def survey_page(survey_id: int) -> HTMLResponse:
    """The phone page of a survey (no sign-in)."""
    return _page("survey.html")
