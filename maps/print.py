"""Printed output: the community's division diagram (整体示意图); shared print set-up.

Notice boards (one per grid) are :mod:`maps.boards`, built on the page and font set-up here.

Rendered with matplotlib to vector PDF or to PNG (by the extension of ``out``).

Fonts: Debian's Noto Sans CJK is a CFF-outline ``.ttc`` collection. matplotlib's Type 42 path
embeds it as a CID font whose CFF data is declared as TrueType (poppler warns "Mismatch between
font type and embedded font file"; strict viewers and RIPs may refuse it), so the PDF uses Type 3
fonts (``pdf.fonttype = 3``): each used glyph is embedded as a vector procedure, the text stays
extractable (ToUnicode), and no font file format is involved. reportlab cannot embed CFF at all.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
from matplotlib import font_manager, patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon, Rectangle

from gis.crs import metric_crs
from gis.errors import InputError
from maps.base import OSM_ATTRIBUTION
from maps.colouring import colour_grids

__all__ = [
    "FONT_FAMILY",
    "PAPER_IN",
    "check_glyph_warnings",
    "cjk_style",
    "print_division",
]

PAPER_IN: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "A3": (11.69, 16.54)}
FONT_FAMILY = "Noto Sans CJK SC"
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
DEFAULT_SOURCE = "社区网格划分数据"
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
_NEIGHBOUR_GREY = "#d9d9d9"


@contextmanager
def cjk_style() -> Iterator[None]:
    """Register Noto Sans CJK and set Type 3 PDF fonts for the duration of a print."""
    found = [f for f in FONT_FILES if Path(f).is_file()]
    if not found:
        raise InputError(
            "找不到 Noto Sans CJK 字体（apt-get install fonts-noto-cjk） / "
            "Noto Sans CJK not found (apt-get install fonts-noto-cjk)"
        )
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in found:
        if path not in known:
            font_manager.fontManager.addfont(path)
    with matplotlib.rc_context(
        {
            "pdf.fonttype": 3,
            "font.family": [FONT_FAMILY],
            "axes.unicode_minus": False,
            "svg.fonttype": "path",
        }
    ):
        yield


def _page(paper: str, landscape: bool) -> Figure:
    if paper not in PAPER_IN:
        raise InputError(f"纸张必须是 A4 或 A3 / paper must be A4 or A3: {paper!r}")
    w, h = PAPER_IN[paper]
    return Figure(figsize=(h, w) if landscape else (w, h))


def _format(out: Path) -> str:
    ext = out.suffix.lower()
    if ext not in (".pdf", ".png"):
        raise InputError(f"输出文件须为 .pdf 或 .png / out must end in .pdf or .png: {out}")
    return ext[1:]


def _nice_length(span_m: float) -> float:
    """A round scale-bar length about a quarter of the span (1, 2, 5 × 10^n metres)."""
    target = max(span_m / 4, 1e-9)
    power = 10 ** np.floor(np.log10(target))
    return float(max(s * power for s in (1, 2, 5) if s * power <= target))


def _scale_bar(ax, *, fontsize: float = 8) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    left, base = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    height = 0.008 * (y1 - y0)
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, base),
                length / 2,
                height,
                facecolor="black" if i == 0 else "white",
                edgecolor="black",
                lw=0.8,
                zorder=20,
            )
        )
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    for x, text in ((left, "0"), (left + length, label)):
        ax.text(
            x,
            base + 2.2 * height,
            text,
            ha="center",
            va="bottom",
            fontsize=fontsize,
            zorder=20,
            path_effects=_HALO,
        )


def _north_arrow(ax, *, size: float = 0.06) -> None:
    x, y = 0.94, 0.90
    ax.add_patch(
        Polygon(
            [(x, y), (x - size / 3, y - size), (x, y - size * 0.75), (x + size / 3, y - size)],
            closed=True,
            transform=ax.transAxes,
            facecolor="black",
            edgecolor="black",
            zorder=20,
        )
    )
    ax.text(
        x,
        y + 0.01,
        "北 N",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=9,
        zorder=20,
        path_effects=_HALO,
    )


def _metric(frame: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame | None:
    if frame is None or not len(frame):
        return None
    return frame.to_crs(crs)


def _clip_roads(roads: gpd.GeoDataFrame | None, bounds: tuple[float, ...], crs):
    roads_m = _metric(roads, crs)
    if roads_m is None:
        return None
    return gpd.clip(roads_m, bounds)


def _draw_roads(ax, roads_m: gpd.GeoDataFrame | None) -> None:
    if roads_m is not None and len(roads_m):
        roads_m.plot(ax=ax, color="#8c8c8c", linewidth=0.5, zorder=2)


def _padded_bounds(geoms: gpd.GeoSeries, pad: float = 0.06) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = geoms.total_bounds
    dx, dy = (maxx - minx) * pad, (maxy - miny) * pad
    return (minx - dx, miny - dy, maxx + dx, maxy + dy)


def check_glyph_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Raise InputError if matplotlib warned of a missing glyph (text would print as boxes)."""
    for w in caught:
        text = str(w.message)
        if "Glyph" in text and "missing" in text:
            raise InputError(f"字体缺字，打印会出现方框 / glyph missing from the font: {text}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def print_division(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    roads: gpd.GeoDataFrame | None = None,
    community_name: str,
    out: str | Path,
    paper: str = "A4",
    landscape: bool = False,
    date: dt.date | str | None = None,
    source: str = DEFAULT_SOURCE,
    roads_from_osm: bool = True,
    code_field: str = "code",
    dpi: int = 200,
) -> Path:
    """Print the community's division diagram (网格划分示意图) to PDF or PNG; return the path.

    The page has a title naming the community, the grids coloured (no two neighbours alike)
    and labelled with name and code, the boundary, roads when given, a legend, a scale bar, a
    north arrow (grid north of the local Gauss-Krüger projection), the date and the data source
    ("© OpenStreetMap contributors" is added when OSM roads are drawn).
    """
    out = Path(out)
    fmt = _format(out)
    crs = metric_crs(grids)
    grids_m = grids.to_crs(crs)
    boundary_m = boundary.to_crs(crs)
    bounds = _padded_bounds(boundary_m.geometry if len(boundary_m) else grids_m.geometry)
    roads_m = _clip_roads(roads, bounds, crs)
    colours = colour_grids(grids)
    day = date or dt.date.today()
    sources = [source] + (
        [f"道路 Roads {OSM_ATTRIBUTION}"]
        if roads_m is not None and len(roads_m) and roads_from_osm
        else []
    )
    order = np.argsort(grids_m[code_field].astype(str).to_numpy(), kind="stable")

    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = _page(paper, landscape)
        fig.text(
            0.5,
            0.965,
            f"{community_name}网格划分示意图",
            ha="center",
            va="top",
            fontsize=20,
            weight="bold",
        )
        ax = fig.add_axes((0.05, 0.16, 0.9, 0.76) if not landscape else (0.03, 0.10, 0.68, 0.80))
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
        _draw_roads(ax, roads_m)
        grids_m.plot(
            ax=ax,
            color=colours.loc[grids_m.index].to_numpy(),
            edgecolor="#333333",
            linewidth=0.8,
            alpha=0.85,
            zorder=3,
        )
        boundary_m.boundary.plot(ax=ax, color="#b2182b", linewidth=2.0, zorder=4)
        for point, (_, row) in zip(
            grids_m.geometry.representative_point(), grids_m.iterrows(), strict=True
        ):
            ax.text(
                point.x,
                point.y,
                f"{row.get('name', '') or ''}\n{row[code_field]}",
                ha="center",
                va="center",
                fontsize=6.5,
                zorder=10,
                path_effects=_HALO,
            )
        ax.set_aspect("equal")
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
        ax.set_axis_off()
        _scale_bar(ax)
        _north_arrow(ax)
        handles = [
            Patch(
                facecolor=colours.loc[grids_m.index[i]],
                edgecolor="#333333",
                label=f"{grids_m.iloc[i].get('name', '') or ''} {grids_m.iloc[i][code_field]}",
            )
            for i in order
        ]
        handles.append(
            Patch(facecolor="none", edgecolor="#b2182b", linewidth=2, label="社区边界 Boundary")
        )
        legend_box = (0.5, 0.145) if not landscape else (0.86, 0.5)
        fig.legend(
            handles=handles,
            loc="upper center" if not landscape else "center",
            bbox_to_anchor=legend_box,
            ncol=3 if not landscape else 1,
            fontsize=7,
            title="图例 Legend",
            title_fontsize=8,
            frameon=True,
        )
        fig.text(
            0.02,
            0.012,
            f"制图日期 Date: {day}    数据来源 Source: {'；'.join(sources)}",
            fontsize=7,
            ha="left",
            va="bottom",
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=fmt, dpi=dpi)
    check_glyph_warnings(caught)
    return out
