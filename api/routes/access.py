"""Access requests (查阅申请) to unmasked resident data, their approval, and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from api.db.models import AuditLog, User
from api.routes.deps import CurrentUser, Now, SessionDep, require_role
from api.routes.schemas.access import (
    AccessDecision,
    AccessRequestCreate,
    AccessRequestPublic,
    AuditPublic,
)
from api.routes.schemas.common import ListOf
from api.services import privacy
from api.services.incidents.deadlines import SHANGHAI

__all__ = ["router"]

router = APIRouter(tags=["access"])
# separation of duties: the administrator (accounts) neither approves nor reads the audit
Approver = Annotated[User, Depends(require_role(*privacy.APPROVERS, admin=False))]
AuditReader = Annotated[User, Depends(require_role(*privacy.AUDIT_READERS, admin=False))]


@router.post("/access-requests", response_model=AccessRequestPublic, status_code=201)
def create_access_request(
    session: SessionDep, user: CurrentUser, now: Now, body: AccessRequestCreate
):
    """申请查阅完整居民信息 / Request unmasked access to a resident, house or grid."""
    request = privacy.request_access(session, user=user, now=now, **body.model_dump())
    session.commit()
    return request


@router.get("/access-requests", response_model=ListOf[AccessRequestPublic])
def read_access_requests(
    session: SessionDep,
    user: CurrentUser,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """查阅申请（审批人看全部，其他人看自己的）/ Access requests (approvers: all; else own)."""
    rows, count = privacy.list_access_requests(
        session, user=user, status=status, limit=limit, offset=offset
    )
    return {"data": rows, "count": count}


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequestPublic)
def approve_access_request(
    session: SessionDep,
    approver: Approver,
    now: Now,
    request_id: int,
    body: AccessDecision | None = None,
):
    """批准（限时）/ Approve a request, valid for ``valid_hours``."""
    body = body or AccessDecision()
    request = privacy.decide_access(
        session,
        approver=approver,
        request_id=request_id,
        approve=True,
        valid_hours=body.valid_hours,
        note=body.note,
        now=now,
    )
    session.commit()
    return request


@router.post("/access-requests/{request_id}/reject", response_model=AccessRequestPublic)
def reject_access_request(
    session: SessionDep,
    approver: Approver,
    now: Now,
    request_id: int,
    body: AccessDecision | None = None,
):
    """驳回 / Reject a request."""
    request = privacy.decide_access(
        session,
        approver=approver,
        request_id=request_id,
        approve=False,
        note=None if body is None else body.note,
        now=now,
    )
    session.commit()
    return request


@router.get("/audit", response_model=ListOf[AuditPublic])
def read_audit_log(
    session: SessionDep,
    user: AuditReader,
    action: str | None = None,
    table_name: str | None = None,
    record_id: int | None = None,
    username: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """审计日志（只增不改）/ The append-only audit log (auditor, admin).

    ``username`` is the name recorded with the row (exact); ``start`` and ``end`` are
    Asia/Shanghai dates, both included; ``order=desc`` gives the newest first (by time, then
    id), the default the order written (by id).
    """
    query = sa.select(AuditLog)
    for column, value in (
        (AuditLog.action, action),
        (AuditLog.table_name, table_name),
        (AuditLog.record_id, record_id),
        (AuditLog.username, username),
    ):
        if value is not None:
            query = query.where(column == value)
    if start is not None:
        query = query.where(AuditLog.at >= dt.datetime.combine(start, dt.time(), SHANGHAI))
    if end is not None and end < dt.date.max:
        day_after = end + dt.timedelta(days=1)
        query = query.where(AuditLog.at < dt.datetime.combine(day_after, dt.time(), SHANGHAI))
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    newest_first = (AuditLog.at.desc(), AuditLog.id.desc())
    query = query.order_by(*(newest_first if order == "desc" else (AuditLog.id,)))
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    return {"data": rows, "count": count}
