"""Users (admin only): list, create, update (role, grids, password, deactivate)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from api.core.errors import Forbidden
from api.db.models import Role, User
from api.routes.deps import SessionDep, require_role
from api.routes.schemas.common import ListOf
from api.routes.schemas.users import UserCreate, UserPublic, UserUpdate
from api.services import crud
from api.services.privacy import audit

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]


@router.get("", response_model=ListOf[UserPublic])
def read_users(
    session: SessionDep,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """用户列表 / Users."""
    count = session.scalar(sa.select(sa.func.count()).select_from(User))
    rows = session.scalars(sa.select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return {"data": rows, "count": count}


@router.post("", response_model=UserPublic, status_code=201)
def create_user(session: SessionDep, admin: Admin, body: UserCreate):
    """新建用户 / Create a user."""
    user = crud.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        grid_codes=body.grid_codes,
        staff_id=body.staff_id,
    )
    audit(
        session,
        user=admin,
        action="user_create",
        table_name="users",
        record_id=user.id,
        detail={"username": user.username, "role": user.role},
    )
    session.commit()
    return user


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(session: SessionDep, admin: Admin, user_id: int, body: UserUpdate):
    """修改用户 / Update a user."""
    user = crud.get_or_404(session, User, user_id, ("用户", "user"))
    data = body.model_dump(exclude_unset=True)
    if user.id == admin.id and data.get("role", user.role) != user.role:
        # separation of duties: the account manager cannot hand himself the auditor's or an
        # approver's role
        raise Forbidden("不能修改自己的角色 / you may not change your own role")
    crud.update_user(session, user=user, data=data)
    changed = sorted(k for k in data if k != "password") + (
        ["password"] if "password" in data else []
    )
    audit(
        session,
        user=admin,
        action="user_update",
        table_name="users",
        record_id=user.id,
        detail={"fields": changed},
    )
    session.commit()
    return user
