"""The speed engine, part 1: grids held as their vertices in the plane, and snapped.

Projecting (mapping) the vertices of 200,000 grids is cheap, building 200,000 geometries
from them is not: :class:`Vertices` builds geometries only where one is needed.
:func:`snapped` rounds polygons to the ``noise_m / 10`` grid directly where that is what
``shapely.set_precision`` gives (the overlay it runs is slow), and :func:`repaired` makes
the grids valid and snapped for the area checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from gis.coverage.common import POLYGON, made_valid, polygonal
from gis.coverage.convex import certainly_convex
from gis.coverage.plane import Plane
from gis.coverage.segments import same_points

__all__ = [
    "Vertices",
    "as_set_precision_gives",
    "convex_in_plane",
    "in_plane",
    "made_valid_and_snapped",
    "metric_validity",
    "rounded_rings",
    "snapped",
    "without_rings",
]


class Vertices:
    """Geometries held as their vertices, built only where a geometry is needed.

    ``shapes`` give the structure (parts and rings); ``coords`` the vertices in the order
    ``shapely.get_coordinates`` lists them, or None when ``shapes`` are the geometries
    themselves. Projecting the vertices of 200,000 grids is cheap, building 200,000
    geometries from them is not, and most grids are needed only snapped
    (:func:`snapped` builds those from the vertices directly).
    """

    def __init__(self, shapes: np.ndarray, coords: np.ndarray | None = None):
        self.shapes = shapes
        self.coords = coords
        self.listed = coords  # the vertices, once listed (``coords`` or taken from shapes)
        if coords is not None:
            self.first = np.r_[0, np.cumsum(shapely.get_num_coordinates(shapes))]

    def __len__(self) -> int:
        return len(self.shapes)

    def subset(self, positions: np.ndarray) -> Vertices:
        if _all_in_order(positions, len(self.shapes)):
            return self
        if self.coords is None:
            return Vertices(self.shapes[positions])
        return Vertices(self.shapes[positions], self.coordinates(positions)[0])

    def geometries(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """The geometries at ``positions`` (integers)."""
        positions = np.asarray(positions, dtype=int)
        if self.coords is None:
            return self.shapes[positions]
        return shapely.set_coordinates(self.shapes[positions], self.coordinates(positions)[0])

    def coordinates(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vertices of the geometries at ``positions`` and, for each, its index in them."""
        if self.listed is None:
            return shapely.get_coordinates(self.shapes[positions], return_index=True)
        counts = np.diff(self.first)[positions]
        owner = np.repeat(np.arange(len(positions)), counts)
        if _all_in_order(positions, len(self.shapes)):
            return self.listed, owner
        within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.listed[within + np.repeat(self.first[positions], counts)], owner

    def list_vertices(self) -> None:
        """List the vertices of geometries held as given once, for :meth:`coordinates`."""
        if self.listed is None:
            self.listed = shapely.get_coordinates(self.shapes)
            self.first = np.r_[0, np.cumsum(shapely.get_num_coordinates(self.shapes))]


def in_plane(geoms: np.ndarray, plane: Plane) -> Vertices:
    """``geoms`` in the division's plane (:class:`Plane`), held as their mapped vertices.

    In the metric CRS itself the geometries are taken as they are. Otherwise their vertices
    are mapped (one affine map, so equal vertices stay equal and straight edges straight);
    Z is dropped.
    """
    if plane.identity:
        return Vertices(geoms)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    return Vertices(geoms, plane.forward(shapely.get_coordinates(geoms)))


def _all_in_order(positions: np.ndarray, n: int) -> bool:
    """True if ``positions`` are 0, 1, ..., n - 1."""
    positions = np.asarray(positions)
    if len(positions) != n:
        return False
    return n == 0 or bool(positions[0] == 0 and (np.diff(positions) == 1).all())


def convex_in_plane(vertices: Vertices, missing: np.ndarray, slack: float) -> np.ndarray:
    """Mask of the grids that are a polygon of one ring certainly convex in the plane, and
    still with each vertex moved by ``slack`` (:func:`gis.coverage.convex.certainly_convex`).

    Such a grid is valid as given (an affine map keeps a polygon convex: ``slack`` covers
    the map's rounding) and stays valid when its vertices are rounded to a grid of up to
    ``slack / sqrt(2)``: GEOS is not asked about either.
    """
    single = ~missing & (shapely.get_type_id(vertices.shapes) == POLYGON)
    single[single] = shapely.get_num_interior_rings(vertices.shapes[single]) == 0
    candidates = np.flatnonzero(single)
    coords, owner = vertices.coordinates(candidates)
    convex = np.zeros(len(vertices), dtype=bool)
    convex[candidates] = certainly_convex(coords, owner, len(candidates), slack)
    return convex


def made_valid_and_snapped(
    geoms_m: np.ndarray | Vertices,
    missing: np.ndarray,
    grid_size_m: float,
    valid_m: np.ndarray | None = None,
    rings: dict[str, np.ndarray] | None = None,
    convex: np.ndarray | None = None,
) -> np.ndarray:
    """Metric geometries made valid (polygonal parts) and snapped to ``grid_size_m``.

    Missing geometries become None. Snapping to a grid far below the noise floor makes
    vertices that differ only in their last bits identical again (file and projection
    round trips), so that most noise never reaches the overlay. ``valid_m`` says which
    geometries to take as valid (default ``shapely.is_valid(geoms_m)``; see
    :func:`metric_validity`); ``rings``, if given, receives the
    clockwise rings of the polygons :func:`snapped` rounded directly (``index`` into the
    result, ``coords``, ``owner`` into ``index``); ``convex`` marks geometries known to stay
    valid when rounded to the grid (:func:`convex_in_plane`).
    """
    vertices = geoms_m if isinstance(geoms_m, Vertices) else Vertices(geoms_m)
    present = np.flatnonzero(~missing)
    work = np.full(len(vertices), None, dtype=object)
    if valid_m is None:
        valid_m = np.zeros(len(vertices), dtype=bool)
        valid_m[present] = shapely.is_valid(vertices.geometries(present))
    broken = ~missing & ~valid_m
    for i in np.flatnonzero(broken):
        work[i] = made_valid(vertices.geometries([i])[0])
    if grid_size_m > 0:
        work[present] = snapped(
            vertices.subset(present), grid_size_m, ~broken[present], rings, work[present],
            None if convex is None else convex[present],
        )  # fmt: skip
        if rings:
            rings["index"] = present[rings["index"]]
    else:
        kept = np.flatnonzero(~missing & ~broken)
        work[kept] = vertices.geometries(kept)
    return work


def metric_validity(vertices_m: Vertices, valid_in: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Which projected grids to treat as valid: those valid as given, or valid once projected.

    Projecting moves vertices smoothly, so a valid grid stays valid but for a vertex a few
    ulps from another edge. Those rare grids are not looked for: :func:`snapped` checks
    every polygon it rounds, and repairs any invalid one it hands to ``set_precision``.
    """
    valid_m = valid_in.copy()
    doubtful = np.flatnonzero(~valid_in & ~missing)
    valid_m[doubtful] = shapely.is_valid(vertices_m.geometries(doubtful))
    return valid_m


def as_set_precision_gives(
    geoms: np.ndarray, snapped_directly: np.ndarray, grid_size_m: float
) -> np.ndarray:
    """``geoms`` with the fixed precision model where :func:`snapped` left them floating.

    ``set_precision`` gives its results the snapping grid as fixed precision model; a grid
    rebuilt from parts afterwards (a multipolygon in :func:`polygonal`) has the floating
    one again. Geometries that went through ``set_precision`` keep what they have; those
    rounded directly get the fixed model (rounding them again moves no vertex).
    """
    if grid_size_m <= 0 or not snapped_directly.any():
        return geoms
    geoms = geoms.copy()
    geoms[snapped_directly] = shapely.set_precision(
        geoms[snapped_directly], grid_size_m, mode="pointwise"
    )
    return geoms


def snapped(
    geoms: Vertices,
    grid_size_m: float,
    was_valid: np.ndarray,
    rings: dict[str, np.ndarray] | None = None,
    repaired: np.ndarray | None = None,
    convex: np.ndarray | None = None,
) -> np.ndarray:
    """``polygonal(shapely.set_precision(g, grid_size_m))`` for each of ``geoms``.

    ``repaired`` holds, where ``was_valid`` is False, the geometry to snap instead;
    ``convex`` marks polygons whose rounded ring is known to be valid (not checked again).

    ``set_precision`` snap-rounds through an overlay, which is slow. For a valid polygon
    without holes whose vertices, rounded to the grid as GEOS rounds them, still form a
    valid ring without repeated vertices, the overlay gives back that ring, clockwise and
    starting at its second vertex: such polygons are rounded and rotated directly, vertex
    for vertex the same. They keep the floating precision model: :meth:`Context.exact`
    gives them ``set_precision``'s fixed one (which later overlays snap-round to) where an
    overlay needs it. The shortcut is checked against ``set_precision`` on a sample (a GEOS
    that builds its rings differently only loses the shortcut); everything else goes
    through ``set_precision``.
    """
    out = np.full(len(geoms), None, dtype=object)
    shapes = geoms.shapes  # parts and rings as in the geometries
    candidate = was_valid & (shapely.get_type_id(shapes) == POLYGON)
    candidate &= ~shapely.has_z(shapes) & (grid_size_m <= 1)
    candidate[candidate] &= shapely.get_num_interior_rings(shapes[candidate]) == 0
    idx = np.flatnonzero(candidate)
    if len(idx):
        # in chunks: each large temporary array in fresh memory costs page faults
        known = np.zeros(len(geoms), dtype=bool) if convex is None else convex
        found = [
            rounded_rings(geoms, part, grid_size_m, known[part])
            for part in np.array_split(idx, -(-len(idx) // _SNAP_CHUNK))
        ]
        at = np.concatenate([positions for positions, _, _, _ in found])
        rebuilt = np.concatenate([polygons for _, polygons, _, _ in found])
        sample = np.arange(0, len(rebuilt), max(1, len(rebuilt) // 64))[:64]
        reference = shapely.set_precision(geoms.geometries(at[sample]), grid_size_m)
        if shapely.equals_exact(rebuilt[sample], reference, tolerance=0).all():
            out[at] = rebuilt
            if rings is not None:
                before = np.cumsum([0] + [len(positions) for positions, _, _, _ in found])
                rings["index"] = at
                rings["coords"] = np.concatenate([coords for _, _, coords, _ in found])
                rings["owner"] = np.concatenate(
                    [owner + k for (_, _, _, owner), k in zip(found, before, strict=False)]
                )
    rest = np.flatnonzero(shapely.is_missing(out))
    if len(rest):
        given = geoms.geometries(rest)
        if repaired is not None:
            given = np.where(was_valid[rest], given, repaired[rest])
        for k in np.flatnonzero(~shapely.is_valid(given)):  # only assumed valid
            given[k] = made_valid(given[k])
        reduced = shapely.set_precision(given, grid_size_m)
        for k, geom in zip(rest, reduced, strict=True):
            out[k] = polygonal(geom)
    return out


_SNAP_CHUNK = 50_000  # polygons rounded at once


def rounded_rings(
    geoms: Vertices, idx: np.ndarray, grid_size_m: float, convex: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The single-ring polygons ``geoms[idx]`` rounded and rotated as ``set_precision``
    gives them (see :func:`snapped`), where that leaves a valid ring (known where
    ``convex``, a mask over ``idx``, says so; asked of GEOS for the others).

    Returns their positions, the polygons, their coordinates, and for each coordinate the
    index of its polygon among those returned.
    """
    coords, owner = geoms.coordinates(idx)
    scale = 1.0 / grid_size_m
    if abs(scale - round(scale)) < 1e-9 * scale:
        scale = float(round(scale))
    rounded = np.floor(coords * scale + 0.5) / scale  # GEOS rounds half up
    first = np.searchsorted(owner, np.arange(len(idx)))
    last = np.r_[first[1:], len(owner)] - 1  # the closing vertex
    # orientation from the shoelace sum, in coordinates local to each ring for accuracy
    # (too small an area for the sum's rounding leaves the orientation unclear: no shortcut)
    local = rounded - rounded[first[owner]]
    cross = local[:-1, 0] * local[1:, 1] - local[1:, 0] * local[:-1, 1]
    same_ring = owner[1:] == owner[:-1]
    twice_area = np.bincount(owner[1:][same_ring], cross[same_ring], len(idx))
    extent = np.bincount(owner[1:][same_ring], np.abs(cross[same_ring]), len(idx))
    ok = np.abs(twice_area) > 1e-9 * extent
    repeated = same_points(rounded[1:], rounded[:-1]) & same_ring
    ok[owner[1:][repeated]] = False
    ccw = twice_area > 0
    k = np.arange(len(owner)) - first[owner]
    n = (last - first)[owner]
    source = first[owner] + np.where(
        ccw[owner], np.where(k < n, n - 1 - k, n - 1), np.where(k < n, k + 1, 1)
    )
    rotated = rounded[source]
    rebuilt = shapely.set_coordinates(geoms.shapes[idx], rotated)
    doubtful = np.flatnonzero(ok) if convex is None else np.flatnonzero(ok & ~convex)
    ok[doubtful] = shapely.is_valid(rebuilt[doubtful])
    kept = ok[owner]
    return idx[ok], rebuilt[ok], rotated[kept], np.cumsum(ok)[owner[kept]] - 1


def without_rings(rings: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
    """``rings`` (as :func:`made_valid_and_snapped` fills them) without the polygons at
    ``positions``: those were rebuilt, their rounded rings no longer hold."""
    if "index" not in rings:
        return dict(rings)
    keep = ~np.isin(rings["index"], positions)
    new_number = np.cumsum(keep) - 1
    kept_coords = keep[rings["owner"]]
    return {
        "index": rings["index"][keep],
        "coords": rings["coords"][kept_coords],
        "owner": new_number[rings["owner"][kept_coords]],
    }
