"""``wangge db copy``: copy a whole database (e.g. SpatiaLite → PostGIS).

The copy itself is :func:`api.services.database_copy.copy_database`.
"""

from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli.options import (
    JsonFlag,
)
from api.cli.output import EXIT_OK, fail_input, out
from api.services.database_copy import copy_database
from gis.errors import WanggeError

__all__ = ["app", "db_copy_command"]

app = typer.Typer(help="数据库 / database", no_args_is_help=True, rich_markup_mode=None)


@app.command("copy")
def db_copy_command(
    source: Annotated[str, typer.Option("--from", help="源数据库 URL / source database URL")],
    target: Annotated[str, typer.Option("--to", help="目标数据库 URL（须为空）/ target (empty)")],
    as_json: JsonFlag = False,
) -> None:
    """整库复制（如 SpatiaLite → PostGIS）/ Copy a whole database (e.g. SpatiaLite → PostGIS)."""
    try:
        counts = copy_database(source, target)
    except (WanggeError, ValueError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps({"tables": counts, "rows": sum(counts.values())}))
    else:
        for name, n in counts.items():
            if n:
                out.print(f"{name}: {n}")
        out.print(
            f"已复制 / copied {sum(counts.values())} 行 / rows in {len(counts)} 张表 / tables"
        )
    raise typer.Exit(EXIT_OK)
