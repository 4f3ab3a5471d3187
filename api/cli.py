"""The ``wangge`` command line: thin Typer wrappers around gis/ functions and api/ services.

Exit codes: 0 ok, 1 findings (e.g. a division that does not validate), 2 unusable input.

CRS of inputs, one rule for every command: each file is read in its own declared CRS
(GeoJSON, KML, CSV and XLSX are WGS84 unless told); ``--input-crs wgs84|cgcs2000|gcj02|bd09``
names the CRS of the command's point/address input only; grids, boundaries, roads and
buildings have their own ``--grids-crs``, ``--boundary-crs``, ``--roads-crs``,
``--buildings-crs``. ``--layer`` (and ``--grids-layer``, ``--boundary-layer``...) picks
the layer of a file that holds several.
"""

from __future__ import annotations

import json
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import shapely
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from api.cli_appraise import register as register_appraise_commands
from api.cli_assess import register as register_assess_commands
from api.cli_audit import register as register_audit_commands
from api.cli_backup import register as register_backup_commands
from api.cli_basemap import register as register_basemap_commands
from api.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    AllowTruncate,
    BoundaryCRS,
    BoundaryLayer,
    CodeField,
    DryRunFlag,
    GridsCRS,
    GridsLayer,
    InputCRS,
    JsonFlag,
    Layer,
    err,
    fail_input,
    fmt_number,
    out,
    read_division,
    read_input,
    report_dry_run,
)
from api.cli_deadline import deadline_command
from api.cli_divide import balance_command, divide_command
from api.cli_geocode import gazetteer_app, geocode_command, geocode_eval_command
from api.cli_incidents import register as register_incident_commands
from api.cli_keys import register as register_key_commands
from api.cli_maps import map_command, print_command
from api.cli_patrol import patrol_app
from api.cli_registry import register as register_registry_commands
from api.cli_repair import repair_command
from api.cli_routing import register as register_routing_commands
from api.cli_server import register as register_server_commands
from api.cli_server import user_app
from api.cli_totp import register as register_totp_command
from gis.errors import WanggeError

__all__ = ["app"]

app = typer.Typer(
    name="wangge",
    help="网格化管理 GIS 系统 / GIS for community grid management.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"wangge {package_version('wangge')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="版本 / version"),
    ] = False,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=1,
            help="本地文件最多行数（默认不限）/ most rows in a local input file (default: no "
            "bound; WANGGE_MAX_LOCAL_ROWS)",
        ),
    ] = None,
) -> None:
    """网格化管理 GIS 系统 / GIS for community grid management."""
    from api.cli_limits import apply_cli_limits  # not api.limits: that loads the web stack

    apply_cli_limits(max_rows=max_rows)


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


@app.command("validate")
def validate_command(
    grids: Annotated[Path, typer.Argument(help="网格划分文件 / grid division file")],
    boundary: Annotated[
        Path, typer.Option("--boundary", "-b", help="社区边界文件 / community boundary file")
    ],
    code_field: CodeField = "code",
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, help="容差（米）/ tolerance in metres")
    ] = 0.5,
    as_json: JsonFlag = False,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="把问题写成 GeoJSON / write findings as GeoJSON"),
    ] = None,
    layer: Layer = None,
    boundary_layer: BoundaryLayer = None,
    grids_crs: GridsCRS = None,
    boundary_crs: BoundaryCRS = None,
    dry_run: DryRunFlag = False,
) -> None:
    """校验网格划分：无缝隙、无重叠（纵向到底、横向到边）/ Validate a grid division."""
    from gis.coverage import findings_to_geojson, validate

    try:
        grid_frame, boundary_frame = read_division(
            grids, boundary, code_field=code_field, grids_crs=grids_crs,
            boundary_crs=boundary_crs, grids_layer=layer, boundary_layer=boundary_layer,
        )  # fmt: skip
        with err.status("校验中 / validating…"):
            findings = validate(
                grid_frame, boundary_frame, code_field=code_field, tolerance_m=tolerance
            )
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc

    from api.db.dry_run import output_plan

    collection = findings_to_geojson(findings)
    with output_plan(dry_run) as plan:
        if out_path is not None:
            target = plan.path(out_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    has_error = bool((findings["severity"] == "error").any()) if len(findings) else False
    if as_json:
        payload = {
            "valid": not has_error,
            "grids": len(grid_frame),
            "findings": [
                f["properties"] | {"geometry": f["geometry"]} for f in collection["features"]
            ],
        }
        if dry_run:
            payload = report_dry_run(plan.report, payload)
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        if len(findings):
            out.print(_findings_table(findings))
        counts = findings["kind"].value_counts().to_dict() if len(findings) else {}
        verdict = "不通过 / INVALID" if has_error else "通过 / VALID"
        detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "无问题 / no findings"
        out.print(f"{verdict}: {len(grid_frame)} 个网格 / grids; {detail}")
        if dry_run:
            report_dry_run(plan.report)
    raise typer.Exit(EXIT_FINDINGS if has_error else EXIT_OK)


@app.command("assign")
def assign_command(
    points: Annotated[Path, typer.Argument(help="点文件（房屋、事件）/ points file")],
    grids: Annotated[Path, typer.Option("--grids", "-g", help="网格划分文件 / grid division")],
    out_path: Annotated[
        Path, typer.Option("--out", help="输出文件，格式由扩展名决定 / output file")
    ],
    code_field: CodeField = "code",
    input_crs: InputCRS = None,
    layer: Layer = None,
    grids_crs: GridsCRS = None,
    grids_layer: GridsLayer = None,
    allow_truncate: AllowTruncate = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """把点落到网格（空间连接）/ Assign points to grids by spatial join.

    The output keeps every input column as it was and adds ``grid_code``, ``outside`` and
    ``lon_wgs84``/``lat_wgs84``: the WGS84 position the grid was found for (the point's
    --input-crs coordinates converted). The points' CRS is --input-crs; the grids file is
    read in its own CRS (--grids-crs to say otherwise).
    """
    from api.db.dry_run import output_plan

    with output_plan(dry_run) as plan:
        n, n_out, written = _assign(
            points, grids, plan.path(out_path), code_field=code_field, input_crs=input_crs,
            layer=layer, grids_crs=grids_crs, grids_layer=grids_layer,
            allow_truncate=allow_truncate,
        )  # fmt: skip
    _print_assigned(n, n_out, plan.shown(written), as_json, plan.report if dry_run else None)
    raise typer.Exit(EXIT_OK)


def _assign(
    points: Path,
    grids: Path,
    out_path: Path,
    *,
    code_field: str,
    input_crs: str | None,
    layer: str | None,
    grids_crs: str | None,
    grids_layer: str | None,
    allow_truncate: bool,
) -> tuple[int, int, Path]:
    """Assign and write ``out_path``; return the points, the points outside, the file written."""
    try:
        done = _assign_columnar(
            points, grids, out_path, code_field=code_field, input_crs=input_crs, layer=layer,
            grids_crs=grids_crs, grids_layer=grids_layer,
        )  # fmt: skip
        if done is not None:
            return done
        from gis.assign import assign_points
        from gis.io import write_layer

        point_frame = read_input(
            points, layer=layer, crs=input_crs, geometry_type="point", keep_file_coordinates=True
        )
        grid_frame = read_input(
            grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
            crs_option="--grids-crs", geometry_type="polygon",
        )  # fmt: skip
        if code_field not in grid_frame.columns:
            raise WanggeError(f"{grids}: 没有编码字段 '{code_field}' / no code field")
        with err.status("空间连接中 / joining…"):
            codes = assign_points(point_frame, grid_frame, grid_id=code_field)
        result = point_frame.copy()
        result["grid_code"] = codes.astype(object).where(codes.notna(), None)
        result["outside"] = codes.isna().to_numpy()
        wgs84 = np.asarray(result.geometry.to_crs(4326).values)
        result["lon_wgs84"], result["lat_wgs84"] = shapely.get_x(wgs84), shapely.get_y(wgs84)
        written = write_layer(
            result, out_path, xy_columns=("lon_wgs84", "lat_wgs84"), allow_truncate=allow_truncate
        )
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    return len(result), int(result["outside"].sum()), written


def _print_assigned(n: int, n_out: int, written: Path, as_json: bool, dry_report) -> None:
    if as_json:
        payload = {"points": n, "outside": n_out, "out": str(written)}
        if dry_report is not None:
            payload = report_dry_run(dry_report, payload)
        out.print_json(json.dumps(payload))
    else:
        out.print(
            f"已分配 / assigned {n - n_out} / {n} 个点 / points;"
            f" 网格外 / outside: {n_out}; → {written}"
        )
        if dry_report is not None:
            report_dry_run(dry_report)


def _assign_columnar(
    points: Path,
    grids: Path,
    out_path: Path,
    *,
    code_field: str,
    input_crs: str | None,
    layer: str | None,
    grids_crs: str | None,
    grids_layer: str | None,
) -> tuple[int, int, Path] | None:
    """``assign`` column-wise for a clean lon/lat table (CSV/Parquet) written as CSV.

    The points are parsed in bulk and their columns written back as read, with no geometry per
    row, while another thread reads the grids and builds their index (the second core). None
    (nothing written) when the input needs the general reader (other formats or CRS, a bad
    cell: that reader names the row) or the output is not CSV; else the points, the points
    outside and the file written.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gis.crs import WGS84, parse_input_crs
    from gis.io import read_point_table, write_csv_columns

    if (
        out_path.suffix.lower() != ".csv"
        or layer is not None
        or points.suffix.lower() not in (".csv", ".parquet")
        or (input_crs is not None and parse_input_crs(input_crs) != "wgs84")
    ):
        return None

    def grid_index():
        from gis.assign import GridIndex  # imported here too: scipy's import overlaps the read

        grid_frame = read_input(
            grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
            crs_option="--grids-crs", geometry_type="polygon",
        )  # fmt: skip
        if code_field not in grid_frame.columns:
            raise WanggeError(f"{grids}: 没有编码字段 '{code_field}' / no code field")
        return GridIndex(grid_frame, grid_id=code_field, one_shot=True)

    with ThreadPoolExecutor(max_workers=1) as pool:
        index = pool.submit(grid_index)
        table = read_point_table(points, input_crs=input_crs)
        if table is None:
            index.cancel()
            return None
        built = index.result()
        from gis.assign import assign_lonlat

        with err.status("空间连接中 / joining…"):
            codes = assign_lonlat(table.lon, table.lat, WGS84, built)
    outside = np.equal(codes, None)
    added = {"grid_code": codes, "outside": outside, "lon_wgs84": table.lon, "lat_wgs84": table.lat}
    written = write_csv_columns(table.table, added, out_path)
    return len(codes), int(outside.sum()), written


app.command("repair")(repair_command)
app.command("divide")(divide_command)
app.command("balance")(balance_command)
app.command("deadline")(deadline_command)
app.command("geocode")(geocode_command)
app.command("geocode-eval")(geocode_eval_command)
app.add_typer(gazetteer_app, name="gazetteer", help="门牌库 / door-plate gazetteer")
app.add_typer(patrol_app, name="patrol", help="巡查轨迹 / patrol logs")
app.command("map")(map_command)
app.command("print")(print_command)
register_server_commands(app)
register_registry_commands(app)
register_assess_commands(app)
register_appraise_commands(app)
register_incident_commands(app)
register_routing_commands(app)
register_backup_commands(app)
register_basemap_commands(app)
register_key_commands(app)
register_audit_commands(app)
register_totp_command(user_app)


@app.command("demo")
def demo_command(
    db: Annotated[
        str | None,
        typer.Option("--db", help="数据库 URL（默认 SpatiaLite 文件）/ database URL"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir", help="地图与打印件目录 / folder for maps and printouts (default out/demo)"
        ),
    ] = Path("out/demo"),
    no_maps: Annotated[
        bool, typer.Option("--no-maps", help="不生成地图与打印件 / skip maps and printouts")
    ] = False,
    as_json: JsonFlag = False,
    dry_run: DryRunFlag = False,
) -> None:
    """载入示例社区：入库、校验、连接、出图 / Load, validate, join and map the demo community."""
    from api.demo import DEMO_STEPS, load_demo

    key_note, key_write = _demo_data_key(db, dry_run=dry_run)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        console=err,
        disable=as_json,
    )
    try:
        with progress:
            total = DEMO_STEPS + (0 if no_maps else 1)
            task = progress.add_task("示例社区 / demo community", total=total)

            def step(message: str) -> None:
                if not as_json:
                    progress.console.print(message)
                progress.advance(task)

            summary = load_demo(
                db_url=db, on_step=step, out_dir=None if no_maps else out_dir, dry_run=dry_run
            )
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    if key_note is not None:
        summary["data_key_file"] = str(key_note)
    if key_write is not None:  # a dry run made the key in memory only
        summary["would_write"]["files"].insert(0, key_write.as_dict())
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        _print_demo_summary(summary)
        if dry_run:
            from api.db.dry_run import WriteReport

            report_dry_run(WriteReport.from_dict(summary["would_write"]))
        elif key_note is not None:
            out.print(
                f"示例数据密钥已写入 / demo data key written to {key_note} (0600)；"
                f"启动服务前请设置 / before serving set WANGGE_DATA_KEY_FILE={key_note}",
                highlight=False,
            )
    raise typer.Exit(EXIT_OK)


def _demo_data_key(db: str | None, *, dry_run: bool = False) -> tuple[Path | None, Any]:
    """The demo's data key: the configured one, else a new key file made for the demo.

    Residents are refused without a data key; the demo makes one explicitly (beside the
    SpatiaLite file, or ./wangge-data.key for PostGIS), used by this process and named in the
    output, instead of storing personal data in clear. Returns the file made (or None), and
    in a dry run, which makes the key in memory only, the file it would write (a
    :class:`api.db.dry_run.FileWrite`, else None).
    """
    from api.config import get_settings
    from api.crypto import (
        Keyring,
        MissingDataKeyError,
        keyring,
        new_data_key,
        parse_data_key,
        set_keyring,
        write_key_file,
    )
    from api.db.dry_run import FileWrite

    try:
        keyring()
        return None, None
    except MissingDataKeyError:
        pass
    url = db or get_settings().database_url
    folder = Path(url.split("///", 1)[1]).parent if url.startswith("sqlite:///") else Path()
    path = folder / "wangge-data.key"
    would_write = None
    if path.exists():
        text = path.read_text(encoding="ascii")
    elif dry_run:
        text = new_data_key()
        would_write = FileWrite(str(path), len(text.strip()) + 1, replaces=False)
    else:
        text = new_data_key()
        folder.mkdir(parents=True, exist_ok=True)
        write_key_file(path, text)
    set_keyring(Keyring(parse_data_key(text, source=str(path))))
    return path, would_write


def _print_demo_summary(summary: dict[str, Any]) -> None:
    """The demo's summary: community, grids, validation, joins, and the files written."""
    c = summary["community"]
    out.print(f"[bold]{c['name']}[/] ({c['code']}) {c['area_m2'] / 1e6:.2f} km² → {summary['db']}")
    table = Table(title="网格 / grids (current)")
    table.add_column("编码 code", no_wrap=True)
    for header in ("名称 name", "面积 m²", "户数 households", "房屋 houses", "事件 incidents"):
        table.add_column(header)
    for g in summary["grids"]:
        table.add_row(
            g["code"],
            g["name"],
            fmt_number(g["area_m2"], 0),
            str(g["households"]),
            str(g["houses"]),
            str(g["incidents"]),
        )
    out.print(table)
    for name, v in summary["validation"].items():
        verdict = "通过 / VALID" if v["valid"] else "不通过 / INVALID"
        kinds = ", ".join(f"{k}={n}" for k, n in v["kinds"].items()) or "无问题 / no findings"
        out.print(f"校验 / validate ({name}): {verdict}; {kinds}")
    for what in ("houses", "incidents"):
        s = summary[what]
        out.print(
            f"{what}: {s['total']} 条, 网格外 / outside {s['outside']},"
            f" 数据库一致 / database agrees {s['db_agrees']}/{s['total']}"
        )
    flow = summary["incidents"].get("workflow")
    if flow:
        states = ", ".join(f"{k}={v}" for k, v in sorted(flow["states"].items()))
        out.print(
            f"事件流转 / workflow: {states}; 按期 / on time {flow['on_time']},"
            f" 超期 / late {flow['late']}"
        )
    names = {
        "division_map": "网格划分图 / division map",
        "validation_map": "校验图 / validation map",
        "incident_heatmap": "事件热力图 / incident heat-map",
        "incident_hotspots": "事件热点 / incident hot-spots",
        "division_diagram": "网格示意图（打印）/ division diagram (print)",
        "boards": "网格公示牌（打印）/ notice boards (print)",
    }
    for key, path in summary.get("outputs", {}).items():
        out.print(f"{names.get(key, key)}: {path}", highlight=False)
