"""One defect of a known kind planted at a known place in a generated division.

Each planter works in the division's unit coordinates (:mod:`tests.gis.harness.tilings`),
takes sizes in metres, and returns the defective division with what ``validate`` must
report: the kind, the grid codes, and the planted piece (or point) the finding must lie on.
Pieces sit in the middle of a shared (or boundary) edge, clear of every vertex, so that
exactly that finding follows:

``gap``       a 3 m × 1.5 m notch cut out of grid A on its edge with B    → gap [A, B]
              (not on the edge of a grid and the grid filling its hole: that is a ``hole``)
``overlap``   the same notch in B added to A                              → overlap [A, B]
``sliver``    a 0.2 m deep strip cut out of A along its edge with B       → sliver [A, B]
``outside``   a 3 m × 1.5 m bump of A across the boundary                 → outside [A]
``invalid``   two vertices of an edge of A digitised in the wrong order: the ring crosses
              itself (a bow-tie whose lobes cover A but for a hair)       → invalid [A]
``multipart`` a 2 m square cut out of grid C given to A as a second part → multipart [A]
``duplicate_code`` B takes A's code                                       → duplicate_code
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely

from tests.gis.harness.tilings import Division

DEFECT_KINDS = ("gap", "overlap", "sliver", "outside", "invalid", "multipart", "duplicate_code")

NOTCH_M = 1.5  # half-length along the edge and depth of gap, overlap and spill pieces
SLIVER_DEPTH_M = 0.2  # below the 0.5 m tolerance
SLIVER_LENGTH_M = 20.0  # at most; half the shared edge where that is shorter
BOWTIE_HEIGHT_M = 0.0004  # the uncovered sliver of a bow-tie: below the 1 mm noise floor


@dataclass(frozen=True)
class Planted:
    """A defective division and the finding it must give."""

    division: Division
    kind: str
    grid_codes: tuple[str, ...]
    where_u: shapely.Geometry  # the planted piece (or crossing point), unit coordinates


class NoRoom(Exception):
    """The division has no edge long enough for this defect (the example is discarded)."""


@dataclass(frozen=True)
class _Edge:
    mid: np.ndarray
    tangent: np.ndarray  # unit vector along the edge
    inward: np.ndarray  # unit normal pointing into grid A
    length: float


def _segments(line: shapely.Geometry) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for part in shapely.get_parts(line):
        if part.geom_type != "LineString":
            continue
        xy = shapely.get_coordinates(part)
        out += list(itertools.pairwise(xy))
    return out


def _edge(a: np.ndarray, b: np.ndarray, into: shapely.Geometry) -> _Edge:
    d = b - a
    length = float(np.hypot(*d))
    tangent = d / length
    normal = np.array([-tangent[1], tangent[0]])
    mid = (a + b) / 2
    if not into.contains(shapely.Point(mid + normal * 1e-7)):
        normal = -normal
    return _Edge(mid, tangent, normal, length)


def _rect(edge: _Edge, half_u: float, depth_u: float, side: float) -> shapely.Polygon:
    """A rectangle on the edge's middle, ``half_u`` each way along it, ``depth_u`` deep on
    the side ``side`` (+1 into A, -1 away from it)."""
    along, across = edge.tangent * half_u, edge.inward * depth_u * side
    corners = [
        edge.mid - along,
        edge.mid + along,
        edge.mid + along + across,
        edge.mid - along + across,
    ]
    return shapely.Polygon(corners)


def _shared_edges(div: Division, min_length_u: float):
    """(A, B, edge) for every stretch of edge grids A and B share, longest first."""
    cells = div.cells_u
    found = []
    for i in range(len(cells)):
        for j in range(len(cells)):
            if i == j:
                continue
            shared = shapely.intersection(cells[i].boundary, cells[j].boundary)
            for a, b in _segments(shapely.line_merge(shared) if not shared.is_empty else shared):
                e = _edge(np.asarray(a), np.asarray(b), cells[i])
                if e.length >= min_length_u:
                    found.append((i, j, e))
    return sorted(found, key=lambda t: -t[2].length)


def _with_detour(cell: shapely.Polygon, e: _Edge, half_u: float, offset: np.ndarray):
    """``cell`` with the middle of edge ``e`` replaced by a detour: along the edge to
    ``mid - half``, out by ``offset``, along, back to ``mid + half``. Built vertex by vertex
    (not by an overlay), so that the new corners lie on the edge as exactly as the
    neighbour's T-junctions would, and the polygon is valid in any CRS the division is
    mapped to."""
    rings = [shapely.get_coordinates(cell.exterior)]
    rings += [shapely.get_coordinates(r) for r in cell.interiors]
    point = shapely.Point(e.mid)
    for r, ring in enumerate(rings):
        for s in range(len(ring) - 1):
            a, b = ring[s], ring[s + 1]
            if shapely.LineString([a, b]).distance(point) > 1e-12:
                continue
            p0, p1 = e.mid - e.tangent * half_u, e.mid + e.tangent * half_u
            if np.dot(b - a, e.tangent) < 0:
                p0, p1 = p1, p0
            rings[r] = np.vstack([ring[: s + 1], [p0, p0 + offset, p1 + offset, p1], ring[s + 1 :]])
            return shapely.Polygon(rings[0], rings[1:])
    raise NoRoom  # the edge is not one segment of this cell's rings


def _nested(div: Division, i: int, j: int) -> bool:
    """One of the two grids fills a hole of the other: an uncovered piece on their edge lies
    inside a ring of the outer grid and is that grid's ``hole``, not a gap."""
    a, b = div.cells_u[i], div.cells_u[j]
    return shapely.Polygon(a.exterior).contains(b) or shapely.Polygon(b.exterior).contains(a)


def _clear_of_others(div: Division, piece: shapely.Geometry, allowed: set[int]) -> bool:
    return all(k in allowed or not cell.intersects(piece) for k, cell in enumerate(div.cells_u))


def _replace_cells(div: Division, changes: dict[int, shapely.Geometry]) -> Division:
    cells = list(div.cells_u)
    for k, geom in changes.items():
        cells[k] = geom
    return div.replace(cells_u=tuple(cells))


def _on_shared_edge(
    div: Division, pick: int, kind: str, length_m: float, depth_m: float, min_edge_m: float
):
    """Grid A moved by ``depth_m`` into itself (``gap``, ``sliver``: a notch) or into its
    neighbour B (``overlap``: a bump) along the middle ``length_m`` (at most half) of an edge
    of at least ``min_edge_m`` they share."""
    depth = div.metres_to_units(depth_m)
    side = -1 if kind == "overlap" else +1  # into B, or into A
    for i, j, e in _rotated(_shared_edges(div, div.metres_to_units(min_edge_m)), pick):
        half = min(div.metres_to_units(length_m) / 2, e.length / 4)
        piece = _rect(e, half, depth, side)
        inside = div.cells_u[j if kind == "overlap" else i]
        if kind != "overlap" and _nested(div, i, j):
            continue
        if inside.covers(piece.buffer(-1e-9)) and _clear_of_others(div, piece, {i, j}):
            moved = _with_detour(div.cells_u[i], e, half, e.inward * depth * side)
            return Planted(_replace_cells(div, {i: moved}), kind, _pair(div, i, j), piece)
    raise NoRoom


def plant_gap(div: Division, pick: int) -> Planted:
    return _on_shared_edge(div, pick, "gap", 2 * NOTCH_M, NOTCH_M, 8 * NOTCH_M)


def plant_overlap(div: Division, pick: int) -> Planted:
    return _on_shared_edge(div, pick, "overlap", 2 * NOTCH_M, NOTCH_M, 8 * NOTCH_M)


def plant_sliver(div: Division, pick: int) -> Planted:
    return _on_shared_edge(div, pick, "sliver", SLIVER_LENGTH_M, SLIVER_DEPTH_M, 8.0)


def plant_outside(div: Division, pick: int) -> Planted:
    half = depth = div.metres_to_units(NOTCH_M)
    outline = shapely.union_all([b.boundary for b in div.boundary_u])
    candidates = []
    for k, cell in enumerate(div.cells_u):
        for a, b in _segments(shapely.line_merge(shapely.intersection(cell.boundary, outline))):
            e = _edge(np.asarray(a), np.asarray(b), cell)
            if e.length >= 8 * half:
                candidates.append((k, e))
    for k, e in _rotated(sorted(candidates, key=lambda t: -t[1].length), pick):
        bump = _rect(e, half, depth, -1)
        if _clear_of_others(div, bump, {k}):
            grown = _with_detour(div.cells_u[k], e, half, -e.inward * depth)
            return Planted(_replace_cells(div, {k: grown}), "outside", (div.codes[k],), bump)
    raise NoRoom


def plant_invalid(div: Division, pick: int) -> Planted:
    """A bow-tie: on the middle of A's longest outer-ring edge, the ring runs m1 -> q1 ->
    q2 -> m2 where q1, q2 (a hair inside) are in the wrong order, so m1-q1 crosses q2-m2."""
    k = pick % len(div.cells_u)
    cell = div.cells_u[k]
    ring = shapely.get_coordinates(cell.exterior)
    lengths = np.hypot(*(ring[1:] - ring[:-1]).T)
    s = int(np.argmax(lengths))
    e = _edge(ring[s], ring[s + 1], cell)
    half = min(div.metres_to_units(1.0), e.length / 8)
    h = div.metres_to_units(BOWTIE_HEIGHT_M)
    m1, m2 = e.mid - e.tangent * half, e.mid + e.tangent * half
    q1, q2 = m2 + e.inward * h, m1 + e.inward * h  # m1 lies towards ring[s]
    new_ring = np.vstack([ring[: s + 1], [m1, q1, q2, m2], ring[s + 1 :]])
    holes = [h_.coords for h_ in cell.interiors]
    bowtie = shapely.Polygon(new_ring, holes)
    assert not bowtie.is_valid
    crossing = shapely.Point(e.mid + e.inward * h / 2)
    return Planted(_replace_cells(div, {k: bowtie}), "invalid", (div.codes[k],), crossing)


def plant_multipart(div: Division, pick: int) -> Planted:
    n = len(div.cells_u)
    if n < 2:
        raise NoRoom
    a = pick % n
    c = max((k for k in range(n) if k != a), key=lambda k: div.cells_u[k].area)
    circle = shapely.maximum_inscribed_circle(div.cells_u[c], 1e-6)
    (cx, cy), _ = shapely.get_coordinates(circle)
    half = min(div.metres_to_units(1.0), shapely.length(circle) / 3)
    part = shapely.box(cx - half, cy - half, cx + half, cy + half)
    if not div.cells_u[c].contains(part):
        raise NoRoom
    cut = shapely.Polygon(
        div.cells_u[c].exterior.coords,
        [*(r.coords for r in div.cells_u[c].interiors), part.exterior.coords],
    )
    grown = shapely.MultiPolygon([div.cells_u[a], part])
    return Planted(_replace_cells(div, {a: grown, c: cut}), "multipart", (div.codes[a],), part)


def plant_duplicate_code(div: Division, pick: int) -> Planted:
    n = len(div.cells_u)
    a = pick % n
    b = (a + 1 + pick // n) % n if n > 1 else a
    if a == b:
        raise NoRoom
    codes = list(div.codes)
    codes[b] = codes[a]
    where = shapely.union(div.cells_u[a], div.cells_u[b])
    return Planted(div.replace(codes=tuple(codes)), "duplicate_code", (codes[a], codes[a]), where)


PLANTERS: dict[str, Callable[[Division, int], Planted]] = {
    "gap": plant_gap,
    "overlap": plant_overlap,
    "sliver": plant_sliver,
    "outside": plant_outside,
    "invalid": plant_invalid,
    "multipart": plant_multipart,
    "duplicate_code": plant_duplicate_code,
}


def _pair(div: Division, i: int, j: int) -> tuple[str, ...]:
    return tuple(sorted([div.codes[i], div.codes[j]]))


def _rotated(items: list, pick: int) -> list:
    """``items`` starting at ``pick`` (mod its length): Hypothesis chooses where to plant."""
    if not items:
        return items
    k = pick % len(items)
    return items[k:] + items[:k]
