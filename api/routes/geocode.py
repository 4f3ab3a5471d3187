"""Geocoding from the community's own door plates (offline): one address, a batch, reverse.

Door-plate addresses are public (they hang on the buildings), so single look-ups need no
sign-in; a batch does. Only the door plate, its point and its grid are returned, never an
owner or a resident. The gazetteer is :func:`api.services.geocoding.geocoder_for`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.routes.deps import CurrentUser, SessionDep
from api.routes.schemas.geocode import GeocodeBatchAnswer, GeocodeOneAnswer, ReverseAnswer
from api.services.geocoding import geocode_answer, geocoder_for
from api.services.locate import to_storage_lonlat
from gis.geocode import reverse_geocode

__all__ = ["MAX_BATCH", "router"]

router = APIRouter(prefix="/geocode", tags=["geocode"])

MAX_BATCH = 10_000


class BatchIn(BaseModel):
    """A batch of addresses to geocode, optionally against one community's door plates."""

    addresses: list[str] = Field(..., max_length=MAX_BATCH)
    community: str | None = None


@router.get("", response_model=GeocodeOneAnswer)
def geocode_one(
    session: SessionDep,
    address: Annotated[str, Query(min_length=1, max_length=200, description="地址 / address")],
    community: Annotated[str | None, Query(description="社区 / community")] = None,
) -> dict[str, Any]:
    """地址 → 坐标、匹配级别、网格 / One address to a point, match level and grid."""
    found = geocoder_for(session, community)
    return geocode_answer(found.gazetteer.geocode(address), found.lookup)


@router.post("/batch", response_model=GeocodeBatchAnswer)
def geocode_batch(session: SessionDep, user: CurrentUser, body: BatchIn) -> dict[str, Any]:
    """批量地理编码（需登录）/ Geocode up to 10,000 addresses (signed in)."""
    found = geocoder_for(session, body.community)
    results = [geocode_answer(found.gazetteer.geocode(a), found.lookup) for a in body.addresses]
    levels: dict[str, int] = {}
    for r in results:
        levels[r["match_level"]] = levels.get(r["match_level"], 0) + 1
    return {"data": results, "count": len(results), "by_level": levels}


@router.get("/reverse", response_model=ReverseAnswer)
def reverse(
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
    geocoder = geocoder_for(session, None)
    found = reverse_geocode(geocoder.gazetteer, lon, lat, radius_m=radius_m, k=k)
    matches = found.matches
    keep = [c for c in ("address", "lon", "lat", "distance_m") if c in matches.columns]
    return {
        "lon": found.lon,
        "lat": found.lat,
        "grid_code": geocoder.index.locate(lon, lat) if geocoder.index is not None else None,
        "door_plates": matches[keep].to_dict("records"),
    }
