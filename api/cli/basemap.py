"""``wangge basemap build``: the offline base map, vector tiles from OSM data.

Reads ``.osm``, ``.osm.pbf`` and GeoPackage sources (:func:`gis.osm.read_osm_layers`), adds
the registry's door plates when given ``--db`` (door-plate numbers and roads only: nothing
else of the registry goes into tiles), and writes a ``.pmtiles`` or ``.mbtiles`` archive
(:func:`maps.basemap.build_basemap`). Exit codes: 0 ok, 2 unusable input (an unknown
extension, a bad ``--bbox`` or zoom range, an unreadable source); nothing is written then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import DryRunFlag, JsonFlag
from api.cli.output import EXIT_OK, err, fail_input, out, report_dry_run
from gis.errors import InputError, WanggeError

__all__ = ["app", "parse_bbox"]

app = typer.Typer(
    help="离线底图 / offline base map",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` in lon/lat → a tuple; InputError naming the fault otherwise.

    >>> parse_bbox("121.48,31.22,121.50,31.25")
    (121.48, 31.22, 121.5, 31.25)
    """
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InputError(f"--bbox {text!r}: 应为 W,S,E,N 四个数 / expected four numbers W,S,E,N")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -85.06 <= south < north <= 85.06):
        raise InputError(
            f"--bbox {text!r}: 须 西<东、南<北，经度 ±180、纬度 ±85 内 / need W<E, S<N within"
            " lon ±180 and lat ±85"
        )
    return values


@app.command("build")
def build_command(
    sources: Annotated[
        list[Path],
        typer.Argument(help="OSM 数据：.osm、.osm.pbf 或 .gpkg / OSM data: .osm, .osm.pbf, .gpkg"),
    ],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", help="瓦片包 .pmtiles 或 .mbtiles / tile archive (.pmtiles, .mbtiles)"
        ),
    ],
    bbox: Annotated[
        str | None,
        typer.Option("--bbox", help="范围 W,S,E,N（经纬度）/ extent W,S,E,N in lon/lat"),
    ] = None,
    minzoom: Annotated[int, typer.Option("--minzoom", help="最小缩放级别 / lowest zoom")] = 10,
    maxzoom: Annotated[int, typer.Option("--maxzoom", help="最大缩放级别 / highest zoom")] = 16,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="加入登记房屋的门牌（数据库 URL）/ add the registry's door plates"
        ),
    ] = None,
    community: Annotated[
        str | None,
        typer.Option("--community", help="只取这个社区的门牌 / door plates of this community only"),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option("--processes", min=1, help="进程数（默认：全部 CPU）/ worker processes"),
    ] = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """由 OSM 数据生成离线底图矢量瓦片 / Build the offline base map's vector tiles from OSM data."""
    import geopandas as gpd
    import pandas as pd
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from api.core.write_plan import output_plan
    from api.db.engine import database_session
    from api.services.community_data import read_plate_numbers
    from gis.osm import read_osm_layers
    from maps.basemap import build_basemap
    from maps.tile_archive import archive_format

    try:
        archive_format(out_path)
        box = parse_bbox(bbox) if bbox else None
        if not 0 <= minzoom <= maxzoom <= 22:
            raise InputError(
                f"缩放级别无效 / bad zoom range --minzoom {minzoom} --maxzoom {maxzoom}"
                " (0 ≤ min ≤ max ≤ 22)"
            )
        with err.status("读取 OSM 数据 / reading OSM data…"):
            layers = read_osm_layers(sources, bbox=box)
            if db is not None or community is not None:
                with database_session(db) as session:
                    plates = read_plate_numbers(session, community)
                layers["addresses"] = gpd.GeoDataFrame(
                    pd.concat([layers["addresses"], plates], ignore_index=True),
                    geometry="geometry",
                    crs="EPSG:4326",
                )
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=as_json,
        )
        with progress, output_plan(dry_run) as plan:
            task = progress.add_task("切瓦片 / cutting tiles", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = build_basemap(
                layers,
                plan.path(out_path),
                bbox=box,
                minzoom=minzoom,
                maxzoom=maxzoom,
                processes=processes,
                on_progress=advance,
            )
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    shown = {"out": str(plan.shown(summary.path))}
    if as_json:
        payload = summary.as_dict() | shown
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in summary.features.items())
        out.print(
            f"底图 / base map → {shown['out']} ({summary.format}, z{summary.minzoom}–"
            f"{summary.maxzoom}): {summary.tiles} 个瓦片 / tiles, {summary.bytes / 1024:.0f} KiB,"
            f" 最大瓦片 / largest tile {summary.largest_tile_bytes / 1024:.0f} KiB; {counts}",
            highlight=False,
        )
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK)
