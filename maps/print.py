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
import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib import font_manager, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon, Rectangle

from gis.crs import metric_crs
from gis.errors import InputError
from maps.base import OSM_ATTRIBUTION
from maps.colouring import colour_grids
from maps.labels import CJK_FONT_FILES, Box, place_labels
from maps.print_base import base_layers_in, draw_base, place_road_names

__all__ = [
    "FONT_FAMILY",
    "GRID_LABEL_SIZES_PT",
    "LEGEND_ROWS",
    "PAPER_IN",
    "check_glyph_warnings",
    "cjk_style",
    "division_figure",
    "draw_grid_labels",
    "print_division",
]

PAPER_IN: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "A3": (11.69, 16.54)}
FONT_FAMILY = "Noto Sans CJK SC"
FONT_FILES = CJK_FONT_FILES
DEFAULT_SOURCE = "社区网格划分数据"
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
_NEIGHBOUR_GREY = "#d9d9d9"
LEGEND_ROWS = 20
"""Legend entries per column: a longer legend wraps into more columns."""
GRID_LABEL_SIZES_PT = (6.5, 5.5, 4.5)
"""Grid label sizes tried, largest first; the second is used on leader lines."""


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


def _scale_bar(ax, *, fontsize: float = 8) -> list:
    """Draw a two-part scale bar in the lower left of ``ax``; return its artists."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    left, base = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    height = 0.008 * (y1 - y0)
    artists: list = []
    for i in range(2):
        artists.append(
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
        )
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    for x, text in ((left, "0"), (left + length, label)):
        artists.append(
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
        )
    return artists


def _north_arrow(ax, *, size: float = 0.06) -> list:
    """Draw the north arrow in the upper right of ``ax``; return its artists."""
    x, y = 0.94, 0.90
    arrow = ax.add_patch(
        Polygon(
            [(x, y), (x - size / 3, y - size), (x, y - size * 0.75), (x + size / 3, y - size)],
            closed=True,
            transform=ax.transAxes,
            facecolor="black",
            edgecolor="black",
            zorder=20,
        )
    )
    text = ax.text(
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
    return [arrow, text]


def _metric(frame: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame | None:
    if frame is None or not len(frame):
        return None
    return frame.to_crs(crs)


def _clip_roads(roads: gpd.GeoDataFrame | None, bounds: tuple[float, ...], crs):
    roads_m = _metric(roads, crs)
    if roads_m is None:
        return None
    return gpd.clip(roads_m, bounds)


def _padded_bounds(geoms: gpd.GeoSeries, pad: float = 0.06) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = geoms.total_bounds
    dx, dy = (maxx - minx) * pad, (maxy - miny) * pad
    return (minx - dx, miny - dy, maxx + dx, maxy + dy)


def _fill_aspect(
    bounds: tuple[float, float, float, float], width_in: float, height_in: float
) -> tuple[float, float, float, float]:
    """Widen ``bounds`` along one axis so they have the aspect of the axes box (map fills it)."""
    minx, miny, maxx, maxy = bounds
    dx, dy = maxx - minx, maxy - miny
    if dx / dy < width_in / height_in:
        extra = (dy * width_in / height_in - dx) / 2
        return (minx - extra, miny, maxx + extra, maxy)
    extra = (dx * height_in / width_in - dy) / 2
    return (minx, miny - extra, maxx, maxy + extra)


def check_glyph_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Raise InputError if matplotlib warned of a missing glyph (text would print as boxes)."""
    for w in caught:
        text = str(w.message)
        if "Glyph" in text and "missing" in text:
            raise InputError(f"字体缺字，打印会出现方框 / glyph missing from the font: {text}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _display_box(artists: list, renderer) -> list[Box]:
    boxes = []
    for artist in artists:
        ext = artist.get_window_extent(renderer)
        boxes.append((ext.x0, ext.y0, ext.x1, ext.y1))
    return boxes


def draw_grid_labels(
    ax,
    grids_m: gpd.GeoDataFrame,
    texts: list[str],
    renderer,
    *,
    obstacles: list[Box] = (),
    sizes_pt: tuple[float, ...] = GRID_LABEL_SIZES_PT,
) -> list[Box]:
    """Label each grid with ``texts`` so that no two labels (nor ``obstacles``) overlap.

    Sizes are measured with ``renderer`` (matplotlib's own text extents, display units) at each
    of ``sizes_pt``; :func:`maps.labels.place_labels` puts each label inside its grid at the
    largest size that fits, or outside on a leader line. Returns the boxes of the labels drawn
    (display units), for road names and other text to avoid.
    """
    ax.apply_aspect()
    to_display = ax.transData.transform
    polygons = [
        shapely.transform(geom, to_display) if geom is not None else shapely.Polygon()
        for geom in grids_m.geometry
    ]
    sizes = []
    for text in texts:
        options = []
        for size in sizes_pt:
            probe = ax.text(0, 0, text, fontsize=size, ha="center", va="center", linespacing=1.1)
            ext = probe.get_window_extent(renderer)
            probe.remove()
            options.append((ext.width, ext.height))
        sizes.append(options)
    frame = ax.get_window_extent(renderer)
    halo_px = 1.5 * renderer.points_to_pixels(1.0)
    placements = place_labels(
        polygons,
        sizes,
        obstacles=list(obstacles),
        frame=(frame.x0, frame.y0, frame.x1, frame.y1),
        gap=halo_px,
        leader_size=min(1, len(sizes_pt) - 1),
    )
    from_display = ax.transData.inverted().transform
    boxes: list[Box] = []
    for text, spot in zip(texts, placements, strict=True):
        if spot is None:
            continue
        x, y = from_display((spot.x, spot.y))
        if spot.leader_from is not None:
            start = from_display(spot.leader_from)
            end = from_display(spot.leader_to)
            ax.plot(
                [start[0], end[0]], [start[1], end[1]], color="#333333", linewidth=0.5, zorder=9
            )
            ax.plot([start[0]], [start[1]], marker="o", markersize=1.5, color="#333333", zorder=9)
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=sizes_pt[spot.size],
            linespacing=1.1,
            zorder=10,
            path_effects=_HALO,
            gid="grid-label",
        )
        boxes.append(spot.box)
    return boxes


def _legend(fig: Figure, handles: list, *, landscape: bool, fontsize: float):
    """The legend outside the map: below it (portrait) or right of it (landscape), with at
    most :data:`LEGEND_ROWS` rows per column."""
    rows = len(handles)
    ncol = max(math.ceil(rows / LEGEND_ROWS), 1 if landscape else min(3, rows))
    if landscape:
        where = {"loc": "center right", "bbox_to_anchor": (0.985, 0.5)}
    else:
        where = {"loc": "lower center", "bbox_to_anchor": (0.5, 0.035)}
    return fig.legend(
        handles=handles,
        ncol=ncol,
        fontsize=fontsize,
        title="图例 Legend",
        title_fontsize=fontsize + 1,
        frameon=True,
        **where,
    )


def _fitted_legend(fig: Figure, handles: list, renderer, *, landscape: bool):
    """The legend at the largest font (7 pt down to 4 pt) that leaves the map its share."""
    for fontsize in (7.0, 6.0, 5.0, 4.0):
        legend = _legend(fig, handles, landscape=landscape, fontsize=fontsize)
        box = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted())
        fits = box.width <= 0.3 if landscape else box.height <= 0.22
        if fits and box.x0 >= 0 and box.y0 >= 0 and box.x1 <= 1 and box.y1 <= 1:
            return legend, box
        if fontsize > 4.0:
            legend.remove()
    return legend, box


def division_figure(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    roads: gpd.GeoDataFrame | None = None,
    base: Mapping[str, gpd.GeoDataFrame] | None = None,
    community_name: str,
    paper: str = "A4",
    landscape: bool = False,
    date: dt.date | str | None = None,
    source: str = DEFAULT_SOURCE,
    roads_from_osm: bool = True,
    code_field: str = "code",
) -> Figure:
    """Draw the community's division diagram (网格划分示意图) on a page; return the figure.

    The page has a title naming the community, the base map (green, water, buildings, roads and
    road names, in the colours of the base map's style), the grids coloured (no two neighbours
    alike) and labelled with name and code (never overlapping: inside the grid when it fits,
    else smaller, else outside on a leader line), the boundary, a legend outside the map (a new
    column every :data:`LEGEND_ROWS` entries), a scale bar, a north arrow (grid north of the
    local Gauss-Krüger projection), the date and the data source ("© OpenStreetMap contributors"
    is added when OSM data are drawn).

    Parameters
    ----------
    base : mapping, optional
        Base layers by name (``roads``, ``buildings``, ``water``, ``landuse``), as
        :func:`gis.osm.read_osm_layers` reads them for the vector tiles.
    roads : GeoDataFrame, optional
        Road lines, used as the ``roads`` layer when ``base`` has none.
    """
    crs = metric_crs(grids)
    grids_m = grids.to_crs(crs)
    boundary_m = boundary.to_crs(crs)
    layers = dict(base or {})
    if roads is not None and len(roads) and not len(layers.get("roads", ())):
        layers["roads"] = roads
    colours = colour_grids(grids)
    day = date or dt.date.today()
    order = np.argsort(grids_m[code_field].astype(str).to_numpy(), kind="stable")

    with cjk_style():
        fig = _page(paper, landscape)
        canvas = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()
        title = fig.text(
            0.5,
            0.975,
            f"{community_name}网格划分示意图",
            ha="center",
            va="top",
            fontsize=20,
            weight="bold",
        )
        title_box = title.get_window_extent(renderer).transformed(fig.transFigure.inverted())
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
        _, legend_box = _fitted_legend(fig, handles, renderer, landscape=landscape)
        top = title_box.y0 - 0.01
        if landscape:
            rect = (0.015, 0.04, legend_box.x0 - 0.025, top - 0.04)
        else:
            rect = (0.02, legend_box.y1 + 0.01, 0.96, top - legend_box.y1 - 0.01)
        ax = fig.add_axes(rect)
        w_in, h_in = fig.get_size_inches()
        padded = _padded_bounds(boundary_m.geometry if len(boundary_m) else grids_m.geometry)
        bounds = _fill_aspect(padded, rect[2] * w_in, rect[3] * h_in)
        layers_m = base_layers_in(layers, bounds, crs)
        osm_drawn = bool(layers_m) and roads_from_osm
        sources = [source] + ([f"底图 Base map {OSM_ATTRIBUTION}"] if osm_drawn else [])
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
        ax.set_aspect("equal", adjustable="datalim")
        draw_base(ax, layers_m)
        grids_m.plot(
            ax=ax,
            color=colours.loc[grids_m.index].to_numpy(),
            edgecolor="none",
            alpha=0.55,
            zorder=3,
        )
        grids_m.boundary.plot(ax=ax, color="#333333", linewidth=0.8, zorder=3.5)
        boundary_m.boundary.plot(ax=ax, color="#b2182b", linewidth=2.0, zorder=4)
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for spine in ax.spines.values():
            spine.set_linewidth(0.6)
        fixed = _scale_bar(ax) + _north_arrow(ax)
        obstacles = _display_box(fixed, renderer)
        texts = [f"{row.get('name', '') or ''}\n{row[code_field]}" for _, row in grids_m.iterrows()]
        label_boxes = draw_grid_labels(ax, grids_m, texts, renderer, obstacles=obstacles)
        place_road_names(ax, layers_m.get("roads"), renderer, taken=obstacles + label_boxes)
        fig.text(
            0.02,
            0.012,
            f"制图日期 Date: {day}    数据来源 Source: {'；'.join(sources)}",
            fontsize=7,
            ha="left",
            va="bottom",
        )
    return fig


def print_division(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    out: str | Path,
    dpi: int = 200,
    **options: Any,
) -> Path:
    """Print the division diagram of :func:`division_figure` to PDF or PNG; return the path.

    ``options`` are those of :func:`division_figure` (``community_name`` is required).
    """
    out = Path(out)
    fmt = _format(out)
    with cjk_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = division_figure(grids, boundary, **options)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    check_glyph_warnings(caught)
    return out


def _metadata(fmt: str) -> dict:
    """File metadata without the creation time, so the same input gives the same bytes."""
    return {"CreationDate": None} if fmt == "pdf" else {"Software": None}
