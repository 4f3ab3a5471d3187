"""Maps and printouts of a stored community: the glue between the database and ``maps/``.

Used by ``wangge map``, ``wangge print`` and ``wangge demo``. Every function returns the
path(s) written. Web maps are self-contained HTML (no CDN, no server needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd

from api.core.config import coverage_tolerances, get_settings
from api.services.community_data import CommunityData
from gis.coverage import validate
from gis.defaults import DEFAULT_CODE_FIELD
from maps.base import add_base_layers
from maps.basemap_config import embedded_offline, online_sources, page_config, parse_tile_sources
from maps.boards import print_boards
from maps.hotspots import hotspots, render_hotspot_map
from maps.incidents import (
    count_per_grid,
    filter_incidents,
    render_incident_choropleth,
    render_incident_heatmap,
)
from maps.print import print_division
from maps.tile_archive import open_archive
from maps.web import render_division_map, render_validation_map, save_html

__all__ = [
    "IncidentMapKind",
    "incident_map",
    "write_boards",
    "write_division_diagram",
    "write_division_map",
    "write_incident_map",
    "write_validation_map",
]

IncidentMapKind = Literal["heatmap", "choropleth", "hotspots"]


def _save(
    m: folium.Map, out: Path, title: str, grids: gpd.GeoDataFrame, basemap: Path | None
) -> Path:
    """Write ``m`` as self-contained HTML over the base map: the tiles of ``basemap`` (a tile
    archive) over the grids' extent embedded in the file, so it opens from disk with no
    network, and the online sources the settings offer (``tiles``) in its layer switch."""
    settings = get_settings()
    online = online_sources(parse_tile_sources(settings.tiles), tianditu_key=settings.tianditu_key)
    offline = None
    if basemap is not None:
        archive = open_archive(basemap)
        try:
            offline = embedded_offline(archive, tuple(grids.to_crs(4326).total_bounds))
        finally:
            archive.close()
    if offline or online:
        add_base_layers(m, page_config(offline, online))
    return save_html(m, out, title=title)


def write_division_map(
    data: CommunityData,
    out: Path,
    *,
    roads: gpd.GeoDataFrame | None = None,
    public: bool = True,
    tiles: str | None = None,
    basemap: Path | None = None,
) -> Path:
    """The division map; houses only on the staff map (``public=False``); over the base map
    of the tile archive ``basemap``, embedded (see :func:`_save`)."""
    m = render_division_map(
        data.grids,
        staff=data.staff,
        houses=None if public else data.houses,
        roads=roads,
        public=public,
        tiles=tiles,
    )
    return _save(m, out, f"{data.name} 网格划分图 Division map", data.grids, basemap)


def write_validation_map(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    out: Path,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float | None = None,
    tiles: str | None = None,
    basemap: Path | None = None,
) -> tuple[Path, gpd.GeoDataFrame]:
    """The findings of ``validate`` over the division; returns the path and the findings.

    Without ``tolerance_m`` the setting applies (:func:`api.config.coverage_tolerances`).
    """
    tolerance_m, noise_m = coverage_tolerances(tolerance_m)
    findings = validate(
        grids, boundary, code_field=code_field, tolerance_m=tolerance_m, noise_m=noise_m
    )
    m = render_validation_map(grids, findings, code_field=code_field, tiles=tiles)
    return _save(m, out, "网格校验图 Validation map", grids, basemap), findings


def incident_map(
    data: CommunityData,
    *,
    kind: IncidentMapKind = "heatmap",
    category: str | None = None,
    period: tuple[Any, Any] | None = None,
    time_slider: bool = False,
    tiles: str | None = None,
) -> folium.Map:
    """A heat-map, a choropleth of counts per grid, or Gi* hot-spots of the incidents."""
    if kind == "heatmap":
        return render_incident_heatmap(
            data.incidents,
            grids=data.grids,
            category=category,
            period=period,
            time_slider=time_slider,
            tiles=tiles,
        )
    chosen = filter_incidents(data.incidents, category=category, period=period)
    if kind == "choropleth":
        return render_incident_choropleth(
            count_per_grid(chosen, data.grids), data.grids, tiles=tiles
        )
    return render_hotspot_map(hotspots(chosen, data.grids), grids=data.grids, tiles=tiles)


def write_incident_map(
    data: CommunityData, out: Path, *, basemap: Path | None = None, **options: Any
) -> Path:
    """:func:`incident_map` written as a self-contained HTML file (over ``basemap``)."""
    title = f"{data.name} 事件地图 Incident map"
    return _save(incident_map(data, **options), out, title, data.grids, basemap)


def write_division_diagram(
    data: CommunityData,
    out: Path,
    *,
    roads: gpd.GeoDataFrame | None = None,
    base: Mapping[str, gpd.GeoDataFrame] | None = None,
    paper: str = "A4",
    landscape: bool = False,
) -> Path:
    """The community's division diagram (整体示意图), PDF or PNG by extension; ``base`` holds
    the base map's layers (:func:`gis.osm.read_osm_layers`)."""
    return print_division(
        data.grids,
        data.boundary,
        roads=roads,
        base=base,
        community_name=data.name,
        out=out,
        paper=paper,
        landscape=landscape,
    )


def write_boards(
    data: CommunityData,
    out: Path,
    *,
    roads: gpd.GeoDataFrame | None = None,
    paper: str = "A4",
    landscape: bool = False,
    public_url: str | None = None,
    supervision_phone: str | None = None,
    draft: bool = False,
) -> list[Path]:
    """One notice board per grid in code order (one PDF, or one PNG per grid).

    ``public_url`` and ``supervision_phone`` default to the settings of the same names
    (``WANGGE_PUBLIC_URL``, ``WANGGE_SUPERVISION_PHONE``); no public URL: no QR codes.
    """
    settings = get_settings()
    return print_boards(
        data.grids,
        staff=data.staff,
        boundary=data.boundary,
        roads=roads,
        community_name=data.name,
        out=out,
        paper=paper,
        landscape=landscape,
        public_url=public_url or settings.public_url,
        supervision_phone=supervision_phone or settings.supervision_phone,
        draft=draft,
    )
