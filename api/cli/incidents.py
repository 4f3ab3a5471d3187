"""``wangge incidents inbox|stats|summary|slip``: the incident inbox, statistics and slips.

Exit codes: 0 ok, 2 bad input (unknown user, bad time, bad grouping).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.database import open_sessions
from api.cli.options import DbOption, DryRunFlag, JsonFlag
from api.cli.output import EXIT_OK, fail_input, fail_service, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app"]


app = typer.Typer(
    help="事件 / incidents: inbox, statistics, daily summary",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("inbox")
def inbox_command(
    user: Annotated[str, typer.Option("--user", help="用户名 / username")],
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """我的待办（逾期在前，按期限排序）/ A user's queue: overdue first, then by deadline."""
    from api.core.errors import ApiError
    from api.services.incidents.people import find_user
    from api.services.incidents.queues import inbox

    engine, sessions = open_sessions(db)
    try:
        with sessions() as session:
            items = inbox(session, find_user(session, user))
    except (ApiError, WanggeError) as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps({"user": user, "count": len(items), "data": items}))
        raise typer.Exit(EXIT_OK)
    out.print(f"{user}: {len(items)} 项待办 / items", highlight=False)
    for d in items:
        flag = "逾期/OVERDUE" if d["overdue"] else ("将到期/due soon" if d["due_soon"] else "")
        out.print(
            f"#{d['id']}\t{d['state']}\t{d['severity']}\t{d['category_code']}\t"
            f"{d['grid_code']}\tdue {d['due_at']}\t{flag}",
            highlight=False,
            markup=False,
        )


@app.command("stats")
def stats_command(
    by: Annotated[str, typer.Option("--by", help="grid,category,community")] = "grid",
    start: Annotated[str | None, typer.Option("--from", help="ISO 8601 (含 / inclusive)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601 (不含 / exclusive)")] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """统计：件数、处理时长中位数、按时办结率 / counts, median handling time, on-time share."""
    from api.services.incidents.stats import GROUP_COLUMNS, statistics_table

    engine, sessions = open_sessions(db)
    try:
        with sessions() as session:
            rows = statistics_table(
                session,
                viewer=None,
                by=tuple(b.strip() for b in by.split(",")),
                start=start,
                end=end,
            )
    except WanggeError as exc:
        raise fail_service(exc) from exc
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps({"by": by.split(","), "data": rows}))
        raise typer.Exit(EXIT_OK)
    for r in rows:
        share = r["on_time_share"]
        median = r["median_handling_hours"]
        keys = " ".join(str(r[GROUP_COLUMNS[b.strip()]]) for b in by.split(","))
        out.print(
            f"{keys}\tcount {r['count']}\topen {r['open']}\tresolved {r['resolved']}\t"
            f"median {'' if median is None else f'{median:.1f} h'}\t"
            f"on time {'' if share is None else f'{share:.0%}'}",
            highlight=False,
            markup=False,
        )


@app.command("summary")
def summary_command(
    day: Annotated[str | None, typer.Option("--day", help="YYYY-MM-DD（默认今天）")] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """每日汇总（各社区）/ Daily summary per community."""
    from api.services.incidents.deadlines import SHANGHAI
    from api.services.incidents.stats import daily_summary

    try:
        when = dt.date.fromisoformat(day) if day else dt.datetime.now(SHANGHAI).date()
    except ValueError as exc:
        raise fail_input(exc) from exc
    engine, sessions = open_sessions(db)
    try:
        with sessions() as session:
            rows = daily_summary(session, when, viewer=None)
    finally:
        engine.dispose()
    if as_json:
        out.print_json(json.dumps({"day": when.isoformat(), "data": rows}))
        raise typer.Exit(EXIT_OK)
    for r in rows:
        out.print(
            f"{r['community_code']} {r['community_name']}\treported {r['reported']}\t"
            f"resolved {r['resolved']}\topen {r['open']}\toverdue {r['overdue']}\t"
            f"due soon {r['due_soon']}",
            highlight=False,
            markup=False,
        )


@app.command("slip")
def slip_command(
    incident_id: Annotated[int, typer.Argument(help="事件编号 / incident id")],
    out_path: Annotated[Path, typer.Option("--out", help="输出 PDF / output .pdf")],
    db: DbOption = None,
    dry_run: DryRunFlag = False,
) -> None:
    """打印信息反馈单（PDF）/ Print an incident's feedback slip (PDF)."""
    from api.core.errors import ApiError
    from api.db.dry_run import write_scope
    from api.services.incidents.report import get_incident
    from api.services.incidents.slips import write_slip

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            incident = get_incident(session, incident_id)
            from api.core.config import get_settings

            path = write_slip(
                session,
                incident,
                scope.output(out_path),
                now=dt.datetime.now(dt.UTC),
                public_url=get_settings().public_url,
                issued_by="wangge cli",
            )
            path = scope.outputs.shown(path)
            session.commit()  # keep the rating link printed on the slip
    except (ApiError, WanggeError, ValueError) as exc:
        raise fail_service(exc) from exc
    out.print(f"已写出信息反馈单 / wrote feedback slip: {path}", highlight=False, markup=False)
    if dry_run:
        report_dry_run(scope.report)
