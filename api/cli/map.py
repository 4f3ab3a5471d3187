"""``wangge map`` and ``wangge print``: maps and printouts of a stored community.

``wangge map division|validation|incidents --community X [--db URL] --out map.html`` writes
a self-contained HTML map (opens from disk, no server, no network);
``wangge print division|boards --community X [--db URL] [--paper A4|A3] [--landscape]
--out file.pdf|png`` prints the division diagram or one notice board per grid.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.inputs import read_input
from api.cli.options import CommunityOption, DbOption, DryRunFlag, JsonFlag, RoadsCRS
from api.cli.output import EXIT_OK, err, fail_input, out, report_dry_run
from gis.errors import InputError, WanggeError

__all__ = ["map_command", "print_command"]


class MapKind(StrEnum):
    division = "division"
    validation = "validation"
    incidents = "incidents"


class PrintKind(StrEnum):
    division = "division"
    boards = "boards"


class IncidentStyle(StrEnum):
    heatmap = "heatmap"
    choropleth = "choropleth"
    hotspots = "hotspots"


Roads = Annotated[
    Path | None, typer.Option("--roads", help="道路文件（可选）/ roads to draw (optional)")
]
RoadsLayer = Annotated[str | None, typer.Option("--roads-layer", help="道路图层 / roads layer")]
Out = Annotated[Path, typer.Option("--out", help="输出文件 / output file")]


def _roads(path: Path | None, layer: str | None, crs: str | None):
    if path is None:
        return None
    return read_input(
        path, layer=layer, crs=crs, layer_option="--roads-layer", crs_option="--roads-crs"
    )


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{option} 应为 YYYY-MM-DD / must be YYYY-MM-DD: {value!r}") from exc


def map_command(
    kind: Annotated[MapKind, typer.Argument(help="division | validation | incidents")],
    community: CommunityOption,
    out_path: Out,
    db: DbOption = None,
    roads: Roads = None,
    roads_layer: RoadsLayer = None,
    roads_crs: RoadsCRS = None,
    tiles: Annotated[
        str, typer.Option("--tiles", help="底图 none|osm|tianditu / base tiles")
    ] = "none",
    staff_view: Annotated[
        bool,
        typer.Option("--staff-view", help="工作人员视图（含房屋）/ staff view with houses"),
    ] = False,
    style: Annotated[
        IncidentStyle, typer.Option("--style", help="事件图样式 / incident map style")
    ] = IncidentStyle.heatmap,
    category: Annotated[
        str | None, typer.Option("--category", help="事件类别编码 / category code")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="起始日期 YYYY-MM-DD / from")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="截止日期（不含）YYYY-MM-DD / to (exclusive)")
    ] = None,
    time_slider: Annotated[
        bool, typer.Option("--time-slider", help="按周播放 / weekly time slider")
    ] = False,
    basemap: Annotated[
        Path | None,
        typer.Option(
            "--basemap",
            help="离线底图瓦片包，嵌入本图范围内的瓦片（默认 WANGGE_BASEMAP）/ base map archive:"
            " its tiles over the map's extent are embedded (default: WANGGE_BASEMAP)",
        ),
    ] = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """生成网页地图（离线可用）/ Write a self-contained web map of a community.

    With a base map (--basemap or WANGGE_BASEMAP) its vector tiles over the map's extent are
    embedded, so the file shows streets and their names with no server and no network."""
    from api.core.write_plan import output_plan
    from api.services.community_data import read_stored_community
    from api.services.map_outputs import (
        write_division_map,
        write_incident_map,
        write_validation_map,
    )

    try:
        tile_choice = None if tiles == "none" else tiles
        if basemap is None:
            from api.core.config import get_settings

            basemap = get_settings().basemap
        period = None
        if date_from or date_to:
            period = (_date(date_from, "--from"), _date(date_to, "--to"))
        with err.status("出图中 / drawing…"), output_plan(dry_run) as plan:
            out_path = plan.path(out_path)
            data = read_stored_community(db, community)
            if kind is MapKind.division:
                written = write_division_map(
                    data,
                    out_path,
                    roads=_roads(roads, roads_layer, roads_crs),
                    public=not staff_view,
                    tiles=tile_choice,
                    basemap=basemap,
                )
            elif kind is MapKind.validation:
                written, _ = write_validation_map(
                    data.grids, data.boundary, out_path, tiles=tile_choice, basemap=basemap
                )
            else:
                written = write_incident_map(
                    data,
                    out_path,
                    kind=style.value,
                    category=category,
                    period=period,
                    time_slider=time_slider,
                    tiles=tile_choice,
                    basemap=basemap,
                )
            written = plan.shown(written)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        payload = {"map": kind.value, "out": str(written)}
        out.print_json(json.dumps(report_dry_run(plan.report, payload) if dry_run else payload))
    else:
        out.print(f"已生成 / written: {written}", highlight=False)
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK)


def print_command(
    kind: Annotated[PrintKind, typer.Argument(help="division | boards")],
    community: CommunityOption,
    out_path: Out,
    db: DbOption = None,
    roads: Roads = None,
    roads_layer: RoadsLayer = None,
    roads_crs: RoadsCRS = None,
    osm: Annotated[
        list[Path] | None,
        typer.Option(
            "--osm",
            help="底图数据 .osm/.osm.pbf/.gpkg（可多次）/ base map data (repeatable)",
        ),
    ] = None,
    paper: Annotated[str, typer.Option("--paper", help="纸张 A4|A3 / paper")] = "A4",
    landscape: Annotated[bool, typer.Option("--landscape", help="横向 / landscape")] = False,
    draft: Annotated[
        bool,
        typer.Option(
            "--draft", help="公示牌草稿：缺项印“待填”/ boards: print 待填 for missing fields"
        ),
    ] = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """打印网格示意图或网格公示牌（PDF/PNG）/ Print the division diagram or notice boards.

    --osm draws the base map (green, water, buildings, roads and road names) on the division
    diagram from the same OSM data ``wangge basemap build`` cuts tiles from.
    Boards carry a QR code to <WANGGE_PUBLIC_URL>/public?grid=<code> when the setting
    public_url is set (else they print without it, with a warning) and the supervision phone
    of the setting supervision_phone; missing fields print as blank lines (--draft: 待填).
    """
    from api.core.config import get_settings
    from api.core.write_plan import output_plan
    from api.services.community_data import read_stored_community
    from api.services.map_outputs import write_boards, write_division_diagram
    from gis.osm import read_osm_layers

    warnings: list[str] = []
    try:
        if paper.upper() not in ("A4", "A3"):
            raise InputError(f"纸张只能是 A4 或 A3 / paper must be A4 or A3: {paper!r}")
        with err.status("打印中 / printing…"), output_plan(dry_run) as plan:
            out_path = plan.path(out_path)
            data = read_stored_community(db, community)
            road_frame = _roads(roads, roads_layer, roads_crs)
            if kind is PrintKind.division:
                base = read_osm_layers(osm) if osm else None
                written = [
                    write_division_diagram(
                        data,
                        out_path,
                        roads=road_frame,
                        base=base,
                        paper=paper.upper(),
                        landscape=landscape,
                    )
                ]
            else:
                if not get_settings().public_url:
                    warnings.append(
                        "未设置 WANGGE_PUBLIC_URL，公示牌不印二维码 / WANGGE_PUBLIC_URL is not "
                        "set: boards print without the QR code"
                    )
                written = write_boards(
                    data, out_path, roads=road_frame, paper=paper.upper(), landscape=landscape,
                    draft=draft,
                )  # fmt: skip
            written = [plan.shown(p) for p in written]
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    for text in warnings:
        err.print(f"警告 / warning: {text}", highlight=False)
    if as_json:
        payload = {"print": kind.value, "out": [str(p) for p in written]}
        if kind is PrintKind.boards:
            payload["warnings"] = warnings
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        for path in written:
            out.print(f"已生成 / written: {path}", highlight=False)
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK)
