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
    "READ_ONLY_COMMANDS",
    "WRITING_COMMANDS",
    "AllowTruncate",
    "BoundaryCRS",
    "BoundaryLayer",
    "BuildingsCRS",
    "CodeField",
    "CommunityOption",
    "DryRunFlag",
    "GridsCRS",
    "GridsLayer",
    "HousesLayer",
    "InputCRS",
    "JsonFlag",
    "Layer",
    "RoadsCRS",
    "err",
    "fail_input",
    "fmt_number",
    "out",
    "read_division",
    "read_input",
    "report_dry_run",
]

out = Console(soft_wrap=True)
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2

# One rule for the CRS of inputs: every file is read in its own declared CRS (GeoJSON, KML,
# CSV and XLSX are WGS84 unless told); --input-crs names the CRS of the point/address input
# only, and each other kind of file that may be drawn on a GCJ-02/BD-09 map has its own
# option. An option states what the numbers in that one file really are.
_CRS_VALUES = "wgs84|cgcs2000|gcj02|bd09"


def _crs_option(flag: str, what_zh: str, what_en: str):
    return Annotated[
        str | None,
        typer.Option(
            flag,
            help=f"{what_zh}的坐标系 {_CRS_VALUES}（默认：文件自带，否则 WGS84）/ CRS of "
            f"{what_en} (default: the file's own, else WGS84)",
        ),
    ]


def _layer_option(flag: str, what_zh: str, what_en: str):
    return Annotated[
        str | None,
        typer.Option(
            flag,
            help=f"{what_zh}的图层/工作表（文件有多个时必填）/ layer or sheet of {what_en} "
            "(needed when the file holds several)",
        ),
    ]


InputCRS = _crs_option("--input-crs", "点/地址输入", "the point/address input")
GridsCRS = _crs_option("--grids-crs", "网格文件", "the grids file")
BoundaryCRS = _crs_option("--boundary-crs", "边界文件", "the boundary file")
RoadsCRS = _crs_option("--roads-crs", "道路文件", "the roads file")
BuildingsCRS = _crs_option("--buildings-crs", "建筑文件", "the buildings file")
Layer = _layer_option("--layer", "输入文件", "the input file")
GridsLayer = _layer_option("--grids-layer", "网格文件", "the grids file")
BoundaryLayer = _layer_option("--boundary-layer", "边界文件", "the boundary file")
HousesLayer = _layer_option("--houses-layer", "房屋文件", "the houses file")
CommunityOption = Annotated[
    str,
    typer.Option(
        "--community", "-c", help="社区：12 位编码或名称 / community: its 12-digit code or its name"
    ),
]
AllowTruncate = Annotated[
    bool,
    typer.Option(
        "--allow-truncate",
        help="允许 Shapefile 截断长字段名/长文字 / let a Shapefile cut long names and text",
    ),
]
CodeField = Annotated[
    str, typer.Option("--code-field", help="网格编码字段 / field holding the grid code")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON for scripts")]
# Every command is one or the other: a command that writes anything (rows, files, keys) takes
# --dry-run; a command that only reads is named here. tests/api/test_cli_dry_run.py fails when
# a command is in neither list, so a new writing command cannot slip in without a dry run.
# (Commands given --db create and migrate a database that does not exist yet: that is
# opening it, not a write the dry run is about.)
WRITING_COMMANDS = frozenset(
    {
        "appraise", "assess dept", "assess draw", "assess report", "assess score", "assign",
        "backup", "balance", "basemap build", "db copy", "demo", "divide", "export",
        "gazetteer build", "geocode", "import", "incidents slip", "keys rotate",
        "load division", "map", "open311 key create", "patrol hours", "patrol manual add",
        "patrol manual approve", "patrol manual reject", "patrol week", "print", "repair",
        "restore", "routing add-department", "routing add-post", "routing export",
        "routing import", "template", "user create", "user totp", "validate",
    }
)  # fmt: skip
READ_ONLY_COMMANDS = frozenset(
    {
        "assess show", "audit verify", "deadline", "geocode-eval", "incidents inbox",
        "incidents stats", "incidents summary", "keys new", "routing show",
        "serve",  # the web API: its writes are requests, each in its own transaction
    }
)  # fmt: skip
DryRunFlag = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="演练：照常执行并报告将写入的内容，但不写入 / do everything, report what would be "
        "written, write nothing",
    ),
]


def report_dry_run(report, payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Say what a dry run would have written (a ``WriteReport``).

    With ``payload`` (the command's ``--json`` output) return it with ``dry_run`` and
    ``would_write`` added, for the caller to print; without, print the report's lines.
    """
    if payload is not None:
        return payload | {"dry_run": True, "would_write": report.as_dict()}
    for line in report.lines():
        out.print(line, highlight=False, markup=False)
    return None


def fail_input(exc: Exception) -> typer.Exit:
    """Print ``exc`` as a bad-input message on stderr and return the exit (code 2) to raise."""
    err.print(f"[bold red]输入错误 / bad input:[/] {exc}", highlight=False, markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


def fmt_number(value: Any, digits: int = 1) -> str:
    """Format a number with thousands separators; None/NaN as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def read_input(
    path: Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    layer_option: str = "--layer",
    crs_option: str = "--input-crs",
    **kwargs: Any,
):
    """Read one input file with :func:`gis.io.read_layer`, in its own CRS unless ``crs`` says.

    Errors name the command-line options (``layer_option``, ``crs_option``) that fix them;
    warnings the reader collected (an encoding guessed) are printed on stderr.
    """
    from gis.io import read_layer

    frame = read_layer(
        path, layer=layer, input_crs=crs, layer_hint=layer_option, crs_hint=crs_option, **kwargs
    )
    for warning in frame.attrs.get("read_warnings", []):
        err.print(f"[yellow]警告 / warning:[/] {warning}", highlight=False, markup=True)
    return frame


def read_division(
    grids: Path,
    boundary: Path,
    *,
    code_field: str,
    grids_crs: str | None = None,
    boundary_crs: str | None = None,
    grids_layer: str | None = None,
    boundary_layer: str | None = None,
    grids_layer_option: str = "--layer",
):
    """Read a division and its community boundary (any gis.io format); check the code field.

    Each file is read in its own CRS unless ``grids_crs``/``boundary_crs`` says otherwise.
    """
    from gis.errors import InputError

    grid_frame = read_input(
        grids, layer=grids_layer, crs=grids_crs, layer_option=grids_layer_option,
        crs_option="--grids-crs", geometry_type="polygon",
    )  # fmt: skip
    boundary_frame = read_input(
        boundary, layer=boundary_layer, crs=boundary_crs, layer_option="--boundary-layer",
        crs_option="--boundary-crs", geometry_type="polygon",
    )  # fmt: skip
    if code_field not in grid_frame.columns:
        raise InputError(
            f"{grids}: 没有编码字段 '{code_field}' / no code field '{code_field}';"
            f" fields: {', '.join(c for c in grid_frame.columns if c != 'geometry')}"
        )
    return grid_frame, boundary_frame
