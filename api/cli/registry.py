"""``wangge template | import | export``: registry spreadsheets in and out of the database.

Exit codes: ``template`` and ``export`` 0 ok,
2 bad input; ``import`` 0 every row imported, 1 rows rejected (nothing written unless
``--only-good-rows``, then the good rows are), 2 unusable file, unknown community or a
database error (nothing written). Every command taking ``--db`` creates and migrates the
database when it does not exist yet.
"""

from __future__ import annotations

import enum
import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.options import AllowTruncate, CommunityOption, DbOption, DryRunFlag, InputCRS, JsonFlag
from api.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    err,
    fail_input,
    out,
    report_dry_run,
)
from gis.errors import WanggeError

__all__ = ["export_command", "import_command", "template_command"]


class RegisterKind(enum.StrEnum):
    """What a registry spreadsheet holds."""

    houses = "houses"
    residents = "residents"
    staff = "staff"


class TemplateKind(enum.StrEnum):
    """What ``wangge template`` writes: a registry spreadsheet, or the assessment's field check."""

    houses = "houses"
    residents = "residents"
    staff = "staff"
    field_check = "field-check"


class ExportLayer(enum.StrEnum):
    """What ``wangge export`` writes."""

    grids = "grids"
    houses = "houses"
    incidents = "incidents"
    residents = "residents"
    special = "special"
    staff = "staff"
    worklog = "worklog"


def template_command(
    kind: Annotated[TemplateKind, typer.Argument(help="houses|residents|staff|field-check")],
    out_path: Annotated[Path, typer.Option("--out", help="模板文件 .xlsx / template file")],
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """写出空白导入模板（中文表头、说明、下拉选项）/ Write the blank import template.

    ``field-check``: the monthly assessment's field-check workbook (sheets 房屋, 人口,
    特殊人群: the registry's fields), filled on the spot and read by ``wangge assess score``.
    """
    from api.core.write_plan import output_plan
    from api.services.registry.templates import (
        COLUMNS,
        FIELD_CHECK,
        FIELD_CHECK_SHEETS,
        write_template,
    )

    try:
        with output_plan(dry_run) as plan:
            written = plan.shown(write_template(kind.value, plan.path(out_path)))
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    kinds = list(FIELD_CHECK_SHEETS) if kind.value == FIELD_CHECK else [kind.value]
    headers = [c.header_zh for k in kinds for c in COLUMNS[k]]
    if as_json:
        payload = {"kind": kind.value, "out": str(written), "columns": headers}
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        out.print(f"模板 / template {kind.value}: {'、'.join(headers)} → {written}")
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK)


def _errors_table(errors, limit: int = 50) -> Table:
    table = Table(title="被拒绝的行 / rejected rows")
    for header in ("行 row", "列 column", "值 value", "原因 reason"):
        table.add_column(header)
    for e in errors[:limit]:
        table.add_row(
            str(e.row), e.column, "" if e.value is None else str(e.value),
            f"{e.reason_zh} / {e.reason_en}",
        )  # fmt: skip
    return table


def import_command(
    kind: Annotated[RegisterKind, typer.Argument(help="houses|residents|staff")],
    file: Annotated[Path, typer.Argument(help="XLSX/CSV 文件 / XLSX or CSV file")],
    community: CommunityOption,
    only_good_rows: Annotated[
        bool,
        typer.Option("--only-good-rows", help="只导入无误的行 / import the good rows only"),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="逐行报告 .xlsx|.csv / per-row report file"),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="记入变更历史的操作人 / who acts (change history)"),
    ] = None,
    db: DbOption = None,
    input_crs: InputCRS = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """批量导入房屋、人口、人员（一个事务）/ Bulk import houses, residents or staff."""
    from sqlalchemy.exc import SQLAlchemyError

    from api.db.dry_run import write_scope
    from api.services.accounts import act_as
    from api.services.registry.importer import import_file, write_report

    username = user or getpass.getuser()
    try:
        with write_scope(db, dry_run=dry_run) as scope:
            with scope.sessions.begin() as session:
                act_as(session, username)
                with err.status("导入中 / importing…"):
                    result = import_file(
                        session, kind.value, file, community=community,
                        only_good_rows=only_good_rows, input_crs=input_crs,
                    )  # fmt: skip
            if report is not None:
                write_report(result, scope.output(report))
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(
            f"[bold red]数据库错误，未写入任何数据 / database error, nothing written:[/] {reason}",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT) from exc

    if as_json:
        payload = result.as_dict() | {"report": None if report is None else str(report)}
        if dry_run:
            payload = report_dry_run(scope.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        if result.errors:
            out.print(_errors_table(result.errors))
        rejected = len(result.rejected_rows)
        if result.errors and not only_good_rows:
            verdict = "有错误，未导入 / rows rejected, nothing imported"
        else:
            verdict = f"已导入 / imported {result.imported}"
        out.print(
            f"{kind.value}: {result.rows} 行 / rows, 拒绝 / rejected {rejected}; {verdict}"
            + (f"; 无网格 / no grid {result.outside}" if kind.value == "houses" else "")
        )
        if result.ignored_columns:
            out.print(f"未识别的列（忽略）/ ignored columns: {', '.join(result.ignored_columns)}")
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_FINDINGS if result.errors else EXIT_OK)


def export_command(
    layer: Annotated[
        ExportLayer,
        typer.Argument(help="grids|houses|incidents|residents|special|staff|worklog"),
    ],
    community: CommunityOption,
    out_path: Annotated[
        Path,
        typer.Option("--out", help=".xlsx|.csv|.gpkg|.shp|.geojson 输出文件 / output file"),
    ],
    division: Annotated[
        str | None,
        typer.Option("--division", help="网格划分标签（默认今天生效的）/ division label"),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option("--month", help="月份 YYYY-MM（事件、工作日志）/ month (incidents, worklog)"),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option("--category", help="事件或特殊人群类别代码 / incident or special category"),
    ] = None,
    unmask: Annotated[
        bool,
        typer.Option(
            "--unmask",
            help="不脱敏（需 --user 持有覆盖本次导出的已批准申请，记审计）/ unmasked (audited)",
        ),
    ] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="导出人用户名 / the exporting user's name")
    ] = None,
    db: DbOption = None,
    allow_truncate: AllowTruncate = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """导出图层与台账 / Export a layer or ledger (XLSX, CSV; GPKG, SHP, GeoJSON for grids,
    houses, incidents).

    Residents and special rosters are masked (ID numbers, phones) unless --unmask and the
    user named by --user holds approved, unexpired access requests covering every resident
    exported; an unmasked export leaves one audit row. Exit 0 written, 2 bad input or no
    covering request.
    """
    from api.db.dry_run import write_scope
    from api.services.incidents.people import find_user
    from api.services.registry.exporter import export_layer

    try:
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            # an unknown user or no covering request is an ApiError: a WanggeError like any
            exporter = find_user(session, user) if user is not None else None
            result = export_layer(
                session, layer.value, scope.output(out_path), community=community,
                division=division, month=month, category=category, unmask=unmask,
                user=exporter, allow_truncate=allow_truncate,
            )  # fmt: skip
            session.commit()
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    payload = result.as_dict() | {"out": str(scope.outputs.shown(result.path))}
    if as_json:
        if dry_run:
            payload = report_dry_run(scope.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        which = f" ({result.division})" if result.division else ""
        shown = {True: "（脱敏 / masked）", False: "（未脱敏，已审计 / unmasked, audited）"}
        which += shown.get(result.masked, "")
        out.print(f"{layer.value}{which}: {result.rows} 条 / rows → {payload['out']}")
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_OK)
