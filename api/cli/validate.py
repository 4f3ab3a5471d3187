"""``wangge validate``: check a division of a community into grids (gaps, overlaps, slivers…).

Exit codes: 0 valid, 1 findings, 2 unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.engine import (
    ByOption,
    CommunityFieldOption,
    Engine,
    EngineOption,
    MemoryLimitOption,
    SchedulerOption,
    WorkersOption,
    check_engine_options,
    community_summary,
    validate_by_community,
    write_findings,
)
from api.cli.inputs import read_division
from api.cli.options import (
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
from gis.errors import InputError, WanggeError

__all__ = ["validate_command"]


def _findings_table(findings) -> Table:
    table = Table(title="校验结果 / validation findings", show_lines=False)
    for header in (
        "类型 kind",
        "级别 severity",
        "网格 grids",
        "面积 m²",
        "长度 m",
        "宽度 m",
        "位置 lon,lat",
        "说明 message",
    ):
        table.add_column(header)
    for row in findings.itertuples():
        where = row.geometry.representative_point() if row.geometry is not None else None
        table.add_row(
            row.kind,
            row.severity,
            ",".join(row.grid_codes),
            fmt_number(row.area_m2),
            fmt_number(row.length_m),
            fmt_number(getattr(row, "width_m", float("nan")), 2),
            f"{where.x:.6f},{where.y:.6f}" if where is not None else "",
            row.message_zh,
        )
    return table


def _in_lonlat(findings):
    """``findings`` in the lon/lat CRS their division would have been read into.

    A projected division is validated in its own CRS (a straight edge converted vertex by
    vertex to lon/lat bows away from the grid vertices lying on it, which would show as
    spills and gaps that are not in the file); only what is found is converted.
    """
    from gis.crs import lonlat_crs, require_crs

    crs = require_crs(findings, "findings / 检查结果")
    return findings if crs.is_geographic else findings.to_crs(lonlat_crs(crs))


def _payload(has_error: bool, n_grids: int, collection: dict) -> dict:
    """The ``--json`` answer: verdict, number of grids, the findings as flat records."""
    return {
        "valid": not has_error,
        "grids": n_grids,
        "findings": [f["properties"] | {"geometry": f["geometry"]} for f in collection["features"]],
    }


def _light_validation(
    grids: Path,
    boundary: Path,
    *,
    code_field: str,
    tolerance_m: float,
    noise_m: float,
    grids_crs: str | None,
    boundary_crs: str | None,
    layer: str | None,
    boundary_layer: str | None,
):
    """(number of grids, :class:`~gis.coverage.validate.Findings` in lon/lat), or None.

    When both files are ones :func:`gis.io.grid_layers.read_grid_layer` reads exactly as
    :func:`~api.cli.inputs.read_division` would (GeoPackage, GeoParquet), the division is
    validated as arrays and neither pandas nor geopandas is imported; anything else (None)
    takes the general path, whose messages then stay the same.
    """
    from gis.io.grid_layers import read_grid_layer

    division = read_grid_layer(
        grids, code_field=code_field, layer=layer, input_crs=grids_crs, keep_projected=True
    )
    if division is None:
        return None
    outline = read_grid_layer(
        boundary, code_field=None, layer=boundary_layer, input_crs=boundary_crs,
        keep_projected=True,
    )  # fmt: skip
    if outline is None:
        return None
    from gis.coverage.validate import validate_arrays
    from gis.crs import lonlat_crs

    with err.status("校验中 / validating…"):
        found = validate_arrays(
            division.geoms, division.ids, division.crs, outline.geoms, outline.crs,
            tolerance_m=tolerance_m, noise_m=noise_m,
        )  # fmt: skip
    # judged as drawn, reported in lon/lat (see _in_lonlat)
    return len(division), found if found.crs.is_geographic else found.in_crs(lonlat_crs(found.crs))


def validate_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[
        Path, typer.Option("--boundary", "-b", help="社区边界文件 / community boundary file")
    ],
    code_field: CodeField = "code",
    tolerance: ToleranceOption = None,
    as_json: JsonFlag = False,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="把问题写成文件，格式由扩展名决定（.geojson、.parquet、.gpkg、.csv…）/ write the "
            "findings; the extension names the format (.geojson, .parquet, .gpkg, .csv...)",
        ),
    ] = None,
    layer: Layer = None,
    boundary_layer: BoundaryLayer = None,
    grids_crs: GridsCRS = None,
    boundary_crs: BoundaryCRS = None,
    by: ByOption = None,
    community_field: CommunityFieldOption = "community_code",
    engine: EngineOption = Engine.default,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
    memory_limit: MemoryLimitOption = "auto",
    dry_run: DryRunFlag = False,
) -> None:
    """校验网格划分：无缝隙、无重叠（纵向到底、横向到边）/ Validate a grid division.

    ``--by community``: the files hold many communities (``--community-field`` says whose
    each grid and boundary is); each community is validated alone against its own boundary,
    spread over a Dask cluster's workers with ``--engine dask``.
    """
    from api.core.config import coverage_tolerances

    per_community = None
    try:
        check_engine_options(engine, scheduler)
        tolerance_m, noise_m = coverage_tolerances(tolerance)
        if as_json and by is None and engine is Engine.default and out_path is None and not dry_run:
            light = _light_validation(
                grids, boundary, code_field=code_field, tolerance_m=tolerance_m,
                noise_m=noise_m, grids_crs=grids_crs, boundary_crs=boundary_crs, layer=layer,
                boundary_layer=boundary_layer,
            )  # fmt: skip
            if light is not None:
                n_grids, found = light
                out.print_json(json.dumps(_payload(found.has_error, n_grids, found.to_geojson()),
                                          ensure_ascii=False))  # fmt: skip
                raise typer.Exit(EXIT_FINDINGS if found.has_error else EXIT_OK)
        from api.core.write_plan import output_plan
        from gis.coverage import findings_to_geojson, validate

        grid_frame, boundary_frame = read_division(
            grids, boundary, code_field=code_field, grids_crs=grids_crs,
            boundary_crs=boundary_crs, grids_layer=layer, boundary_layer=boundary_layer,
            keep_projected=True,  # judged as drawn; the findings are reported in lon/lat
        )  # fmt: skip
        if by is not None:
            findings, per_community = validate_by_community(
                grid_frame, boundary_frame, by=community_field, code_field=code_field,
                tolerance_m=tolerance_m, noise_m=noise_m, engine=engine, scheduler=scheduler,
                workers=workers, memory_limit=memory_limit,
            )  # fmt: skip
        elif engine is Engine.dask:
            raise InputError(
                "--engine dask 用于多个社区：请加 --by community / --engine dask spreads "
                "communities over workers: add --by community"
            )
        else:
            with err.status("校验中 / validating…"):
                findings = validate(
                    grid_frame, boundary_frame, code_field=code_field, tolerance_m=tolerance_m,
                    noise_m=noise_m,
                )  # fmt: skip
        findings = _in_lonlat(findings)
        collection = findings_to_geojson(findings)
        if per_community is not None:
            for feature, key in zip(collection["features"], findings["community"], strict=True):
                feature["properties"] = {"community": str(key)} | feature["properties"]
        with output_plan(dry_run) as plan:
            if out_path is not None:
                write_findings(findings, collection, plan.path(out_path))
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    has_error = bool((findings["severity"] == "error").any()) if len(findings) else False
    if as_json:
        payload = _payload(has_error, len(grid_frame), collection)
        if per_community is not None:
            payload["communities"] = community_summary(findings, per_community)
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        if len(findings):
            out.print(_findings_table(findings))
        counts = findings["kind"].value_counts().to_dict() if len(findings) else {}
        verdict = "不通过 / INVALID" if has_error else "通过 / VALID"
        detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "无问题 / no findings"
        scope = f"{len(per_community)} 个社区 / communities, " if per_community else ""
        out.print(f"{verdict}: {scope}{len(grid_frame)} 个网格 / grids; {detail}")
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_FINDINGS if has_error else EXIT_OK)
