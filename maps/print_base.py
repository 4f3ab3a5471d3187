"""The base map on paper: green, water, buildings and roads, with road names along the roads.

Drawn from the same layer model as the vector tiles (:data:`gis.osm.LAYERS`, as read by
:func:`gis.osm.read_osm_layers`) in the colours of the tiles' style
(:data:`maps.basemap_style.COLOURS`, the palette ``/tiles/base/style.json`` carries), so a
printed diagram or notice board looks like the screen. Road names are placed only where the
road is long enough for them and their box is free (never over a grid label).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.text import Text

from maps.basemap_style import COLOURS, ROAD_CLASSES
from maps.labels import Box, boxes_overlap

__all__ = ["BASE_LAYERS", "base_layers_in", "draw_base", "place_road_names"]

BASE_LAYERS = ("landuse", "water", "buildings", "roads")
"""The layers drawn on paper, bottom to top (points of interest and door plates are not)."""

# Line widths in points on paper: (casing, fill) per road class of the style.
_ROAD_WIDTH_PT = {
    "major": (2.6, 1.8),
    "minor": (1.7, 1.0),
    "path": (None, 0.4),
    "rail": (None, 0.6),
}
_ROAD_NAME_HALO = [patheffects.withStroke(linewidth=1.6, foreground=COLOURS["label_halo"])]


def base_layers_in(
    layers: Mapping[str, gpd.GeoDataFrame] | None,
    bounds: tuple[float, float, float, float],
    crs,
) -> dict[str, gpd.GeoDataFrame]:
    """Return the base layers in ``crs``, clipped to ``bounds`` (empty ones left out).

    ``layers`` maps layer names (:data:`BASE_LAYERS`) to GeoDataFrames in any CRS; a roads
    frame without ``kind`` is drawn as minor roads, one without ``name`` gets no names.
    """
    out: dict[str, gpd.GeoDataFrame] = {}
    for name in BASE_LAYERS:
        frame = (layers or {}).get(name)
        if frame is None or not len(frame):
            continue
        clipped = gpd.clip(frame.to_crs(crs), bounds)
        clipped = clipped[~clipped.geometry.is_empty & clipped.geometry.notna()]
        if len(clipped):
            out[name] = clipped
    return out


def _road_class(kinds) -> np.ndarray:
    classes = np.full(len(kinds), "minor", dtype=object)
    for cls in ("major", "path", "rail"):
        classes[np.isin(np.asarray(kinds, dtype=object), ROAD_CLASSES[cls])] = cls
    return classes


def draw_base(ax, layers_m: Mapping[str, gpd.GeoDataFrame], *, width_scale: float = 1.0) -> None:
    """Draw the layers of :func:`base_layers_in` on ``ax`` in the style's colours."""
    ax.set_facecolor(COLOURS["background"])
    if "landuse" in layers_m:
        layers_m["landuse"].plot(ax=ax, color=COLOURS["landuse"], linewidth=0, zorder=1.0)
    if "water" in layers_m:
        water = layers_m["water"]
        polygonal = water.geometry.geom_type.str.contains("Polygon")
        if polygonal.any():
            water[polygonal].plot(ax=ax, color=COLOURS["water"], linewidth=0, zorder=1.1)
        if (~polygonal).any():
            water[~polygonal].plot(ax=ax, color=COLOURS["water"], linewidth=1.2, zorder=1.1)
    if "buildings" in layers_m:
        layers_m["buildings"].plot(
            ax=ax,
            facecolor=COLOURS["buildings"],
            edgecolor=COLOURS["buildings_outline"],
            linewidth=0.2,
            zorder=1.2,
        )
    if "roads" in layers_m:
        roads = layers_m["roads"]
        kinds = roads["kind"] if "kind" in roads.columns else [""] * len(roads)
        classes = _road_class(list(kinds))
        colour = {
            "major": COLOURS["road_major"],
            "minor": COLOURS["road_minor"],
            "path": COLOURS["path"],
            "rail": COLOURS["rail"],
        }
        for rank, cls in enumerate(("path", "rail", "minor", "major")):
            part = roads[classes == cls]
            if not len(part):
                continue
            casing, fill = _ROAD_WIDTH_PT[cls]
            z = 1.3 + rank * 0.02
            if casing is not None:
                part.plot(
                    ax=ax, color=COLOURS["road_casing"], linewidth=casing * width_scale, zorder=z
                )
            part.plot(
                ax=ax,
                color=colour[cls],
                linewidth=fill * width_scale,
                zorder=z + 0.01,
                linestyle="--" if cls == "path" else "-",
            )


def _named_lines(roads_m: gpd.GeoDataFrame) -> list[tuple[str, shapely.LineString]]:
    """Each named road's merged pieces, longest first, one list entry per (name, piece)."""
    if "name" not in roads_m.columns:
        return []
    named = roads_m[roads_m["name"].notna() & (roads_m["name"].astype(str).str.strip() != "")]
    pieces: list[tuple[str, shapely.LineString]] = []
    for name, rows in named.groupby(named["name"].astype(str), sort=True):
        merged = shapely.line_merge(shapely.union_all(rows.geometry.values))
        parts = [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "LineString"]
        parts.sort(key=lambda g: -g.length)
        pieces.extend((name, part) for part in parts[:2])
    pieces.sort(key=lambda item: -item[1].length)
    return pieces


def place_road_names(
    ax,
    roads_m: gpd.GeoDataFrame | None,
    renderer,
    *,
    taken: Sequence[Box] = (),
    fontsize: float = 5.0,
    gap_px: float = 1.5,
) -> list[Text]:
    """Write road names along their roads where there is room; return the texts drawn.

    A name goes on one of a road's two longest pieces, centred at one of several points along
    it, turned to the road's direction (kept upright), and only if the piece is longer than
    the name, the text stays inside the axes and its box (display units, as matplotlib renders
    it) overlaps neither ``taken`` nor another name. One name per road.
    """
    if roads_m is None or not len(roads_m):
        return []
    frame = ax.get_window_extent(renderer)
    placed: list[Box] = list(taken)
    to_display = ax.transData.transform
    texts: list[Text] = []
    done: set[str] = set()
    for name, line in _named_lines(roads_m):
        if name in done:
            continue
        coords = to_display(np.asarray(line.coords))
        screen = shapely.LineString(coords)
        probe = ax.text(0, 0, name, fontsize=fontsize)
        width = probe.get_window_extent(renderer).width
        probe.remove()
        if screen.length < width * 1.3:
            continue
        for fraction in (0.5, 0.35, 0.65, 0.2, 0.8):
            middle = fraction * screen.length
            lo = screen.interpolate(max(middle - width / 2, 0))
            hi = screen.interpolate(min(middle + width / 2, screen.length))
            centre = screen.interpolate(middle)
            angle = math.degrees(math.atan2(hi.y - lo.y, hi.x - lo.x))
            if angle > 90:
                angle -= 180
            elif angle < -90:
                angle += 180
            x, y = ax.transData.inverted().transform((centre.x, centre.y))
            text = ax.text(
                x,
                y,
                name,
                fontsize=fontsize,
                rotation=angle,
                rotation_mode="anchor",
                ha="center",
                va="center",
                color=COLOURS["label"],
                zorder=9,
                path_effects=_ROAD_NAME_HALO,
            )
            ext = text.get_window_extent(renderer)
            box = (ext.x0 - gap_px, ext.y0 - gap_px, ext.x1 + gap_px, ext.y1 + gap_px)
            inside = ext.x0 >= frame.x0 and ext.y0 >= frame.y0 and ext.x1 <= frame.x1
            inside = inside and ext.y1 <= frame.y1
            if inside and not any(boxes_overlap(box, other) for other in placed):
                placed.append(box)
                texts.append(text)
                done.add(name)
                break
            text.remove()
    return texts
