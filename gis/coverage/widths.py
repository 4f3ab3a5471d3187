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

__all__ = [
    "convex_inscribed_radius",
    "medial_inscribed_circles",
    "medial_inscribed_radius",
    "one_reflex_inscribed_radius",
]

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


_MAX_SITES = 1000  # edges and reflex vertices of one polygon solved exactly (n² memory)
_MAX_TRIPLES = 200_000  # triples of sites near each other tried for one polygon


def medial_inscribed_radius(parts: np.ndarray) -> np.ndarray:
    """Radius of the largest inscribed circle of each polygon without holes, NaN where not
    solved (holes, too many sites close together, nothing found).

    As in :func:`one_reflex_inscribed_radius`, the centre is a vertex of the medial axis,
    equidistant from three sites (edges, reflex vertices); here any number of reflex
    vertices is allowed. The three sites touch the circle, so each two lie within its
    diameter of each other, which is at most the polygon's width across any of its edges
    (a strip that holds the polygon holds the circle): only triples of sites that close to
    each other are tried. On long thin pieces (the slivers along a whole edge) that leaves
    a few per edge, where GEOS's grid search takes its time. The answer is the largest distance to
    the outline among the candidate centres lying inside.
    """
    return medial_inscribed_circles(parts)[0]


def medial_inscribed_circles(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`medial_inscribed_radius` and the centre of each circle (NaN where not solved)."""
    radius = np.full(len(parts), np.nan)
    centre = np.full((len(parts), 2), np.nan)
    polygon = (shapely.get_type_id(parts) == POLYGON) & ~shapely.is_empty(parts)
    polygon[polygon] &= shapely.get_num_interior_rings(parts[polygon]) == 0
    for k in np.flatnonzero(polygon):
        coords = shapely.get_coordinates(parts[k])
        if len(coords) - 1 <= _MAX_SITES:
            radius[k], local = _medial_circle(coords)
            centre[k] = local + coords[0]
    return radius, centre


def _half_width(ring: np.ndarray, normal: np.ndarray) -> float:
    """Half the least extent of the ring's vertices across its edges' directions."""
    least = np.inf
    for chunk in np.array_split(normal, -(-len(normal) * len(ring) // 4_000_000)):
        across = chunk @ ring.T
        least = min(least, float((across.max(axis=1) - across.min(axis=1)).min()))
    return least / 2


def _medial_circle(coords: np.ndarray) -> tuple[float, np.ndarray]:
    """Radius and centre (relative to the first vertex) of :func:`medial_inscribed_radius`
    of one closed ring."""
    ring = coords - coords[0]
    start, end = ring[:-1], ring[1:]
    step = end - start
    length = np.hypot(step[:, 0], step[:, 1])
    keep = length > 0
    start, end, step, length = start[keep], end[keep], step[keep], length[keep]
    n = len(start)
    unsolved = (np.nan, np.full(2, np.nan))
    if n < 3:
        return unsolved
    twice_area = float((start[:, 0] * end[:, 1] - end[:, 0] * start[:, 1]).sum())
    if twice_area == 0:
        return unsolved
    sign = np.sign(twice_area)
    normal = sign * np.column_stack([-step[:, 1], step[:, 0]]) / length[:, None]  # inward
    offset = (normal * start).sum(axis=1)
    following = np.roll(step, -1, axis=0)
    turn = sign * (step[:, 0] * following[:, 1] - step[:, 1] * following[:, 0])
    points = end[turn < 0]  # reflex vertices (at the end of their edge)
    upper = _half_width(ring, normal)  # the radius is no larger
    # sites: edges 0..n-1, then reflex vertices; which pairs lie within the diameter
    reach = 2 * upper * (1 + 1e-9) + 1e-9 * (1 + np.abs(ring).max())
    a = np.vstack([start, points])
    b = np.vstack([end, points])
    close = _segment_distances(a, b) <= reach
    np.fill_diagonal(close, False)
    triples = _close_triples(close)
    if len(triples) == 0 or len(triples) > _MAX_TRIPLES:
        return unsolved
    centres = _equidistant_centres(triples, n, normal, offset, points)
    centres = centres[np.isfinite(centres).all(axis=1)]
    best, where = -np.inf, np.full(2, np.nan)
    for chunk in np.array_split(centres, -(-len(centres) * n // 2_000_000)):
        distance, inside = _distance_and_inside(chunk, start, end)
        if inside.any() and float(distance[inside].max()) > best:
            k = np.flatnonzero(inside)[np.argmax(distance[inside])]
            best, where = float(distance[k]), chunk[k]
    return (best, where) if np.isfinite(best) else unsolved


def _segment_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between each two segments ``a[i]-b[i]``, ``a[j]-b[j]`` (points where
    ``a == b``), as a matrix: they do not cross (edges of one valid ring), so it is the
    least distance from an end of one to the other."""

    def to_segments(p: np.ndarray) -> np.ndarray:
        d = b - a
        length2 = (d * d).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = ((p[:, None, :] - a[None]) * d[None]).sum(axis=2) / length2[None]
        t = np.clip(np.nan_to_num(t), 0, 1)
        foot = a[None] + t[..., None] * d[None]
        return np.hypot(*(p[:, None, :] - foot).transpose(2, 0, 1))

    from_a, from_b = to_segments(a), to_segments(b)
    return np.minimum(np.minimum(from_a, from_b), np.minimum(from_a.T, from_b.T))


def _close_triples(close: np.ndarray) -> np.ndarray:
    """Triples ``i < j < k`` of sites each two of which are close."""
    found = []
    for i in range(len(close)):
        later = np.flatnonzero(close[i, i + 1 :]) + i + 1
        if len(later) < 2:
            continue
        sub = close[np.ix_(later, later)]
        j, k = np.nonzero(np.triu(sub, 1))
        if len(j):
            found.append(np.column_stack([np.full(len(j), i), later[j], later[k]]))
    return np.vstack(found) if found else np.zeros((0, 3), dtype=int)


def _equidistant_centres(
    triples: np.ndarray, n: int, normal: np.ndarray, offset: np.ndarray, points: np.ndarray
) -> np.ndarray:
    """Points inside every edge line of its triple at the same distance from its three
    sites (edges ``< n`` as their lines, reflex vertices ``>= n``): up to two per triple."""
    kinds = (triples >= n).sum(axis=1)  # how many of the three are vertices
    triples = np.sort(np.where(triples >= n, triples + (1 << 40), triples), axis=1)
    triples = np.where(triples >= (1 << 40), triples - (1 << 40), triples)  # lines first
    out = []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        lines = triples[kinds == 0]
        if len(lines):
            m = np.concatenate([normal[lines], -np.ones((len(lines), 3, 1))], axis=2)
            ok = np.abs(np.linalg.det(m)) > 1e-12
            m[~ok] = np.eye(3)
            solved = np.linalg.solve(m, offset[lines][..., None])[..., 0]
            out.append(np.where(ok[:, None], solved[:, :2], np.nan))
        two = triples[kinds == 1]  # two lines and a vertex: on the lines' bisector
        if len(two):
            b = normal[two[:, :2]]
            det = b[:, 0, 0] * b[:, 1, 1] - b[:, 0, 1] * b[:, 1, 0]
            o_i, o_j = offset[two[:, 0]], offset[two[:, 1]]
            c0 = np.column_stack([o_i * b[:, 1, 1] - o_j * b[:, 0, 1],
                                  o_j * b[:, 0, 0] - o_i * b[:, 1, 0]]) / det[:, None]  # fmt: skip
            d = np.column_stack([b[:, 1, 1] - b[:, 0, 1], b[:, 0, 0] - b[:, 1, 0]])
            d /= det[:, None]
            rel = c0 - points[two[:, 2] - n]
            qa, qb, qc = (d * d).sum(axis=1) - 1, 2 * (rel * d).sum(axis=1), (rel * rel).sum(axis=1)
            for r in _roots(qa, qb, qc):
                out.append(c0 + r[:, None] * d)
        one = triples[kinds == 2]  # a line and two vertices: on the vertices' bisector
        if len(one):
            p, q = points[one[:, 1] - n], points[one[:, 2] - n]
            nrm, off = normal[one[:, 0]], offset[one[:, 0]]
            mid = (p + q) / 2
            u = np.column_stack([-(q - p)[:, 1], (q - p)[:, 0]])
            u /= np.hypot(u[:, 0], u[:, 1])[:, None]
            a0 = (nrm * mid).sum(axis=1) - off  # distance to the line at t: a0 + b0 t
            b0 = (nrm * u).sum(axis=1)
            half2 = ((p - mid) ** 2).sum(axis=1)  # |c - p|^2 = half2 + t^2 = (a0 + b0 t)^2
            for t in _roots(1 - b0 * b0, -2 * a0 * b0, half2 - a0 * a0):
                out.append(mid + t[:, None] * u)
        three = triples[kinds == 3]  # three vertices: their circumcentre
        if len(three):
            p, q, s = (points[three[:, c] - n] for c in range(3))
            d = 2 * (p[:, 0] * (q[:, 1] - s[:, 1]) + q[:, 0] * (s[:, 1] - p[:, 1])
                     + s[:, 0] * (p[:, 1] - q[:, 1]))  # fmt: skip
            pp, qq, ss = (p * p).sum(axis=1), (q * q).sum(axis=1), (s * s).sum(axis=1)
            x = (pp * (q[:, 1] - s[:, 1]) + qq * (s[:, 1] - p[:, 1]) + ss * (p[:, 1] - q[:, 1])) / d
            y = (pp * (s[:, 0] - q[:, 0]) + qq * (p[:, 0] - s[:, 0]) + ss * (q[:, 0] - p[:, 0])) / d
            out.append(np.column_stack([x, y]))
    return np.vstack(out) if out else np.zeros((0, 2))


def _roots(qa: np.ndarray, qb: np.ndarray, qc: np.ndarray) -> list[np.ndarray]:
    """Both real roots of ``qa t² + qb t + qc`` (the one root where ``qa`` is 0; NaN where
    none)."""
    root = np.sqrt(qb * qb - 4 * qa * qc)
    linear = np.abs(qa) < 1e-12
    plus = np.where(linear, -qc / qb, (-qb + root) / (2 * qa))
    minus = np.where(linear, np.nan, (-qb - root) / (2 * qa))
    return [plus, minus]


def _distance_and_inside(
    centres: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the ring's edges, and whether it lies inside."""
    p = centres[:, None, :]
    s0, s1 = start[None], end[None]
    v = s1 - s0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = ((p - s0) * v).sum(axis=2) / (v * v).sum(axis=2)
        t = np.clip(t, 0, 1)
        gap = p - (s0 + t[..., None] * v)
        distance = np.hypot(gap[..., 0], gap[..., 1]).min(axis=1)
        crosses = (s0[..., 1] > p[..., 1]) != (s1[..., 1] > p[..., 1])
        x_at = s0[..., 0] + (p[..., 1] - s0[..., 1]) * v[..., 0] / v[..., 1]
        inside = (crosses & (p[..., 0] < x_at)).sum(axis=1) % 2 == 1
    return distance, inside & np.isfinite(distance)
