"""The snapped grids of one validation with their spatial index, matched segments, the
edges GEOS flags, and the noise floor: what every rule of :mod:`gis.coverage.validate`
asks about the division."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from gis.coverage.common import POLYGON, polygon_parts
from gis.coverage.plane import Plane
from gis.coverage.segments import (
    Segments,
    common_segment_length,
    grouped,
    matched_segments,
)
from gis.coverage.snapping import as_set_precision_gives
from gis.coverage.widths import (
    convex_inscribed_radius,
    medial_inscribed_radius,
    one_reflex_inscribed_radius,
)

__all__ = ["Context", "Pieces"]

# without a plane, the grids are taken to be in the metric CRS itself (any CRS will do:
# the plane of a CRS in itself maps nothing)
_AS_GIVEN = CRS.from_epsg(4549)


class Context:
    """The grids, snapped in the division's plane, with their labels, spatial index and
    thresholds; ``plane`` (default: the grids are metric already) measures what is found."""

    def __init__(
        self,
        work: np.ndarray,
        labels: list[str],
        noise_m: float,
        tolerance_m: float,
        rings: dict[str, np.ndarray] | None = None,
        plane: Plane | None = None,
    ):
        self.work = work
        self.plane = plane if plane is not None else Plane(_AS_GIVEN, _AS_GIVEN, (0, 0, 0, 0))
        self.rings = rings or {}
        self.grid_size_m = noise_m / 10
        self.snapped_directly = np.zeros(len(work), dtype=bool)
        self.snapped_directly[self.rings.get("index", np.zeros(0, dtype=int))] = True
        self.labels = labels
        self.noise_m = noise_m
        self.tolerance_m = tolerance_m
        self.present = np.flatnonzero(~shapely.is_missing(work) & ~shapely.is_empty(work))
        self.tree = shapely.STRtree(work[self.present])

    def exact(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """``work`` at ``positions`` with the precision model ``set_precision`` gives them.

        GEOS overlays (and buffers) snap-round their results to the grid of the first
        operand's fixed precision model, which decides some borderline results; every
        overlay of grids goes through here, so results do not depend on which grids took
        the shortcut in :func:`snapped`.
        """
        positions = np.asarray(positions, dtype=int)
        return as_set_precision_gives(
            self.work[positions], self.snapped_directly[positions], self.grid_size_m
        )

    @functools.cached_property
    def segments(self) -> Segments:
        """Edge segments of the present grids (owners are positions in ``present``)."""
        known = None
        if "index" in self.rings:  # clockwise rings known from snapping
            at = np.searchsorted(self.present, self.rings["index"])
            known = (at, self.rings["coords"], self.rings["owner"])
        return matched_segments(self.work[self.present], known)

    @functools.cached_property
    def invalid_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """``shapely.coverage_invalid_edges(gap_width=tolerance_m)`` of the present grids.

        Returns the positions (into ``present``) of the grids with invalid edges and those
        edges. GEOS judges each grid against the grids whose envelope meets its own
        (widened by the gap width), so only grids that may have an invalid edge, with that
        context, are handed to GEOS.
        """
        geoms = self.work[self.present]
        if len(geoms) < 2:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=object)
        suspect = np.flatnonzero(~self.segments.fully_matched(len(geoms)))
        if len(suspect) == 0:
            return suspect, np.zeros(0, dtype=object)
        reach = self.tolerance_m + 1e-6 * (1 + self.tolerance_m)
        xmin, ymin, xmax, ymax = shapely.bounds(geoms[suspect]).T
        envelopes = shapely.box(xmin - reach, ymin - reach, xmax + reach, ymax + reach)
        context = np.union1d(suspect, self.tree.query(envelopes)[1])
        edges = shapely.coverage_invalid_edges(geoms[context], gap_width=self.tolerance_m)
        edges = edges[np.searchsorted(context, suspect)]
        flagged = ~shapely.is_empty(edges)
        return suspect[flagged], edges[flagged]

    @functools.cached_property
    def flagged(self) -> np.ndarray:
        """Mask over ``present``: the grid has an edge GEOS calls invalid in the coverage."""
        mask = np.zeros(len(self.present), dtype=bool)
        mask[self.invalid_edges[0]] = True
        return mask

    def codes(self, grid_positions: Sequence[int] | np.ndarray) -> list[str]:
        return sorted(self.labels[i] for i in grid_positions)

    def significant(self, parts: np.ndarray) -> np.ndarray:
        """Mask of polygon parts wider than the noise floor somewhere.

        A part is noise when its negative buffer by ``noise_m / 2`` is empty. That buffer is
        taken on a copy without the fixed precision model: on snapped geometry GEOS's buffer
        sometimes returns EMPTY for pieces hundreds of square metres large. A part larger
        than noise can be is kept without buffering: every point of a part whose largest
        inscribed circle has a radius of at most ``r = noise_m / 2`` lies within ``r`` of its
        outline, which bounds its area by ``r × perimeter + π r² × holes`` (the inner offset
        curves grow by at most 2π per hole and unit of offset); above twice that it is kept.
        """
        if len(parts) == 0:
            return np.zeros(0, dtype=bool)
        present = ~shapely.is_missing(parts) & ~shapely.is_empty(parts)
        if self.noise_m == 0:
            return present
        half = self.noise_m / 2
        polygon = np.flatnonzero(present & (shapely.get_type_id(parts) == POLYGON))
        holes = shapely.get_num_interior_rings(parts[polygon])
        noise_bound_m2 = half * shapely.length(parts[polygon]) + math.pi * half**2 * holes
        keep = np.zeros(len(parts), dtype=bool)
        keep[polygon] = shapely.area(parts[polygon]) > 2 * noise_bound_m2
        doubtful = np.flatnonzero(present & ~keep)
        if len(doubtful):
            floating = shapely.from_wkb(shapely.to_wkb(parts[doubtful]))  # no precision model
            core = shapely.buffer(floating, -half, quad_segs=2, join_style="mitre")
            keep[doubtful] = ~shapely.is_empty(core)
        return keep

    def widths(self, parts: np.ndarray) -> np.ndarray:
        """2 × radius of the largest inscribed circle of each polygon, in metres."""
        if len(parts) == 0:
            return np.zeros(0)
        # exact for small convex pieces (most of them), small pieces with one reflex
        # vertex (the slivers a moved vertex leaves) and pieces without holes whose sites
        # close to each other are few (long thin ones); otherwise GEOS's search, accurate
        # to a tenth of the noise floor on thin pieces, to 1e-5 of the size on big ones
        widths = 2 * convex_inscribed_radius(parts)
        for exact in (one_reflex_inscribed_radius, medial_inscribed_radius):
            rest = np.isnan(widths)
            if rest.any():
                widths[rest] = 2 * exact(parts[rest])
        rest = np.isnan(widths)
        if rest.any():
            others = parts[rest]
            tol = np.maximum(max(self.noise_m, 1e-6) / 10, 1e-5 * np.sqrt(shapely.area(others)))
            circles = shapely.maximum_inscribed_circle(others, tolerance=tol)
            widths[rest] = 2 * shapely.length(circles)
        return widths

    def measured(self, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Areas (m²) and widths (m) of plane ``parts``, measured in the metric CRS."""
        metric, areas = self.plane.measure(parts)
        return areas, self.widths(metric)

    def bordering(self, pieces: np.ndarray) -> list[np.ndarray]:
        """Grid positions sharing a stretch of edge (not just a vertex) with each piece.

        A grid borders a piece when more than ``10 × noise_m`` of the piece's outline lies
        within ``noise_m`` of the grid's outline; touching at a corner does not count.
        """
        reach = max(self.noise_m, 1e-6)
        which, hit = self.tree.query(pieces, predicate="dwithin", distance=reach)
        grid = self.present[hit]
        # an edge segment the piece has in common with the grid lies whole in the grid's
        # widened outline: a pair with twice the length needed in such segments borders
        keep = common_segment_length(pieces[which], self.work[grid]) > 20 * reach
        doubtful = np.flatnonzero(~keep)
        shared = shapely.length(
            shapely.intersection(
                shapely.boundary(pieces[which[doubtful]]),
                shapely.buffer(shapely.boundary(self.exact(grid[doubtful])), reach, quad_segs=2),
            )
        )
        keep[doubtful] = shared > 10 * reach
        return grouped(which[keep], grid[keep], len(pieces))

    def neighbours(self, geoms: np.ndarray, distance: float) -> list[np.ndarray]:
        """Grid positions within ``distance`` of each geometry."""
        which, hit = self.tree.query(geoms, predicate="dwithin", distance=distance)
        return grouped(which, self.present[hit], len(geoms))

    def grouped_parts(self, geoms: np.ndarray, owners: np.ndarray) -> list[Pieces]:
        """Significant polygon parts of ``geoms`` grouped by owner (sorted by owner)."""
        parts, idx = polygon_parts(geoms)
        keep = self.significant(parts)
        parts, owner_of_part = parts[keep], owners[idx[keep]]
        areas, widths = self.measured(parts)
        groups = []
        for owner in np.unique(owner_of_part):
            sel = owner_of_part == owner
            groups.append(Pieces(owner, parts[sel], areas[sel], widths[sel]))
        return groups


@dataclass
class Pieces:
    owner: Any
    parts: np.ndarray  # in the plane
    areas: np.ndarray  # measured in the metric CRS
    widths: np.ndarray

    @property
    def geometry(self) -> shapely.Geometry:
        return self.parts[0] if len(self.parts) == 1 else shapely.MultiPolygon(list(self.parts))

    @functools.cached_property
    def area_m2(self) -> float:
        return float(self.areas.sum())

    @functools.cached_property
    def width_m(self) -> float:
        return float(self.widths.max())
