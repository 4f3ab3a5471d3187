"""Staff (网格员、四位一体团队): signed-in users read; community heads and admins write.

A staff member's photo is public (``GET /staff/{id}/photo``, for notice boards and the public
page): the file named by ``photo_path`` in the staff photo folder, only of active staff.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response

from api.core.errors import NotFound
from api.db.models import Role, Staff, StaffGrid, User
from api.routes.deps import CurrentUser, SessionDep, require_role
from api.routes.schemas.common import ListOf
from api.routes.schemas.registry import StaffCreate, StaffPublic, StaffUpdate
from api.services import crud
from api.services.staff_photos import resolve_staff_photo

__all__ = ["router"]

router = APIRouter(prefix="/staff", tags=["staff"])
Writer = Annotated[User, Depends(require_role(Role.COMMUNITY_HEAD))]
_WHAT = ("工作人员", "staff member")


@router.get("", response_model=ListOf[StaffPublic])
def read_staff_list(
    session: SessionDep,
    user: CurrentUser,
    grid_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """工作人员列表 / Staff (optionally of one grid)."""
    query = sa.select(Staff)
    if grid_code is not None:
        query = query.join(StaffGrid).where(StaffGrid.grid_code == grid_code)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Staff.id).limit(limit).offset(offset)).all()
    return {"data": rows, "count": count}


@router.get("/{staff_id}", response_model=StaffPublic)
def read_staff(session: SessionDep, user: CurrentUser, staff_id: int):
    """一位工作人员 / One staff member."""
    return crud.get_or_404(session, Staff, staff_id, _WHAT)


@router.get(
    "/{staff_id}/photo",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in ("image/jpeg", "image/png", "image/webp")}}},
)
def read_staff_photo(request: Request, session: SessionDep, staff_id: int) -> FileResponse:
    """工作人员照片（公开，公示牌与公开页面用）/ A staff member's photo (public: notice boards
    and the public page). Only for active staff with a photo in the staff photo folder
    (``WANGGE_STAFF_PHOTO_DIR``); 404 otherwise."""
    staff = session.get(Staff, staff_id)
    found = None
    if staff is not None and staff.active:
        found = resolve_staff_photo(request.app.state.staff_photo_dir, staff.photo_path)
    if found is None:
        raise NotFound(f"工作人员 {staff_id} 没有照片 / no photo of staff member {staff_id}")
    path, media_type = found
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.post("", response_model=StaffPublic, status_code=201)
def create_staff(session: SessionDep, user: Writer, body: StaffCreate):
    """新增工作人员 / Add a staff member."""
    staff = crud.create_staff(session, data=body.model_dump(exclude_unset=True))
    session.commit()
    return staff


@router.patch("/{staff_id}", response_model=StaffPublic)
def update_staff(session: SessionDep, user: Writer, staff_id: int, body: StaffUpdate):
    """修改工作人员 / Update a staff member."""
    staff = crud.get_or_404(session, Staff, staff_id, _WHAT)
    crud.update_staff(session, staff=staff, data=body.model_dump(exclude_unset=True))
    session.commit()
    return staff


@router.delete("/{staff_id}", status_code=204, response_class=Response)
def delete_staff(session: SessionDep, user: Writer, staff_id: int) -> None:
    """删除工作人员 / Delete a staff member."""
    crud.delete_staff(session, staff=crud.get_or_404(session, Staff, staff_id, _WHAT))
    session.commit()
