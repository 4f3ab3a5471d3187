"""The monthly assessment and the dashboard.

Street departments (and admins) draw the sample points, enter department scores and the
field data (the ``wangge template field-check`` workbook, or one household as JSON);
community heads and street departments read results, download the report (XLSX/PDF) and the
dashboard data. The dashboard page is ``/app/dashboard`` (:mod:`api.routes.pages`);
``GET /dashboard`` leads there.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.db.models import Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.assessment import (
    AssessmentResultAnswer,
    CreateDrawAnswer,
    DashboardDataAnswer,
    PutDepartmentScoreAnswer,
    ScorePointAnswer,
)
from api.services.assessment import service
from api.services.dashboard import dashboard

__all__ = ["router"]

router = APIRouter(tags=["assessment"])
Assessor = Annotated[User, Depends(require_role(Role.STREET_DEPT))]
Reader = Annotated[User, Depends(require_role(Role.STREET_DEPT, Role.COMMUNITY_HEAD))]
Month = Annotated[str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class DrawIn(BaseModel):
    community: str = Field(description="社区编码或名称 / community code or name")
    month: str = Field(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
    seed: int | None = Field(default=None, ge=0)


class DeptScoreIn(BaseModel):
    community: str
    month: str = Field(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
    dept: str = Field(description="office|social_affairs|economy|urban_management|stability")
    points: float = Field(ge=0, le=8)
    reason: str = Field(min_length=1)


class HouseholdIn(BaseModel):
    """One sample point's field data (a form): house fields and the people found."""

    community: str
    month: str = Field(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
    house_key: str
    house: dict[str, Any] = Field(
        default_factory=dict, description="address, owner, floor_area_m2, house_type, use"
    )
    residents: list[dict[str, Any]] | None = Field(
        default=None, description="人口（None：未核查）/ people found (None: not checked)"
    )


@router.post("/assessment/draws", status_code=201, response_model=CreateDrawAnswer)
def create_draw(session: SessionDep, user: Assessor, now: Now, body: DrawIn) -> dict[str, Any]:
    """抽取本月样本点（一次，之后原样返回）/ Draw the month's sample points (recorded once)."""
    result = service.draw(
        session, body.community, body.month, seed=body.seed, by=user.username, now=now
    )
    session.commit()
    return result


@router.put("/assessment/department-scores", response_model=PutDepartmentScoreAnswer)
def put_department_score(
    session: SessionDep, user: Assessor, now: Now, body: DeptScoreIn
) -> dict[str, Any]:
    """录入部门评分（0–8 分及理由）/ Enter a department's score with its reason."""
    result = service.set_department_score(
        session, body.community, body.month, dept=body.dept, points=body.points,
        reason=body.reason, by=user.username, now=now,
    )  # fmt: skip
    session.commit()
    return result


@router.post("/assessment/field-data", response_model=AssessmentResultAnswer)
def upload_field_data(
    session: SessionDep,
    user: Assessor,
    now: Now,
    file: Annotated[UploadFile, File(description="实地核查表 .xlsx / field-check workbook")],
    community: Annotated[str, Form(min_length=1)],
    month: Annotated[str, Form(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")],
) -> dict[str, Any]:
    """上传实地核查表，逐项比对扣分 / Upload field data: each sample point compared and scored.

    Answers the community's month as ``GET /assessment/results`` does.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "field.xlsx"
        path.write_bytes(file.file.read())
        households = service.read_field_data(path)
    service.score_field_data(session, community, month, households, by=user.username, now=now)
    session.commit()
    return service.community_result(session, community, month)


@router.post("/assessment/points", response_model=ScorePointAnswer)
def score_point(session: SessionDep, user: Assessor, now: Now, body: HouseholdIn) -> dict:
    """录入一个样本点的实地数据并评分 / Score one sample point from a form."""
    point = service.score_household(
        session, body.community, body.month, house_key=body.house_key, house=body.house,
        residents=body.residents, by=user.username, now=now,
    )  # fmt: skip
    session.commit()
    return {
        "house_key": point.house_key,
        "address": point.address,
        "registered": point.registered,
        "score": point.points,
        "deductions": [asdict(d) for d in point.deductions],
    }


@router.get("/assessment/results", response_model=AssessmentResultAnswer)
def read_results(
    session: SessionDep, user: Reader, community: Annotated[str, Query(min_length=1)], month: Month
) -> dict[str, Any]:
    """社区本月考核：样本点、扣分明细、部门评分、总分 / A community's month in full."""
    return service.community_result(session, community, month)


@router.get("/assessment/report", response_class=Response)
def download_report(
    session: SessionDep,
    user: Reader,
    month: Month,
    format: Annotated[Literal["xlsx", "pdf"], Query()] = "xlsx",
) -> Response:
    """下载本月考核结果与排名（XLSX/PDF，身份证号和电话打码）/ Download the month's report."""
    with tempfile.TemporaryDirectory() as folder:
        path, _, _ = service.write_month_report(session, month, Path(folder) / f"r.{format}")
        content = path.read_bytes()
    filename = f"assessment-{month}.{format}"
    return Response(
        content,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/dashboard/data", response_model=DashboardDataAnswer)
def dashboard_data(session: SessionDep, user: Reader, now: Now, month: Month) -> dict[str, Any]:
    """看板数据：每个社区本月考核得分、事件按时办结率、巡查时长达标率 / Dashboard data."""
    return dashboard(session, month, now=now)


@router.get("/dashboard", include_in_schema=False, response_class=RedirectResponse)
def dashboard_redirect(request: Request) -> RedirectResponse:
    """看板已移至 /app/dashboard / The dashboard is one of the staff pages now."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/app/dashboard", status_code=308)
