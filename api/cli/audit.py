"""``wangge audit verify [--db URL] [--head FILE]``: check the audit log's hash chain.

Exit 0: every row holds (and the head, and the exported head when given); exit 1: the first
row that breaks is named (edited, rows deleted before it or at the end); exit 2: unusable
input (no such database, an unreadable head file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from api.cli.options import DbOption, JsonFlag
from api.cli.output import EXIT_FINDINGS, EXIT_OK, fail_input, out
from gis.errors import InputError, WanggeError

__all__ = ["app", "verify_command"]

app = typer.Typer(help="审计日志 / audit log", no_args_is_help=True)


@app.command("verify")
def verify_command(
    db: DbOption = None,
    head: Annotated[
        Path | None,
        typer.Option("--head", help="导出的链头文件 / exported chain head: FILE.audit-head.json"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """校验审计日志哈希链 / Verify the audit log's hash chain (exit 1 naming the first bad row)."""
    from api.core.config import get_settings
    from api.db.audit_chain import verify_chain
    from api.db.engine import make_engine

    try:
        anchor = None
        if head is not None:
            if not head.is_file():
                raise InputError(f"{head}: 文件不存在 / file not found")
            anchor = json.loads(head.read_text(encoding="utf-8"))
            if not isinstance(anchor, dict) or "last_hash" not in anchor:
                raise InputError(f"{head}: 不是链头文件 / not an audit head file")
        engine = make_engine(db or get_settings().database_url)
        try:
            with engine.connect() as conn:
                report = verify_chain(conn, anchor=anchor)
        finally:
            engine.dispose()
    except (WanggeError, ValueError, OSError, sa.exc.SQLAlchemyError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    elif report.ok:
        out.print(
            f"审计日志完整 / audit log intact: {report.rows} 行 / rows, "
            f"链头 / head row {report.last_id} {report.last_hash}",
            highlight=False,
        )
    else:
        out.print(f"审计日志被篡改 / audit log TAMPERED: {report.problem}", highlight=False)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)
