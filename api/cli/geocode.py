"""``wangge geocode`` (batch geocoding of an address table) and ``wangge geocode-eval``.

Thin wrappers of :mod:`gis.geocode` and :mod:`gis.geocode_eval`; registered on the app in
:mod:`api.cli`. Exit codes: 0 ok (``geocode-eval``: targets met), 1 ``geocode-eval`` targets
not met, 2 unusable input (also when no gazetteer is given: ``--gazetteer FILE`` or the door
plates of a database with ``--db URL``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.inputs import read_grid_frame
from api.cli.options import CodeField, DryRunFlag, GridsCRS, GridsLayer, InputCRS, JsonFlag
from api.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    err,
    fail_input,
    out,
    report_dry_run,
)
from gis.errors import InputError, UnreadableFileError, WanggeError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "geocode_command",
    "geocode_eval_command",
    "read_table",
    "summarise",
]


_OUTPUT_EXTENSIONS = (".csv", ".xlsx", ".geojson", ".json", ".gpkg", ".parquet")


def read_table(path: Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV (UTF-8, else GBK), XLSX or Parquet table as text columns, keeping every row."""
    import pandas as pd

    ext = path.suffix.lower()
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    try:
        if ext == ".parquet":
            frame = pd.read_parquet(path).drop(columns=["geometry"], errors="ignore")
            return frame.apply(lambda c: c.map(lambda v: None if pd.isna(v) else str(v)))
        if ext == ".xlsx":
            return pd.read_excel(path, sheet_name=sheet or 0, dtype=str, engine="openpyxl")
        if ext == ".csv":
            for codec in ("utf-8-sig", "gbk"):
                try:
                    return pd.read_csv(
                        path, dtype=str, keep_default_na=False, na_values=[""], encoding=codec
                    )
                except UnicodeDecodeError:
                    continue
            raise UnreadableFileError(f"{path}: 既不是 UTF-8 也不是 GBK / neither UTF-8 nor GBK")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UnreadableFileError(f"{path}: 无法读取 / cannot read: {exc}") from exc
    raise UnreadableFileError(
        f"{path}: 地址表须为 .csv、.xlsx 或 .parquet / the address table must be .csv, .xlsx "
        "or .parquet"
    )


def summarise(result: pd.DataFrame, threshold: float, *, with_grids: bool = False) -> dict:
    """Count rows per match level, ambiguous rows, unmatched rows and low-score rows.

    With grids also ``outside_grids`` (a point outside every grid) and ``several_grids`` (a
    lane or road answer whose door plates lie in several grids: no ``grid_code``, the grids in
    ``grid_candidates``).
    """
    levels = result["match_level"].value_counts().to_dict()
    has_candidates = result["candidates"].notna()
    summary = {
        "rows": len(result),
        "by_level": {k: int(v) for k, v in levels.items()},
        "ambiguous": int((has_candidates & result["match_level"].isin(["none", "road"])).sum()),
        "unmatched": int(((result["match_level"] == "none") & ~has_candidates).sum()),
        "interpolated": int(result["interpolated"].sum()),
        "below_threshold": int(
            ((result["match_level"] != "none") & (result["score"] < threshold)).sum()
        ),
    }
    if with_grids:
        several = result["grid_candidates"].notna()
        summary["outside_grids"] = int(
            (result["lon"].notna() & result["grid_code"].isna() & ~several).sum()
        )
        summary["several_grids"] = int(several.sum())
    return summary


def _write(result: pd.DataFrame, path: Path, crs) -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely import points

    from gis.io import write_layer

    ext = path.suffix.lower()
    if ext not in _OUTPUT_EXTENSIONS:
        raise InputError(
            f"{path}: 不支持的输出格式 / unsupported output format {ext or '(none)'!r}; "
            f"use one of {' '.join(_OUTPUT_EXTENSIONS)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        result.to_csv(path, index=False, encoding="utf-8-sig")
    elif ext == ".xlsx":
        result.to_excel(path, index=False, engine="openpyxl")
    else:
        lon = result["lon"].astype(float).to_numpy()
        lat = result["lat"].astype(float).to_numpy()
        geometry = [None if pd.isna(x) else p for x, p in zip(lon, points(lon, lat), strict=True)]
        frame = gpd.GeoDataFrame(
            result.astype({"lon": float, "lat": float}), geometry=geometry, crs=crs
        )
        write_layer(frame, path)


def _from_database(db: str, community: str | None):
    """Door plates (of one community or all) and the grids in effect today, from ``db``."""
    from api.db.engine import database_session
    from api.services.community_data import read_door_plates, read_grids_in_effect

    with database_session(db) as session:
        plates = read_door_plates(session, community)
        grids = read_grids_in_effect(session)
    if plates.empty:
        raise InputError(f"{db}: 库中没有门牌 / the database holds no door plates")
    return plates, grids


def geocode_command(
    addresses: Annotated[Path, typer.Argument(help="地址表 .xlsx/.csv / address table")],
    column: Annotated[str, typer.Option("--column", help="地址列名 / column holding addresses")],
    out_path: Annotated[
        Path,
        typer.Option("--out", help="结果文件 .xlsx/.csv/.geojson/.gpkg / result file"),
    ],
    gazetteer: Annotated[
        Path | None,
        typer.Option("--gazetteer", help="门牌库（点图层）/ door-plate gazetteer (point file)"),
    ] = None,
    address_column: Annotated[
        str, typer.Option("--address-column", help="门牌库的地址字段 / gazetteer address field")
    ] = "address",
    road_column: Annotated[
        str | None,
        typer.Option("--road-column", help="门牌库的道路字段 / gazetteer road field"),
    ] = None,
    grids: Annotated[
        Path | None, typer.Option("--grids", help="网格划分文件 / grid division file")
    ] = None,
    code_field: CodeField = "code",
    db: Annotated[
        str | None,
        typer.Option("--db", help="从数据库读取门牌与网格 / door plates and grids from a database"),
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(
            "--community",
            "-c",
            help="只用此社区的门牌（编码或名称）/ only this community's door plates (code or name)",
        ),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX 工作表 / XLSX sheet")] = None,
    input_crs: InputCRS = None,
    gazetteer_layer: Annotated[
        str | None,
        typer.Option("--gazetteer-layer", help="门牌库的图层 / layer of the gazetteer file"),
    ] = None,
    grids_crs: GridsCRS = None,
    grids_layer: GridsLayer = None,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """批量地理编码：地址 → 坐标、匹配级别、网格 / Geocode an address table offline.

    --input-crs is the CRS of the door-plate gazetteer (the point input the coordinates come
    from; results are WGS84); the grids file is read in its own CRS unless --grids-crs.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from api.core.write_plan import output_plan
    from gis.geocode import CONFIDENCE_THRESHOLD, Gazetteer, geocode_table

    if gazetteer is None and db is None:
        err.print(
            "请用 --gazetteer 指定门牌库文件，或用 --db 读取库中门牌 / no gazetteer: give "
            "--gazetteer FILE (a point file with an address field) or --db URL",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        table = read_table(addresses, sheet=sheet)
        if column not in table.columns:
            raise InputError(
                f"{addresses}: 没有列 {column!r} / no column {column!r}; columns: "
                f"{', '.join(str(c) for c in table.columns)}"
            )
        if out_path.suffix.lower() not in _OUTPUT_EXTENSIONS:
            raise InputError(
                f"{out_path}: 不支持的输出格式 / unsupported output format; use one of "
                f"{' '.join(_OUTPUT_EXTENSIONS)}"
            )
        with err.status("读取门牌库 / reading the gazetteer…"):
            grid_frame = None
            if gazetteer is not None:
                gaz = Gazetteer.from_file(
                    gazetteer,
                    address_column=address_column,
                    road_column=road_column,
                    layer=gazetteer_layer,
                    input_crs=input_crs,
                )
            else:
                plates, grid_frame = _from_database(db, community)
                gaz = Gazetteer.from_frame(plates, address_column="address")
            if grids is not None:
                grid_frame = read_grid_frame(
                    grids, code_field=code_field, layer=grids_layer, crs=grids_crs
                )
        with Progress(
            TextColumn("地理编码 / geocoding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("geocode", total=len(table))

            def advance(n: int) -> None:  # per 256 rows: a redraw per row costs more than it shows
                if n % 256 == 0:
                    bar.update(task, completed=n)

            result = geocode_table(
                table,
                column=column,
                gazetteer=gaz,
                grids=grid_frame,
                code_field=code_field,
                progress=advance,
            )
        with output_plan(dry_run) as plan:
            _write(result, plan.path(out_path), gaz.crs)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    summary = summarise(result, CONFIDENCE_THRESHOLD, with_grids=grid_frame is not None)
    summary["gazetteer_skipped_rows"] = len(gaz.skipped)
    summary["out"] = str(out_path)
    if as_json:
        if dry_run:
            summary = report_dry_run(plan.report, summary)
        out.print_json(json.dumps(summary, ensure_ascii=False))
        raise typer.Exit(EXIT_OK)
    table_view = Table(title=f"地理编码结果 / geocoding summary ({summary['rows']} rows)")
    table_view.add_column("项 item")
    table_view.add_column("行数 rows", justify="right")
    for level in ("room", "unit", "building", "doorplate", "lane", "road", "none"):
        table_view.add_row(f"级别 level {level}", str(summary["by_level"].get(level, 0)))
    table_view.add_row("其中插值 interpolated (road)", str(summary["interpolated"]))
    table_view.add_row("有歧义 ambiguous (candidates)", str(summary["ambiguous"]))
    table_view.add_row("未匹配 unmatched", str(summary["unmatched"]))
    table_view.add_row(f"低于阈值 below {CONFIDENCE_THRESHOLD}", str(summary["below_threshold"]))
    if grids is not None:
        table_view.add_row("不在网格内 outside the grids", str(summary["outside_grids"]))
        table_view.add_row(
            "跨多个网格 road/lane in several grids (no grid_code)", str(summary["several_grids"])
        )
    out.print(table_view)
    out.print(f"已写出 / written: {out_path}", highlight=False)
    if dry_run:
        report_dry_run(plan.report)
    raise typer.Exit(EXIT_OK)


def geocode_eval_command(
    cases: Annotated[Path, typer.Argument(help="标注地址集 / labelled address set (CSV)")] = Path(
        "tests/gis/geocode_cases.csv"
    ),
    gazetteer: Annotated[
        Path, typer.Option("--gazetteer", help="门牌库 / door-plate gazetteer")
    ] = Path("data/demo/houses.csv"),
    address_column: Annotated[
        str, typer.Option("--address-column", help="门牌库的地址字段 / gazetteer address field")
    ] = "address",
    id_column: Annotated[
        str, typer.Option("--id-column", help="门牌编号字段 / door-plate id field")
    ] = "house_id",
    road_column: Annotated[
        str | None,
        typer.Option("--road-column", help="门牌库的道路字段 / gazetteer road field"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """地理编码精度评估：各级别的精确率与召回率 / Precision and recall on a labelled set."""
    from gis.geocode import Gazetteer
    from gis.geocode_eval import evaluate

    try:
        gaz = Gazetteer.from_file(gazetteer, address_column=address_column, road_column=road_column)
        report = evaluate(cases, gaz, id_column=id_column)
    except (WanggeError, ValueError, OSError) as exc:
        raise fail_input(exc) from exc
    code = EXIT_OK if report["meets_targets"] else EXIT_FINDINGS
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False))
        raise typer.Exit(code)

    def pct(value) -> str:
        return "—" if value is None else f"{value:.3f}"

    view = Table(title=f"{cases}: {report['cases']} cases, threshold {report['threshold']}")
    for header in (
        "级别 level",
        "报告 reported",
        "正确 correct",
        "精确率 precision",
        "应有 expected",
        "召回 recalled",
        "召回率 recall",
    ):
        view.add_column(header, justify="right")
    for level, row in report["levels"].items():
        view.add_row(
            level,
            str(row["reported"]),
            str(row["correct"]),
            pct(row["precision"]),
            str(row["expected"]),
            str(row["recalled"]),
            pct(row["recall"]),
        )
    out.print(view)
    by_class = Table(title="各写法 / per variant class (answers at lane or finer)")
    headers = ("写法 variant", "期望 expected", "条数 cases", "精确率 precision", "召回率 recall")
    for header in headers:
        by_class.add_column(header, justify="right")
    for variant, row in report["variants"].items():
        by_class.add_row(
            variant, row["expected_level"], str(row["cases"]), pct(row["precision"]),
            pct(row["recall"]),
        )  # fmt: skip
    out.print(by_class)
    overall = report["overall"]
    out.print(
        f"总体 / overall: precision {pct(overall['precision'])}, recall {pct(overall['recall'])}"
    )
    interp = report["interpolation"]
    out.print(f"插值标注一致 / interpolation agrees: {interp['agree']}/{interp['labelled']}")
    out.print(
        f"阈值以上错误匹配 / wrong matches above the threshold: "
        f"{len(report['wrong_above_threshold'])}"
    )
    for miss in report["misses"]:
        out.print(
            f"  miss {miss['case_id']} {miss['input']!r}: expected {miss['expected_level']},"
            f" got {miss['level']} {miss['returned'] or ''}",
            highlight=False,
        )
    verdict = "达标 / targets met" if report["meets_targets"] else "未达标 / targets NOT met"
    out.print(
        f"{verdict} (doorplate precision ≥ 0.98, recall ≥ 0.9, no wrong match above "
        "threshold; overall precision ≥ 0.99, recall ≥ 0.95)"
    )
    raise typer.Exit(code)
