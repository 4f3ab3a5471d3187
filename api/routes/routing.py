"""Posts, street departments and routing rules (admin writes, signed-in users read), and the
open incidents of a staff member for reassignment (community heads).

See :mod:`api.services.incidents.routing`. A deployment is configured from scratch through these:
``POST /posts``, ``POST /departments``, ``PUT /departments/{code}/members``,
``POST /staff {..., "post": ..., "department": ...}``, ``PUT /routing/categories/{code}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.db.models import Role, Staff, User
from api.routes.deps import CurrentUser, Now, SessionDep, require_role
from api.routes.schemas.common import Listing
from api.routes.schemas.incidents import (
    CreatePostAnswer,
    DepartmentAnswer,
    ReadOpenIncidentsAnswer,
    RoutingRowsAnswer,
    WriteCategoryRuleAnswer,
)
from api.services.crud import get_or_404
from api.services.incidents import routing
from api.services.incidents.views import incident_dict

__all__ = ["router"]

router = APIRouter(tags=["routing"])
Admin = Annotated[User, Depends(require_role())]
Head = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostIn(_In):
    name: str = Field(..., min_length=1, max_length=32, description="岗位名称 / post name")
    code: str | None = Field(None, max_length=32)
    description: str | None = Field(None, max_length=500)


class DepartmentIn(_In):
    code: str = Field(..., min_length=1, max_length=32, description="部门编码 / code")
    name: str = Field(..., min_length=1, max_length=100, description="部门名称 / name")
    street_code: str | None = Field(None, description="街道编码（9 位）/ 9-digit street code")
    staff_ids: list[int] = Field(default_factory=list, description="成员 / members (staff ids)")


class MembersIn(_In):
    staff_ids: list[int]


class RuleIn(_In):
    """A category's routing: handling post, public or not, escalation department (a key left
    out keeps its value; an empty department removes the rule)."""

    post: str | None = None
    public: bool | None = None
    department_code: str | None = None


class RuleRow(RuleIn):
    category_code: str


def _post(p) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "code": p.code, "description": p.description}


@router.get("/posts", response_model=Listing)
def read_posts(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """岗位列表 / Posts."""
    rows = [_post(p) for p in routing.list_posts(session)]
    return {"data": rows, "count": len(rows)}


@router.post("/posts", status_code=201, response_model=CreatePostAnswer)
def create_post(session: SessionDep, user: Admin, body: PostIn) -> dict[str, Any]:
    """新增岗位 / Add a post."""
    post = routing.create_post(session, **body.model_dump())
    session.commit()
    return _post(post)


@router.get("/departments", response_model=Listing)
def read_departments(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """街道部门及成员 / The street's departments with their members."""
    rows = [routing.department_dict(session, d) for d in routing.list_departments(session)]
    return {"data": rows, "count": len(rows)}


@router.post("/departments", status_code=201, response_model=DepartmentAnswer)
def create_department(session: SessionDep, user: Admin, body: DepartmentIn) -> dict[str, Any]:
    """新增街道部门 / Add a street department (with its members)."""
    department = routing.create_department(
        session, code=body.code, name=body.name, street_code=body.street_code
    )
    routing.set_members(session, department, body.staff_ids)
    session.commit()
    return routing.department_dict(session, department)


@router.put("/departments/{code}/members", response_model=DepartmentAnswer)
def set_department_members(
    code: str, session: SessionDep, user: Admin, body: MembersIn
) -> dict[str, Any]:
    """设置部门成员 / Set a department's members (exactly these staff)."""
    department = routing.department_by_code(session, code)
    routing.set_members(session, department, body.staff_ids)
    session.commit()
    return routing.department_dict(session, department)


@router.get("/routing", response_model=Listing)
def read_routing(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """路由规则 / Routing rules: per category its post, public flag, escalation department."""
    rows = routing.routing_rows(session)
    return {"data": rows, "count": len(rows)}


@router.put("/routing", response_model=RoutingRowsAnswer)
def write_routing(session: SessionDep, user: Admin, body: list[RuleRow]) -> dict[str, Any]:
    """批量修改路由规则 / Change routing rules (all rows checked first; all or nothing)."""
    applied = routing.apply_routing_rows(session, [r.model_dump(exclude_unset=True) for r in body])
    session.commit()
    return {"applied": applied, "data": routing.routing_rows(session)}


@router.put("/routing/categories/{code}", response_model=WriteCategoryRuleAnswer)
def write_category_rule(code: str, session: SessionDep, user: Admin, body: RuleIn):
    """修改一个类别的路由 / Change one category's post, public flag or escalation department."""
    routing.apply_routing_rows(
        session, [{"category_code": code, **body.model_dump(exclude_unset=True)}]
    )
    session.commit()
    return next(r for r in routing.routing_rows(session) if r["category_code"] == code)


@router.get("/staff/{staff_id}/open-incidents", response_model=ReadOpenIncidentsAnswer)
def read_open_incidents(staff_id: int, session: SessionDep, user: Head, now: Now):
    """待改派事件 / Open incidents a staff member handles (to reassign when they leave)."""
    staff = get_or_404(session, Staff, staff_id, ("工作人员", "staff member"))
    rows = [incident_dict(i, now=now) for i in routing.open_incidents_of(session, staff_id)]
    return {"staff_id": staff.id, "active": staff.active, "data": rows, "count": len(rows)}
