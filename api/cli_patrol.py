"""``wangge patrol``: hours a grid worker spent inside their grids, from a GPS track.

A Typer sub-app (:data:`patrol_app`), registered in :mod:`api.cli` as ``patrol``; a thin
wrapper of :func:`gis.patrol.patrol_report`.

Exit codes: 0 report printed (a week under 15 h is data, shown as a flag, not a failure),
2 unusable input (track or grids file, options).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    CodeField,
    GridsCRS,
    GridsLayer,
    InputCRS,
    JsonFlag,
    err,
    fail_input,
    out,
    read_input,
)
from gis.errors import WanggeError
from gis.patrol import (
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_THRESHOLD_HOURS,
)

__all__ = ["hours_command", "patrol_app"]

patrol_app = typer.Typer(
    help="巡查记录：网格内时长 / Patrol logs: time inside the grids.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _hours_from_db(
    db: str, path: Path, fixes, worker_name: str, *, store: bool, options: dict
) -> dict:
    from api.db.engine import database_session
    from api.services.patrol import find_worker, patrol_hours, report_dict, store_track

    with database_session(db) as session:
        worker = find_worker(session, worker_name)
        with err.status("计算中 / computing…"):
            days, weeks = patrol_hours(session, worker, fixes, **options)
        if store:
            record, created = store_track(
                session, worker, file_name=path.name, content=path.read_bytes(),
                track=fixes, days=days, uploaded_by="wangge patrol hours",
            )  # fmt: skip
            session.commit()
            if created:
                err.print(
                    f"已存入 / stored track {record.id} ({len(days)} 条日记录 / day rows)",
                    highlight=False,
                )
            else:
                err.print(
                    f"同一文件已存过，未重复记时 / this file is already stored as track "
                    f"{record.id}; nothing added",
                    highlight=False,
                )
    return report_dict(days, weeks)


def _days_table(report: dict, worker: str) -> Table:
    table = Table(title=f"{worker}: 每日网格内时长 / hours inside grids per day")
    for header in ("日期 date", "网格 grid", "小时 hours"):
        table.add_column(header)
    for row in report["days"]:
        table.add_row(row["date"], row["grid_code"], f"{row['hours']:.3f}")
    return table


def _weeks_table(report: dict) -> Table:
    table = Table(title="每周合计（周一起）/ weekly totals (from Monday)")
    for header in ("周一 week start", "小时 hours", f"不足 {DEFAULT_THRESHOLD_HOURS:g} 小时 under"):
        table.add_column(header)
    for row in report["weeks"]:
        flag = "是 / YES" if row["under_15h"] else ""
        table.add_row(row["week_start"], f"{row['hours']:.3f}", flag)
    return table


@patrol_app.command("hours")
def hours_command(
    track: Annotated[Path, typer.Argument(help="GPS 轨迹（GPX 或 CSV）/ GPS track (GPX or CSV)")],
    worker: Annotated[str, typer.Option("--worker", help="网格员姓名 / grid worker's name")],
    grids: Annotated[
        Path | None,
        typer.Option("--grids", help="该网格员负责的网格文件 / file of the worker's grids"),
    ] = None,
    code_field: CodeField = "code",
    db: Annotated[
        str | None,
        typer.Option("--db", help="数据库 URL（从登记查网格）/ database URL (grids from registry)"),
    ] = None,
    gcj02: Annotated[
        bool,
        typer.Option("--gcj02", help="轨迹坐标为 GCJ-02（同 --input-crs gcj02）/ track is GCJ-02"),
    ] = False,
    input_crs: InputCRS = None,
    grids_crs: GridsCRS = None,
    grids_layer: GridsLayer = None,
    max_gap_s: Annotated[
        float,
        typer.Option("--max-gap-s", min=0.0, help="定位间隔上限（秒）/ gap cap in seconds"),
    ] = DEFAULT_MAX_GAP_S,
    max_speed_kmh: Annotated[
        float,
        typer.Option("--max-speed-kmh", min=0.0, help="速度上限 / implausible speed, km/h"),
    ] = DEFAULT_MAX_SPEED_KMH,
    max_accuracy_m: Annotated[
        float,
        typer.Option("--max-accuracy-m", min=0.0, help="精度上限（米）/ worst accuracy kept, m"),
    ] = DEFAULT_MAX_ACCURACY_M,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="轨迹与每日时长入库（需 --db）/ store the track and its hours (needs --db)",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """每个网格每天的巡查时长，每周不足 15 小时标出 / Hours per grid per day, weeks under 15 h.

    The grids are all those in --grids FILE (the worker's grids), or the worker's grids in
    the registry (--db): the grid codes of the user (user_grids) or staff member
    (staff_grids) named by --worker, with the geometry of the division in effect on each
    day. --store (with --db) records the track and its hours (the same file once per worker);
    what was stored is said on stderr, so --json stays the report alone.

    --input-crs (or --gcj02) is the CRS of the track, the point input; the grids file is
    read in its own CRS unless --grids-crs.
    """
    from gis.patrol import patrol_report, read_track

    if db is not None and grids is not None:
        err.print(
            "输入错误 / bad input: --grids 与 --db 只能选一个 / give --grids FILE or --db URL, "
            "not both",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    if grids is None and db is None:
        err.print(
            "输入错误 / bad input: 需要 --grids FILE 或 --db URL / give --grids FILE or --db URL",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    options = {"max_speed_kmh": max_speed_kmh, "max_accuracy_m": max_accuracy_m,
               "max_gap_s": max_gap_s}  # fmt: skip
    try:
        fixes = read_track(track, gcj02=gcj02, input_crs=input_crs)
        if db is not None:
            report = _hours_from_db(db, track, fixes, worker, store=store, options=options)
        else:
            if store:
                raise WanggeError("--store 需要 --db / --store needs --db")
            grid_frame = read_input(
                grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
                crs_option="--grids-crs", geometry_type="polygon",
            )  # fmt: skip
            if code_field not in grid_frame.columns:
                raise WanggeError(f"{grids}: 没有编码字段 '{code_field}' / no code field")
            with err.status("计算中 / computing…"):
                report = patrol_report(fixes, grid_frame, code_field=code_field, **options)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        out.print(_days_table(report, worker))
        out.print(_weeks_table(report))
        under = sum(week["under_15h"] for week in report["weeks"])
        out.print(
            f"{worker}: {len(report['weeks'])} 周 / weeks, "
            f"{under} 周不足 {DEFAULT_THRESHOLD_HOURS:g} 小时 / under {DEFAULT_THRESHOLD_HOURS:g} h"
        )
    raise typer.Exit(EXIT_OK)
