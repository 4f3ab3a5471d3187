"""Assign points (houses, incidents) to the grid that covers them.

Rule (docs/design.md "Point → grid rule"):

* **covers, not contains** — a point on a grid's edge belongs to that grid, and a point on
  the community's outer boundary is inside;
* **tie-break** (:data:`TIE_BREAK`) — when several grids cover a point (it lies on a shared
  edge or vertex, or in an overlap of a defective division), the grid whose id sorts
  **first** in Python string order of ``str(id)`` wins. The database uses the same rule,
  ``ORDER BY code LIMIT 1`` (``COLLATE "C"`` on PostgreSQL, byte order on SQLite);
* **outside is explicit** — a point covered by no grid (and a None or empty point) gets NA,
  never a silent drop: the result has one entry per input row.

Grids whose id is missing (None/NaN) or whose geometry is None/empty take no part in the
assignment. :func:`assign_points` (bulk, one vectorised spatial join) and
:class:`GridIndex` (in-memory index for single look-ups) evaluate the same predicate,
``shapely.covers(prepared grid, point)``, on grids held in the same tie-break order, so they
agree on every point.

Speed: :class:`GridIndex` rasterises the grids onto a uniform lattice of square cells in the
grids' CRS (about 500 cells per grid). A cell that no edge touches (with a safety margin of
10⁻⁶ cell) lies wholly inside one face of the division, so its answer is computed once and
read back by array look-up. Points in cells an edge passes through are decided exactly:

* where one straight edge (shared by at most two valid grids, its end points outside the cell)
  splits the cell, by the exact sign of the orientation of the point against that edge
  (:func:`orientation_sign`): left, right, or on it (then the tie-break between the two);
* a point exactly at the vertex where all edges of its cell meet gets the smallest of the
  grids of those edges;
* anywhere else (and in any cell of a division with overlapping grids), by the prepared
  ``covers`` predicate against the grids whose edges cross the cell, in tie-break order.

The answers are therefore those of ``shapely.covers``, edges and vertices included; the tests
check this against the plain predicate on random lattices and Voronoi divisions.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.defaults import DEFAULT_CODE_FIELD
from gis.errors import GeometryTypeError, InputTypeError, UnknownCRSError
from gis.grid_arrays import GridArrays

if TYPE_CHECKING:  # geopandas and pandas are imported where frames come in or go out
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "TIE_BREAK",
    "GridArrays",
    "GridIndex",
    "assign_lonlat",
    "assign_points",
    "index_pays_off",
    "orientation_sign",
    "outside_mask",
]

TIE_BREAK = (
    "several grids cover the point (shared edge/vertex or overlap): the grid whose id sorts "
    "first as a Python string (str(id)) wins; SQL: ORDER BY code LIMIT 1"
)

_POLYGONAL = {"Polygon", "MultiPolygon"}
_POLYGONAL_TYPE_IDS = (3, 6)  # shapely.get_type_id of Polygon, MultiPolygon


def _crs_of(obj: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> CRS:
    if obj.crs is None:
        raise UnknownCRSError(f"{what}: 坐标系未知 / CRS is unknown; set it or give --input-crs")
    return CRS.from_user_input(obj.crs)


def _first_bad_row(geoms: gpd.GeoSeries, allowed: set[str]) -> Hashable | None:
    types = geoms.geom_type
    bad = types.notna() & ~types.isin(allowed) & ~geoms.is_empty
    if not bad.any():
        return None
    return bad.index[np.argmax(bad.to_numpy())]


def _not_polygon(row: Hashable, kind: str) -> GeometryTypeError:
    return GeometryTypeError(
        f"网格第 {row!r} 行不是面 ({kind}) / grid row {row!r} is a {kind}, "
        "not a Polygon or MultiPolygon"
    )


def _frame_grids(grids: gpd.GeoDataFrame, code_field: str) -> tuple:
    """(ids, geometries, ids present, CRS) of a grids frame, checked."""
    import geopandas as gpd

    from gis.codes import require_code_field

    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputTypeError(
            f"grids must be a GeoDataFrame or GridArrays, not {type(grids).__name__}"
        )
    require_code_field(grids, code_field)
    crs = _crs_of(grids, "grids 网格")
    bad = _first_bad_row(grids.geometry, _POLYGONAL)
    if bad is not None:
        raise _not_polygon(bad, grids.geometry.loc[bad].geom_type)
    ids = grids[code_field]
    return ids.to_numpy(), grids.geometry.to_numpy(), ids.notna().to_numpy(), crs


def _array_grids(grids: GridArrays) -> tuple:
    """(ids, geometries, ids present, CRS) of :class:`GridArrays`, checked like a frame's."""
    if grids.crs is None:
        raise UnknownCRSError("grids 网格: 坐标系未知 / CRS is unknown")
    ids = np.asarray(grids.ids, dtype=object)
    geoms = np.asarray(grids.geoms, dtype=object)
    if ids.shape != geoms.shape or ids.ndim != 1:
        raise InputTypeError(
            f"grid ids and geometries must be two 1-d arrays of one length, not {ids.shape} "
            f"and {geoms.shape}"
        )
    type_id = shapely.get_type_id(geoms)
    bad = ~np.isin(type_id, (-1, *_POLYGONAL_TYPE_IDS)) & ~shapely.is_empty(geoms)
    if bad.any():
        row = int(np.argmax(bad))
        raise _not_polygon(row, geoms[row].geom_type)
    present = np.array([v is not None and v == v for v in ids], dtype=bool)  # NaN != NaN
    return ids, geoms, present, CRS.from_user_input(grids.crs)


class _SortedGrids:
    """Grids in tie-break order (by ``str(id)``), prepared, without missing ids or geometry."""

    def __init__(self, grids: gpd.GeoDataFrame | GridArrays, code_field: str) -> None:
        if isinstance(grids, GridArrays):
            ids, geoms, keep, self.crs = _array_grids(grids)
        else:
            ids, geoms, keep, self.crs = _frame_grids(grids, code_field)
        keep = keep & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        ids = ids[keep]
        order = np.argsort(np.array([str(v) for v in ids], dtype=object), kind="stable")
        self.ids: np.ndarray = ids[order]
        self.ids_or_none = np.empty(len(self.ids) + 1, dtype=object)
        self.ids_or_none[:-1] = self.ids
        # Exact copies (WKB keeps every double), so preparing leaves the caller's geometries alone.
        self.geoms: np.ndarray = shapely.from_wkb(shapely.to_wkb(geoms[keep][order]))
        shapely.prepare(self.geoms)

    def __len__(self) -> int:
        return len(self.ids)


def _first_covering(pairs_grid: np.ndarray, pairs_point: np.ndarray, n_points: int, n_grids: int):
    """Per point, the smallest grid position among the covering pairs (``n_grids`` = none)."""
    best = np.full(n_points, n_grids, dtype=np.intp)
    np.minimum.at(best, pairs_point, pairs_grid)
    return best


def _ids_at(grids: _SortedGrids, best: np.ndarray) -> np.ndarray:
    return grids.ids_or_none[best]  # position len(grids) (no grid) reads None


_CELLS_PER_GRID = 512  # raster resolution: about 23 x 23 cells per grid ...
_MAX_CELLS = 1 << 24  # ... but at most 16.8 M cells (64 MB of int32)
_MIN_CELLS = 4096
_MAX_CELLS_PER_SIDE = 8192
_MARGIN_CELLS = 1e-6  # an edge closer than this to a cell makes the cell a boundary cell
_OUTSIDE = -1  # table value: no grid covers the cell; <= -2: boundary cell number -2 - value
_RASTER_MIN_POINTS = 20_000  # assign_points: fewer points, or < 8 per grid, use one STRtree join
_CHUNK_POINTS = 1 << 20  # GridIndex bulk look-ups go this many points at a time
_SEGMENT_CHUNK = 1 << 16  # the build rasterises this many ring segments at a time
_CELL_CHUNK = 1 << 18  # ... and tests this many boundary cells for a splitting edge at a time


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, ...]:
    """All ring segments of the grids: (ax, ay, bx, by, grid position, interior on the left).

    ``interior_left`` says on which side of a→b the grid's interior lies, from the ring's
    orientation (an exterior ring counter-clockwise, or a hole clockwise, has it on the left);
    it is meaningful for valid polygons only.
    """
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    is_hole = np.ones(len(rings), dtype=bool)
    is_hole[np.unique(ring_part, return_index=True)[1]] = False  # first ring of a part: shell
    interior_left_ring = shapely.is_ccw(rings) != is_hole
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    ring = ring_of[:-1][same]
    owner = part_owner[ring_part[ring]]
    return a[:, 0], a[:, 1], b[:, 0], b[:, 1], owner, interior_left_ring[ring]


def _two_diff_tail(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rounding error of ``x = a - b`` (Knuth): zero exactly when the difference is exact."""
    b_virtual = a - x
    a_virtual = x + b_virtual
    return (a - a_virtual) + (b_virtual - b)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a  # 2**27 + 1 (Dekker)
    high = c - (c - a)
    return high, a - high


def _two_product_tail(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rounding error of ``x = a * b`` (Dekker), so that ``a * b == x + tail`` exactly."""
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return a_lo * b_lo - (((x - a_hi * b_hi) - a_lo * b_hi) - a_hi * b_lo)


_ORIENT_ERROR_BOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53  # Shewchuk's ccwerrboundA


def orientation_sign(ax, ay, bx, by, px, py) -> tuple[np.ndarray, np.ndarray]:
    """Exact sign of the orientation of p against the line a→b (+1 left, -1 right, 0 on it).

    Returns ``(sign, exact)``; ``exact`` is False where the sign could not be proven with this
    short exact evaluation (coordinate differences that round, over/underflow): use a full
    predicate there. First Shewchuk's floating-point filter: where the rounded determinant
    exceeds its proven error bound (``(3 + 16ε)ε`` times the sum of the products' magnitudes,
    rounding of the differences included), its sign is the exact sign; that settles nearly
    every point not on the line. The rest: where the differences ``a - p`` and ``b - p`` are
    exact (always, by Sterbenz' lemma, for points near each other far from the origin) the
    determinant is ``d1 - d2`` with ``d1 = acx * bcy`` and ``d2 = acy * bcx``: rounding is
    monotonic, so when the rounded products differ their order is the exact order; when they
    are equal the sign is that of the difference of their exact rounding errors.

    >>> orientation_sign(*np.array([[0.0], [0.0], [1.0], [1.0], [0.1], [0.1]]))[0].tolist()
    [0]
    """
    acx, acy, bcx, bcy = ax - px, ay - py, bx - px, by - py
    with np.errstate(invalid="ignore", over="ignore"):
        d1, d2 = acx * bcy, acy * bcx
        det = d1 - d2
        size = np.abs(d1) + np.abs(d2)
        sure = (np.abs(det) > _ORIENT_ERROR_BOUND * size) & (size > 1e-280) & (size < 1e280)
    sign = np.zeros(len(det), dtype=np.int8)
    sign[sure] = np.sign(det[sure])
    exact = sure.copy()
    rest = np.flatnonzero(~sure)
    if len(rest):
        sign[rest], exact[rest] = _orientation_by_tails(
            ax[rest], ay[rest], bx[rest], by[rest], px[rest], py[rest]
        )
    return sign, exact


def _orientation_by_tails(ax, ay, bx, by, px, py) -> tuple[np.ndarray, np.ndarray]:
    """:func:`orientation_sign` where the filter could not decide (see there)."""
    acx, acy, bcx, bcy = ax - px, ay - py, bx - px, by - py
    exact = (
        (_two_diff_tail(ax, px, acx) == 0)
        & (_two_diff_tail(ay, py, acy) == 0)
        & (_two_diff_tail(bx, px, bcx) == 0)
        & (_two_diff_tail(by, py, bcy) == 0)
    )
    for d in (acx, acy, bcx, bcy):  # keep products and their tails clear of under/overflow
        size = np.abs(d)
        exact &= (size == 0) | ((size > 1e-100) & (size < 1e100))
    d1, d2 = acx * bcy, acy * bcx
    with np.errstate(invalid="ignore", over="ignore"):
        e1, e2 = _two_product_tail(acx, bcy, d1), _two_product_tail(acy, bcx, d2)
        sign = np.where(d1 != d2, np.sign(d1 - d2), np.sign(e1 - e2))
        sign = np.where(exact, sign, 0).astype(np.int8)
    return sign, exact


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand integer ranges [lo, hi] into (row of the range, value) pairs, vectorised."""
    counts = np.maximum(hi - lo + 1, 0)
    row = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    value = lo[row] + (np.arange(len(row)) - starts[row])
    return row, value


class _Background:
    """Run ``fn(*args)`` on a thread (GEOS releases the GIL) while the caller goes on."""

    def __init__(self, fn, *args) -> None:
        self._out: dict = {}

        def run() -> None:
            try:
                self._out["value"] = fn(*args)
            except BaseException as exc:  # re-raised in the caller by result()
                self._out["error"] = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        if "error" in self._out:
            raise self._out["error"]
        return self._out["value"]


def _overlapping_grids(geoms: np.ndarray, valid: np.ndarray, tree: shapely.STRtree) -> np.ndarray:
    """Positions of the grids whose interior overlaps another grid's (sorted, distinct).

    GEOS's coverage check (one pass over all edges, far cheaper than relating every pair of
    neighbours) flags every valid grid with an edge that no neighbour's edge matches; two valid
    grids whose interiors overlap have such an edge in one of them at least (crossing
    boundaries flag both, a grid inside another flags the inner one). Only the pairs with a
    flagged or an invalid grid are related.
    """
    suspect = ~valid
    if valid.any():
        edges = shapely.coverage_invalid_edges(geoms[valid])
        suspect[np.flatnonzero(valid)[~shapely.is_empty(edges)]] = True
    which = np.flatnonzero(suspect)
    if len(which) == 0:
        return which
    left, right = tree.query(geoms[which], predicate="intersects")
    left = which[left]
    keep = left != right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return left
    try:
        interiors_meet = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    except shapely.errors.GEOSException:  # invalid grids GEOS cannot relate: assume overlap
        interiors_meet = np.ones(len(left), dtype=bool)
    return np.unique(np.concatenate([left[interiors_meet], right[interiors_meet]]))


class _Raster:
    """A uniform lattice of square cells over the grids: per cell the answer or the candidates.

    ``table[row * ncols + col]`` holds the grid position covering the whole cell, ``-1`` where
    no grid covers it, or ``-2 - k`` for boundary cell ``k`` (an edge passes within
    ``_MARGIN_CELLS`` of it), whose candidate grid positions, in tie-break order, are
    ``cand[start[k]:start[k + 1]]``.

    Memory: per boundary cell only small integers are kept (the segment splitting it, its two
    answers, a reference to a common vertex); coordinates are kept once per ring segment.
    Segments are rasterised a chunk at a time, so the build's temporaries stay bounded.
    """

    def __init__(
        self, geoms: np.ndarray, tree: shapely.STRtree, cells_per_grid: int = _CELLS_PER_GRID
    ) -> None:
        n = len(geoms)
        self.n_grids = n
        xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(geoms))
        width, height = xmax - xmin, ymax - ymin
        target = min(max(cells_per_grid * n, _MIN_CELLS), _MAX_CELLS)
        tiny = 1e-9 * (abs(xmin) + abs(ymin) + 1.0)
        size = max(math.sqrt(width * height / target), max(width, height) / _MAX_CELLS_PER_SIDE)
        self.size = max(size, tiny)
        self.x0, self.y0 = xmin - self.size, ymin - self.size  # one spare cell on every side
        self.inv = 1.0 / self.size
        self.ncols = int(width * self.inv) + 3
        self.nrows = int(height * self.inv) + 3
        n_cells = self.ncols * self.nrows

        valid = shapely.is_valid(geoms)
        overlapping = _Background(_overlapping_grids, geoms, valid, tree)

        # 1. boundary cells: every cell a segment passes through or near, with its grid
        ax, ay, bx, by, owner, interior_left = _segments(geoms)
        # each segment in its canonical direction, from the lexicographically smaller end
        # point, with the side of its grid's interior against that direction; a segment
        # shared by two grids gets one number (rows compared bit for bit: -0.0 differs from
        # 0.0, which only costs the fast path)
        rev = (ax > bx) | ((ax == bx) & (ay > by))
        self.seg_xy = (
            np.where(rev, bx, ax),
            np.where(rev, by, ay),
            np.where(rev, ax, bx),
            np.where(rev, ay, by),
        )
        interior_left = interior_left != rev
        del ax, ay, bx, by, rev
        rows = np.ascontiguousarray(np.stack(self.seg_xy, axis=1)).view(np.dtype((np.void, 32)))[
            :, 0
        ]
        segment_id = np.unique(rows, return_inverse=True)[1].astype(np.int32)
        del rows
        cell, seg = self._mark_cells(*self.seg_xy)
        grid = owner[seg].astype(np.int32)
        extra = overlapping.result()
        if len(extra):
            extra_cell, extra_grid = self._bbox_cells(geoms, extra, cell)
            cell = np.concatenate([cell, extra_cell])
            grid = np.concatenate([grid, extra_grid])
            seg = np.concatenate([seg, np.full(len(extra_cell), -1, dtype=np.int32)])
        order = np.argsort(cell.astype(np.int64) * n + grid)
        cell, grid, seg = cell[order], grid[order], seg[order]
        del order
        new_cell = np.ones(len(cell), dtype=bool)
        new_cell[1:] = cell[1:] != cell[:-1]
        boundary_cells = cell[new_cell]
        cell_start = np.flatnonzero(new_cell)
        keep = new_cell.copy()  # candidates: distinct (cell, grid) pairs in tie-break order
        keep[1:] |= grid[1:] != grid[:-1]
        self.cand = grid[keep]
        self.start = np.append(np.flatnonzero(new_cell[keep]), len(self.cand)).astype(np.int32)
        del keep, new_cell
        self._half_planes(
            valid,
            boundary_cells,
            cell_start,
            len(cell),
            grid,
            seg,
            len(extra) > 0,
            interior_left,
            segment_id,
        )
        del cell, grid, seg, cell_start

        # 2. the other cells: each connected run of them lies inside one face of the division,
        #    so one test at one cell centre answers for all of them
        from scipy import ndimage  # here, not at module import: it costs start-up time

        is_free = np.ones(n_cells, dtype=bool)
        is_free[boundary_cells] = False
        labels, n_labels = ndimage.label(is_free.reshape(self.nrows, self.ncols))
        del is_free
        labels = labels.ravel()
        # the first cell of a label follows a cell of another label (or starts the raster)
        starts = np.concatenate([[0], np.flatnonzero(labels[1:] != labels[:-1]) + 1])[::-1]
        first = np.zeros(n_labels + 1, dtype=np.int64)
        first[labels[starts]] = starts  # reversed: the earliest start of each label wins
        first = first[1:]
        del starts
        centres = shapely.points(
            self.x0 + (first % self.ncols + 0.5) * self.size,
            self.y0 + (first // self.ncols + 0.5) * self.size,
        )
        pt, gpos = tree.query(centres, predicate="intersects")
        best = _first_covering(gpos, pt, n_labels, n)
        label_value = np.concatenate([[0], np.where(best < n, best, _OUTSIDE)]).astype(np.int32)
        self.table = label_value[labels]
        del labels
        self.table[boundary_cells] = -2 - np.arange(len(boundary_cells), dtype=np.int32)
        self.n_boundary_cells = len(boundary_cells)

    def _mark_cells(self, ax, ay, bx, by) -> tuple[np.ndarray, np.ndarray]:
        """(cell, segment) pairs: every cell each segment passes through or within the margin
        of, ``_SEGMENT_CHUNK`` segments at a time (int32: the raster has < 2**31 cells)."""
        eps = _MARGIN_CELLS
        cells, segs = [np.empty(0, dtype=np.int32)], [np.empty(0, dtype=np.int32)]
        for lo in range(0, len(ax), _SEGMENT_CHUNK):
            part = slice(lo, lo + _SEGMENT_CHUNK)
            ua, va = (ax[part] - self.x0) * self.inv, (ay[part] - self.y0) * self.inv
            ub, vb = (bx[part] - self.x0) * self.inv, (by[part] - self.y0) * self.inv
            swap = ub < ua
            ua, ub = np.where(swap, ub, ua), np.where(swap, ua, ub)
            va, vb = np.where(swap, vb, va), np.where(swap, va, vb)
            s, col = _ranges(
                np.floor(ua - eps).astype(np.int64), np.floor(ub + eps).astype(np.int64)
            )
            u0, u1, v0 = ua[s], ub[s], va[s]
            du = u1 - u0
            with np.errstate(divide="ignore", invalid="ignore"):
                t_lo = np.where(du > 0, (np.maximum(col - eps, u0) - u0) / du, 0.0)
                t_hi = np.where(du > 0, (np.minimum(col + 1 + eps, u1) - u0) / du, 1.0)
            dv = vb[s] - v0
            v_lo = v0 + dv * np.clip(t_lo, 0.0, 1.0)
            v_hi = v0 + dv * np.clip(t_hi, 0.0, 1.0)
            r_lo = np.floor(np.minimum(v_lo, v_hi) - eps).astype(np.int64)
            r_hi = np.floor(np.maximum(v_lo, v_hi) + eps).astype(np.int64)
            pair, row = _ranges(r_lo, r_hi)
            cells.append((row * self.ncols + col[pair]).astype(np.int32))
            segs.append((s[pair] + lo).astype(np.int32))
        return np.concatenate(cells), np.concatenate(segs)

    def _canonical(self, s: np.ndarray) -> tuple[np.ndarray, ...]:
        """End points of segments ``s`` in their canonical direction (smaller end first)."""
        return tuple(v[s] for v in self.seg_xy)

    def _half_planes(
        self, valid, boundary_cells, cell_start, n_marks, grid, seg, extra, left, segment_id
    ):
        """Find boundary cells split by one straight edge into two sides (most of them).

        Such a cell is crossed by a single segment, seen from one or two valid grids whose
        interiors lie on opposite sides, with both end points outside the cell (plus margin)
        and the whole cell between the perpendiculars through them; then left of a→b is one
        answer, right the other, and on the line the smaller of the two (the tie-break).
        Points there are answered with an exact orientation test instead of GEOS.
        """
        n_cells = len(boundary_cells)
        n = self.n_grids
        self.simple = np.zeros(n_cells, dtype=bool)
        self.side_seg = np.zeros(n_cells, dtype=np.int32)  # the splitting segment
        self.answer = np.full((n_cells, 2), n, dtype=np.int32)  # left of it, right of it
        self.vertex_ref = np.full(n_cells, -1, dtype=np.int32)  # 2 * segment + end, or -1
        self.vertex_answer = np.full(n_cells, n, dtype=np.int32)
        if extra or n_cells == 0:
            return  # overlapping grids: keep to the exact predicate everywhere
        count = np.diff(np.append(cell_start, n_marks))
        first = cell_start
        last = first + count - 1
        s1, s2 = seg[first], seg[last]
        g1, g_last = grid[first], grid[last]
        del last
        same = (
            (count <= 2)
            & (segment_id[s1] == segment_id[s2])
            & ((count == 1) | (g1 != g_last))
            & valid[g1] & valid[g_last]
        )  # fmt: skip
        left1 = left[s1]  # interior of grid g1 left of the canonical a→b
        left2 = left[s2]
        same &= (count == 1) | (left1 != left2)
        del left2
        m = _MARGIN_CELLS * self.size
        for lo in range(0, n_cells, _CELL_CHUNK):
            at = lo + np.flatnonzero(same[lo : lo + _CELL_CHUNK])
            ax, ay, bx, by = self._canonical(s1[at])
            col, row = boundary_cells[at] % self.ncols, boundary_cells[at] // self.ncols
            x_lo = self.x0 + col * self.size - m
            x_hi = self.x0 + (col + 1) * self.size + m
            y_lo = self.y0 + row * self.size - m
            y_hi = self.y0 + (row + 1) * self.size + m
            dx, dy = bx - ax, by - ay
            between = np.ones(len(at), dtype=bool)
            positive = np.zeros(len(at), dtype=bool)
            negative = np.zeros(len(at), dtype=bool)
            for cx, cy in ((x_lo, y_lo), (x_hi, y_lo), (x_hi, y_hi), (x_lo, y_hi)):
                between &= ((cx - ax) * dx + (cy - ay) * dy > 0) & (
                    (cx - bx) * dx + (cy - by) * dy < 0
                )
                across = dx * (cy - ay) - dy * (cx - ax)
                positive |= across > 0
                negative |= across < 0
            self.simple[at] = between & positive & negative
        g2 = np.where(count == 2, g_last, n)
        self.answer[:, 0] = np.where(left1, g1, g2)
        self.answer[:, 1] = np.where(left1, g2, g1)
        self.side_seg[:] = s1
        # vertex test for the cells with several segments
        several_mask = ~self.simple & (count >= 2)
        several = np.flatnonzero(several_mask)
        marks = np.repeat(several_mask, count)
        sub_start = np.cumsum(count[several]) - count[several]
        self._common_vertices(several, sub_start, grid[marks], seg[marks])

    def _common_vertices(self, cells, cell_start, grid, seg):
        """Cells whose segments all end at one vertex V: a point exactly at V is covered by
        every grid of those segments, so its answer is the smallest of them."""
        if len(cells) == 0:
            return
        sax, say, sbx, sby = self.seg_xy
        count = np.diff(np.append(cell_start, len(seg)))
        head = np.repeat(seg[cell_start], count)
        found = np.zeros(len(cell_start), dtype=bool)
        for end, (vx, vy) in enumerate(((sax, say), (sbx, sby))):
            x, y = vx[head], vy[head]
            touches = ((sax[seg] == x) & (say[seg] == y)) | ((sbx[seg] == x) & (sby[seg] == y))
            common = np.logical_and.reduceat(touches, cell_start) & ~found
            where = cells[common]
            self.vertex_ref[where] = 2 * seg[cell_start][common] + end
            self.vertex_answer[where] = grid[cell_start][common]  # sorted: the smallest
            found |= common

    def _bbox_cells(self, geoms, overlapping, cell):
        """For grids whose interiors overlap another grid: every boundary cell of their bbox.

        In a division without overlaps a grid covering part of a boundary cell has an edge in
        it. A grid overlapping others may hold a boundary cell (crossed by another grid's
        edge) wholly inside, without an edge of its own there: give it as a candidate to all
        cells of its bounding box that are boundary cells anyway (the exact test sorts it out).
        """
        bounds = shapely.bounds(geoms[overlapping])
        c_lo = np.floor((bounds[:, 0] - self.x0) * self.inv - 1).astype(np.int64)
        c_hi = np.floor((bounds[:, 2] - self.x0) * self.inv + 1).astype(np.int64)
        r_lo = np.floor((bounds[:, 1] - self.y0) * self.inv - 1).astype(np.int64)
        r_hi = np.floor((bounds[:, 3] - self.y0) * self.inv + 1).astype(np.int64)
        which, cols = _ranges(np.clip(c_lo, 0, None), np.clip(c_hi, None, self.ncols - 1))
        pair, rows = _ranges(
            np.clip(r_lo[which], 0, None), np.clip(r_hi[which], None, self.nrows - 1)
        )
        extra_cell = (rows * self.ncols + cols[pair]).astype(np.int32)
        extra_grid = overlapping[which[pair]].astype(np.int32)
        is_boundary = np.zeros(self.ncols * self.nrows, dtype=bool)
        is_boundary[cell] = True
        on = is_boundary[extra_cell]
        return extra_cell[on], extra_grid[on]

    def lookup(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Table value per point (``-1`` outside the lattice or for NaN coordinates)."""
        u = (xs - self.x0) * self.inv
        v = (ys - self.y0) * self.inv
        with np.errstate(invalid="ignore"):
            ok = (u >= 0) & (u < self.ncols) & (v >= 0) & (v < self.nrows)
        cell = v[ok].astype(np.intp) * self.ncols + u[ok].astype(np.intp)
        value = np.full(len(xs), _OUTSIDE, dtype=np.int32)
        value[ok] = self.table[cell]
        return value

    def resolve(self, geoms: np.ndarray, value: np.ndarray, points_at, xy_at) -> np.ndarray:
        """Grid position per point (``len(geoms)`` = none): direct where the cell is decided,
        else the first candidate, in tie-break order, whose prepared geometry covers the point.

        ``points_at(positions)`` returns the Point geometries of those input positions,
        ``xy_at(positions)`` their coordinates.
        """
        n = len(geoms)
        best = np.where(value >= 0, value, n).astype(np.intp)
        todo = np.flatnonzero(value <= -2)
        if len(todo) == 0:
            return best
        k = -2 - value[todo].astype(np.int64)
        simple = self.simple[k]
        if simple.any():
            at, ks = todo[simple], k[simple]
            px, py = xy_at(at)
            ax, ay, bx, by = self._canonical(self.side_seg[ks])
            sign, exact = orientation_sign(ax, ay, bx, by, px, py)
            left, right = self.answer[ks, 0], self.answer[ks, 1]
            answer = np.where(sign > 0, left, np.where(sign < 0, right, np.minimum(left, right)))
            best[at[exact]] = answer[exact]
            simple[simple] = exact
            todo, k = todo[~simple], k[~simple]
        px, py = xy_at(todo)
        ref = self.vertex_ref[k]
        has = np.flatnonzero(ref >= 0)
        s, end = ref[has] >> 1, (ref[has] & 1).astype(bool)
        sax, say, sbx, sby = self.seg_xy
        at_vertex = np.zeros(len(todo), dtype=bool)
        at_vertex[has] = (px[has] == np.where(end, sbx[s], sax[s])) & (
            py[has] == np.where(end, sby[s], say[s])
        )
        best[todo[at_vertex]] = self.vertex_answer[k[at_vertex]]
        todo, k = todo[~at_vertex], k[~at_vertex]
        first, stop = self.start[k], self.start[k + 1]
        points = points_at(todo)
        active = np.arange(len(todo))
        j = 0
        while len(active):
            active = active[first[active] + j < stop[active]]
            if not len(active):
                break
            cand = self.cand[first[active] + j]
            hit = shapely.covers(geoms[cand], points[active])
            best[todo[active[hit]]] = cand[hit]
            active = active[~hit]
            j += 1
        return best


def _point_array(points: gpd.GeoSeries) -> np.ndarray:
    geoms = points.to_numpy()
    type_id = shapely.get_type_id(geoms)  # 0 Point, -1 missing
    bad = (type_id != 0) & (type_id != -1)
    if bad.any():
        bad &= ~shapely.is_empty(geoms)  # an empty geometry of any type counts as no point
    if bad.any():
        row = points.index[np.argmax(bad)]
        kind = shapely.get_type_id(geoms[np.argmax(bad)])
        kind = points.loc[[row]].geom_type.iloc[0] if kind >= 0 else kind
        raise GeometryTypeError(
            f"第 {row!r} 行不是点 ({kind}) / row {row!r} is a {kind}, not a Point"
        )
    return geoms


def _points_in(geoseries: gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """The point geometries, checked, reprojected to ``crs`` when needed."""
    import geopandas as gpd

    if not isinstance(geoseries, gpd.GeoSeries):
        raise InputTypeError(
            f"points must be a GeoDataFrame or GeoSeries, not {type(geoseries).__name__}"
        )
    point_crs = _crs_of(geoseries, "points 点")
    point_geoms = _point_array(geoseries)
    if point_crs != crs:
        point_geoms = geoseries.to_crs(crs).to_numpy()
    return point_geoms


def _tree_join(sorted_grids: _SortedGrids, point_geoms: np.ndarray) -> np.ndarray:
    """Grid position per point by one STRtree join (``len(sorted_grids)`` = none)."""
    tree = shapely.STRtree(point_geoms)
    grid_pos, point_pos = tree.query(sorted_grids.geoms, predicate="covers")
    return _first_covering(grid_pos, point_pos, len(point_geoms), len(sorted_grids))


def _as_series(sorted_grids: _SortedGrids, best: np.ndarray, index: pd.Index) -> pd.Series:
    import pandas as pd

    return pd.Series(_ids_at(sorted_grids, best), index=index, name="grid_code", dtype=object)


def assign_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    grids: gpd.GeoDataFrame | GridArrays,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
) -> pd.Series:
    """Return the id of the grid covering each point (NA outside every grid).

    Ties go to the grid id that sorts first (:data:`TIE_BREAK`). Few points (under 20,000, or
    under 8 per grid) are joined with one STRtree query (predicate ``covers``); more go through
    a :class:`GridIndex` built for the call (build it once yourself and use
    :meth:`GridIndex.assign` to join several point sets against the same grids).

    Parameters
    ----------
    points : GeoDataFrame or GeoSeries of Points
        None or empty geometries are allowed and give NA. Reprojected to the grids' CRS when
        the two differ.
    grids : GeoDataFrame of Polygons/MultiPolygons, or GridArrays
    code_field : str
        Column of ``grids`` holding the grid code returned (default ``"code"``; unused for
        :class:`GridArrays`).

    Returns
    -------
    pandas.Series
        Aligned with ``points.index``, named ``"grid_code"``, dtype object: the covering
        grid's id, or None where no grid covers the point.

    Raises
    ------
    UnknownCRSError
        If ``points`` or ``grids`` has no CRS.
    MissingFieldError
        If ``grids`` has no ``code_field`` column.
    GeometryTypeError
        If a point is not a Point (or a grid not polygonal), naming the first bad row.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, Point
    >>> grids = gpd.GeoDataFrame({"code": ["b", "a"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
    ...                          crs=4549)
    >>> pts = gpd.GeoSeries([Point(0.5, 0.5), Point(1, 0.5), Point(2, 1), Point(3, 3), None],
    ...                     crs=4549)
    >>> assign_points(pts, grids).tolist()  # shared edge x=1 -> "a"; outer corner -> "b"
    ['a', 'a', 'b', None, None]
    """
    import geopandas as gpd
    import pandas as pd

    sorted_grids = _SortedGrids(grids, code_field)
    geoseries = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    point_geoms = _points_in(geoseries, sorted_grids.crs)
    n = len(point_geoms)
    if n == 0 or len(sorted_grids) == 0:
        return pd.Series([None] * n, index=geoseries.index, name="grid_code", dtype=object)
    if not index_pays_off(n, len(sorted_grids)):
        return _as_series(sorted_grids, _tree_join(sorted_grids, point_geoms), geoseries.index)
    return GridIndex._from_sorted(sorted_grids, one_shot=True).assign(geoseries)


def assign_lonlat(
    xs: np.ndarray,
    ys: np.ndarray,
    crs,
    grids: gpd.GeoDataFrame | GridArrays | GridIndex,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
) -> np.ndarray:
    """Return the grid id per coordinate pair (object array, None outside).

    The same answer as :func:`assign_points` for ``shapely.points(xs, ys)`` in ``crs`` (same
    reprojection, rule and tie-break), without making a point geometry per row: for tables
    read column-wise (:func:`gis.io.read_point_table`). A NaN coordinate (no point) gets
    None. ``grids`` may be :class:`GridArrays` (then neither geopandas nor pandas is used) or
    a :class:`GridIndex` built beforehand (e.g. while the points were being read);
    ``code_field`` is then unused.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"code": ["b", "a"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
    ...                          crs=4326)
    >>> assign_lonlat(np.array([0.5, 1.0, 3.0]), np.array([0.5, 0.5, 3.0]), 4326, grids).tolist()
    ['a', 'a', None]
    >>> arrays = GridArrays(["b", "a"], [box(1, 0, 2, 1), box(0, 0, 1, 1)], 4326)
    >>> assign_lonlat(np.array([1.0, 1.5, np.nan]), np.array([0.5, 0.5, np.nan]), 4326,
    ...               arrays).tolist()
    ['a', 'b', None]
    """
    index = grids if isinstance(grids, GridIndex) else None
    sorted_grids = index._grids if index is not None else _SortedGrids(grids, code_field)
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    point_crs = CRS.from_user_input(crs)
    if point_crs != sorted_grids.crs:
        transformer = Transformer.from_crs(point_crs, sorted_grids.crs, always_xy=True)
        xs, ys = transformer.transform(xs, ys)
    n = len(xs)
    if n == 0 or len(sorted_grids) == 0:
        return np.full(n, None, dtype=object)
    if index is not None:
        return index._ids(xs, ys, None)
    if not index_pays_off(n, len(sorted_grids)):
        return _ids_at(sorted_grids, _tree_join(sorted_grids, shapely.points(xs, ys)))
    return GridIndex._from_sorted(sorted_grids, one_shot=True)._ids(xs, ys, None)


def index_pays_off(n_points: int, n_grids: int) -> bool:
    """True when joining ``n_points`` points to ``n_grids`` grids costs less through a
    :class:`GridIndex` built for them than through one STRtree query (at least 20,000
    points, and 8 per grid)."""
    return n_points >= max(_RASTER_MIN_POINTS, 8 * n_grids)


def outside_mask(grid_codes: pd.Series) -> pd.Series:
    """Return True where :func:`assign_points` found no grid (the point is outside).

    >>> import pandas as pd
    >>> outside_mask(pd.Series(["a", None])).tolist()
    [False, True]
    """
    return grid_codes.isna().rename("outside")


class GridIndex:
    """In-memory index of a division for fast look-ups, single or in bulk.

    Same rule and same predicate as :func:`assign_points` (prepared ``covers``, grids held in
    tie-break order), so the two agree on every point. Built once per division (under 2 s for
    10,000 grids): a raster of the grids answers points in cells no edge touches by array
    look-up; points in cells an edge crosses are tested exactly (see the module docstring).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"code": ["b", "a"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
    ...                          crs=4326)
    >>> index = GridIndex(grids)
    >>> index.locate(1.0, 0.0), index.locate(1.5, 0.5), index.locate(5, 5)
    ('a', 'b', None)
    """

    def __init__(
        self,
        grids: gpd.GeoDataFrame | GridArrays,
        *,
        code_field: str = DEFAULT_CODE_FIELD,
        one_shot: bool = False,
    ) -> None:
        self._build(_SortedGrids(grids, code_field), one_shot=one_shot)

    @classmethod
    def _from_sorted(cls, sorted_grids: _SortedGrids, *, one_shot: bool = False) -> GridIndex:
        index = cls.__new__(cls)
        index._build(sorted_grids, one_shot=one_shot)
        return index

    def _build(self, sorted_grids: _SortedGrids, *, one_shot: bool = False) -> None:
        # one_shot: an index built for one bulk join (a CLI run) is built coarser: about a
        # quarter of the cells, so the build costs less than half while the few more points
        # in boundary cells cost a little more look-up (same answers: the exact test decides).
        self._grids = sorted_grids
        tree = shapely.STRtree(sorted_grids.geoms)
        cells = _CELLS_PER_GRID // 4 if one_shot else _CELLS_PER_GRID
        self._raster = _Raster(sorted_grids.geoms, tree, cells) if len(sorted_grids) else None
        self._views()

    def __getstate__(self) -> dict:
        """Pickled (to ship a built index to other processes, e.g. Dask workers) without the
        plain-Python views, which are rebuilt on arrival; geometries travel as WKB."""
        return {"grids": self._grids, "raster": self._raster}

    def __setstate__(self, state: dict) -> None:
        self._grids, self._raster = state["grids"], state["raster"]
        shapely.prepare(self._grids.geoms)  # preparation does not survive pickling
        self._views()

    def _views(self) -> None:
        sorted_grids = self._grids
        # plain-Python views for the single-point path (no numpy call per look-up)
        self._id_list = list(sorted_grids.ids)
        self._geom_list = list(sorted_grids.geoms)
        if self._raster is not None:
            r = self._raster
            self._x0, self._y0, self._inv = r.x0, r.y0, r.inv
            self._ncols, self._nrows = r.ncols, r.nrows
            self._table = memoryview(r.table)
            self._start = memoryview(r.start)
            self._cand = memoryview(r.cand)

    @property
    def crs(self) -> CRS:
        """CRS of the grids; ``locate`` takes coordinates in it."""
        return self._grids.crs

    def __len__(self) -> int:
        return len(self._grids)

    def locate(self, x: float, y: float) -> Hashable | None:
        """Return the id of the grid covering (x, y) (x=lon, y=lat in the grids' CRS), or None."""
        if self._raster is None:
            return None
        u = (x - self._x0) * self._inv
        v = (y - self._y0) * self._inv
        if not (0.0 <= u < self._ncols and 0.0 <= v < self._nrows):  # also False for NaN
            return None
        value = self._table[int(v) * self._ncols + int(u)]
        if value >= 0:
            return self._id_list[value]
        if value == _OUTSIDE:
            return None
        k = -2 - value
        point = shapely.Point(x, y)
        for j in range(self._start[k], self._start[k + 1]):
            g = self._cand[j]
            if shapely.covers(self._geom_list[g], point):
                return self._id_list[g]
        return None

    def locate_many(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray):
        """Return an object array of grid ids for the points (xs, ys); None outside."""
        xs = np.atleast_1d(np.asarray(xs, dtype=float))
        ys = np.atleast_1d(np.asarray(ys, dtype=float))
        if self._raster is None:
            return np.full(len(xs), None, dtype=object)
        return self._ids(xs, ys, None)

    def assign(self, points: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
        """Return the id of the grid covering each point, as :func:`assign_points` does."""
        import geopandas as gpd
        import pandas as pd

        geoseries = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        point_geoms = _points_in(geoseries, self.crs)
        if len(point_geoms) == 0 or self._raster is None:
            return pd.Series(
                [None] * len(point_geoms), index=geoseries.index, name="grid_code", dtype=object
            )
        xs, ys = shapely.get_x(point_geoms), shapely.get_y(point_geoms)
        ids = self._ids(xs, ys, point_geoms)
        return pd.Series(ids, index=geoseries.index, name="grid_code", dtype=object)

    def _ids(self, xs: np.ndarray, ys: np.ndarray, points: np.ndarray | None) -> np.ndarray:
        """Grid id per point (None outside), ``_CHUNK_POINTS`` points at a time: the
        temporaries stay small enough to be reused, where fresh arrays of 10M points cost more
        in page faults (kernel time) than the look-up itself."""
        ids = np.empty(len(xs), dtype=object)
        for start in range(0, len(xs), _CHUNK_POINTS):
            chunk = slice(start, start + _CHUNK_POINTS)
            cx, cy = xs[chunk], ys[chunk]
            cp = None if points is None else points[chunk]

            def points_at(at, cx=cx, cy=cy, cp=cp):
                return shapely.points(cx[at], cy[at]) if cp is None else cp[at]

            def xy_at(at, cx=cx, cy=cy):
                return cx[at], cy[at]

            lookup = self._raster.lookup(cx, cy)
            best = self._raster.resolve(self._grids.geoms, lookup, points_at, xy_at)
            ids[chunk] = _ids_at(self._grids, best)
        return ids
