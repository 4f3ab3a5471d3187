"""``wangge backup --db URL --out FILE`` and ``wangge restore FILE --db URL``
(:mod:`api.services.backup`).

Exit codes: 0 done, 2 unusable input (no such database, not a backup, a target that is not empty, a
failing pg_dump/pg_restore).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli.options import DbOption, JsonFlag
from api.cli.output import EXIT_FINDINGS, EXIT_OK, fail_input, out
from gis.errors import WanggeError

__all__ = ["backup_command", "restore_command"]


def _db(db: str | None) -> str:
    if db is not None:
        return db
    from api.core.config import get_settings

    return get_settings().database_url


def backup_command(
    out_file: Annotated[Path, typer.Option("--out", help="备份文件 / backup file to write")],
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """备份整个数据库（使用中亦安全）/ Back up the whole database (safe while in use).

    SpatiaLite: SQLite online backup; PostGIS: pg_dump -Fc of the server's version. The
    audit chain's head is written beside it (FILE.audit-head.json).
    """
    from api.services.backup import backup

    try:
        result = backup(_db(db), out_file)
    except (WanggeError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(
            f"已备份 / backed up ({result['engine']}) → {result['file']}, {result['bytes']:,} B"
        )
    raise typer.Exit(EXIT_OK)


def restore_command(
    file: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """恢复备份到一个空数据库 / Restore a backup into an empty database.

    When the backup's audit head (FILE.audit-head.json) is beside it, the restored audit log
    is verified against it: exit 1 if the chain is broken (the data is restored all the same).
    """
    from api.services.backup import restore

    try:
        result = restore(file, _db(db))
    except (WanggeError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    tables = result["tables"]
    audit = result.get("audit")
    if as_json:
        out.print_json(json.dumps(result))
    else:
        for name, info in tables.items():
            if info["rows"]:
                out.print(f"{name}: {info['rows']}")
        rows = sum(info["rows"] for info in tables.values())
        out.print(f"已恢复 / restored {rows} 行 / rows in {len(tables)} 张表 / tables")
        if audit is not None:
            out.print(
                f"审计日志链完整 / audit chain intact: {audit['rows']} 行 / rows"
                if audit["ok"]
                else f"审计日志链断裂 / audit chain BROKEN: {audit['problem']}",
                highlight=False,
            )
    raise typer.Exit(EXIT_OK if audit is None or audit["ok"] else EXIT_FINDINGS)
