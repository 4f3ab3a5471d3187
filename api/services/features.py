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

from api.core.errors import BadRequest
from api.core.timefmt import local_iso
from api.db.models import STORAGE_SRID, Community, Division, Grid, House, from_db_geometry
from api.services.geojson import feature, feature_collection
from api.services.incidents.deadlines import SHANGHAI

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "bbox_clause",
    "bbox_numbers",
    "grid_feature",
    "house_feature",
    "lonlat_bbox",
    "page",
    "parse_bbox",
    "parse_count",
    "parse_datetime",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def bbox_numbers(text: str | None) -> list[float] | None:
    """The four numbers of a ``bbox`` parameter in its own CRS (six: heights dropped), each
    finite, minimum before maximum on each axis (400 naming the problem), or None."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise BadRequest(
            "bbox 应为 4 个数 minx,miny,maxx,maxy（或 6 个，含高程）/ bbox must be 4 numbers "
            f"minx,miny,maxx,maxy (or 6 with heights), got {len(parts)}"
        )
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise BadRequest(
            f"bbox 含非数字 / bbox has a value that is not a number: {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise BadRequest("bbox 含非有限数 / bbox values must be finite")
    if len(values) == 6:  # minx,miny,minz,maxx,maxy,maxz: the stored geometry has no heights
        if values[2] > values[5]:
            raise BadRequest(f"bbox 高程下限大于上限 / bbox minz > maxz: {text!r}")
        values = [values[0], values[1], values[3], values[4]]
    if values[0] > values[2] or values[1] > values[3]:
        raise BadRequest(
            f"bbox 须 minx<=maxx, miny<=maxy / bbox must have minx<=maxx, miny<=maxy: {text!r}"
        )
    return values


def lonlat_bbox(values: list[float], text: str) -> tuple[float, float, float, float]:
    """``values`` as a lon/lat box, 400 if outside the lon/lat range."""
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadRequest(
            "bbox 须 minx<=maxx, miny<=maxy 且在经纬度范围内 / bbox must have minx<=maxx, "
            f"miny<=maxy within lon/lat range: {text!r}"
        )
    return minx, miny, maxx, maxy


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in lon/lat, checked (400 naming the problem), or None. Six
    numbers (``minx,miny,minz,maxx,maxy,maxz``) are read as the four of the plane.

    >>> parse_bbox("121.48,31.23,121.50,31.25")
    (121.48, 31.23, 121.5, 31.25)
    >>> parse_bbox("121.48,31.23,0,121.50,31.25,100")
    (121.48, 31.23, 121.5, 31.25)
    """
    values = bbox_numbers(text)
    return None if values is None else lonlat_bbox(values, str(text))


def parse_count(name: str, text: str | None, *, default: int, minimum: int) -> int:
    """A whole-number parameter (``limit``, ``offset``): 400 naming it if it is not one or
    is below ``minimum``.

    >>> parse_count("limit", "25", default=100, minimum=1)
    25
    >>> parse_count("offset", None, default=0, minimum=0)
    0
    """
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} 须为整数 / {name} must be a whole number: {text!r}") from None
    if value < minimum:
        raise BadRequest(f"{name} 须不小于 {minimum} / {name} must be at least {minimum}: {value}")
    return value


def _day(text: str, whole: str) -> dt.date:
    """The Asia/Shanghai day of an RFC 3339 date-time or a date (a time without an offset
    is Asia/Shanghai time)."""
    try:
        if "T" not in text.upper():
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"datetime 无效 {whole!r}：应为 RFC 3339 时刻或区间，如 2026-01-01T00:00:00Z 或 "
            f"2025-01-01/.. / datetime {whole!r} is not an RFC 3339 instant or interval such as "
            "2026-01-01T00:00:00Z or 2025-01-01/.."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI).date()


def parse_datetime(text: str | None) -> tuple[dt.date | None, dt.date | None] | None:
    """The OGC ``datetime`` parameter as the (first, last) Asia/Shanghai days it touches:
    an instant is one day, an interval ``start/end`` its days, ``..`` or nothing an open
    end (None). None without a parameter; 400 for anything else, or an end before its start.

    >>> parse_datetime("2026-03-01T10:00:00Z")
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 1))
    >>> parse_datetime("2025-12-31T20:00:00Z/..")
    (datetime.date(2026, 1, 1), None)
    >>> parse_datetime("../2024-06-30")
    (None, datetime.date(2024, 6, 30))
    """
    if text is None:
        return None
    parts = text.strip().split("/")
    if len(parts) == 1 and parts[0] not in ("", ".."):
        day = _day(parts[0], text)
        return day, day
    if len(parts) != 2 or all(p in ("", "..") for p in parts):
        raise BadRequest(
            f"datetime 无效 {text!r}：区间须为 start/end，至多一端为 .. / datetime {text!r}: "
            "an interval is start/end with at most one open end (..)"
        )
    first, last = (None if p in ("", "..") else _day(p, text) for p in parts)
    if first is not None and last is not None and last < first:
        raise BadRequest(
            f"datetime 区间终点早于起点 / datetime interval ends before it starts: {text!r}"
        )
    return first, last


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
