"""``wangge patrol``: hours a grid worker spent inside their grids, from a GPS track.

A Typer sub-app (:data:`app`), registered in :mod:`api.cli` as ``patrol``; a thin
wrapper of :func:`gis.patrol.patrol_report`.

Commands: ``hours`` (time inside the grids from a track), ``manual add|approve|reject|list``
(manual patrol hours for a worker without a phone, approved by the community head, counted
apart from GPS hours), ``week`` (the printable weekly work log, PDF).

Exit codes of ``hours``: 0 every week reaches the requirement
(:data:`gis.patrol.DEFAULT_THRESHOLD_HOURS`, 15 h), 1 a finding: some week is short (the
report is printed all the same), 2 unusable input (track or grids file, options).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.inputs import read_grid_frame
from api.cli.options import (
    CodeField,
    DbOption,
    DryRunFlag,
    GridsCRS,
    GridsLayer,
    InputCRS,
    JsonFlag,
)
from api.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    err,
    fail_input,
    out,
    report_dry_run,
)
from gis.defaults import (
    DEFAULT_MAX_ACCURACY_M,
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_THRESHOLD_HOURS,
)
from gis.errors import InputError, WanggeError

__all__ = ["app", "hours_command", "manual_app", "week_command"]

app = typer.Typer(
    help="巡查轨迹 / patrol logs",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _hours_from_db(
    db: str, path: Path, fixes, worker_name: str, *, store: bool, options: dict, dry_run: bool
) -> dict:
    from api.db.dry_run import write_scope
    from api.services.patrol import (
        find_worker,
        patrol_hours,
        report_dict,
        store_track,
        with_manual_hours,
    )

    with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
        worker = find_worker(session, worker_name)
        with err.status("计算中 / computing…"):
            days, weeks = patrol_hours(session, worker, fixes, **options)
        weeks = with_manual_hours(session, worker, days, weeks)
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
    report = report_dict(days, weeks)
    return report_dry_run(scope.report, report) if dry_run else report


def _report_text(payload: dict) -> None:
    from api.db.dry_run import WriteReport

    report_dry_run(WriteReport.from_dict(payload["would_write"]))


def _days_table(report: dict, worker: str) -> Table:
    table = Table(title=f"{worker}: 每日网格内时长 / hours inside grids per day")
    for header in ("日期 date", "网格 grid", "小时 hours"):
        table.add_column(header)
    for row in report["days"]:
        table.add_row(row["date"], row["grid_code"], f"{row['hours']:.3f}")
    return table


def _weeks_table(report: dict) -> Table:
    table = Table(title="每周合计（周一起）/ weekly totals (from Monday)")
    apart = any("manual_hours" in row for row in report["weeks"])
    headers = ["周一 week start", "小时 hours"]
    if apart:
        headers += ["GPS", "补录 manual"]
    for header in (*headers, f"不足 {DEFAULT_THRESHOLD_HOURS:g} 小时 under"):
        table.add_column(header)
    for row in report["weeks"]:
        flag = "是 / YES" if row["under_15h"] else ""
        cells = [row["week_start"], f"{row['hours']:.3f}"]
        if apart:
            cells += [f"{row['gps_hours']:.3f}", f"{row['manual_hours']:.3f}"]
        table.add_row(*cells, flag)
    return table


@app.command("hours")
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
    dry_run: DryRunFlag = False,
) -> None:
    """每个网格每天的巡查时长，每周不足 15 小时标出 / Hours per grid per day, weeks under 15 h.

    Exit 1 when a week is short of 15 h, 0 when none is, 2 for bad input. With --db the
    worker's approved manual hours of the same weeks count too, apart (``gps_hours``,
    ``manual_hours``; ``hours`` is their sum).

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
            report = _hours_from_db(
                db, track, fixes, worker, store=store, options=options, dry_run=dry_run
            )
        else:
            if store:
                raise InputError("--store 需要 --db / --store needs --db")
            grid_frame = read_grid_frame(
                grids, code_field=code_field, layer=grids_layer, crs=grids_crs
            )
            with err.status("计算中 / computing…"):
                report = patrol_report(fixes, grid_frame, code_field=code_field, **options)
            if dry_run:  # from files only: nothing is written either way
                from api.db.dry_run import WriteReport

                report = report_dry_run(WriteReport(), report)
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
        if dry_run:
            _report_text(report)
    short = any(week["under_15h"] for week in report["weeks"])
    raise typer.Exit(EXIT_FINDINGS if short else EXIT_OK)


# --------------------------------------------------------------------------- manual hours

manual_app = typer.Typer(
    help="补录巡查时长（社区负责人审批）/ Manual patrol hours (approved by the community head).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(manual_app, name="manual")


def _aware(text: str, option: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: 不是 ISO 时间 / not an ISO time: {text!r}") from None
    if value.tzinfo is None:
        raise InputError(f"{option}: 须带时区，如 +08:00 / needs an offset such as +08:00")
    return value


def _print_entry(entry: dict, as_json: bool, verb: str) -> None:
    if as_json:
        out.print_json(json.dumps(entry, ensure_ascii=False))
    else:
        out.print(
            f"{verb}: #{entry['id']} {entry['worker']} {entry['grid_code']} {entry['start']} – "
            f"{entry['end']} {entry['hours']:.2f} 小时 / h [{entry['status']}]",
            highlight=False,
        )
        if entry.get("dry_run"):
            _report_text(entry)


@manual_app.command("add")
def manual_add_command(
    worker: Annotated[str, typer.Option("--worker", help="网格员 / grid worker")],
    grid: Annotated[str, typer.Option("--grid", help="网格编码 / grid code")],
    start: Annotated[str, typer.Option("--start", help="开始 2026-12-07T08:00+08:00")],
    end: Annotated[str, typer.Option("--end", help="结束 2026-12-07T11:30+08:00")],
    note: Annotated[str | None, typer.Option("--note", help="说明 / note")] = None,
    by: Annotated[str | None, typer.Option("--by", help="录入人 / entered by")] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """补录一段巡查（待审批）/ Enter manual patrol hours (awaiting approval). Exit 0/2."""
    from api.db.dry_run import write_scope
    from api.services.patrol import find_worker
    from api.services.patrol_manual import add_manual_hours, manual_dict

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            entry = add_manual_hours(
                session, find_worker(session, worker), grid_code=grid,
                start=_aware(start, "--start"), end=_aware(end, "--end"), note=note,
                entered_by=by or "wangge patrol manual add",
            )  # fmt: skip
            session.commit()
            shown = manual_dict(entry)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if dry_run:
        shown = report_dry_run(scope.report, shown)
    _print_entry(shown, as_json, "已登记，待审批 / entered, awaiting approval")
    raise typer.Exit(EXIT_OK)


def _decide(
    entry_id: int, by: str, note: str | None, db: str | None, approve: bool, dry_run: bool
) -> dict:
    from api.core.errors import ApiError
    from api.db.dry_run import write_scope
    from api.services.incidents.people import find_user
    from api.services.patrol_manual import decide_manual_hours, manual_dict

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            entry = decide_manual_hours(
                session, entry_id=entry_id, approver=find_user(session, by), approve=approve,
                note=note,
            )  # fmt: skip
            session.commit()
            shown = manual_dict(entry)
    except ApiError as exc:  # unknown user or entry, not an approver, already decided
        raise fail_input(WanggeError(str(exc))) from exc
    return report_dry_run(scope.report, shown) if dry_run else shown


EntryId = Annotated[int, typer.Argument(help="补录编号 / entry id")]
ByUser = Annotated[str, typer.Option("--by", help="审批人用户名（社区负责人）/ approver")]
Note = Annotated[str | None, typer.Option("--note", help="意见 / note")]


@manual_app.command("approve")
def manual_approve_command(
    entry_id: EntryId,
    by: ByUser,
    note: Note = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """批准补录（计入周合计）/ Approve manual hours. Exit 0, 2 refused or bad input."""
    _print_entry(_decide(entry_id, by, note, db, True, dry_run), as_json, "已批准 / approved")
    raise typer.Exit(EXIT_OK)


@manual_app.command("reject")
def manual_reject_command(
    entry_id: EntryId,
    by: ByUser,
    note: Note = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """驳回补录 / Reject manual hours. Exit 0, 2 refused or bad input."""
    _print_entry(_decide(entry_id, by, note, db, False, dry_run), as_json, "已驳回 / rejected")
    raise typer.Exit(EXIT_OK)


@app.command("week")
def week_command(
    worker: Annotated[str, typer.Option("--worker", help="网格员 / grid worker")],
    week: Annotated[str, typer.Option("--week", help="周内任一日 YYYY-MM-DD / a day of it")],
    out_path: Annotated[Path, typer.Option("--out", help="输出 PDF / output .pdf")],
    db: DbOption = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """打印一周工作日志（PDF，签名、时间）/ Print a worker's weekly work log (PDF).

    Exit 0 written, 1 written but the week is short of 15 h, 2 bad input.
    """
    from api.db.dry_run import write_scope
    from api.services.patrol import find_worker, weekly_log
    from maps.work_log_print import render_weekly_log

    try:
        day = dt.date.fromisoformat(week)
        with write_scope(db, dry_run=dry_run) as scope:
            with scope.sessions() as session:
                log = weekly_log(session, find_worker(session, worker), day)
            written = scope.outputs.shown(render_weekly_log(log, scope.output(out_path)))
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    total = log.gps_hours + log.manual_hours
    short = total < log.threshold_hours
    if as_json:
        payload = {"out": str(written), "week_start": log.week_start,
                   "gps_hours": round(log.gps_hours, 3),
                   "manual_hours": round(log.manual_hours, 3),
                   "hours": round(total, 3), "under_15h": short}  # fmt: skip
        out.print_json(json.dumps(report_dry_run(scope.report, payload) if dry_run else payload))
    else:
        out.print(f"{log.signed_name} {log.week_start}: {total:.2f} 小时 / h → {written}")
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_FINDINGS if short else EXIT_OK)
