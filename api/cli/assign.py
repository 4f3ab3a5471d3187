"""``wangge assign``: assign points (houses, incidents…) to grids by spatial join."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import shapely
import typer

from api.cli.inputs import read_input
from api.cli.options import (
    AllowTruncate,
    CodeField,
    GridsCRS,
    GridsLayer,
    InputCRS,
    JsonFlag,
    Layer,
)
from api.cli.output import EXIT_OK, err, fail_input, out
from gis.codes import require_code_field
from gis.errors import WanggeError

__all__ = ["assign_command"]


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
) -> None:
    """把点落到网格（空间连接）/ Assign points to grids by spatial join.

    The output keeps every input column as it was and adds ``grid_code``, ``outside`` and
    ``lon_wgs84``/``lat_wgs84``: the WGS84 position the grid was found for (the point's
    --input-crs coordinates converted). The points' CRS is --input-crs; the grids file is
    read in its own CRS (--grids-crs to say otherwise).
    """
    try:
        if _assign_columnar(
            points, grids, out_path, code_field=code_field, input_crs=input_crs, layer=layer,
            grids_crs=grids_crs, grids_layer=grids_layer, as_json=as_json,
        ):  # fmt: skip
            raise typer.Exit(EXIT_OK)
        from gis.assign import assign_points
        from gis.io import write_layer

        point_frame = read_input(
            points, layer=layer, crs=input_crs, geometry_type="point", keep_file_coordinates=True
        )
        grid_frame = read_input(
            grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
            crs_option="--grids-crs", geometry_type="polygon",
        )  # fmt: skip
        require_code_field(grid_frame, code_field, source=grids)
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

    _print_assigned(len(result), int(result["outside"].sum()), written, as_json)
    raise typer.Exit(EXIT_OK)


def _print_assigned(n: int, n_out: int, written: Path, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps({"points": n, "outside": n_out, "out": str(written)}))
    else:
        out.print(
            f"已分配 / assigned {n - n_out} / {n} 个点 / points;"
            f" 网格外 / outside: {n_out}; → {written}"
        )


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
    as_json: bool,
) -> bool:
    """``assign`` column-wise for a clean lon/lat table (CSV/Parquet) written as CSV.

    The points are parsed in bulk and their columns written back as read, with no geometry per
    row, while another thread reads the grids and builds their index (the second core). False
    (nothing written) when the input needs the general reader (other formats or CRS, a bad
    cell: that reader names the row) or the output is not CSV.
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
        return False

    def grid_index():
        from gis.assign import GridIndex  # imported here too: scipy's import overlaps the read

        grid_frame = read_input(
            grids, layer=grids_layer, crs=grids_crs, layer_option="--grids-layer",
            crs_option="--grids-crs", geometry_type="polygon",
        )  # fmt: skip
        require_code_field(grid_frame, code_field, source=grids)
        return GridIndex(grid_frame, code_field=code_field, one_shot=True)

    with ThreadPoolExecutor(max_workers=1) as pool:
        index = pool.submit(grid_index)
        table = read_point_table(points, input_crs=input_crs)
        if table is None:
            index.cancel()
            return False
        built = index.result()
        from gis.assign import assign_lonlat

        with err.status("空间连接中 / joining…"):
            codes = assign_lonlat(table.lon, table.lat, WGS84, built)
    outside = np.equal(codes, None)
    added = {"grid_code": codes, "outside": outside, "lon_wgs84": table.lon, "lat_wgs84": table.lat}
    written = write_csv_columns(table.table, added, out_path)
    _print_assigned(len(codes), int(outside.sum()), written, as_json)
    return True
