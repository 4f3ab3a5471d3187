"""``wangge gazetteer build``: build the door-plate gazetteer the geocoder matches against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import JsonFlag
from api.cli.output import EXIT_OK, fail_input, out
from gis.errors import InputError, WanggeError

__all__ = ["app", "gazetteer_build_command"]

app = typer.Typer(help="门牌库 / door-plate gazetteer", no_args_is_help=True)


@app.command("build")
def gazetteer_build_command(
    source: Annotated[
        Path,
        typer.Option("--from", help="OSM 数据 .osm/.osm.pbf/.gpkg / OSM data with addr:* tags"),
    ],
    out_path: Annotated[Path, typer.Option("--out", help="门牌库 CSV / gazetteer CSV")],
    prefix: Annotated[
        str,
        typer.Option("--prefix", help="地址前缀，如 上海市黄浦区 / place names before addresses"),
    ] = "",
    as_json: JsonFlag = False,
) -> None:
    """从 OSM 地址标签生成门牌库 / Build a door-plate gazetteer from OSM addr:* tags."""
    from gis.gazetteer_osm import gazetteer_from_osm

    if out_path.suffix.lower() != ".csv":
        raise fail_input(InputError(f"{out_path}: 门牌库须为 .csv / the gazetteer must be .csv"))
    try:
        plates = gazetteer_from_osm(source, prefix=prefix)
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    out_path.parent.mkdir(parents=True, exist_ok=True)
    plates.to_csv(out_path, index=False, encoding="utf-8")
    summary = {"door_plates": len(plates), "roads": int(plates["road"].nunique())}
    summary["out"] = str(out_path)
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        out.print(
            f"门牌 / door plates: {summary['door_plates']}，道路 / roads: {summary['roads']}"
            f" → {out_path}（© OpenStreetMap contributors, ODbL）",
            highlight=False,
        )
    raise typer.Exit(EXIT_OK)
