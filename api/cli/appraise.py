"""``wangge appraise --community C --month YYYY-MM [--json] [--out F.xlsx|F.pdf]``.

The monthly appraisal per worker (:func:`api.services.appraisal.service.appraise`): prints a table
(or the JSON of ``GET /appraisal``) and writes the XLSX/PDF report with ``--out``. Exit
codes: 0 done, 2 unusable input (unknown community, bad month, bad weights, bad file type).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.options import CommunityOption, DbOption, JsonFlag
from api.cli.output import EXIT_OK, fail_input, out
from gis.errors import WanggeError

__all__ = ["appraise_command"]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def appraise_command(
    community: CommunityOption,
    month: Annotated[str, typer.Option("--month", help="月份 YYYY-MM / month")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="报表 .xlsx 或 .pdf / write the report (.xlsx or .pdf)"),
    ] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """月度绩效（每名工作人员）/ Monthly appraisal of every worker of a community."""
    from api.db.engine import database_session
    from api.services.appraisal.report import write_appraisal
    from api.services.appraisal.service import appraise

    if out_path is not None and out_path.suffix.lower() not in (".xlsx", ".pdf"):
        raise fail_input(ValueError(
            f"输出文件须为 .xlsx 或 .pdf / --out must end in .xlsx or .pdf: {out_path}"
        ))  # fmt: skip
    try:
        with database_session(db, begin=True) as session:
            result = appraise(session, community, month, now=dt.datetime.now(dt.UTC))
        if out_path is not None:
            write_appraisal(result, out_path)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False, default=str))
        raise typer.Exit(EXIT_OK)
    table = Table(title=f"{result['community']['name']} {result['month']} 月度绩效 / appraisal")
    for header in ("姓名 name", "角色 role", "社区考核", "按时办结", "巡查达标", "满意率",
                   "绩效 score", "民意测评 (95% CI, n)", "奖/惩"):  # fmt: skip
        table.add_column(header)
    for w in result["workers"]:
        c, s = w["components"], w["survey"]
        survey = ("—" if s["share"] is None else
                  f"{100 * s['share']:.1f}% ({100 * s['wilson_low']:.1f}–"
                  f"{100 * s['wilson_high']:.1f}%, n={s['responses']})")  # fmt: skip
        table.add_row(w["name"], w["role"], _fmt(c["assessment"]), _fmt(c["on_time"]),
                      _fmt(c["patrol"]), _fmt(c["satisfaction"]), _fmt(w["score"]), survey,
                      f"{len(w['rewards'])}/{len(w['accountability'])}")  # fmt: skip
    out.print(table)
    weights = "，".join(f"{k} {v:g}%" for k, v in result["weights"].items())
    out.print(f"权重 / weights: {weights}", highlight=False, markup=False)
    if not result["assessment"]["complete"]:
        missing = "；".join(result["assessment"]["missing"])
        out.print(
            f"社区考核未完成，绩效不含该项 / the community's assessment is not complete: {missing}",
            highlight=False,
            markup=False,
        )
    if out_path is not None:
        out.print(f"已写出 / wrote {out_path}", highlight=False, markup=False)
    raise typer.Exit(EXIT_OK)
