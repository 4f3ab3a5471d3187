"""The monthly appraisal per worker (绩效) and its rewards and accountability records.

``GET /appraisal?community=&month=`` (JSON), ``GET /appraisal/report`` (XLSX/PDF),
``POST /appraisal/records`` and ``GET /appraisal/records`` (奖励/问责). Community heads and
street departments only (the formula: :mod:`api.services.appraisal.service`).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.db.models import Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.assessment import AddRecordAnswer, ReadAppraisalAnswer
from api.routes.schemas.common import Listing
from api.services.appraisal import service
from api.services.appraisal.report import write_appraisal

__all__ = ["router"]

router = APIRouter(prefix="/appraisal", tags=["appraisal"])
Reader = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD, Role.STREET_DEPT))]
Month = Annotated[str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Community = Annotated[str, Query(min_length=1, description="社区编码或名称 / code or name")]
_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class RecordIn(BaseModel):
    staff_id: int
    kind: Literal["reward", "accountability", "奖励", "问责"]
    reason: str = Field(min_length=1, max_length=2000)
    decided_by: str = Field(min_length=1, max_length=200, description="决定人 / decided by")
    decided_on: dt.date


@router.get("", response_model=ReadAppraisalAnswer)
def read_appraisal(
    session: SessionDep, user: Reader, now: Now, community: Community, month: Month
) -> dict[str, Any]:
    """月度绩效（每名工作人员）/ The month's appraisal of every worker of a community."""
    return service.appraise(session, community, month, now=now)


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"content": {media: {} for media in _MEDIA.values()}}},
)
def download_report(
    session: SessionDep,
    user: Reader,
    now: Now,
    community: Community,
    month: Month,
    format: Annotated[Literal["xlsx", "pdf"], Query()] = "xlsx",
) -> Response:
    """下载月度绩效（XLSX/PDF）/ Download the appraisal report."""
    result = service.appraise(session, community, month, now=now)
    with tempfile.TemporaryDirectory() as folder:
        content = write_appraisal(result, Path(folder) / f"a.{format}").read_bytes()
    filename = f"appraisal-{result['community']['code']}-{month}.{format}"
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type=_MEDIA[format],
                    headers={"Content-Disposition": disposition})  # fmt: skip


@router.post("/records", status_code=201, response_model=AddRecordAnswer)
def add_record(body: RecordIn, session: SessionDep, user: Reader) -> dict[str, Any]:
    """记录奖励或问责 / Record a reward or an accountability finding."""
    record = service.add_record(session, staff_id=body.staff_id, kind=body.kind,
                                reason=body.reason, decided_by=body.decided_by,
                                decided_on=body.decided_on, recorded_by=user.username)  # fmt: skip
    session.commit()
    return service.record_dict(session, record)


@router.get("/records", response_model=Listing)
def list_records(
    session: SessionDep,
    user: Reader,
    community: Community,
    month: Annotated[str | None, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")] = None,
) -> dict[str, Any]:
    """奖励与问责记录 / Rewards and accountability records of a community."""
    data = service.list_records(session, community, month)
    return {"data": data, "count": len(data)}
