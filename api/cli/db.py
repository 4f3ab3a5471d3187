"""``wangge db copy``: copy a whole database (e.g. SpatiaLite → PostGIS).

The copy itself is :func:`api.services.database_copy.copy_database`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.options import (
    DryRunFlag,
    JsonFlag,
)
from api.cli.output import EXIT_OK, fail_input, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app", "db_copy_command"]

app = typer.Typer(help="数据库 / database", no_args_is_help=True, rich_markup_mode=None)


@app.command("copy")
def db_copy_command(
    source: Annotated[str, typer.Option("--from", help="源数据库 URL / source database URL")],
    target: Annotated[str, typer.Option("--to", help="目标数据库 URL（须为空）/ target (empty)")],
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """整库复制（如 SpatiaLite → PostGIS）/ Copy a whole database (e.g. SpatiaLite → PostGIS)."""
    import sqlalchemy as sa

    from api.db.dry_run import WriteReport
    from api.services.database_copy import copy_database

    report = WriteReport()
    try:
        counts = copy_database(source, target, dry_run=dry_run, report=report)
    except (WanggeError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        payload = {"tables": counts, "rows": sum(counts.values())}
        if dry_run:
            payload = report_dry_run(report, payload)
        out.print_json(json.dumps(payload))
    else:
        for name, n in counts.items():
            if n:
                out.print(f"{name}: {n}")
        out.print(
            f"已复制 / copied {sum(counts.values())} 行 / rows in {len(counts)} 张表 / tables"
        )
        if dry_run:
            report_dry_run(report)
    raise typer.Exit(EXIT_OK)
