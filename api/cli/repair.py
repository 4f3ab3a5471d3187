"""``wangge repair``: repair a grid division and log every fix (a thin wrapper of gis.coverage).

Registered on the app in :mod:`api.cli`; the shared option types are in :mod:`api.cli.options`.

Exit codes: 0 the repaired division validates, 1 it does not (e.g. gaps left by
``--max-gap-m2``), 2 unusable input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.inputs import read_division
from api.cli.options import (
    AllowTruncate,
    BoundaryCRS,
    BoundaryLayer,
    CodeField,
    DryRunFlag,
    GridsCRS,
    JsonFlag,
    Layer,
    ToleranceOption,
)
from api.cli.output import EXIT_FINDINGS, EXIT_OK, err, fail_input, fmt_number, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["repair_command"]


def _changes_table(changes) -> Table:
    table = Table(title="修复记录 / repairs", show_lines=False)
    for header in ("操作 action", "网格 grids", "面积 m²", "宽度 m", "位置 lon,lat", "说明 reason"):
        table.add_column(header)
    for row in changes.itertuples():
        table.add_row(
            row.action,
            ",".join(row.grid_codes),
            fmt_number(row.area_m2),
            fmt_number(row.width_m, 2),
            f"{row.lon:.6f},{row.lat:.6f}" if math.isfinite(row.lon) else "",
            f"{row.reason_zh} / {row.reason_en}",
        )
    return table


def _in_lonlat(repaired):
    """``repaired`` in the lon/lat CRS its division would have been read into.

    A projected division is repaired in its own CRS, as drawn: converted vertex by vertex to
    lon/lat first, its long straight edges would bow away from the grid corners lying on them,
    and repair would "fix" spills and slivers that are not in the file. Its output is then
    converted with its segments over 100 m split first (:func:`gis.crs.to_lonlat`), so the
    written division stays straight to a fraction of a millimetre and validates as repaired.
    """
    from gis.crs import lonlat_crs, require_crs, to_lonlat

    crs = require_crs(repaired, "grids / 网格")
    return repaired if crs.is_geographic else to_lonlat(repaired, lonlat_crs(crs))


def repair_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[
        Path, typer.Option("--boundary", "-b", help="社区边界文件 / community boundary file")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="修复后的网格，格式由扩展名决定 / repaired grids file")
    ],
    code_field: CodeField = "code",
    tolerance: ToleranceOption = None,
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
    layer: Layer = None,
    boundary_layer: BoundaryLayer = None,
    grids_crs: GridsCRS = None,
    boundary_crs: BoundaryCRS = None,
    allow_truncate: AllowTruncate = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """修复网格划分：对齐、裁剪、补缝、去重叠、重新编码 / Repair a grid division."""
    from api.core.config import coverage_tolerances
    from api.core.write_plan import output_plan
    from gis.coverage import changes_to_geojson, repair, validate
    from gis.io import write_layer

    try:
        tolerance_m, noise_m = coverage_tolerances(tolerance)
        grid_frame, boundary_frame = read_division(
            grids, boundary, code_field=code_field, grids_crs=grids_crs,
            boundary_crs=boundary_crs, grids_layer=layer, boundary_layer=boundary_layer,
            keep_projected=True,  # repaired as drawn; written in lon/lat (_in_lonlat)
        )  # fmt: skip
        codes = [c.strip() for c in priority.split(",") if c.strip()] if priority else None
        with err.status("修复中 / repairing…"):
            repaired, changes = repair(
                grid_frame,
                boundary_frame,
                code_field=code_field,
                tolerance_m=tolerance_m,
                max_gap_m2=max_gap_m2,
                priority=codes,
                noise_m=noise_m,
            )
            findings = validate(
                repaired,
                boundary_frame,
                code_field=code_field,
                tolerance_m=tolerance_m,
                noise_m=noise_m,
            )
        log = changes_to_geojson(changes)
        with output_plan(dry_run) as plan:
            written = write_layer(
                _in_lonlat(repaired), plan.path(out_path), allow_truncate=allow_truncate
            )
            written = plan.shown(written)
            if log_path is not None:
                log_file = plan.path(log_path)
                log_file.parent.mkdir(parents=True, exist_ok=True)
                log_file.write_text(json.dumps(log, ensure_ascii=False), encoding="utf-8")
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

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
        if dry_run:
            payload = report_dry_run(plan.report, payload)
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
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK if valid else EXIT_FINDINGS)
