"""The speed engine, part 3: exact widths (largest inscribed circles) of small pieces.

GEOS's ``maximum_inscribed_circle`` searches a grid and takes its time on long thin pieces;
the slivers and overlaps a division produces are mostly small convex polygons, or small
polygons with one reflex vertex (what a moved vertex leaves), whose inscribed circle is
solved exactly here.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.coverage.common import POLYGON

__all__ = ["convex_inscribed_radius", "one_reflex_inscribed_radius"]

_MAX_CONVEX_EDGES = 12


def convex_inscribed_radius(parts: np.ndarray) -> np.ndarray:
    """Radius of the largest inscribed circle of each convex polygon, NaN for the others.

    For a convex polygon the circle touches three of its edge lines (a linear program in
    centre and radius whose optimum is a vertex): among the circles tangent to three edge
    lines, the largest lying inside every edge line is the one. Exact up to rounding, where
    GEOS's grid search would take its time on long thin pieces. Only polygons without holes,
    with at most ``_MAX_CONVEX_EDGES`` edges and no reflex vertex, are handled.
    """
    return _radius_by_edge_count(parts, 3, _convex_radius_n)


def _convex_radius_n(coords: np.ndarray, n: int) -> np.ndarray:
    """:func:`convex_inscribed_radius` of polygons with ``n`` edges (closed rings)."""
    rings = coords.reshape(-1, n + 1, 2)
    rings = rings - rings[:, :1]  # local coordinates keep the arithmetic exact enough
    start, end = rings[:, :-1], rings[:, 1:]
    step = end - start
    cross = step[:, :, 0] * np.roll(step, -1, axis=1)[:, :, 1]
    cross -= step[:, :, 1] * np.roll(step, -1, axis=1)[:, :, 0]
    twice_area = (start[:, :, 0] * end[:, :, 1] - end[:, :, 0] * start[:, :, 1]).sum(axis=1)
    sign = np.sign(twice_area)[:, None]
    length = np.hypot(step[:, :, 0], step[:, :, 1])
    convex = ((cross * sign >= 0).all(axis=1)) & (length > 0).all(axis=1) & (sign[:, 0] != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # inward unit normals: to the left of each edge of a counter-clockwise ring
        normal = sign[:, :, None] * np.stack([-step[:, :, 1], step[:, :, 0]], axis=2)
        normal /= length[:, :, None]
        offset = (normal * start).sum(axis=2)  # inside: normal . x - offset >= radius
        triples = np.array(
            [(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)]
        )
        a = np.concatenate([normal[:, triples], -np.ones((len(rings), len(triples), 3, 1))], 3)
        b = offset[:, triples]
        det = np.linalg.det(a)
        usable = np.abs(det) > 1e-12
        a[~usable] = np.eye(3)
        solution = np.linalg.solve(a, b[..., None])[..., 0]  # x, y, r per triple
        centre, r = solution[..., :2], solution[..., 2]
        slack = np.einsum("mtc,mec->mte", centre, normal) - offset[:, None, :] - r[..., None]
        scale = np.abs(rings).max(axis=(1, 2))[:, None] + 1.0
        inside = (slack >= -1e-9 * scale[..., None]).all(axis=2) & usable & (r >= 0)
        best = np.where(inside, r, -np.inf).max(axis=1)
    return np.where(convex & np.isfinite(best), best, np.nan)


def one_reflex_inscribed_radius(parts: np.ndarray) -> np.ndarray:
    """Radius of the largest inscribed circle of each polygon with exactly one reflex vertex.

    NaN for the others. The centre of the largest inscribed circle is a vertex of the
    medial axis: a point inside, equidistant from three sites, each an edge or a reflex
    vertex (along a branch of the medial axis the distance to the outline has no interior
    maximum). With one reflex vertex the sites are three edge lines, or two edge lines and
    that vertex; the answer is the largest distance to the outline among those points that
    lie inside. Exact up to rounding, for polygons without holes and with at most
    ``_MAX_CONVEX_EDGES`` edges.
    """
    return _radius_by_edge_count(parts, 4, _one_reflex_radius_n)


def _radius_by_edge_count(parts: np.ndarray, min_edges: int, radius_n) -> np.ndarray:
    """``radius_n(coordinates, n)`` of the hole-free polygons of ``parts`` with ``min_edges``
    to ``_MAX_CONVEX_EDGES`` edges, grouped by edge count; NaN for the others."""
    radius = np.full(len(parts), np.nan)
    polygon = (shapely.get_type_id(parts) == POLYGON) & ~shapely.is_empty(parts)
    polygon[polygon] &= shapely.get_num_interior_rings(parts[polygon]) == 0
    n_edges = np.zeros(len(parts), dtype=int)
    n_edges[polygon] = shapely.get_num_coordinates(parts[polygon]) - 1
    for n in range(min_edges, _MAX_CONVEX_EDGES + 1):
        which = np.flatnonzero(polygon & (n_edges == n))
        if len(which):
            radius[which] = radius_n(shapely.get_coordinates(parts[which]), n)
    return radius


def _one_reflex_radius_n(coords: np.ndarray, n: int) -> np.ndarray:
    """:func:`one_reflex_inscribed_radius` of polygons with ``n`` edges (closed rings)."""
    rings = coords.reshape(-1, n + 1, 2)
    rings = rings - rings[:, :1]
    m = len(rings)
    start, end = rings[:, :-1], rings[:, 1:]
    step = end - start
    length = np.hypot(step[:, :, 0], step[:, :, 1])
    twice_area = (start[:, :, 0] * end[:, :, 1] - end[:, :, 0] * start[:, :, 1]).sum(axis=1)
    sign = np.sign(twice_area)[:, None]
    following = np.roll(step, -1, axis=1)
    turn = sign * (step[:, :, 0] * following[:, :, 1] - step[:, :, 1] * following[:, :, 0])
    reflex = turn < 0  # at the end of each edge
    usable = (reflex.sum(axis=1) == 1) & (length > 0).all(axis=1) & (sign[:, 0] != 0)
    corner = end[np.arange(m), np.argmax(reflex, axis=1)]  # the reflex vertex
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = sign[:, :, None] * np.stack([-step[:, :, 1], step[:, :, 0]], axis=2)
        normal /= length[:, :, None]  # inward unit normals
        offset = (normal * start).sum(axis=2)  # distance to edge line k: normal . x - offset
        # centres equidistant from three edge lines
        triples = np.array(
            [(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)]
        )
        a = np.concatenate([normal[:, triples], -np.ones((m, len(triples), 3, 1))], 3)
        solvable = np.abs(np.linalg.det(a)) > 1e-12
        a[~solvable] = np.eye(3)
        solution = np.linalg.solve(a, offset[:, triples][..., None])[..., 0]
        from_lines = np.where(solvable[..., None], solution[..., :2], np.nan)
        # centres equidistant from two edge lines and the reflex vertex: on the lines'
        # bisector c = c0 + r d, with |c - corner| = r
        pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
        b = normal[:, pairs]
        det = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
        o_i, o_j = offset[:, pairs[:, 0]], offset[:, pairs[:, 1]]
        c0 = np.stack([o_i * b[..., 1, 1] - o_j * b[..., 0, 1],
                       o_j * b[..., 0, 0] - o_i * b[..., 1, 0]], axis=-1)  # fmt: skip
        c0 /= det[..., None]
        d = np.stack([b[..., 1, 1] - b[..., 0, 1], b[..., 0, 0] - b[..., 1, 0]], axis=-1)
        d /= det[..., None]
        rel = c0 - corner[:, None, :]
        qa = (d * d).sum(axis=-1) - 1
        qb = 2 * (rel * d).sum(axis=-1)
        qc = (rel * rel).sum(axis=-1)
        root = np.sqrt(qb * qb - 4 * qa * qc)
        linear = np.abs(qa) < 1e-12
        r_plus = np.where(linear, -qc / qb, (-qb + root) / (2 * qa))
        r_minus = np.where(linear, np.nan, (-qb - root) / (2 * qa))
        from_corner = [c0 + r[..., None] * d for r in (r_plus, r_minus)]
        centres = np.concatenate([from_lines, *from_corner], axis=1)  # m × candidates × 2
        # the distance from each candidate to the outline, and whether it lies inside
        p = centres[:, :, None, :]
        s0, s1 = start[:, None], end[:, None]
        v = (s1 - s0)[..., 0], (s1 - s0)[..., 1]
        t = (p[..., 0] - s0[..., 0]) * v[0] + (p[..., 1] - s0[..., 1]) * v[1]
        t = np.clip(t / (v[0] * v[0] + v[1] * v[1]), 0, 1)
        gap = p - (s0 + t[..., None] * (s1 - s0))
        distance = np.hypot(gap[..., 0], gap[..., 1]).min(axis=2)
        crosses = (s0[..., 1] > p[..., 1]) != (s1[..., 1] > p[..., 1])
        x_at = s0[..., 0] + (p[..., 1] - s0[..., 1]) * v[0] / v[1]
        inside = (crosses & (p[..., 0] < x_at)).sum(axis=2) % 2 == 1
        best = np.where(inside & np.isfinite(distance), distance, -np.inf).max(axis=1)
    return np.where(usable & np.isfinite(best), best, np.nan)
