"""Geocoding from the community's own door plates (offline): one address, a batch, reverse.

Door-plate addresses are public (they hang on the buildings), so single look-ups need no
sign-in; a batch does. Only the door plate, its point and its grid are returned, never an
owner or a resident. The gazetteer is built from the database's door plates and cached
until the houses change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.community_data import find_community, read_door_plates, read_grids_in_effect
from api.db.models import House
from api.deps import CurrentUser, SessionDep
from api.errors import Unprocessable
from api.services.locate import to_storage_lonlat
from gis.assign import GridIndex
from gis.geocode import CONFIDENCE_THRESHOLD, Gazetteer, GridLookup, reverse_geocode

__all__ = ["MAX_BATCH", "router"]

router = APIRouter(prefix="/geocode", tags=["geocode"])

MAX_BATCH = 10_000


class BatchIn(BaseModel):
    """A batch of addresses to geocode, optionally against one community's door plates."""

    addresses: list[str] = Field(..., max_length=MAX_BATCH)
    community: str | None = None


def _gazetteer(request: Request, session: Session, community: str | None):
    """(gazetteer, grid index) for the door plates of ``community`` (or all), cached."""
    community_id = find_community(session, community).id if community else None
    query = sa.select(sa.func.count(House.id), sa.func.max(House.id))
    if community_id is not None:
        query = query.where(House.community_id == community_id)
    stamp = (community_id, *session.execute(query).one(), dt.date.today())
    cache: dict = request.app.state.__dict__.setdefault("geocode_cache", {})
    if stamp not in cache:
        plates = read_door_plates(session, community)
        if plates.empty:
            raise Unprocessable("库中没有门牌 / there are no door plates to geocode against")
        grids = read_grids_in_effect(session)
        cache.clear()
        gazetteer = Gazetteer.from_frame(plates, address_column="address")
        index = GridIndex(grids) if len(grids) else None
        lookup = GridLookup(gazetteer, index) if index is not None else None
        cache[stamp] = (gazetteer, index, lookup)
    return cache[stamp]


def _answer(result, lookup: GridLookup | None) -> dict[str, Any]:
    """The result with its grid: a lane or road crossing grids gets none, and its candidates."""
    out = result.to_dict()
    code, candidates = lookup.grids([result])[0] if lookup is not None else (None, [])
    out["grid_code"] = code
    out["grid_candidates"] = candidates
    # a lane or road crossing grids is no place to file anything: not confident, so the pages
    # ask for a point on the map instead of using the road's representative point
    out["confident"] = (
        result.match_level != "none" and result.score >= CONFIDENCE_THRESHOLD and not candidates
    )
    return out


@router.get("")
def geocode_one(
    request: Request,
    session: SessionDep,
    address: Annotated[str, Query(min_length=1, max_length=200, description="地址 / address")],
    community: Annotated[str | None, Query(description="社区 / community")] = None,
) -> dict[str, Any]:
    """地址 → 坐标、匹配级别、网格 / One address to a point, match level and grid."""
    gazetteer, _, lookup = _gazetteer(request, session, community)
    return _answer(gazetteer.geocode(address), lookup)


@router.post("/batch")
def geocode_batch(
    request: Request, session: SessionDep, user: CurrentUser, body: BatchIn
) -> dict[str, Any]:
    """批量地理编码（需登录）/ Geocode up to 10,000 addresses (signed in)."""
    gazetteer, _, lookup = _gazetteer(request, session, body.community)
    results = [_answer(gazetteer.geocode(a), lookup) for a in body.addresses]
    levels: dict[str, int] = {}
    for r in results:
        levels[r["match_level"]] = levels.get(r["match_level"], 0) + 1
    return {"data": results, "count": len(results), "by_level": levels}


@router.get("/reverse")
def reverse(
    request: Request,
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    radius_m: Annotated[float, Query(ge=0, le=1000, description="半径（米）/ radius")] = 50.0,
    k: Annotated[int, Query(ge=1, le=20)] = 3,
    crs: Annotated[str, Query(description="wgs84|cgcs2000|gcj02|bd09")] = "wgs84",
) -> dict[str, Any]:
    """坐标 → 最近门牌与所在网格 / Nearest door plates within a radius, and the point's grid.

    ``crs`` says what ``lon``/``lat`` are (GCJ-02/BD-09 converted); the answer is in WGS84.
    """
    lon, lat = to_storage_lonlat(lon, lat, crs)
    gazetteer, index, _ = _gazetteer(request, session, None)
    found = reverse_geocode(gazetteer, lon, lat, radius_m=radius_m, k=k)
    matches = found.matches
    keep = [c for c in ("address", "lon", "lat", "distance_m") if c in matches.columns]
    return {
        "lon": found.lon,
        "lat": found.lat,
        "grid_code": index.locate(lon, lat) if index is not None else None,
        "door_plates": matches[keep].to_dict("records"),
    }
