"""Web maps served by the API: the division, its validation, and incident maps (HTML).

The pages use the Leaflet assets the app serves under ``/static/`` (no CDN). The public
division map never carries houses; signed-in staff add ``?staff=true`` for the house layer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.core.errors import Forbidden, NotFound
from api.routes.deps import OptionalUser, SessionDep
from api.routes.headers import html_with_hashes
from api.routes.tiles import page_basemap, page_image_sources
from api.services.community_data import read_community
from api.services.incidents.visibility import FULL_VIEW_ROLES
from api.services.map_outputs import incident_map
from maps.assets import offline
from maps.base import add_base_layers
from maps.web import render_division_map, render_validation_map

__all__ = ["router"]

router = APIRouter(prefix="/maps", tags=["maps"])

STATIC_URL = "/static/"


def _with_grids(session, community: str, on: dt.date | None):
    """The community's data; 404 when no division is in effect on the day (nothing to draw)."""
    data = read_community(session, community, on=on)
    if data.grids.empty:
        raise NotFound(
            f"社区 {community} 在该日没有生效的网格划分 / community {community!r} has no "
            "division in effect on that day"
        )
    return data


def _page(m, title: str, request: Request) -> HTMLResponse:
    """The map as a page whose asset links point at the app's ``/static/`` copies, over the
    app's base map (offline tiles, none, online sources: :mod:`api.routes.tiles`); its CSP
    allows exactly its own inline scripts, by hash (:mod:`api.routes.headers`), and the images of
    the online tiles offered."""
    config = page_basemap(request)
    if config["offline"] or config["online"]:
        add_base_layers(m, config)
    offline(m, mode="served", base_url=STATIC_URL, title=title)
    return html_with_hashes(m.get_root().render(), extra=page_image_sources(request))


@router.get("/division/{community}", response_class=HTMLResponse)
def division_map(
    request: Request,
    community: str,
    session: SessionDep,
    user: OptionalUser,
    staff: Annotated[bool, Query(description="工作人员视图（含房屋）/ staff view")] = False,
    date: Annotated[dt.date | None, Query(description="划分生效日期 / division on date")] = None,
) -> HTMLResponse:
    """网格划分图 / The division map of a community (public; houses for signed-in staff)."""
    if staff and user is None:
        raise Forbidden("房屋图层需要登录 / the house layer needs a signed-in user")
    data = _with_grids(session, community, date)
    m = render_division_map(
        data.grids, staff=data.staff, houses=data.houses if staff else None, public=not staff
    )
    return _page(m, f"{data.name} 网格划分图 Division map", request)


@router.get("/validation/{community}", response_class=HTMLResponse)
def validation_map(
    request: Request,
    community: str,
    session: SessionDep,
    date: Annotated[dt.date | None, Query(description="划分生效日期 / division on date")] = None,
) -> HTMLResponse:
    """校验图 / The findings of validate over the division in effect."""
    from gis.coverage import validate

    data = _with_grids(session, community, date)
    m = render_validation_map(data.grids, validate(data.grids, data.boundary))
    return _page(m, f"{data.name} 网格校验图 Validation map", request)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_map(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    community: Annotated[str, Query(description="社区编码或名称 / community")],
    category: Annotated[str | None, Query(description="类别编码 / category code")] = None,
    date_from: Annotated[dt.date | None, Query(alias="from", description="起始 / from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to", description="截止（不含）/ to")] = None,
    style: Annotated[
        Literal["heatmap", "choropleth", "hotspots"], Query(description="样式 / style")
    ] = "heatmap",
) -> HTMLResponse:
    """事件热力图、分级图或热点 / Incident heat-map, counts per grid, or Gi* hot-spots.

    Without sign-in (and for roles that do not read every incident) only incidents of public
    categories are drawn."""
    public_only = user is None or user.role not in FULL_VIEW_ROLES
    data = read_community(session, community, public_only=public_only)
    period = (date_from, date_to) if date_from or date_to else None
    m = incident_map(data, kind=style, category=category, period=period)
    return _page(m, f"{data.name} 事件地图 Incident map", request)
