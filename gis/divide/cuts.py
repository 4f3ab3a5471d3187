"""Cutting blocks that hold too many households along gaps between buildings.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from gis.divide.params import CUT_OVERSHOOT_M, GRID_SIZE_M, MIN_GAP_M

# --- splitting oversized blocks -----------------------------------------------------------------


def _cut_candidates(
    face: shapely.Geometry, angle: float, obstacles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (along the normal at ``angle``) of lines through gaps between obstacles."""
    normal = np.array([math.cos(angle), math.sin(angle)])
    coords = shapely.get_coordinates(face)
    proj = coords @ normal
    lo, hi = proj.min(), proj.max()
    if len(obstacles):
        pts, index = shapely.get_coordinates(obstacles, return_index=True)
        p = pts @ normal
        starts = np.full(len(obstacles), np.inf)
        ends = np.full(len(obstacles), -np.inf)
        np.minimum.at(starts, index, p)
        np.maximum.at(ends, index, p)
        order = np.argsort(starts)
        starts, ends = starts[order], np.maximum.accumulate(ends[order])
        gap_lo = np.r_[lo, ends]
        gap_hi = np.r_[starts, hi]
    else:
        gap_lo, gap_hi = np.array([lo]), np.array([hi])
    wide = gap_hi - gap_lo >= MIN_GAP_M
    mids = (gap_lo[wide] + gap_hi[wide]) / 2
    mids = mids[(mids > lo + MIN_GAP_M / 2) & (mids < hi - MIN_GAP_M / 2)]
    return mids, normal


def _cut_line(face: shapely.Geometry, offset: float, normal: np.ndarray) -> shapely.Geometry:
    xmin, ymin, xmax, ymax = shapely.bounds(face)
    reach = math.hypot(xmax - xmin, ymax - ymin) + 10
    centre = normal * offset
    along = np.array([-normal[1], normal[0]])
    cx, cy = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    # the point of the line nearest the bbox centre
    c = np.array([cx, cy])
    c = c - normal * (c @ normal) + centre
    line = shapely.LineString([c - along * reach, c + along * reach])
    return shapely.intersection(line, shapely.buffer(face, CUT_OVERSHOOT_M))


def _pieces(face: shapely.Geometry, line: shapely.Geometry) -> np.ndarray:
    noded = shapely.union_all([shapely.boundary(face), line], grid_size=GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return faces[shapely.covered_by(shapely.point_on_surface(faces), face)]


def split_oversized(
    face: shapely.Geometry,
    item_pts: np.ndarray,
    item_w: np.ndarray,
    obstacles: np.ndarray,
    *,
    target: float,
    ceiling: float,
    depth: int = 0,
) -> list[shapely.Geometry]:
    """Cut lines (between obstacles) that bisect ``face`` until no piece is oversized."""
    inside = shapely.covered_by(item_pts, face) if len(item_pts) else np.zeros(0, bool)
    pts, w = item_pts[inside], item_w[inside]
    total = float(w.sum())
    if total <= ceiling or depth > 12 or len(pts) < 2:
        return []
    k = max(2, round(total / target))
    want = total * (k // 2) / k
    near = obstacles[shapely.intersects(obstacles, face)] if len(obstacles) else obstacles
    rect = shapely.oriented_envelope(face)
    rc = shapely.get_coordinates(rect)
    axis = math.atan2(rc[1, 1] - rc[0, 1], rc[1, 0] - rc[0, 0]) if len(rc) > 2 else 0.0
    angles = [0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4, axis, axis + math.pi / 2]
    xy = shapely.get_coordinates(pts)
    best: tuple[float, float, float, np.ndarray] | None = None
    for angle in angles:
        mids, normal = _cut_candidates(face, angle, near)
        if len(mids) == 0:
            continue
        proj = xy @ normal
        for mid in mids:
            left = float(w[proj < mid].sum())
            if left <= 0 or left >= total:
                continue
            miss = min(abs(left - want), abs(total - left - want))
            line = _cut_line(face, mid, normal)
            key = (round(miss, 6), shapely.length(line))
            if best is None or key < (best[0], best[1]):
                best = (key[0], key[1], mid, normal)
    if best is None:
        return []
    line = _cut_line(face, best[2], best[3])
    cuts = [line]
    for piece in _pieces(face, line):
        cuts += split_oversized(
            piece, pts, w, near, target=target, ceiling=ceiling, depth=depth + 1
        )
    return cuts
