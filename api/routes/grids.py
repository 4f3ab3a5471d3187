"""Grids (网格): public list, read and locate; planners rename and set household counts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.db.divisions import in_effect_clause, in_effect_during_clause
from api.db.models import Community, Division, Grid, Role, User
from api.routes.deps import Now, SessionDep, require_role
from api.routes.schemas.common import Feature, FeaturePage
from api.routes.schemas.divisions import GridUpdate, LocateResult
from api.services import crud
from api.services.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    bbox_clause,
    grid_feature,
    page,
    parse_bbox,
)
from api.services.locate import GridLocator, to_storage_lonlat

__all__ = ["grids_query", "router"]

router = APIRouter(prefix="/grids", tags=["grids"])
Planner = Annotated[User, Depends(require_role(Role.PLANNER))]
CRS_NAMES = "wgs84|cgcs2000|gcj02|bd09"


def grids_query(
    day: dt.date,
    *,
    community_id: int | None = None,
    bbox=None,
    during: tuple[dt.date | None, dt.date | None] | None = None,
) -> sa.Select:
    """Grids of the divisions in effect on ``day`` (with division and community); given
    ``during`` (first, last day; None open-ended), of those in effect on any day of it."""
    in_effect = in_effect_clause(day) if during is None else in_effect_during_clause(*during)
    query = (
        sa.select(Grid, Division, Community)
        .join(Division, Grid.division_id == Division.id)
        .join(Community, Grid.community_id == Community.id)
        .where(in_effect)
    )
    if community_id is not None:
        query = query.where(Grid.community_id == community_id)
    if bbox is not None:
        query = query.where(bbox_clause(Grid.geom, bbox))
    return query


@router.get("", response_model=FeaturePage)
def read_grids(
    request: Request,
    session: SessionDep,
    now: Now,
    community_id: int | None = None,
    date: Annotated[dt.date | None, Query(description="YYYY-MM-DD, default today")] = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (lon/lat)")] = None,
    limit: Annotated[int, Query(ge=1, description=f"capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """网格（公开）/ Grids of the divisions in effect on a date, as a FeatureCollection."""
    query = grids_query(date or now.date(), community_id=community_id, bbox=parse_bbox(bbox))
    return page(
        session,
        query,
        key=Grid.id,
        limit=limit,
        offset=offset,
        url=request.url,
        to_feature=grid_feature,
    )


@router.get("/locate", response_model=LocateResult)
async def grid_at_point(
    request: Request,
    now: Now,
    lon: Annotated[float, Query(ge=-180, le=180, description="经度 / longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="纬度 / latitude")],
    crs: Annotated[str, Query(description=CRS_NAMES)] = "wgs84",
    date: Annotated[dt.date | None, Query(description="YYYY-MM-DD, default today")] = None,
) -> Any:
    """点落在哪个网格（公开）/ Which grid owns a point (same rule as gis.assign).

    Answered from memory (:class:`api.services.locate.GridLocator`); the database is read in a
    worker thread only when memory holds nothing fresh (see ``WANGGE_LOCATE_CACHE_S``).
    """
    x, y = to_storage_lonlat(lon, lat, crs)
    day = date or now.date()
    locator: GridLocator = request.app.state.locator
    found = locator.from_memory(x, y, day)
    if found is None:
        found = await run_in_threadpool(locator.locate, x, y, day)
    return found


@router.get("/{grid_id}", response_model=Feature)
def read_grid(session: SessionDep, grid_id: int) -> dict[str, Any]:
    """一个网格（公开）/ One grid (any division version) as a Feature."""
    grid = crud.get_or_404(session, Grid, grid_id, ("网格", "grid"))
    return grid_feature(grid, grid.division_record, grid.community)


@router.patch("/{grid_id}", response_model=Feature)
def update_grid(session: SessionDep, user: Planner, grid_id: int, body: GridUpdate):
    """修改网格名称、户数 / Rename a grid or set its household count (planner)."""
    grid = crud.get_or_404(session, Grid, grid_id, ("网格", "grid"))
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(grid, key, value)
    session.commit()
    return grid_feature(grid, grid.division_record, grid.community)
