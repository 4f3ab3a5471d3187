"""OGC API – Features Part 1 Core under ``/ogc``: collections ``grids`` (public) and ``houses``
(signed in; grid workers see their own grids).

- ``grids``: without ``datetime`` the grids of the divisions in effect today (Asia/Shanghai);
  ``datetime`` (an RFC 3339 instant or interval, ``..`` an open end) selects the grids of the
  divisions in effect at that time, by their effective dates;
- ``houses``: listed only to signed-in callers (anonymous ones get 401 if they ask for it);
  they carry no time, so ``datetime`` does not filter them;
- a collection's ``extent`` is the bounding box of its data and, for grids, the interval from
  the first division's start to the last one's end (open if one is still in effect);
- items are ordered by primary key, ``limit`` is capped, ``next``/``prev`` links page through
  ``numberMatched``; ``bbox`` is lon/lat (CRS84). Responses are ``application/geo+json``;
- Part 2 (CRS by reference): ``crs`` asks for the geometry in another supported CRS
  (:mod:`api.services.ogc_crs`: CRS84, EPSG:4326, EPSG:4490, EPSG:3857, each in its own axis
  order), ``bbox-crs`` says the CRS of ``bbox``; the answer's ``Content-Crs`` header names
  its CRS;
- the API is described in OpenAPI 3.0 at ``/ogc/api`` (the ``oas30`` class declared in
  ``/ogc/conformance``; the application's ``/openapi.json`` is OpenAPI 3.1 and not the OGC
  service's definition);
- a parameter the API does not define, or a bad value, is 400; an unknown collection or
  feature 404. Errors are OGC exceptions ``{"code", "description"}`` with the project's
  ``detail`` beside them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from api.core.errors import ApiError, BadRequest, NotFound, Unauthorized, http_status
from api.db.dialect import geometry_bounds
from api.db.models import Division, Grid, House, User
from api.routes.deps import Now, OptionalUser, SessionDep
from api.routes.grids import grids_query
from api.routes.houses import houses_query
from api.routes.schemas.common import Feature, FeatureCollection
from api.routes.schemas.ogc import (
    CollectionAnswer,
    CollectionsAnswer,
    ConformanceAnswer,
    LandingPageAnswer,
    OpenApiDocument,
)
from api.services.features import (
    DEFAULT_LIMIT,
    bbox_numbers,
    grid_feature,
    house_feature,
    lonlat_bbox,
    page,
    parse_count,
    parse_datetime,
)
from api.services.incidents.deadlines import SHANGHAI
from api.services.ogc_crs import (
    CRS84,
    SUPPORTED,
    bbox_to_crs84,
    parse_crs,
    reproject_feature,
    storage_crs,
)
from api.services.ogc_openapi import OPENAPI_MEDIA_TYPE, ogc_openapi
from api.services.privacy import check_house_scope

__all__ = ["COLLECTIONS", "CONFORMANCE", "router"]

# OGC exception codes by HTTP status (OGC API – Common's exception schema)
_OGC_CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


class OgcRoute(APIRoute):
    """A route answering errors as OGC exceptions: ``{"code", "description", "detail"}``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                status = http_status(exc)
                code = _OGC_CODES.get(status, "NoApplicableCode")
                return JSONResponse(
                    {"code": code, "description": exc.detail, "detail": exc.detail},
                    status_code=status,
                    headers=exc.headers,
                )

        return handle


router = APIRouter(prefix="/ogc", tags=["ogc"], route_class=OgcRoute)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
COLLECTIONS = {
    "grids": {
        "title": "网格 / Grids",
        "description": "网格（默认为当前生效划分，datetime 可查历史）/ grids (the divisions in "
        "effect today; datetime reads other times)",
        "public": True,
    },
    "houses": {
        "title": "房屋 / Houses",
        "description": "房屋（需登录）/ houses (sign in)",
        "public": False,
    },
}
GEOJSON = "application/geo+json"
ITEMS_PARAMETERS = frozenset({"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "f"})
ITEM_PARAMETERS = frozenset({"crs", "f"})
FORMATS = frozenset({"json", "geojson"})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _geojson(content: dict[str, Any], crs: str) -> JSONResponse:
    return JSONResponse(content, media_type=GEOJSON, headers={"Content-Crs": f"<{crs}>"})


def _only(request: Request, allowed: frozenset[str] = frozenset({"f"})) -> None:
    """400 for a query parameter the API does not define (the standard's rule), or a format
    other than JSON."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise BadRequest(
            f"未知参数 {', '.join(unknown)}（可用：{', '.join(sorted(allowed))}）/ unknown query "
            f"parameter {', '.join(unknown)}; this operation takes: {', '.join(sorted(allowed))}"
        )
    fmt = request.query_params.get("f")
    if fmt is not None and fmt not in FORMATS:
        raise BadRequest(f"f 只可为 json / f must be json or geojson: {fmt!r}")


def _readable(user: User | None) -> list[str]:
    """The collections ``user`` may read (anonymous callers: the public ones)."""
    return [cid for cid, meta in COLLECTIONS.items() if meta["public"] or user is not None]


def _known(cid: str, user: User | None) -> None:
    if cid not in COLLECTIONS:
        raise NotFound(
            f"没有集合 {cid!r} / no collection {cid!r}; collections: {', '.join(_readable(user))}"
        )
    if cid not in _readable(user):
        raise Unauthorized(f"集合 {cid} 需要登录 / collection {cid} needs a bearer token")


def _local_midnight(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI).isoformat()


def _extent(session: Session, cid: str, user: User | None) -> dict[str, Any]:
    """The bounding box of the collection's data and, for grids, the time its divisions span."""
    if cid == "grids":
        published = Division.effective_from.is_not(None)
        geometries = sa.select(Grid.geom).join(Division, Grid.division_id == Division.id)
        box = geometry_bounds(session, geometries.where(published))
        first, last, still_open = session.execute(
            sa.select(
                sa.func.min(Division.effective_from),
                sa.func.max(Division.effective_to),
                sa.func.count().filter(Division.effective_to.is_(None)),
            ).where(published)
        ).one()
    else:
        assert user is not None
        box = geometry_bounds(session, houses_query(user).with_only_columns(House.geom))
        first = None
    extent: dict[str, Any] = {
        "spatial": {"bbox": [list(box) if box else [-180, -90, 180, 90]], "crs": CRS84}
    }
    if first is not None:
        end = None if still_open or last is None else _local_midnight(_as_date(last))
        extent["temporal"] = {
            "interval": [[_local_midnight(_as_date(first)), end]],
            "trs": GREGORIAN,
        }
    return extent


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _collection(request: Request, session: Session, cid: str, user: User | None) -> dict:
    base = _base(request)
    meta = COLLECTIONS[cid]
    return {
        "id": cid,
        "title": meta["title"],
        "description": meta["description"],
        "itemType": "feature",
        "crs": list(SUPPORTED),
        "storageCrs": storage_crs(),
        "extent": _extent(session, cid, user),
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON},
        ],
    }


@router.get("/", response_model=LandingPageAnswer)
def landing_page(request: Request) -> dict[str, Any]:
    """OGC API 首页 / Landing page."""
    _only(request)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return {
        "title": "wangge 网格化管理 OGC API – Features",
        "description": "Grids (public) and houses (signed in) of wangge",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json"},
            {"href": f"{base}/api", "rel": "service-desc", "type": OPENAPI_MEDIA_TYPE},
            {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
        ],
    }


@router.get(
    "/api", responses={200: {"content": {OPENAPI_MEDIA_TYPE: {}}}}, response_model=OpenApiDocument
)
def api_definition(request: Request, user: OptionalUser) -> JSONResponse:
    """OGC API 的 OpenAPI 3.0 定义 / OpenAPI 3.0 definition of the OGC API."""
    _only(request)
    visible = {cid: COLLECTIONS[cid] for cid in _readable(user)}
    return JSONResponse(ogc_openapi(_base(request), visible), media_type=OPENAPI_MEDIA_TYPE)


@router.get("/conformance", response_model=ConformanceAnswer)
def conformance(request: Request) -> dict[str, Any]:
    """符合的标准类 / Conformance classes."""
    _only(request)
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", response_model=CollectionsAnswer)
def collections(request: Request, session: SessionDep, user: OptionalUser) -> dict[str, Any]:
    """集合列表 / Collections the caller may read."""
    _only(request)
    base = _base(request)
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(request, session, cid, user) for cid in _readable(user)],
    }


@router.get("/collections/{collection_id}", response_model=CollectionAnswer)
def collection(
    request: Request, session: SessionDep, user: OptionalUser, collection_id: str
) -> dict[str, Any]:
    """一个集合 / One collection."""
    _only(request)
    _known(collection_id, user)
    return _collection(request, session, collection_id, user)


@router.get("/collections/{collection_id}/items", response_model=FeatureCollection)
def items(
    request: Request, session: SessionDep, user: OptionalUser, now: Now, collection_id: str
) -> JSONResponse:
    """要素（分页）/ Features of a collection, paged by primary key.

    Query parameters (any other is 400): ``bbox`` (minx,miny,maxx,maxy, CRS84), ``datetime``
    (RFC 3339 instant or interval), ``limit`` (1 upwards, capped), ``offset``, ``f``.
    """
    _known(collection_id, user)
    _only(request, ITEMS_PARAMETERS)
    params = request.query_params
    limit = parse_count("limit", params.get("limit"), default=DEFAULT_LIMIT, minimum=1)
    offset = parse_count("offset", params.get("offset"), default=0, minimum=0)
    crs = parse_crs("crs", params.get("crs"))
    numbers = bbox_numbers(params.get("bbox"))
    box = None
    if numbers is not None:
        in_crs84 = bbox_to_crs84(numbers, parse_crs("bbox-crs", params.get("bbox-crs")))
        box = lonlat_bbox(in_crs84, params["bbox"])
    during = parse_datetime(params.get("datetime"))
    if collection_id == "grids":
        today = now.astimezone(SHANGHAI).date()
        query, key, to_feature = grids_query(today, bbox=box, during=during), Grid.id, grid_feature
    else:
        assert user is not None
        query, key, to_feature = houses_query(user, bbox=box), House.id, house_feature
    content = page(
        session,
        query,
        key=key,
        limit=limit,
        offset=offset,
        url=request.url,
        to_feature=lambda *row: reproject_feature(to_feature(*row), crs),
        collection_url=f"{_base(request)}/collections/{collection_id}",
    )
    return _geojson(content, crs)


@router.get("/collections/{collection_id}/items/{fid}", response_model=Feature)
def item(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    collection_id: str,
    fid: str,
) -> JSONResponse:
    """一个要素 / One feature (of any division version, for grids)."""
    _known(collection_id, user)
    _only(request, ITEM_PARAMETERS)
    crs = parse_crs("crs", request.query_params.get("crs"))
    found = None
    if fid.isascii() and fid.isdigit() and len(fid) < 19:  # ids are 64-bit integers
        if collection_id == "grids":
            row = session.execute(
                grids_query(dt.date.today(), during=(None, None)).where(Grid.id == int(fid))
            ).first()
            found = None if row is None else grid_feature(*row)
        else:
            house = session.get(House, int(fid))
            if house is not None:
                assert user is not None
                check_house_scope(user, house)
                found = house_feature(house)
    if found is None:
        raise NotFound(
            f"集合 {collection_id} 中没有要素 {fid} / no feature {fid} in {collection_id}"
        )
    base = f"{_base(request)}/collections/{collection_id}"
    found["links"] = [
        {"href": f"{base}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    return _geojson(reproject_feature(found, crs), crs)
