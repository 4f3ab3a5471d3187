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
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.coverage.common import polygonal

__all__ = ["junction_points", "with_junctions"]


def junction_points(
    geoms: np.ndarray, extra: np.ndarray, tolerance: float
) -> dict[int, np.ndarray]:
    """Points lying on the outline of each of ``geoms`` (within ``tolerance``) that are not
    its vertices: the vertices of the other geometries and the points ``extra`` (n × 2).

    Returns, for each position into ``geoms`` that has some, those points (n × 2).
    """
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    everything = np.vstack([coords, extra.reshape(-1, 2)])
    if len(everything) == 0:
        return {}
    unique, which = np.unique(everything, axis=0, return_inverse=True)
    which = which.ravel()
    tree = shapely.STRtree(shapely.boundary(geoms))
    point, grid = tree.query(shapely.points(unique), predicate="dwithin", distance=tolerance)
    own = owner.astype(np.int64) * len(unique) + which[: len(coords)]
    keep = ~np.isin(grid.astype(np.int64) * len(unique) + point, own)
    found: dict[int, np.ndarray] = {}
    for g in np.unique(grid[keep]):
        found[int(g)] = unique[point[keep & (grid == g)]]
    return found


def with_junctions(geom: shapely.Geometry, points: np.ndarray, tolerance: float):
    """``geom`` with ``points`` (lying on its outline) inserted into its edges, or None when
    that adds no vertex."""
    joined = polygonal(shapely.snap(geom, shapely.multipoints(points), tolerance))
    if shapely.get_num_coordinates(joined) <= shapely.get_num_coordinates(geom):
        return None
    return joined if shapely.is_valid(joined) else None
