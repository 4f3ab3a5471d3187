"""OGC API – Features Part 1 Core under ``/ogc``: collections ``grids`` (public, the divisions
in effect today) and ``houses`` (signed in; grid workers see their own grids).

Items are ordered by primary key, ``limit`` is capped, ``next``/``prev`` links page through
``numberMatched``; ``bbox`` is lon/lat (CRS84). Responses are ``application/geo+json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.db.models import Grid, House, User
from api.deps import Now, OptionalUser, SessionDep
from api.errors import NotFound, Unauthorized
from api.routes.grids import grids_query
from api.routes.houses import houses_query
from api.services.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    grid_feature,
    house_feature,
    page,
    parse_bbox,
)
from api.services.privacy import check_house_scope

__all__ = ["CONFORMANCE", "router"]

router = APIRouter(prefix="/ogc", tags=["ogc"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTIONS = {
    "grids": {
        "title": "网格 / Grids",
        "description": "网格（当前生效划分）/ grids in effect today",
        "public": True,
    },
    "houses": {
        "title": "房屋 / Houses",
        "description": "房屋（需登录）/ houses (sign in)",
        "public": False,
    },
}
GEOJSON = "application/geo+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _geojson(content: dict[str, Any]) -> JSONResponse:
    return JSONResponse(content, media_type=GEOJSON)


def _collection(request: Request, cid: str) -> dict[str, Any]:
    base = _base(request)
    meta = COLLECTIONS[cid]
    return {
        "id": cid,
        "title": meta["title"],
        "description": meta["description"],
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]], "crs": CRS84}},
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON},
        ],
    }


def _known(cid: str) -> None:
    if cid not in COLLECTIONS:
        raise NotFound(
            f"没有集合 {cid!r} / no collection {cid!r}; collections: {', '.join(COLLECTIONS)}"
        )


def _signed_in(cid: str, user: User | None) -> None:
    if not COLLECTIONS[cid]["public"] and user is None:
        raise Unauthorized(f"集合 {cid} 需要登录 / collection {cid} needs a bearer token")


@router.get("/")
def landing_page(request: Request) -> dict[str, Any]:
    """OGC API 首页 / Landing page."""
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return {
        "title": "wangge 网格化管理 OGC API – Features",
        "description": "Grids (public) and houses (signed in) of wangge",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json"},
            {
                "href": f"{root}/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
            },
            {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
        ],
    }


@router.get("/conformance")
def conformance() -> dict[str, Any]:
    """符合的标准类 / Conformance classes."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections")
def collections(request: Request) -> dict[str, Any]:
    """集合列表 / Collections."""
    base = _base(request)
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(request, cid) for cid in COLLECTIONS],
    }


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str) -> dict[str, Any]:
    """一个集合 / One collection."""
    _known(collection_id)
    return _collection(request, collection_id)


@router.get("/collections/{collection_id}/items")
def items(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    now: Now,
    collection_id: str,
    limit: Annotated[int, Query(ge=1, description=f"capped at {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (CRS84)")] = None,
) -> JSONResponse:
    """要素（分页）/ Features of a collection, paged by primary key."""
    _known(collection_id)
    _signed_in(collection_id, user)
    box = parse_bbox(bbox)
    collection_url = f"{_base(request)}/collections/{collection_id}"
    if collection_id == "grids":
        query, key, to_feature = grids_query(now.date(), bbox=box), Grid.id, grid_feature
    else:
        query, key, to_feature = houses_query(user, bbox=box), House.id, house_feature
    return _geojson(
        page(
            session,
            query,
            key=key,
            limit=limit,
            offset=offset,
            url=request.url,
            to_feature=to_feature,
            collection_url=collection_url,
        )
    )


@router.get("/collections/{collection_id}/items/{fid}")
def item(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    now: Now,
    collection_id: str,
    fid: int,
) -> JSONResponse:
    """一个要素 / One feature."""
    _known(collection_id)
    _signed_in(collection_id, user)
    if collection_id == "grids":
        row = session.execute(grids_query(now.date()).where(Grid.id == fid)).first()
        found = None if row is None else grid_feature(*row)
    else:
        house = session.get(House, fid)
        if house is not None:
            check_house_scope(user, house)
        found = None if house is None else house_feature(house)
    if found is None:
        raise NotFound(
            f"集合 {collection_id} 中没有要素 {fid} / no feature {fid} in {collection_id}"
        )
    base = f"{_base(request)}/collections/{collection_id}"
    found["links"] = [
        {"href": f"{base}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    return _geojson(found)
