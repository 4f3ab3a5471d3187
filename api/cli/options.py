"""The options every ``wangge`` command shares, declared once: ``--db``, ``--tolerance-m``
(``--tolerance`` kept as its alias), ``--community``, ``--layer`` and the other layer options,
``--json``, ``--code-field``, ``--allow-truncate`` and the CRS options of the inputs.

A command declares a parameter with one of these types (``db: DbOption = None``) instead of
spelling the option out, so a flag reads and behaves the same in every command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gis.defaults import DEFAULT_TOLERANCE_M

__all__ = [
    "AllowTruncate",
    "BoundaryCRS",
    "BoundaryLayer",
    "BuildingsCRS",
    "CodeField",
    "CommunityOption",
    "DbOption",
    "GridsCRS",
    "GridsLayer",
    "HousesLayer",
    "InputCRS",
    "JsonFlag",
    "Layer",
    "RoadsCRS",
    "ToleranceOption",
]

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
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="数据库 URL（默认：配置的数据库）/ database URL (default: the configured one)"
    ),
]
ToleranceOption = Annotated[
    float | None,
    typer.Option(
        "--tolerance-m",
        "--tolerance",
        min=0.0,
        help=f"容差（米；默认 WANGGE_TOLERANCE_M，{DEFAULT_TOLERANCE_M:g}）/ tolerance in metres "
        f"(default: the WANGGE_TOLERANCE_M setting, {DEFAULT_TOLERANCE_M:g})",
    ),
]
