"""Spatial lists as OGC API – Features pages: bbox filter, paging by primary key, links.

Pages are ordered by primary key (reproducible), ``limit`` is capped at :data:`MAX_LIMIT`
(a larger value is lowered, as pygeoapi does), ``next`` is given while
``numberMatched > offset + limit`` and ``prev`` when ``offset > 0``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from api.db.models import STORAGE_SRID, Community, Division, Grid, House, from_db_geometry
from api.errors import BadRequest
from api.services.geojson import feature, feature_collection
from api.timefmt import local_iso

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "bbox_clause",
    "grid_feature",
    "house_feature",
    "page",
    "parse_bbox",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in lon/lat, checked (400 naming the problem), or None.

    >>> parse_bbox("121.48,31.23,121.50,31.25")
    (121.48, 31.23, 121.5, 31.25)
    """
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise BadRequest(
            f"bbox 应为 4 个数 minx,miny,maxx,maxy / bbox must be 4 numbers, got {len(parts)}"
        )
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadRequest(
            f"bbox 含非数字 / bbox has a value that is not a number: {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise BadRequest("bbox 含非有限数 / bbox values must be finite")
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadRequest(
            "bbox 须 minx<=maxx, miny<=maxy 且在经纬度范围内 / bbox must have minx<=maxx, "
            f"miny<=maxy within lon/lat range: {text!r}"
        )
    return minx, miny, maxx, maxy


def bbox_clause(column, bbox: tuple[float, float, float, float]):
    """SQL: ``column`` intersects the box (same functions on SpatiaLite and PostGIS)."""
    minx, miny, maxx, maxy = bbox
    wkt = (
        f"POLYGON(({minx!r} {miny!r},{maxx!r} {miny!r},{maxx!r} {maxy!r},"
        f"{minx!r} {maxy!r},{minx!r} {miny!r}))"
    )
    return sa.func.ST_Intersects(column, sa.func.ST_GeomFromText(wkt, STORAGE_SRID)) == sa.true()


def page(
    session: Session,
    query: sa.Select,
    *,
    key,
    limit: int,
    offset: int,
    url: URL,
    to_feature,
    collection_url: str | None = None,
) -> dict[str, Any]:
    """Run one page of ``query`` (ordered by ``key``) and return the FeatureCollection."""
    limit = min(limit, MAX_LIMIT)
    matched = int(session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.order_by(key).limit(limit).offset(offset)).all()
    features = [to_feature(*row) for row in rows]
    links = [{"href": str(url), "rel": "self", "type": "application/geo+json"}]
    if matched > offset + limit:
        links.append(
            {
                "href": str(url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": "application/geo+json",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(url.include_query_params(offset=max(0, offset - limit), limit=limit)),
                "rel": "prev",
                "type": "application/geo+json",
            }
        )
    if collection_url is not None:
        links.append({"href": collection_url, "rel": "collection", "type": "application/json"})
    return feature_collection(
        features,
        numberMatched=matched,
        numberReturned=len(features),
        timeStamp=local_iso(dt.datetime.now(dt.UTC).replace(microsecond=0)),
        links=links,
    )


def grid_feature(grid: Grid, division: Division, community: Community) -> dict[str, Any]:
    """A grid as a GeoJSON Feature (id = grid id)."""
    return feature(
        grid.id,
        from_db_geometry(grid.geom),
        {
            "code": grid.code,
            "name": grid.name,
            "households": grid.households,
            "community_id": community.id,
            "community_code": community.code,
            "community": community.name,
            "division": division.label,
            "division_version": division.version,
            "effective_from": None
            if division.effective_from is None
            else division.effective_from.isoformat(),
            "effective_to": None
            if division.effective_to is None
            else division.effective_to.isoformat(),
        },
    )


_HOUSE_PROPS = (
    "community_id",
    "house_key",
    "address",
    "road",
    "number",
    "building",
    "households",
    "floor_area_m2",
    "house_type",
    "use",
    "owner",
    "grid_code",
)


def house_feature(house: House) -> dict[str, Any]:
    """A house as a GeoJSON Feature: its point; the footprint (if any) as a property."""
    props = {k: getattr(house, k) for k in _HOUSE_PROPS}
    footprint = from_db_geometry(house.footprint)
    props["footprint"] = None if footprint is None else feature(None, footprint, {})["geometry"]
    return feature(house.id, from_db_geometry(house.geom), props)
