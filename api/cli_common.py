"""What every ``wangge`` command shares: consoles, exit codes, option types, error exit."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "CodeField",
    "InputCRS",
    "JsonFlag",
    "err",
    "fail_input",
    "fmt_number",
    "out",
    "read_division",
]

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


def fail_input(exc: Exception) -> typer.Exit:
    """Print ``exc`` as a bad-input message on stderr and return the exit (code 2) to raise."""
    err.print(f"[bold red]输入错误 / bad input:[/] {exc}", highlight=False, markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


def fmt_number(value: Any, digits: int = 1) -> str:
    """Format a number with thousands separators; None/NaN as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def read_division(grids: Path, boundary: Path, *, code_field: str, input_crs: str | None):
    """Read a division and its community boundary (any gis.io format); check the code field."""
    from gis.errors import InputError
    from gis.io import read_layer

    grid_frame = read_layer(grids, input_crs=input_crs, geometry_type="polygon")
    boundary_frame = read_layer(boundary, input_crs=input_crs, geometry_type="polygon")
    if code_field not in grid_frame.columns:
        raise InputError(
            f"{grids}: 没有编码字段 '{code_field}' / no code field '{code_field}';"
            f" fields: {', '.join(c for c in grid_frame.columns if c != 'geometry')}"
        )
    return grid_frame, boundary_frame
