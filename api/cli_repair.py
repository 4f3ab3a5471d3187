"""``wangge repair``: repair a grid division and log every fix (a thin wrapper of gis.coverage).

Register on the app with ``app.command("repair")(repair_command)``. This module does not
import :mod:`api.cli` (so ``api.cli`` may import it at the top); the option types and exit
codes below are the same as there.

Exit codes: 0 the repaired division validates, 1 it does not (e.g. gaps left by
``--max-gap-m2``), 2 unusable input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gis.errors import WanggeError

__all__ = ["repair_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2

InputCRS = Annotated[
    str | None,
    typer.Option(
        "--input-crs",
        help="输入坐标系 wgs84|cgcs2000|gcj02|bd09（默认：文件自带，否则 WGS84）"
        " / input CRS (default: the file's own, else WGS84)",
    ),
]
CodeField = Annotated[
    str, typer.Option("--code-field", help="网格编码字段 / field holding the grid code")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON for scripts")]


def _fail_input(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]输入错误 / bad input:[/] {exc}", highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def _changes_table(changes) -> Table:
    table = Table(title="修复记录 / repairs", show_lines=False)
    for header in ("操作 action", "网格 grids", "面积 m²", "宽度 m", "位置 lon,lat", "说明 reason"):
        table.add_column(header)
    for row in changes.itertuples():
        table.add_row(
            row.action,
            ",".join(row.grid_codes),
            _fmt(row.area_m2),
            _fmt(row.width_m, 2),
            f"{row.lon:.6f},{row.lat:.6f}" if math.isfinite(row.lon) else "",
            f"{row.reason_zh} / {row.reason_en}",
        )
    return table


def repair_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[
        Path, typer.Option("--boundary", "-b", help="社区边界文件 / community boundary file")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="修复后的网格，格式由扩展名决定 / repaired grids file")
    ],
    code_field: CodeField = "code",
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, help="对齐容差（米）/ snapping tolerance in metres"),
    ] = 0.5,
    max_gap_m2: Annotated[
        float | None,
        typer.Option(
            "--max-gap-m2",
            min=0.0,
            help="大于此面积的空隙不填补（结果将不通过校验）/ leave gaps larger than this",
        ),
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option(
            "--priority",
            help="重叠时优先保留的网格编码，逗号分隔 / codes that keep overlaps, earlier wins",
        ),
    ] = None,
    log_path: Annotated[
        Path | None,
        typer.Option("--log", help="把修复记录写成 GeoJSON / write the change log as GeoJSON"),
    ] = None,
    input_crs: InputCRS = None,
    as_json: JsonFlag = False,
) -> None:
    """修复网格划分：对齐、裁剪、补缝、去重叠、重新编码 / Repair a grid division."""
    from gis.coverage import changes_to_geojson, repair, validate
    from gis.io import read_layer, write_layer

    try:
        grid_frame = read_layer(grids, input_crs=input_crs, geometry_type="polygon")
        boundary_frame = read_layer(boundary, input_crs=input_crs, geometry_type="polygon")
        if code_field not in grid_frame.columns:
            raise WanggeError(
                f"{grids}: 没有编码字段 '{code_field}' / no code field '{code_field}';"
                f" fields: {', '.join(c for c in grid_frame.columns if c != 'geometry')}"
            )
        codes = [c.strip() for c in priority.split(",") if c.strip()] if priority else None
        with err.status("修复中 / repairing…"):
            repaired, changes = repair(
                grid_frame,
                boundary_frame,
                code_field=code_field,
                tolerance_m=tolerance,
                max_gap_m2=max_gap_m2,
                priority=codes,
            )
            findings = validate(
                repaired, boundary_frame, code_field=code_field, tolerance_m=tolerance
            )
        written = write_layer(repaired, out_path)
        log = changes_to_geojson(changes)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(json.dumps(log, ensure_ascii=False), encoding="utf-8")
    except (WanggeError, ValueError) as exc:
        raise _fail_input(exc) from exc

    errors = findings[findings["severity"] == "error"]
    valid = len(errors) == 0
    if as_json:
        payload = {
            "valid": valid,
            "grids": len(repaired),
            "out": str(written),
            "changes": [f["properties"] | {"geometry": f["geometry"]} for f in log["features"]],
            "remaining": [
                {"kind": r.kind, "grid_codes": list(r.grid_codes), "message_en": r.message_en}
                for r in errors.itertuples()
            ],
        }
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        if len(changes):
            out.print(_changes_table(changes))
        counts = changes["action"].value_counts().to_dict() if len(changes) else {}
        detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "无需修复 / nothing to fix"
        verdict = "通过 / VALID" if valid else "不通过 / INVALID"
        out.print(f"修复 / repaired {len(repaired)} 个网格 / grids: {detail} → {written}")
        for r in errors.itertuples():
            out.print(f"  {r.kind}: {r.message_zh} / {r.message_en}", highlight=False)
        out.print(f"校验 / validate: {verdict}")
    raise typer.Exit(EXIT_OK if valid else EXIT_FINDINGS)
