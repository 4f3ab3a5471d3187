"""``wangge assess draw | dept | score | show | report``: the monthly assessment of communities.

Thin wrappers of :mod:`api.services.assessment.service`;
every command takes ``--db`` (created and migrated when missing) and ``--json``.

Exit codes: 0 done, 1 ``score``/``show`` when the month is not complete yet (draw, five
department scores and every sample point are needed for a total), 2 unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.options import CommunityOption, DbOption, JsonFlag
from api.cli.output import EXIT_FINDINGS, EXIT_OK, err, fail_input, out
from gis.errors import WanggeError

__all__ = ["app"]

app = typer.Typer(
    help="月度考核 / monthly assessment",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

MonthOption = Annotated[str, typer.Option("--month", help="考核月份 YYYY-MM / month")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="操作人（记入记录）/ who does it (recorded)")
]


def _run(db: str | None, work):
    """Run ``work(session)`` in one transaction on ``db``; bad input exits 2."""
    from api.db.engine import database_session

    try:
        with database_session(db, begin=True) as session:
            return work(session)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc


def _print(payload: dict, as_json: bool, text) -> None:
    if as_json:
        out.print_json(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        text()


@app.command("draw")
def draw_command(
    community: CommunityOption,
    month: MonthOption,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, help="随机种子（默认由社区和月份导出）/ seed"),
    ] = None,
    by: ByOption = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """抽取本月 10 个样本点（可复现，记录种子）/ Draw the month's 10 sample points (recorded)."""
    from api.services.assessment.service import draw

    result = _run(db, lambda s: draw(s, community, month, seed=seed, by=by or "wangge assess"))

    def text() -> None:
        table = Table(title=f"{result['community']['name']} {result['month']} 样本点 / sample")
        for header in ("序号 #", "房屋编号 house", "门牌号码 door plate"):
            table.add_column(header)
        for h in result["households"]:
            table.add_row(str(h["draw_order"]), h["house_key"], h["address"] or "")
        out.print(table)
        state = "新抽取 / drawn now" if result["created"] else "已抽取过，原样返回 / drawn before"
        out.print(f"{state}; 种子 / seed {result['seed']}; {result['note']}".rstrip("; "))

    _print(result, as_json, text)
    raise typer.Exit(EXIT_OK)


@app.command("dept")
def dept_command(
    community: CommunityOption,
    month: MonthOption,
    dept: Annotated[
        str,
        typer.Option(
            "--dept",
            help="部门代码或名称 / department: office|social_affairs|economy|"
            "urban_management|stability",
        ),
    ],
    points: Annotated[float, typer.Option("--points", help="评分 0–8 / points 0–8")],
    reason: Annotated[str, typer.Option("--reason", help="评分理由 / reason")],
    by: ByOption = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """录入部门评分（0–8 分及理由）/ Enter a department's score (0–8, with its reason)."""
    from api.services.assessment.service import set_department_score

    result = _run(
        db,
        lambda s: set_department_score(
            s, community, month, dept=dept, points=points, reason=reason, by=by
        ),
    )
    _print(
        result,
        as_json,
        lambda: out.print(
            f"{result['community']} {result['month']} {result['dept_zh']}: "
            f"{result['points']:g} / 8 — {result['reason']}"
        ),
    )
    raise typer.Exit(EXIT_OK)


def _points_table(result: dict) -> Table:
    table = Table(title=f"{result['community']['name']} {result['month']} 样本点得分 / points")
    for header in ("房屋编号 house", "门牌号码", "得分 /6", "扣分明细 deductions"):
        table.add_column(header)
    for p in result["points"]:
        lines = [
            f"{d['record']}·{d['field_zh']}: {d['registry_value']} → {d['field_value']} "
            f"(-{d['points']:g}{'，' + d['note'] if d['note'] else ''})"
            for d in p["deductions"]
        ]
        table.add_row(p["house_key"], p["address"] or "", f"{p['score']:g}", "\n".join(lines))
    return table


def _summary(result: dict) -> None:
    out.print(_points_table(result))
    if result["complete"]:
        out.print(
            f"总分 / total {result['total']:g} = 部门 {result['department_points']:g} + "
            f"样本点 {result['sample_points']:g} {result['note']}".rstrip()
        )
    else:
        out.print("尚未完成 / not complete: " + "；".join(result["missing"]))


@app.command("score")
def score_command(
    community: CommunityOption,
    month: MonthOption,
    field_data: Annotated[
        Path,
        typer.Option(
            "--field-data",
            help="实地核查表 .xlsx（wangge template field-check）/ field-check workbook",
        ),
    ],
    by: ByOption = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """比对实地核查数据与登记并扣分 / Score the sample points' field data against the registry."""
    from api.services.assessment.service import community_result, read_field_data, score_field_data

    def work(session):
        households = read_field_data(field_data)
        score_field_data(session, community, month, households, by=by or "wangge assess")
        return community_result(session, community, month)

    result = _run(db, work)
    _print(result, as_json, lambda: _summary(result))
    raise typer.Exit(EXIT_OK if result["complete"] else EXIT_FINDINGS)


@app.command("show")
def show_command(
    community: CommunityOption,
    month: MonthOption,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """查看社区本月考核（样本点、部门评分、总分）/ Show a community's month."""
    from api.services.assessment.service import community_result

    result = _run(db, lambda s: community_result(s, community, month))
    _print(result, as_json, lambda: _summary(result))
    raise typer.Exit(EXIT_OK if result["complete"] else EXIT_FINDINGS)


@app.command("report")
def report_command(
    month: MonthOption,
    out_path: Annotated[Path, typer.Option("--out", help="输出 .xlsx 或 .pdf / output file")],
    unmasked: Annotated[
        bool,
        typer.Option("--unmasked", help="身份证号、电话不打码（存档用）/ do not mask IDs, phones"),
    ] = False,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """导出本月考核结果与排名（XLSX/PDF）/ Write the month's results and ranking (XLSX/PDF)."""
    from api.services.assessment.service import write_month_report

    def work(session):
        written, ranking, incomplete = write_month_report(
            session, month, out_path, mask=not unmasked
        )
        return {
            "out": str(written),
            "month": month,
            "ranking": [
                {"rank": int(r.rank), "community": str(r.community), "total": float(r.total)}
                for r in ranking.itertuples()
            ],
            "incomplete": incomplete,
        }

    result = _run(db, work)

    def text() -> None:
        for r in result["ranking"]:
            out.print(f"{r['rank']}. {r['community']} {r['total']:g}")
        for name, missing in result["incomplete"].items():
            err.print(f"未完成，未列入 / incomplete, left out: {name}: {'；'.join(missing)}")
        out.print(f"→ {result['out']}")

    _print(result, as_json, text)
    raise typer.Exit(EXIT_OK)
