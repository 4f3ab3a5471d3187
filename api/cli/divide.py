"""``wangge divide``: divide a community into balanced grids along its roads (gis.divide).

Exit codes: 0 the division validates and every grid sits in the household band (or could
not, for want of a road or a gap between buildings to cut along: ``over-unsplittable``),
1 it validates but some grids are outside the band, or it does not validate, 2 bad input.
The summary's ``in_band`` counts only grids inside the band; ``over_unsplittable`` grids are
counted apart (they are not in the band, but no cut could bring them into it).

CRS: the houses are the command's point input (``--input-crs``); the boundary, roads and
buildings are each read in their own CRS unless ``--boundary-crs``, ``--roads-crs``,
``--buildings-crs`` says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.inputs import read_input
from api.cli.options import (
    AllowTruncate,
    BoundaryCRS,
    BoundaryLayer,
    BuildingsCRS,
    DbOption,
    DryRunFlag,
    GridsCRS,
    HousesLayer,
    InputCRS,
    JsonFlag,
    RoadsCRS,
)
from api.cli.output import EXIT_FINDINGS, EXIT_OK, err, fail_input, fmt_number, out, report_dry_run
from gis.defaults import DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from gis.errors import InputError, WanggeError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["divide_command"]

_STATUS_ZH = {"ok": "达标", "under": "偏少", "over": "偏多", "over-unsplittable": "偏多(不可再分)"}


def _report_table(report) -> Table:
    table = Table(title="网格户数 / households per grid")
    table.add_column("编码 code", no_wrap=True)
    for header in (
        "户数 households",
        "占目标 share",
        "面积 m²",
        "紧凑度 PP",
        "街块 blocks",
        "状态",
    ):
        table.add_column(header)
    for row in report.itertuples():
        table.add_row(
            row.code,
            fmt_number(row.households, 0),
            f"{row.share_of_target:.0%}",
            fmt_number(row.area_m2, 0),
            f"{row.polsby_popper:.2f}",
            str(row.blocks),
            f"{_STATUS_ZH.get(row.status, row.status)} / {row.status}",
        )
    return table


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write a plain table as CSV (UTF-8 with BOM, for Excel), XLSX or Parquet, by extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        table.to_excel(path, index=False)
    elif suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        raise InputError(
            f"{path}: 报告只能是 .csv、.xlsx 或 .parquet / report must be .csv, .xlsx or .parquet"
        )
    return path


def _grid_count(target: int | None, n_grids: int | None, staff_file: Path | None):
    """Check that at most one of --target, --grids, --staff is given; read the staff
    register when it is (the :class:`~api.services.registry.grid_workers.GridWorkers`), else
    None."""
    given = [o for o, v in (("--target", target), ("--grids", n_grids), ("--staff", staff_file))
             if v is not None]  # fmt: skip
    if len(given) > 1:
        raise InputError(
            f"{' 与 '.join(given)} 只能给一个 / {', '.join(given)} are alternatives: give one"
        )
    if staff_file is None:
        return None
    from api.services.registry.grid_workers import count_grid_workers

    return count_grid_workers(staff_file)


TARGET_HELP = (
    f"每格目标户数（默认：设置 WANGGE_TARGET_HOUSEHOLDS，{DEFAULT_TARGET_HOUSEHOLDS}）/ target "
    f"households per grid (default: the WANGGE_TARGET_HOUSEHOLDS setting, "
    f"{DEFAULT_TARGET_HOUSEHOLDS})"
)
BAND_HELP = (
    f"允许偏差（默认：设置 WANGGE_TARGET_BAND，{DEFAULT_HOUSEHOLD_BAND}）/ allowed band "
    f"(default: the WANGGE_TARGET_BAND setting, {DEFAULT_HOUSEHOLD_BAND} = "
    f"±{DEFAULT_HOUSEHOLD_BAND:.0%})"
)


def _target_and_band(target: int | None, band: float | None) -> tuple[int, float]:
    """``--target`` and ``--band``, or the settings WANGGE_TARGET_HOUSEHOLDS and
    WANGGE_TARGET_BAND where not given (read here, in the command, so ``--help`` loads no
    settings)."""
    from api.core.config import default_household_band, default_target_households

    return (
        default_target_households() if target is None else target,
        default_household_band() if band is None else band,
    )


def _spread(report: pd.DataFrame) -> dict:
    """How balanced the grids are: (max - min) / mean households, and the mean."""
    households = report["households"].astype(float)
    mean = float(households.mean()) if len(households) else 0.0
    spread = float(households.max() - households.min()) / mean if mean > 0 else 0.0
    return {"households_mean": round(mean, 3), "households_spread": round(spread, 4)}


def divide_command(
    boundary: Annotated[
        Path, typer.Option("--boundary", "-b", help="社区边界文件 / community boundary")
    ],
    roads: Annotated[Path, typer.Option("--roads", help="道路线文件 / road lines")],
    houses: Annotated[
        Path, typer.Option("--houses", help="房屋点或房屋轮廓 / house points or footprints")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="输出网格文件 / output grids file")],
    households_field: Annotated[
        str, typer.Option("--households-field", help="户数字段，缺失时每房屋计 1 户 / field")
    ] = "households",
    target: Annotated[
        int | None,
        typer.Option(
            "--target",
            min=1,
            help=TARGET_HELP,
        ),
    ] = None,
    n_grids: Annotated[
        int | None,
        typer.Option(
            "--grids", min=1, help="按人员数划分：网格个数 / make exactly this many grids"
        ),
    ] = None,
    staff_file: Annotated[
        Path | None,
        typer.Option(
            "--staff",
            help="人员表（模板 XLSX/CSV）：每名专职网格员一个网格，“4050”人员除外 / staff "
            "register: one grid per grid worker, 4050 staff excluded",
        ),
    ] = None,
    band: Annotated[
        float | None,
        typer.Option(
            "--band",
            min=0.0,
            max=0.99,
            help=BAND_HELP,
        ),
    ] = None,
    buildings: Annotated[
        Path | None,
        typer.Option("--buildings", help="建筑轮廓，保证不切分建筑 / footprints kept whole"),
    ] = None,
    roads_layer: Annotated[
        str | None, typer.Option("--roads-layer", help="道路图层名 / layer of --roads")
    ] = None,
    buildings_layer: Annotated[
        str | None, typer.Option("--buildings-layer", help="建筑图层名 / layer of --buildings")
    ] = None,
    road_class_field: Annotated[
        str | None,
        typer.Option("--road-class-field", help="道路等级字段 / road class field"),
    ] = None,
    code_prefix: Annotated[
        str | None,
        typer.Option("--code-prefix", help="12 位行政+街道+社区编码 / 12-digit code prefix"),
    ] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="每格报告 CSV/XLSX/Parquet / per-grid report")
    ] = None,
    input_crs: InputCRS = None,
    houses_layer: HousesLayer = None,
    boundary_layer: BoundaryLayer = None,
    boundary_crs: BoundaryCRS = None,
    roads_crs: RoadsCRS = None,
    buildings_crs: BuildingsCRS = None,
    allow_truncate: AllowTruncate = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """自动划分网格，按户数均衡、沿道路、不切分建筑 / Divide a community into balanced grids.

    One of --target (households per grid; default under --target), --grids N (exactly N
    grids) or --staff FILE (one grid per grid worker of the staff register, 4050 staff excluded).
    --input-crs is the CRS of the houses (the point input); the boundary, roads and
    buildings are read in their own CRS unless --boundary-crs, --roads-crs, --buildings-crs.
    """
    from api.core.write_plan import output_plan
    from gis.coverage import is_valid_division
    from gis.divide import band_summary, divide
    from gis.io import write_layer
    from maps.colouring import colour_grids

    try:
        workers = _grid_count(target, n_grids, staff_file)
        if workers is not None:
            n_grids = workers.count
        target, band = _target_and_band(target, band)
        boundary_frame = read_input(
            boundary, layer=boundary_layer, crs=boundary_crs, layer_option="--boundary-layer",
            crs_option="--boundary-crs", geometry_type="polygon",
        )  # fmt: skip
        road_frame = read_input(
            roads, layer=roads_layer, crs=roads_crs, layer_option="--roads-layer",
            crs_option="--roads-crs",
        )  # fmt: skip
        house_frame = read_input(houses, layer=houses_layer, crs=input_crs,
                                 layer_option="--houses-layer")  # fmt: skip
        building_frame = (
            read_input(
                buildings,
                layer=buildings_layer,
                crs=buildings_crs,
                layer_option="--buildings-layer",
                crs_option="--buildings-crs",
                geometry_type="polygon",
            )
            if buildings is not None
            else None
        )
        with err.status("划分中 / dividing…"):
            grids, report = divide(
                boundary_frame,
                road_frame,
                house_frame,
                target_households=target,
                households_field=households_field,
                n_grids=n_grids,
                road_class_field=road_class_field,
                band=band,
                code_prefix=code_prefix,
                buildings=building_frame,
            )
            valid = is_valid_division(grids, boundary_frame)
        # simplestyle properties, so any GeoJSON viewer draws neighbours in different colours
        grids["fill"] = colour_grids(grids)
        grids["stroke"] = "#333333"
        with output_plan(dry_run) as plan:
            written = write_layer(grids, plan.path(out_path), allow_truncate=allow_truncate)
            written = plan.shown(written)
            if report_path is not None:
                _write_table(report, plan.path(report_path))
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    acceptable = report["status"].isin(["ok", "over-unsplittable"])
    summary = {
        "valid": bool(valid),
        **band_summary(report),
        **_spread(report),
        "target": report.attrs["target_households"],
        "band": band,
        "status": {str(k): int(v) for k, v in report["status"].value_counts().items()},
        "out": str(written),
    }
    if n_grids is not None:
        summary["grids_requested"] = n_grids
    if staff_file is not None:
        summary["staff"] = {
            "eligible": workers.count,
            "excluded_4050": len(workers.excluded_4050),
            "other_roles": workers.other_roles,
        }
    if as_json:
        if dry_run:
            summary = report_dry_run(plan.report, summary)
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        out.print(_report_table(report))
        verdict = "通过 / VALID" if valid else "不通过 / INVALID"
        apart = ", ".join(
            f"{zh} / {en} {summary[key]}"
            for key, zh, en in (
                ("under", "偏少", "under"),
                ("over", "偏多", "over"),
                ("over_unsplittable", "偏多且不可再分", "over, unsplittable"),
            )
            if summary[key]
        )
        if staff_file is not None:
            out.print(
                f"专职网格员 / grid workers: {workers.count}（“4050”人员不计 / excluded: "
                f"{len(workers.excluded_4050)}，其他角色 / other roles: {workers.other_roles}）"
            )
        out.print(
            f"{verdict}: {len(grids)} 个网格 / grids, {summary['in_band']} 个在目标区间 / in band"
            f" ({summary['target']:.0f}±{band:.0%}){'; ' + apart if apart else ''}; 户数极差 /"
            f" spread {summary['households_spread']:.0%}; → {written}"
        )
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK if valid and acceptable.all() else EXIT_FINDINGS)


def balance_command(
    grids: Annotated[
        Path | None, typer.Argument(help="网格划分文件（或用 --community）/ grids file")
    ] = None,
    houses: Annotated[
        Path | None, typer.Option("--houses", help="房屋点或轮廓 / house points or footprints")
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(
            "--community", "-c", help="库中社区：12 位编码或名称 / stored community: code or name"
        ),
    ] = None,
    db: DbOption = None,
    code_field: Annotated[str, typer.Option("--code-field", help="网格编码字段")] = "code",
    households_field: Annotated[
        str, typer.Option("--households-field", help="户数字段 / households field")
    ] = "households",
    target: Annotated[int | None, typer.Option("--target", min=1, help=TARGET_HELP)] = None,
    band: Annotated[float | None, typer.Option("--band", min=0.0, max=0.99, help=BAND_HELP)] = None,
    report_path: Annotated[
        Path | None, typer.Option("--out", help="报告 CSV/XLSX/Parquet / write the report")
    ] = None,
    input_crs: InputCRS = None,
    layer: Annotated[
        str | None, typer.Option("--layer", help="网格文件的图层 / layer of the grids file")
    ] = None,
    houses_layer: HousesLayer = None,
    grids_crs: GridsCRS = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """网格均衡报告：户数、人口、面积、紧凑度、人员 / Balance report of a division.

    --input-crs is the CRS of the houses (the point input); the grids file is read in its
    own CRS unless --grids-crs.
    """
    import pandas as pd

    from api.core.write_plan import output_plan
    from gis.balance import balance_report

    try:
        target, band = _target_and_band(target, band)
        if (grids is None) == (community is None):
            raise InputError("请给出网格文件或 --community 之一 / give GRIDS or --community")
        staff = None
        if community is not None:
            from api.services.community_data import read_stored_community

            data = read_stored_community(db, community)
            grid_frame, house_frame, staff = data.grids, data.houses, data.staff
            code_field = "code"
        else:
            grid_frame = read_input(
                grids, layer=layer, crs=grids_crs, crs_option="--grids-crs",
                geometry_type="polygon",
            )  # fmt: skip
            house_frame = (
                read_input(houses, layer=houses_layer, crs=input_crs, layer_option="--houses-layer")
                if houses
                else None
            )
        report = balance_report(
            grid_frame,
            houses=house_frame,
            staff=staff,
            code_field=code_field,
            households_field=households_field,
            target=target,
            band=band,
        )
        with output_plan(dry_run) as plan:
            if report_path is not None:
                _write_table(report, plan.path(report_path))
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    if as_json:
        payload = {
            "grids": json.loads(report.to_json(orient="records", force_ascii=False)),
            "totals": {k: v for k, v in report.attrs.items() if k != "metric_crs"},
        }
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        table = Table(title=f"网格均衡 / balance (目标 target {target}±{band:.0%})")
        table.add_column("编码 code", no_wrap=True)
        for header in ("户数", "人口", "面积 m²", "紧凑度", "人员 staff", "状态 flag"):
            table.add_column(header)
        for row in report.itertuples():
            residents = "" if pd.isna(row.residents) else str(row.residents)
            table.add_row(
                str(row.code), fmt_number(row.households, 0), residents,
                fmt_number(row.area_m2, 0), f"{row.compactness:.2f}", row.staff or "待填",
                f"{_STATUS_ZH.get(row.flag, row.flag)} / {row.flag}",
            )  # fmt: skip
        out.print(table)
        if dry_run:
            report_dry_run(plan.report)
    flagged = (report["flag"] != "ok").any()
    raise typer.Exit(EXIT_FINDINGS if flagged else EXIT_OK)
