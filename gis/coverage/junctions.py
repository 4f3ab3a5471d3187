"""T-junctions made shared vertices before the grids are snapped.

A grid corner lying on its neighbour's long edge (or on the boundary's edge) is exact in
the division's own coordinates, but snapping to the ``noise_m / 10`` grid moves the corner
and the edge's ends independently, by up to 0.07 mm: the corner then lies a hair off the
edge. Overlays turn that into a hair-thin sliver along the whole edge, noise on its own but
attached to any real piece that reaches the corner: an overlap next to a T-junction would
come with a 0.07 mm wide tail kilometres long, counted in its area and drawn on the map.
Adding the corner to the edge as a vertex before snapping keeps them one point.

Only grids with a segment not matched exactly by a neighbour can have a T-junction (a
division whose neighbours share their vertices has none), so only those are looked at.
Points are matched to segments through a spatial index (never a point against a whole
outline: a grid of 100,000 vertices stays linear).
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.coverage.segments import ring_segments

__all__ = ["with_junctions"]


def with_junctions(
    geoms: np.ndarray, extra: np.ndarray, tolerance: float
) -> dict[int, shapely.Geometry]:
    """Polygonal ``geoms`` with T-junctions inserted, for those that have any.

    A T-junction of ``geoms[k]`` is a vertex of another of ``geoms``, or one of the points
    ``extra`` (n × 2), lying within ``tolerance`` of the inside of one of its segments
    without being one of its vertices. Returns ``{k: geoms[k] with those points inserted
    into their segments}`` (rings, parts and orientation kept), leaving out any that the
    insertion would make invalid.

    >>> from shapely import box
    >>> west, east = box(0, 0, 1, 2), box(1, 0, 2, 0.7)  # east's corner (1, 0.7) on west
    >>> found = with_junctions(np.array([west, east]), np.zeros((0, 2)), 1e-9)
    >>> list(found), int(shapely.get_num_coordinates(found[0])), found[0].equals(west)
    ([0], 6, True)
    """
    start, end, seg_ring, ring_owner, ring_is_shell = ring_segments(geoms)
    if len(start) == 0:
        return {}
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    unique, which = np.unique(
        np.vstack([coords, extra.reshape(-1, 2)]), axis=0, return_inverse=True
    )
    which = which.ravel()
    tree = shapely.STRtree(shapely.linestrings(np.stack([start, end], axis=1)))
    point, seg = tree.query(shapely.points(unique), predicate="dwithin", distance=tolerance)
    grid = ring_owner[seg_ring[seg]]
    own_vertex = owner.astype(np.int64) * len(unique) + which[: len(coords)]
    keep = ~np.isin(grid.astype(np.int64) * len(unique) + point, own_vertex)
    point, seg, grid = point[keep], seg[keep], grid[keep]
    step = end[seg] - start[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        along = ((unique[point] - start[seg]) * step).sum(axis=1) / (step * step).sum(axis=1)
    inside = (along > 0) & (along < 1)
    point, seg, grid, along = point[inside], seg[inside], grid[inside], along[inside]
    out: dict[int, shapely.Geometry] = {}
    for g in np.unique(grid):
        mine = grid == g
        joined = _rebuilt(
            int(g), start, end, seg_ring, ring_owner, ring_is_shell,
            seg[mine], along[mine], unique[point[mine]],
        )  # fmt: skip
        if joined is not None:
            out[int(g)] = joined
    return out


def _rebuilt(g, start, end, seg_ring, ring_owner, ring_is_shell, seg, along, xy):
    """Geometry ``g`` rebuilt ring by ring with the points ``xy`` inserted after the start
    of segment ``seg`` (ordered by ``along`` it); None if that is not valid."""
    order = np.lexsort((along, seg))
    seg, xy = seg[order], xy[order]
    polygons: list[list[np.ndarray]] = []
    for ring in np.flatnonzero(ring_owner == g):
        segs = np.flatnonzero(seg_ring == ring)
        pieces = []
        for s in segs:
            pieces.append(start[s : s + 1])
            pieces.append(xy[seg == s])
        pieces.append(end[segs[-1] : segs[-1] + 1])
        coords = np.vstack(pieces)
        if ring_is_shell[ring] or not polygons:
            polygons.append([coords])
        else:
            polygons[-1].append(coords)
    parts = [shapely.Polygon(rings[0], rings[1:]) for rings in polygons]
    geom = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return geom if shapely.is_valid(geom) else None
