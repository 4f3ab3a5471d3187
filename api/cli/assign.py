"""``wangge assign``: assign points (houses, incidents…) to grids by spatial join."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.engine import (
    Engine,
    EngineOption,
    MemoryLimitOption,
    PartitionRowsOption,
    SchedulerOption,
    SpatialShuffleOption,
    ThreadsOption,
    WorkersOption,
    assign_with_dask,
    check_engine_options,
)
from api.cli.inputs import read_grid_frame, read_grids, read_input
from api.cli.options import (
    AllowTruncate,
    CodeField,
    DryRunFlag,
    GridsCRS,
    GridsLayer,
    InputCRS,
    JsonFlag,
    Layer,
)
from api.cli.output import EXIT_OK, err, fail_input, out, report_dry_run
from gis.errors import WanggeError

__all__ = ["assign_command"]

# A point file larger than this (about 40,000 rows of a typical house table) has its grids
# indexed on the second thread while it is read; a smaller one is joined with one STRtree
# query (:func:`gis.assign.assign_lonlat` chooses), which needs no index.
_INDEX_FROM_BYTES = 2 * 1024 * 1024


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
    engine: EngineOption = Engine.default,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
    threads: ThreadsOption = 1,
    memory_limit: MemoryLimitOption = "auto",
    partition_rows: PartitionRowsOption = 500_000,
    spatial_shuffle: SpatialShuffleOption = False,
    dry_run: DryRunFlag = False,
) -> None:
    """把点落到网格（空间连接）/ Assign points to grids by spatial join.

    The output keeps every input column as it was and adds ``grid_code``, ``outside`` and
    ``lon_wgs84``/``lat_wgs84``: the WGS84 position the grid was found for (the point's
    --input-crs coordinates converted). The points' CRS is --input-crs; the grids file is
    read in its own CRS (--grids-crs to say otherwise). ``--engine dask`` assigns on a Dask
    cluster (GeoParquet or lon/lat CSV/Parquet in; a ``.parquet`` file or a directory out).
    """
    from api.core.write_plan import output_plan

    try:
        check_engine_options(engine, scheduler)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    with output_plan(dry_run) as plan:
        if engine is Engine.dask:
            n, n_out, written = _assign_dask(
                points, grids, plan.path(out_path), code_field=code_field, input_crs=input_crs,
                grids_crs=grids_crs, grids_layer=grids_layer, scheduler=scheduler,
                workers=workers, memory_limit=memory_limit, partition_rows=partition_rows,
                spatial_shuffle=spatial_shuffle, threads=threads,
            )  # fmt: skip
        else:
            n, n_out, written = _assign(
                points, grids, plan.path(out_path), code_field=code_field, input_crs=input_crs,
                layer=layer, grids_crs=grids_crs, grids_layer=grids_layer,
                allow_truncate=allow_truncate,
            )  # fmt: skip
    _print_assigned(n, n_out, plan.shown(written), as_json, plan.report if dry_run else None)
    raise typer.Exit(EXIT_OK)


def _assign_dask(points: Path, grids: Path, out_path: Path, **options) -> tuple[int, int, Path]:
    """Assign on a Dask cluster; return the points, the points outside, the file written."""
    try:
        result = assign_with_dask(points, grids, out_path, **options)
    except (WanggeError, ValueError) as exc:
        raise fail_input(exc) from exc
    return result.points, result.outside, result.out


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
        done = _assign_geoparquet(
            points, grids, out_path, code_field=code_field, input_crs=input_crs, layer=layer,
            grids_crs=grids_crs, grids_layer=grids_layer,
        )  # fmt: skip
        if done is not None:
            return done
        done = _assign_columnar(
            points, grids, out_path, code_field=code_field, input_crs=input_crs, layer=layer,
            grids_crs=grids_crs, grids_layer=grids_layer,
        )  # fmt: skip
        if done is not None:
            return done
        import numpy as np
        import shapely

        from gis.assign import assign_points
        from gis.io import write_layer

        point_frame = read_input(
            points, layer=layer, crs=input_crs, geometry_type="point", keep_file_coordinates=True
        )
        grid_frame = read_grid_frame(grids, code_field=code_field, layer=grids_layer, crs=grids_crs)
        with err.status("空间连接中 / joining…"):
            codes = assign_points(point_frame, grid_frame, code_field=code_field)
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


def _assign_geoparquet(
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
    """``assign`` from GeoParquet to GeoParquet a batch of rows at a time
    (:func:`gis.assign_parquet.assign_geoparquet`): memory bounded by the batch, not the
    file. None (nothing written) for any other pair of formats."""
    if (
        layer is not None
        or out_path.suffix.lower() != ".parquet"
        or points.suffix.lower() != ".parquet"
        or not points.is_file()
    ):
        return None  # decided before importing geopandas, which the other routes avoid
    from gis.io.geoparquet_parts import geo_metadata

    if geo_metadata(points) is None:
        return None
    from gis.assign_parquet import assign_geoparquet

    grid_frame = read_grid_frame(grids, code_field=code_field, layer=grids_layer, crs=grids_crs)
    with err.status("空间连接中 / joining…"):
        done = assign_geoparquet(
            points, grid_frame, out_path, code_field=code_field, input_crs=input_crs
        )
    return done.points, done.outside, done.out


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

    The points are parsed in bulk and their columns written back as read (the coordinates as
    the file wrote them), with no geometry per row, while another thread reads the grids and,
    for a large file, builds their index (the second core); a small file is joined with one
    STRtree query and needs no index. None (nothing written) when the input needs the
    general reader (other formats or CRS, a bad cell: that reader names the row) or the
    output is not CSV; else the points, the points outside and the file written.
    """
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    import numpy as np

    from gis.crs import WGS84, parse_input_crs
    from gis.io import read_point_table, write_csv_columns

    if (
        out_path.suffix.lower() != ".csv"
        or layer is not None
        or points.suffix.lower() not in (".csv", ".parquet")
        or (input_crs is not None and parse_input_crs(input_crs) != "wgs84")
    ):
        return None

    large = points.is_file() and points.stat().st_size > _INDEX_FROM_BYTES

    def grid_index():  # gis.assign (and geopandas if needed) imported here, overlapping the read
        from gis.assign import GridIndex

        grid_frame = read_grids(grids, code_field=code_field, layer=grids_layer, crs=grids_crs)
        return GridIndex(grid_frame, code_field=code_field, one_shot=True) if large else grid_frame

    with ThreadPoolExecutor(max_workers=1) as pool:
        # in this context: the read bounds in force (--max-rows) are a context variable
        index = pool.submit(copy_context().run, grid_index)
        table = read_point_table(points, input_crs=input_crs)
        if table is None:
            index.cancel()
            return None
        built = index.result()
        from gis.assign import assign_lonlat

        with err.status("空间连接中 / joining…"):
            codes = assign_lonlat(table.lon, table.lat, WGS84, built, code_field=code_field)
    outside = np.equal(codes, None)
    lon, lat = table.lonlat_for_writing()
    added = {"grid_code": codes, "outside": outside, "lon_wgs84": lon, "lat_wgs84": lat}
    written = write_csv_columns(table.table, added, out_path)
    return len(codes), int(outside.sum()), written
