"""Communities (社区): list and read (signed in), create and update (planner)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from api.db.models import Community, Role, User
from api.routes.deps import CurrentUser, SessionDep, require_role
from api.routes.schemas.common import ListOf
from api.routes.schemas.divisions import CommunityCreate, CommunityPublic, CommunityUpdate
from api.services import crud

__all__ = ["router"]

router = APIRouter(prefix="/communities", tags=["communities"])
Planner = Annotated[User, Depends(require_role(Role.PLANNER))]
_WHAT = ("社区", "community")


@router.get("", response_model=ListOf[CommunityPublic])
def read_communities(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """社区列表 / List communities."""
    count = session.scalar(sa.select(sa.func.count()).select_from(Community))
    rows = session.scalars(sa.select(Community).order_by(Community.id).limit(limit).offset(offset))
    return {"data": list(rows), "count": count}


@router.get("/{community_id}", response_model=CommunityPublic)
def read_community(session: SessionDep, user: CurrentUser, community_id: int):
    """一个社区 / One community."""
    return crud.get_or_404(session, Community, community_id, _WHAT)


@router.post("", response_model=CommunityPublic, status_code=201)
def create_community(session: SessionDep, user: Planner, body: CommunityCreate):
    """新建社区 / Create a community."""
    community = crud.create_community(session, data=body.model_dump())
    session.commit()
    return community


@router.patch("/{community_id}", response_model=CommunityPublic)
def update_community(session: SessionDep, user: Planner, community_id: int, body: CommunityUpdate):
    """修改社区 / Update a community."""
    community = crud.get_or_404(session, Community, community_id, _WHAT)
    crud.update_community(session, community=community, data=body.model_dump(exclude_unset=True))
    session.commit()
    return community
