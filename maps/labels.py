"""Collision-free placement of grid labels, shared by printed diagrams and web maps.

The caller measures each label in its output units (points/pixels on paper via matplotlib's
renderer, CSS pixels at a zoom for a web map) and hands over the grids' polygons in the same
units; :func:`place_labels` returns one :class:`Placement` per grid so that no two label boxes
overlap:

1. inside the grid, at the largest size that fits: first at the pole of inaccessibility
   (:func:`shapely.maximum_inscribed_circle`), then at its representative point, then at
   interior points farthest from the edge;
2. otherwise outside it with a leader line from the pole, at the nearest free spot on rings
   around the pole that keeps within ``frame`` and whose leader crosses no other label (when
   there is no such spot, one whose leader does);
3. a grid with no free spot at all gets ``None`` (the legend still lists it).

Grids are served smallest first, since they have the fewest places.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InputError

__all__ = [
    "CJK_FONT_FILES",
    "Box",
    "Placement",
    "boxes_overlap",
    "candidate_points",
    "place_labels",
    "text_width_px",
]

CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
"""Noto Sans CJK (Debian fonts-noto-cjk): the one font of maps, pages and prints."""

Box = tuple[float, float, float, float]
"""``(xmin, ymin, xmax, ymax)`` in output units."""


@dataclass(frozen=True)
class Placement:
    """Where a label goes: its centre, its size option and whether a leader line is needed."""

    x: float
    y: float
    size: int  # index into the label's size options (0 = largest)
    box: Box
    leader_from: tuple[float, float] | None = None

    @property
    def leader_to(self) -> tuple[float, float] | None:
        """Where the leader line meets the label box (the box point nearest its start)."""
        if self.leader_from is None:
            return None
        x, y = self.leader_from
        return (min(max(x, self.box[0]), self.box[2]), min(max(y, self.box[1]), self.box[3]))


def boxes_overlap(a: Box, b: Box) -> bool:
    """Return True if the open boxes ``a`` and ``b`` share area (touching edges do not)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@functools.lru_cache(maxsize=32)
def _font(size_px: float):
    from PIL import ImageFont

    return ImageFont.truetype(CJK_FONT_FILES[0], size=size_px, index=2)  # index 2: SC


def text_width_px(text: str, size_px: float) -> float:
    """Return the advance width of ``text`` in Noto Sans CJK SC at ``size_px`` CSS pixels."""
    return float(_font(float(size_px)).getlength(text))


def _box(x: float, y: float, w: float, h: float) -> Box:
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def candidate_points(polygon: BaseGeometry, *, count: int = 24) -> list[tuple[float, float]]:
    """Return centres to try inside ``polygon``, best first.

    The pole of inaccessibility (centre of the largest inscribed circle), the representative
    point, then up to ``count`` points of a lattice over the polygon ordered by their distance
    to its edge (farthest first).
    """
    if polygon is None or polygon.is_empty:
        return []
    circle = shapely.maximum_inscribed_circle(polygon, tolerance=_tolerance(polygon))
    pole = shapely.get_point(circle, 0)
    rep = polygon.representative_point()
    points = [(pole.x, pole.y), (rep.x, rep.y)]
    xmin, ymin, xmax, ymax = polygon.bounds
    side = max(math.sqrt(polygon.area / max(count, 1)), 1e-9)
    xs = np.arange(xmin + side / 2, xmax, side)
    ys = np.arange(ymin + side / 2, ymax, side)
    if len(xs) and len(ys):
        gx, gy = np.meshgrid(xs, ys)
        lattice = shapely.points(gx.ravel(), gy.ravel())
        inside = lattice[shapely.contains(polygon, lattice)]
        depth = shapely.distance(polygon.boundary, inside)
        for i in np.argsort(-depth, kind="stable")[:count]:
            points.append((inside[i].x, inside[i].y))
    return points


def _tolerance(polygon: BaseGeometry) -> float:
    xmin, ymin, xmax, ymax = polygon.bounds
    return max(xmax - xmin, ymax - ymin, 1e-9) / 500


def _free(box: Box, placed: Sequence[Box]) -> bool:
    return not any(boxes_overlap(box, other) for other in placed)


def _within(box: Box, frame: Box | None) -> bool:
    if frame is None:
        return True
    return box[0] >= frame[0] and box[1] >= frame[1] and box[2] <= frame[2] and box[3] <= frame[3]


def _leader_clear(start: tuple[float, float], box: Box, placed: Sequence[Box]) -> bool:
    line = shapely.LineString([start, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)])
    return not any(line.intersects(shapely.box(*other)) for other in placed)


def place_labels(
    polygons: Sequence[BaseGeometry],
    sizes: Sequence[Sequence[tuple[float, float]]],
    *,
    obstacles: Sequence[Box] = (),
    frame: Box | None = None,
    gap: float = 1.0,
    leader_size: int = 1,
    rings: int = 12,
) -> list[Placement | None]:
    """Place one label per polygon so that no two label boxes (nor an obstacle) overlap.

    Parameters
    ----------
    polygons
        The grids, already in output units (y may point up or down).
    sizes
        Per polygon, the label's ``(width, height)`` at each size option, largest first.
    obstacles
        Boxes no label may overlap (scale bar, north arrow, …).
    frame
        Labels must lie within this box (the map's extent); None for no limit.
    gap
        Margin kept around every box, in output units (room for a text halo).
    leader_size
        The size option used for labels set outside their grid on a leader line.
    rings
        How many rings of places around a grid are tried for a leader-line label.

    Returns
    -------
    list
        A :class:`Placement` (box without the gap) or None, aligned with ``polygons``.
    """
    if len(polygons) != len(sizes):
        raise InputError("polygons and sizes must have the same length")
    placed: list[Box] = [_grow(b, gap) for b in obstacles]
    result: list[Placement | None] = [None] * len(polygons)
    order = sorted(range(len(polygons)), key=lambda i: (_area(polygons[i]), i))
    candidates = {i: candidate_points(polygons[i]) for i in order}
    for i in order:  # inside the grid
        polygon = polygons[i]
        for size, (w, h) in enumerate(sizes[i]):
            hit = _inside_spot(polygon, candidates[i], w + 2 * gap, h + 2 * gap, placed, frame)
            if hit is not None:
                x, y = hit
                result[i] = Placement(x, y, size, _box(x, y, w, h))
                placed.append(_box(x, y, w + 2 * gap, h + 2 * gap))
                break
    for i in order:  # outside, on a leader line
        if result[i] is not None or not candidates[i]:
            continue
        start = candidates[i][0]
        tries = [
            (size, clear)
            for clear in (True, False)
            for size in dict.fromkeys((min(leader_size, len(sizes[i]) - 1), len(sizes[i]) - 1))
        ]
        for size, clear in tries:
            w, h = sizes[i][size]
            hit = _leader_spot(start, w + 2 * gap, h + 2 * gap, placed, frame, rings, clear)
            if hit is not None:
                x, y = hit
                result[i] = Placement(x, y, size, _box(x, y, w, h), leader_from=start)
                placed.append(_box(x, y, w + 2 * gap, h + 2 * gap))
                break
    return result


def _area(polygon: BaseGeometry) -> float:
    return 0.0 if polygon is None or polygon.is_empty else float(polygon.area)


def _grow(box: Box, by: float) -> Box:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _inside_spot(polygon, candidates, w, h, placed, frame) -> tuple[float, float] | None:
    shapely.prepare(polygon)
    for x, y in candidates:
        box = _box(x, y, w, h)
        if _within(box, frame) and _free(box, placed) and polygon.covers(shapely.box(*box)):
            return x, y
    return None


def _leader_spot(start, w, h, placed, frame, rings, clear) -> tuple[float, float] | None:
    sx, sy = start
    step = max(h, 1e-9)
    for ring in range(1, rings + 1):
        radius = ring * step + max(w, h) / 2
        for k in range(16):
            angle = 2 * math.pi * k / 16
            x, y = sx + radius * math.cos(angle), sy + radius * math.sin(angle)
            box = _box(x, y, w, h)
            if not (_within(box, frame) and _free(box, placed)):
                continue
            if not clear or _leader_clear(start, box, placed):
                return x, y
    return None
