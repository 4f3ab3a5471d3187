"""The OpenAPI 3.0 definition of the OGC API – Features service under ``/ogc``.

The application's own document (``/openapi.json``) is OpenAPI 3.1, which FastAPI writes; OGC
API – Features Part 1 defines its API-definition conformance class for OpenAPI 3.0
(``conf/oas30``), and its clients and test suites read 3.0. So the OGC service describes itself
here, in OpenAPI 3.0, with one path per collection the caller may read (as pygeoapi does) and
the query parameters as the standard's fragments give them (``bbox``, ``datetime``, ``limit``).
"""

from __future__ import annotations

from typing import Any

from api.services.features import DEFAULT_LIMIT, MAX_LIMIT
from api.services.ogc_crs import CRS84, SUPPORTED

__all__ = ["OPENAPI_MEDIA_TYPE", "ogc_openapi"]

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
JSON = "application/json"


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "required": False,
        "schema": schema,
        "style": "form",
        "explode": False,
    }


PARAMETERS: dict[str, dict[str, Any]] = {
    "bbox": _query(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "minx,miny,maxx,maxy in CRS84 lon/lat (six numbers: heights ignored); features whose "
        "geometry intersects the box",
    ),
    "datetime": _query(
        "datetime",
        {"type": "string"},
        "RFC 3339 instant or interval (start/end, '..' for an open end); grids of the "
        "divisions in effect at that time (their effective dates, Asia/Shanghai days). Without "
        "it, the divisions in effect today. Houses carry no time and are not filtered",
    ),
    "limit": _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"most features per page; a larger value is lowered to {MAX_LIMIT}",
    ),
    "offset": _query(
        "offset",
        {"type": "integer", "minimum": 0, "default": 0},
        "features to skip (the next and prev links carry it)",
    ),
    "crs": _query(
        "crs",
        {"type": "string", "format": "uri", "enum": list(SUPPORTED), "default": CRS84},
        "CRS of the answer's geometry (its own axis order: EPSG:4326 and 4490 latitude first)",
    ),
    "bbox-crs": _query(
        "bbox-crs",
        {"type": "string", "format": "uri", "enum": list(SUPPORTED), "default": CRS84},
        "CRS of bbox (its own axis order)",
    ),
    "f": _query(
        "f", {"type": "string", "enum": ["json", "geojson"]}, "format: JSON (the only one)"
    ),
    "featureId": {
        "name": "featureId",
        "in": "path",
        "description": "id of a feature",
        "required": True,
        "schema": {"type": "string"},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "exception": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "description": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "link": {
        "type": "object",
        "required": ["href"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    },
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
    "featureGeoJSON": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
        },
    },
}


def _json(description: str, schema: dict[str, Any] | None = None, media: str = JSON) -> dict:
    return {
        "description": description,
        "content": {media: {"schema": schema or {"type": "object"}}},
    }


RESPONSES: dict[str, dict[str, Any]] = {
    "InvalidParameter": _json(
        "参数无效或未知 / a parameter is invalid or unknown",
        {"$ref": "#/components/schemas/exception"},
    ),
    "NotFound": _json(
        "不存在 / no such collection or feature", {"$ref": "#/components/schemas/exception"}
    ),
    "Unauthorized": _json(
        "需要登录 / sign in (a bearer token from POST /auth/token)",
        {"$ref": "#/components/schemas/exception"},
    ),
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _operation(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    parameters: tuple[str, ...] = ("f",),
    signed_in: bool = False,
    not_found: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, "400": _ref("responses", "InvalidParameter")}
    if not_found:
        responses["404"] = _ref("responses", "NotFound")
    if signed_in:
        responses["401"] = _ref("responses", "Unauthorized")
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["OGC API – Features"],
        "parameters": [_ref("parameters", p) for p in parameters],
        "responses": responses,
    }
    if signed_in:
        operation["security"] = [{"bearer": []}]
    return operation


def ogc_openapi(base_url: str, collections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC service at ``base_url`` (``…/ogc``), with a path
    for each of ``collections`` (id → ``{"title", "public"}``)."""
    paths: dict[str, Any] = {
        "/": {"get": _operation("getLandingPage", "首页 / landing page", _json("landing page"))},
        "/conformance": {
            "get": _operation(
                "getConformanceDeclaration", "符合的标准类 / conformance", _json("conformance")
            )
        },
        "/api": {
            "get": _operation(
                "getAPIDefinition",
                "本 API 定义 / this API definition (OpenAPI 3.0)",
                _json("OpenAPI 3.0 document", media=OPENAPI_MEDIA_TYPE),
            )
        },
        "/collections": {
            "get": _operation("getCollections", "集合列表 / collections", _json("collections"))
        },
    }
    for cid, meta in collections.items():
        signed_in = not meta["public"]
        paths[f"/collections/{cid}"] = {
            "get": _operation(
                f"describe_{cid}",
                f"{meta['title']}: 集合 / collection",
                _json("the collection"),
                not_found=True,
                signed_in=signed_in,
            )
        }
        paths[f"/collections/{cid}/items"] = {
            "get": _operation(
                f"getFeatures_{cid}",
                f"{meta['title']}: 要素 / features",
                _json(
                    "features",
                    _ref("schemas", "featureCollectionGeoJSON"),
                    media=GEOJSON,
                ),
                parameters=("bbox", "bbox-crs", "datetime", "limit", "offset", "crs", "f"),
                not_found=True,
                signed_in=signed_in,
            )
        }
        paths[f"/collections/{cid}/items/{{featureId}}"] = {
            "get": _operation(
                f"getFeature_{cid}",
                f"{meta['title']}: 一个要素 / one feature",
                _json("the feature", _ref("schemas", "featureGeoJSON"), media=GEOJSON),
                parameters=("featureId", "crs", "f"),
                not_found=True,
                signed_in=signed_in,
            )
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "wangge 网格化管理 OGC API – Features",
            "version": "1.0.0",
            "description": "网格（公开）与房屋（需登录）/ grids (public) and houses (signed in)",
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "parameters": PARAMETERS,
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
