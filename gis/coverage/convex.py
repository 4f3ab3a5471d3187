"""Validity without GEOS where it is certain: rings that bound a strictly convex polygon.

``shapely.is_valid`` builds a graph of each polygon's segments to look for crossings; for
the many grids that are convex (blocks between straight streets, Voronoi cells) the answer
follows from the turns at the vertices alone: a closed ring that turns the same way at
every vertex, and all the way round exactly once, is a convex polygon's outline, so it
neither crosses nor touches itself. Those turns are decided here with a margin above the
rounding of the arithmetic; a ring they do not certify (a reflex or flat corner, a repeated
vertex, a turn too small to be sure of, a hole) is simply left to GEOS.
"""

from __future__ import annotations

import numpy as np

__all__ = ["certainly_convex"]


def certainly_convex(
    coords: np.ndarray, owner: np.ndarray, n: int, slack: float = 0.0
) -> np.ndarray:
    """Mask of the ``n`` rings that certainly bound a strictly convex polygon, and still do
    with each vertex moved by up to ``slack`` in any direction.

    ``coords`` are the rings' vertices (x, y) in order, ``owner`` the ring of each (0 to
    ``n - 1``, ascending, as ``shapely.get_coordinates(..., return_index=True)`` gives them
    for polygons of one ring). True means: closed, finite, at least three edges, every
    turn strictly the same way with a margin above rounding, total turning one full turn;
    a polygon whose only ring that is, is valid for GEOS. False means not certain.
    Moving the vertices by at most ``slack`` (rounding them to a grid, an affine map's
    rounding) changes each edge by at most ``2 slack`` and so each turn's cross product by
    at most ``2 slack`` times the two lengths plus ``4 slack²``: turns beyond that margin
    keep their sense, and with it the number of turns round.

    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    >>> star = np.array([[0, 0], [2, 1], [-1, 1], [1, 0], [0.5, 2], [0, 0]], dtype=float)
    >>> rings = np.vstack([square, square[::-1], star])
    >>> certainly_convex(rings, np.repeat([0, 1, 2], [5, 5, 6]), 3)
    array([ True,  True, False])
    """
    out = np.zeros(n, dtype=bool)
    if len(coords) == 0 or n == 0:
        return out
    counts = np.bincount(owner, minlength=n)
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    x, y = coords[:, 0], coords[:, 1]
    usable = counts >= 4
    usable[usable] &= (x[first[usable]] == x[last[usable]]) & (y[first[usable]] == y[last[usable]])
    with np.errstate(invalid="ignore"):
        largest = float(np.abs(coords).max(initial=1.0))
    if not np.isfinite(largest):  # NaN or infinite vertices: those rings are not certain
        finite = np.isfinite(coords).all(axis=1)
        usable &= np.bincount(owner[~finite], minlength=n) == 0
        largest = float(np.abs(coords[finite]).max(initial=1.0))
    if not usable.any():
        return out
    u_first, u_last = first[usable], last[usable]
    # edge j runs from vertex j to j + 1 (at a ring's closing vertex: no edge of the ring,
    # overwritten below); the edge after a ring's last one is its first
    ex, ey = np.zeros(len(x)), np.zeros(len(y))
    ex[:-1], ey[:-1] = x[1:] - x[:-1], y[1:] - y[:-1]
    fx, fy = np.zeros(len(x)), np.zeros(len(y))
    fx[:-1], fy[:-1] = ex[1:], ey[1:]
    fx[u_last - 1], fy[u_last - 1] = ex[u_first], ey[u_first]
    cross = ex * fy - ey * fx
    # each edge component is off by at most an ulp of the largest coordinate (and 2 slack),
    # the cross product by that much times the two lengths, and by its own rounding
    length = np.hypot(ex, ey)
    following = np.zeros(len(x))
    following[:-1] = length[1:]
    following[u_last - 1] = length[u_first]
    reach = 8 * float(np.spacing(largest)) + 2.2 * slack
    margin = reach * (length + following) + 4.4 * slack**2 + 1e-12 * length * following
    turn = (cross > margin).astype(np.int8) - (cross < -margin).astype(np.int8)
    # every turn strictly one way makes a whole number of turns round; one turn (the edge
    # direction crosses the x axis upwards once) is a convex polygon
    up = ((ey < 0) & (fy >= 0)).astype(np.int8)
    turn[u_last], up[u_last] = turn[u_first], 0
    starts = first[counts > 0]  # reduceat needs increasing starts: rings with vertices
    at = np.cumsum(counts > 0)[usable] - 1
    lowest = np.minimum.reduceat(turn, starts)[at]
    highest = np.maximum.reduceat(turn, starts)[at]
    crossings = np.add.reduceat(up, starts, dtype=np.int64)[at]
    out[usable] = (lowest == highest) & (lowest != 0) & (crossings == 1)
    return out
