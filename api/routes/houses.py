"""Houses (房屋): signed-in users read them (grid workers their own grids); grid workers,
community heads and admins write them. Lists are FeatureCollections."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response

from api.db.history import read_history
from api.db.models import House, Role, User
from api.routes.deps import CurrentUser, Now, SessionDep, require_role
from api.routes.schemas.common import Feature, FeaturePage, Listing
from api.routes.schemas.registry import HouseCreate, HouseUpdate
from api.services import crud
from api.services.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    bbox_clause,
    house_feature,
    page,
    parse_bbox,
)
from api.services.privacy import check_house_scope, grid_scope

__all__ = ["houses_query", "router"]

router = APIRouter(prefix="/houses", tags=["houses"])
Writer = Annotated[User, Depends(require_role(Role.GRID_WORKER, Role.COMMUNITY_HEAD))]
_WHAT = ("房屋", "house")


def houses_query(
    user: User, *, grid_code: str | None = None, community_id: int | None = None, bbox=None
) -> sa.Select:
    """Houses ``user`` may see, filtered."""
    query = sa.select(House)
    scope = grid_scope(user)
    if scope is not None:
        query = query.where(House.grid_code.in_(sorted(scope)))
    if grid_code is not None:
        query = query.where(House.grid_code == grid_code)
    if community_id is not None:
        query = query.where(House.community_id == community_id)
    if bbox is not None:
        query = query.where(bbox_clause(House.geom, bbox))
    return query


@router.get("", response_model=FeaturePage)
def read_houses(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    grid_code: str | None = None,
    community_id: int | None = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (lon/lat)")] = None,
    limit: Annotated[int, Query(ge=1, description=f"capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """房屋列表 / Houses as a FeatureCollection (paged by id)."""
    query = houses_query(
        user, grid_code=grid_code, community_id=community_id, bbox=parse_bbox(bbox)
    )
    return page(
        session,
        query,
        key=House.id,
        limit=limit,
        offset=offset,
        url=request.url,
        to_feature=house_feature,
    )


@router.get("/{house_id}", response_model=Feature)
def read_house(session: SessionDep, user: CurrentUser, house_id: int) -> dict[str, Any]:
    """一处房屋 / One house as a Feature."""
    house = crud.get_or_404(session, House, house_id, _WHAT)
    check_house_scope(user, house)
    return house_feature(house)


@router.get("/{house_id}/history", response_model=Listing)
def read_house_history(session: SessionDep, user: CurrentUser, house_id: int) -> dict[str, Any]:
    """房屋变更记录 / Change history of a house (who, when, old → new)."""
    house = crud.get_or_404(session, House, house_id, _WHAT)
    check_house_scope(user, house)
    rows = read_history(session, "houses", house_id)
    data = [
        {
            "at": r.at,
            "username": r.username,
            "action": r.action,
            "field": r.field,
            "old": r.old_value,
            "new": r.new_value,
        }
        for r in rows
    ]
    return {"data": data, "count": len(data)}


@router.post("", status_code=201, response_model=Feature)
def create_house(session: SessionDep, user: Writer, now: Now, body: HouseCreate) -> dict[str, Any]:
    """登记房屋 / Register a house (its grid from lon/lat in the division in effect)."""
    house = crud.create_house(session, user=user, data=body.model_dump(exclude_unset=True), now=now)
    session.commit()
    return house_feature(house)


@router.patch("/{house_id}", response_model=Feature)
def update_house(
    session: SessionDep, user: Writer, now: Now, house_id: int, body: HouseUpdate
) -> dict[str, Any]:
    """修改房屋 / Update a house."""
    house = crud.get_or_404(session, House, house_id, _WHAT)
    crud.update_house(
        session, user=user, house=house, data=body.model_dump(exclude_unset=True), now=now
    )
    session.commit()
    return house_feature(house)


@router.delete("/{house_id}", status_code=204, response_class=Response)
def delete_house(session: SessionDep, user: Writer, house_id: int) -> None:
    """删除房屋（含其居民）/ Delete a house and its residents."""
    house = crud.get_or_404(session, House, house_id, _WHAT)
    crud.delete_house(session, user=user, house=house)
    session.commit()
