"""Grids grown from adjacent blocks, balanced by load, numbered west to east, north to south."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import shapely
from shapely.geometry import Polygon

__all__ = ["face_adjacency", "grow_grids", "number_grids"]


def face_adjacency(faces: np.ndarray, min_shared_m: float = 1.0) -> list[dict[int, float]]:
    """For each face, the neighbouring faces and the length of the edge they share."""
    tree = shapely.STRtree(faces)
    left, right = tree.query(faces, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right]))
    )
    adj: list[dict[int, float]] = [{} for _ in faces]
    for i, j, s in zip(left, right, shared, strict=True):
        if s >= min_shared_m:
            adj[i][j] = adj[j][i] = float(s)
    return adj


def _connected(members: set[int], adj) -> bool:
    if not members:
        return False
    start = min(members)
    seen, queue = {start}, deque([start])
    while queue:
        i = queue.popleft()
        for j in adj[i]:
            if j in members and j not in seen:
                seen.add(j)
                queue.append(j)
    return len(seen) == len(members)


def grow_grids(faces: np.ndarray, load: np.ndarray, n_grids: int) -> np.ndarray:
    """Group adjacent faces into ``n_grids`` connected regions of balanced ``load``.

    Seeds are spread by farthest-point sampling from the north-west face; the least loaded
    region repeatedly takes the free neighbour face it shares the longest edge with; then
    boundary faces move from the heaviest region to lighter neighbours while that helps.
    """
    adj = face_adjacency(faces)
    cent = shapely.get_coordinates(shapely.point_on_surface(faces))
    start = int(np.argmin(cent[:, 0] - cent[:, 1]))
    seeds = [start]
    dist = np.hypot(*(cent - cent[start]).T)
    while len(seeds) < n_grids:
        nxt = int(np.argmax(dist))
        seeds.append(nxt)
        dist = np.minimum(dist, np.hypot(*(cent - cent[nxt]).T))
    label = np.full(len(faces), -1)
    loads = np.zeros(n_grids)
    for g, s in enumerate(seeds):
        label[s] = g
        loads[g] = load[s]
    while (label < 0).any():
        best = None
        for g in np.argsort(loads, kind="stable"):
            cands = {}
            for i in np.flatnonzero(label == g):
                for j, s in adj[i].items():
                    if label[j] < 0:
                        cands[j] = cands.get(j, 0.0) + s
            if cands:
                best = (g, max(sorted(cands), key=lambda j: cands[j]))
                break
        if best is None:  # faces touching nothing by an edge: give them to a neighbour
            for i in np.flatnonzero(label < 0):
                near = np.argsort(np.hypot(*(cent - cent[i]).T))
                label[i] = next(label[j] for j in near if label[j] >= 0)
            break
        g, j = best
        label[j] = g
        loads[g] += load[j]
    for _ in range(400):  # refinement: shave the heaviest region
        loads = np.bincount(label, weights=load, minlength=n_grids)
        moved = False
        for g in np.argsort(-loads, kind="stable"):
            members = set(np.flatnonzero(label == g).tolist())
            best_move, best_peak = None, loads[g]
            for i in sorted(members):
                for j in adj[i]:
                    h = label[j]
                    if h == g:
                        continue
                    peak = max(loads[g] - load[i], loads[h] + load[i])
                    if peak < best_peak - 1e-9 and _connected(members - {i}, adj):
                        best_move, best_peak = (i, h), peak
            if best_move is not None:
                label[best_move[0]] = best_move[1]
                moved = True
                break
        if not moved:
            break
    return label


def number_grids(grid_geoms_m: np.ndarray, boundary_m: Polygon) -> np.ndarray:
    """Return the 1-based sequence of each grid: rows north→south, west→east in a row.

    The row of a grid is ``floor((ymax - cy) / band_m)`` where ``cy`` is the y of the grid's
    centroid in the metric CRS, ``ymax`` the boundary's northern limit and
    ``band_m = sqrt(boundary area / number of grids)``; inside a row grids go by centroid x.
    """
    c = shapely.centroid(grid_geoms_m)
    cx, cy = shapely.get_x(c), shapely.get_y(c)
    band_m = math.sqrt(boundary_m.area / len(grid_geoms_m))
    row = np.floor((boundary_m.bounds[3] - cy) / band_m)
    order = np.lexsort((cx, row))
    seq = np.empty(len(order), dtype=int)
    seq[order] = np.arange(1, len(order) + 1)
    return seq
