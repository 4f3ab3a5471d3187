"""``wangge load division``: validate a division of a community and store it.

The database is created and migrated when it does not exist yet
(:func:`api.db.engine.init_db`). Exit codes: 0 stored, 1 the division does not validate (not
stored without ``--force``), 2 unusable input.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.inputs import read_division
from api.cli.options import (
    BoundaryCRS,
    BoundaryLayer,
    CodeField,
    CommunityOption,
    DbOption,
    DryRunFlag,
    GridsCRS,
    JsonFlag,
    Layer,
    ToleranceOption,
)
from api.cli.output import EXIT_FINDINGS, EXIT_OK, err, fail_input, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["app", "load_division_command"]

app = typer.Typer(
    help="入库 / load data into the database", no_args_is_help=True, rich_markup_mode=None
)


def _print_load(result: dict[str, Any], where: str) -> None:
    kinds = ", ".join(f"{k}={n}" for k, n in result["kinds"].items()) or "无问题 / no findings"
    verdict = "通过 / VALID" if result["valid"] else "不通过 / INVALID"
    out.print(f"校验 / validate: {verdict}; {kinds}")
    if not result["stored"]:
        out.print(
            "未入库：划分未通过校验（--force 可强制）/ NOT stored: the division does not "
            "validate (use --force to store it anyway)"
        )
        return
    c, d = result["community"], result["division"]
    made = "新建 / created" if c["created"] else "已有 / existing"
    out.print(f"社区 / community: {c['name']} ({c['code']}, {made})")
    out.print(
        f"划分 / division: {d['label']} (version {d['version']}), {result['grids']} 个网格 "
        f"/ grids, 生效 / in effect from {d['effective_from']}"
    )
    if result["replaced"] is not None:
        r = result["replaced"]
        out.print(f"替换 / replaces: {r['label']}, 截止 / ends {r['effective_to']}")
    if result["houses"] is not None:
        h = result["houses"]
        out.print(
            f"房屋重新分配 / houses re-assigned: {h['assigned']} 在网格内 / in grids, "
            f"{h['outside']} 网格外 / outside"
        )
    out.print(f"→ {where}")


@app.command("division")
def load_division_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[Path, typer.Option("--boundary", "-b", help="社区边界文件 / boundary")],
    community: CommunityOption,
    code_field: CodeField = "code",
    effective_date: Annotated[
        str | None,
        typer.Option(
            "--effective-date",
            help="生效日期 YYYY-MM-DD（默认今天）/ in effect from (default today)",
        ),
    ] = None,
    db: DbOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="未通过校验也入库 / store even if it does not validate")
    ] = False,
    tolerance: ToleranceOption = None,
    layer: Layer = None,
    boundary_layer: BoundaryLayer = None,
    grids_crs: GridsCRS = None,
    boundary_crs: BoundaryCRS = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """校验并入库一个网格划分 / Validate and store a division of a community into grids.

    --community is the community's 12-digit code or its name. A community not stored yet is
    created: named by --community (its code from the boundary's code property or the grid
    codes), or, when --community is a 12-digit code, named by the boundary's name property.
    Each grid's name comes from its name, Name (a KML Placemark's name) or 名称 field.
    """
    from api.db.dry_run import write_scope
    from api.services.divisions import load_division

    try:
        day = dt.date.fromisoformat(effective_date) if effective_date else None
    except ValueError as exc:
        raise fail_input(
            ValueError(f"--effective-date 应为 YYYY-MM-DD / must be YYYY-MM-DD: {effective_date!r}")
        ) from exc
    try:
        grid_frame, boundary_frame = read_division(
            grids, boundary, code_field=code_field, grids_crs=grids_crs,
            boundary_crs=boundary_crs, grids_layer=layer, boundary_layer=boundary_layer,
            keep_projected=True,  # judged as drawn; load_division stores it in lon/lat
        )  # fmt: skip
        with write_scope(db, dry_run=dry_run) as scope, scope.sessions() as session:
            with err.status("校验、入库中 / validating and storing…"):
                result = load_division(
                    session,
                    grids=grid_frame,
                    boundary=boundary_frame,
                    community=community,
                    code_field=code_field,
                    effective_date=day,
                    tolerance_m=tolerance,
                    force=force,
                    actor="wangge load division",
                )
            if result["stored"]:
                session.commit()
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    where = scope.url
    if as_json:
        payload = {k: v for k, v in result.items() if k != "findings"}
        payload["findings"] = len(result["findings"]["features"])
        payload |= {"db": where}
        if dry_run:
            payload = report_dry_run(scope.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        _print_load(result, where)
        if dry_run:
            report_dry_run(scope.report)
    raise typer.Exit(EXIT_OK if result["stored"] else EXIT_FINDINGS)
