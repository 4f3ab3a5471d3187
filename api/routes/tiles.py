"""The offline base map: ``/tiles/base/{z}/{x}/{y}.mvt``, its style and its TileJSON.

Public, no sign-in: the tiles hold base geography from OSM only (roads, buildings, water,
green, POIs, door plates), never residents or incidents. The archive (``wangge serve
--basemap FILE`` or ``WANGGE_BASEMAP``) is opened once and read tile by tile
(:mod:`maps.tile_archive`). An empty tile answers 204. Past the archive's top zoom, up to
:data:`MAX_ZOOM`, a tile is cut from its top-zoom parent (:mod:`maps.overzoom`): the client
gets real tiles at every zoom and needs no overzoom of its own; the last
:data:`OVERZOOM_CACHE` of them are kept in memory. Tiles carry a strong ETag (a
hash of the bytes; ``If-None-Match`` answers 304) and ``Cache-Control``; a client accepting
gzip gets the stored gzip bytes as they are (``Content-Encoding: gzip``).
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.core.errors import NotFound
from api.routes.headers import content_security_policy
from api.routes.schemas.tiles import (
    BaseMapConfigAnswer,
    BaseStyleDocumentAnswer,
    BaseTilejsonAnswer,
)
from maps.basemap_config import page_config, served_offline, source_hosts
from maps.basemap_style import base_style, tilejson
from maps.overzoom import overzoom_tile, parent_of
from maps.tile_archive import GZIP_MAGIC, TileArchive

__all__ = ["MAX_ZOOM", "MVT_TYPE", "page_basemap", "page_image_sources", "page_response", "router"]

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
CACHE_CONTROL = "public, max-age=3600"
OVERZOOM_CACHE = 2048  # overzoomed tiles kept in memory (a few MB): phones pan back and forth


def _archive(request: Request) -> TileArchive:
    archive = getattr(request.app.state, "basemap", None)
    if archive is None:
        raise NotFound(
            "未配置底图（wangge serve --basemap 或 WANGGE_BASEMAP）/ no base map configured"
        )
    return archive


def _tile_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/tiles/base/{z}/{x}/{y}.mvt"


def page_basemap(request: Request) -> dict:
    """The base-map document of a page (:func:`maps.basemap_config.page_config`): the offline
    tiles this app serves (none without an archive) and the online sources it offers."""
    archive = getattr(request.app.state, "basemap", None)
    offline = None
    if archive is not None:
        root = request.scope.get("root_path", "").rstrip("/")
        offline = served_offline(
            root + "/tiles/base/{z}/{x}/{y}.mvt",
            minzoom=archive.minzoom,
            maxzoom=archive.maxzoom,
            bounds=archive.bounds,
        )
    return page_config(offline, getattr(request.app.state, "basemap_online", []))


def page_image_sources(request: Request) -> dict[str, list[str]]:
    """The extra Content-Security-Policy sources a page needs for the online tiles offered
    (``img-src``); empty when none is offered."""
    hosts = source_hosts(getattr(request.app.state, "basemap_online", []))
    return {"img-src": hosts} if hosts else {}


def page_response(request: Request, html: str) -> HTMLResponse:
    """A page (scripts and styles in served files) whose Content-Security-Policy also lets it
    show the online tiles offered; the default policy when none is."""
    extra = page_image_sources(request)
    if not extra:
        return HTMLResponse(html)
    return HTMLResponse(
        html, headers={"Content-Security-Policy": content_security_policy(extra=extra)}
    )


@router.get("/config", response_model=BaseMapConfigAnswer)
def base_map_config(request: Request) -> dict:
    """页面底图配置 / What pages draw as base maps: the offline tiles (null without a base
    map), the online sources offered (setting ``tiles``) and the style's colours."""
    return page_basemap(request)


@lru_cache(maxsize=OVERZOOM_CACHE)
def _overzoomed(archive: TileArchive, z: int, x: int, y: int) -> bytes:
    """Tile z/x/y past the archive's top zoom, cut from its parent; b"" when empty."""
    top, px, py = parent_of(z, x, y, archive.maxzoom)
    parent = archive.get_mvt(top, px, py)
    return overzoom_tile(parent, z, x, y, top) if parent else b""


@router.get(
    "/base/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {MVT_TYPE: {}}, "description": "Mapbox Vector Tile 2.1"},
        204: {"description": "empty tile"},
        304: {"description": "not modified (If-None-Match)"},
    },
)
async def base_tile(z: int, x: int, y: int, request: Request) -> Response:
    """底图矢量瓦片 / One base-map vector tile (XYZ scheme; 204 when empty)."""
    archive = _archive(request)
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        raise NotFound(f"没有这个瓦片 / no such tile {z}/{x}/{y} (zoom 0–{MAX_ZOOM})")
    if z <= archive.maxzoom:  # one positioned read or indexed query: on the event loop
        data = archive.get(z, x, y) or b""
    else:  # decoding and cutting the parent takes milliseconds: in a worker thread
        data = await run_in_threadpool(_overzoomed, archive, z, x, y)
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if not data:
        return Response(status_code=204, headers=headers)
    gzipped = data[:2] == GZIP_MAGIC
    etag = f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"'
    headers["ETag"] = etag
    if etag in (request.headers.get("if-none-match") or "").replace("W/", "").split(", "):
        return Response(status_code=304, headers=headers)
    if gzipped and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
    elif gzipped:
        data = gzip.decompress(data)
    return Response(content=data, media_type=MVT_TYPE, headers=headers)


@router.get("/base/style.json", response_model=BaseStyleDocumentAnswer)
def base_style_document(request: Request) -> dict:
    """底图样式（MapLibre style v8）/ The base map's style document."""
    archive = _archive(request)
    return base_style(
        _tile_url(request),
        minzoom=archive.minzoom,
        maxzoom=archive.maxzoom,
        bounds=archive.bounds,
        name=archive.metadata.get("name", "wangge base map"),
    )


@router.get("/base.json", response_model=BaseTilejsonAnswer)
def base_tilejson(request: Request) -> dict:
    """底图 TileJSON 3.0 / The base tiles' TileJSON (layers, fields, zooms, bounds)."""
    archive = _archive(request)
    return tilejson(
        _tile_url(request),
        archive.metadata,
        minzoom=archive.minzoom,
        maxzoom=archive.maxzoom,
        bounds=archive.bounds,
    )
