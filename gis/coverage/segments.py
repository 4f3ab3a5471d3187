"""The speed engine, part 2: edge segments as arrays, matched by hashing, and distances.

A polygon all of whose segments have their exact reverse in another polygon is one GEOS's
coverage check finds nothing on (:func:`matched_segments`), so GEOS runs only where a
segment is unmatched. :func:`distance_to_segments` measures points against outline
segments with GEOS's arithmetic, many at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.coverage.common import POLYGON

__all__ = [
    "Segments",
    "common_segment_length",
    "distance_to_segments",
    "grouped",
    "matched_segments",
    "near_segments",
    "oriented_segments",
    "ring_segments",
    "same_points",
    "segment_hashes",
]


@dataclass
class Segments:
    """Edge segments of polygons, interior on the right, and how they pair up."""

    start: np.ndarray
    end: np.ndarray
    owner: np.ndarray  # the polygon of each segment
    matched: np.ndarray  # its exact reverse occurs once, in another polygon, and nothing else
    partner: np.ndarray  # that reverse segment (where matched)

    def fully_matched(self, n: int) -> np.ndarray:
        """Mask of the ``n`` polygons whose every segment is matched."""
        unmatched = np.bincount(self.owner[~self.matched], minlength=n)
        return (unmatched == 0) & (np.bincount(self.owner, minlength=n) > 0)


def matched_segments(
    geoms: np.ndarray, known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> Segments:
    """Segments of polygonal ``geoms`` and their exact matches in the other polygons.

    A polygon all of whose segments are matched is one ``coverage_invalid_edges`` finds
    nothing on: GEOS marks every such segment as matched (a shared segment oriented the
    same way twice, a segment shared by three polygons, a repeated vertex, or a segment on
    the outside of the coverage leave a polygon not fully matched, which only sends it to
    GEOS). ``known`` gives the clockwise single rings of some of the polygons (their
    positions, coordinates, and for each coordinate its polygon among those positions).
    """
    if known is None:
        start, end, owner = oriented_segments(geoms)
    else:
        at, coords, ring = known
        same = ring[1:] == ring[:-1]
        others = np.ones(len(geoms), dtype=bool)
        others[at] = False
        others = np.flatnonzero(others)
        start, end, owner = oriented_segments(geoms[others])
        start = np.vstack([coords[:-1][same], start])
        end = np.vstack([coords[1:][same], end])
        owner = np.r_[at[ring[:-1][same]], others[owner]]
    n = len(start)
    if n == 0:
        return Segments(start, end, owner, np.zeros(0, bool), np.zeros(0, int))
    # the segment without its direction, hashed from the bits of its ends' coordinates
    swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    low, high = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
    codes = _group_codes(segment_hashes(low, high))
    count = np.bincount(codes)
    position_sum = np.bincount(codes, weights=np.arange(n, dtype=np.float64))
    partner = np.where(count[codes] == 2, position_sum[codes].astype(np.int64) - np.arange(n), 0)
    matched = count[codes] == 2
    matched &= same_points(start[partner], end) & same_points(end[partner], start)
    matched &= (owner[partner] != owner) & ~same_points(start, end)
    return Segments(start, end, owner, matched, partner)


def oriented_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge segments of polygonal ``geoms`` as (start, end, owner), interior on the right.

    Shells run clockwise, holes counter-clockwise, as in ``coverage_invalid_edges``. Rings
    whose orientation is numerically unclear get a zero-length segment (never matched).
    """
    start, end, seg_ring, ring_owner, ring_is_shell = ring_segments(geoms)
    if len(start) == 0:
        return start, end, ring_owner[seg_ring]
    # signed area (shoelace, in coordinates local to each ring) for the orientation
    n_rings = len(ring_owner)
    first = np.r_[0, np.flatnonzero(seg_ring[1:] != seg_ring[:-1]) + 1]
    origin = np.zeros((n_rings, 2))
    origin[seg_ring[first]] = start[first]
    local_start, local_end = start - origin[seg_ring], end - origin[seg_ring]
    cross = local_start[:, 0] * local_end[:, 1] - local_end[:, 0] * local_start[:, 1]
    twice_area = np.bincount(seg_ring, weights=cross, minlength=n_rings)
    extent = np.bincount(seg_ring, weights=np.abs(cross), minlength=n_rings)
    clear = np.abs(twice_area) > 1e-9 * extent
    reverse = ring_is_shell == (twice_area > 0)  # shells clockwise, holes counter-clockwise
    flip = reverse[seg_ring][:, None]
    start, end = np.where(flip, end, start), np.where(flip, start, end)
    end = np.where(clear[seg_ring][:, None], end, start)
    return start, end, ring_owner[seg_ring]


def ring_segments(geoms: np.ndarray) -> tuple[np.ndarray, ...]:
    """Segments of the rings of polygonal ``geoms``, in ring order.

    Returns start and end points and the ring of each segment, and per ring its geometry
    and whether it is a shell. Polygons without holes, one ring each, need no ring objects.
    """
    simple = shapely.get_type_id(geoms) == POLYGON
    simple[simple] &= shapely.get_num_interior_rings(geoms[simple]) == 0
    simple_idx, other_idx = np.flatnonzero(simple), np.flatnonzero(~simple)
    coords, ring_of = shapely.get_coordinates(geoms[simple_idx], return_index=True)
    ring_owner, ring_is_shell = simple_idx, np.ones(len(simple_idx), dtype=bool)
    if len(other_idx):
        parts, part_owner = shapely.get_parts(geoms[other_idx], return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        more, more_ring = shapely.get_coordinates(rings, return_index=True)
        coords = np.vstack([coords, more])
        ring_of = np.r_[ring_of, more_ring + len(simple_idx)]
        ring_owner = np.r_[ring_owner, other_idx[part_owner[ring_part]]]
        first_ring = np.r_[True, ring_part[1:] != ring_part[:-1]] if len(rings) else []
        ring_is_shell = np.r_[ring_is_shell, np.asarray(first_ring, dtype=bool)]
    in_ring = ring_of[1:] == ring_of[:-1]
    start, end = coords[:-1][in_ring], coords[1:][in_ring]
    return start, end, ring_of[:-1][in_ring], ring_owner, ring_is_shell


def near_segments(
    geoms: np.ndarray, grid: np.ndarray, boxes: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outline segments of ``geoms[grid[k]]`` that come within ``reach`` of ``boxes[k]``.

    Returns, per k, the offsets of its segments (``offsets[k]:offsets[k + 1]``) into the
    start and end points returned, in ring order within each outline.
    """
    needed, slot = np.unique(grid, return_inverse=True)
    start, end, seg_ring, ring_owner, _ = ring_segments(geoms[needed])
    seg_owner = ring_owner[seg_ring]
    order = np.argsort(seg_owner, kind="stable")
    start, end, seg_owner = start[order], end[order], seg_owner[order]
    count = np.bincount(seg_owner, minlength=len(needed))
    first = np.r_[0, np.cumsum(count)]
    per_item = count[slot]
    item = np.repeat(np.arange(len(grid)), per_item)
    seg = np.arange(per_item.sum()) - np.repeat(np.cumsum(per_item) - per_item, per_item)
    seg += np.repeat(first[slot], per_item)
    box = boxes[item]
    lo, hi = np.minimum(start[seg], end[seg]), np.maximum(start[seg], end[seg])
    keep = (lo[:, 0] <= box[:, 2] + reach) & (hi[:, 0] >= box[:, 0] - reach)
    keep &= (lo[:, 1] <= box[:, 3] + reach) & (hi[:, 1] >= box[:, 1] - reach)
    item, seg = item[keep], seg[keep]
    offsets = np.r_[0, np.cumsum(np.bincount(item, minlength=len(grid)))]
    return offsets, start[seg], end[seg]


def distance_to_segments(
    points: np.ndarray,
    item: np.ndarray,
    offsets: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    chunk: int = 1 << 16,
) -> np.ndarray:
    """Distance from each point to the nearest of the segments of its ``item`` (+inf if none).

    GEOS measures a point against a ring segment by segment (``Distance::pointToSegment``),
    keeping the smallest; the same arithmetic, in the same order, is done here on many
    segments at once, without a geometry object per point: the results are GEOS's, bit for
    bit.
    """
    result = np.full(len(points), np.inf)
    per_point = (offsets[1:] - offsets[:-1])[item]
    bounds = np.r_[0, np.cumsum(per_point)]
    lo = 0
    while lo < len(points):
        hi = int(np.searchsorted(bounds, bounds[lo] + chunk, side="right")) - 1
        hi = max(hi, lo + 1)
        span = per_point[lo:hi]
        which = np.repeat(np.arange(lo, hi), span)
        seg = np.arange(bounds[hi] - bounds[lo]) - np.repeat(bounds[lo:hi] - bounds[lo], span)
        seg += np.repeat(offsets[item[lo:hi]], span)
        (px, py), (ax, ay), (bx, by) = points[which].T, start[seg].T, end[seg].T
        dx, dy = bx - ax, by - ay
        ex, ey = px - ax, py - ay
        length2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (ex * dx + ey * dy) / length2
            # GEOS's (ay - py) dx - (ax - px) dy is exactly minus this; abs drops the sign
            across = np.abs((ey * dx - ex * dy) / length2) * np.sqrt(length2)
        to_a = np.sqrt(ex * ex + ey * ey)
        fx, fy = px - bx, py - by
        to_b = np.sqrt(fx * fx + fy * fy)
        distance = np.where(r <= 0.0, to_a, np.where(r >= 1.0, to_b, across))
        distance = np.where((ax == bx) & (ay == by), to_a, distance)
        keep = span > 0
        if keep.any():
            starts = (bounds[lo:hi] - bounds[lo])[keep]
            result[lo:hi][keep] = np.minimum.reduceat(distance, starts)
        lo = hi
    return result


def common_segment_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total length of the edge segments of each polygonal ``a[k]`` that ``b[k]`` has too
    (the same two end points, in either direction)."""
    keys = []
    for geoms in (a, b):
        start, end, seg_ring, ring_owner, _ = ring_segments(geoms)
        swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
        low, high = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
        pair = ring_owner[seg_ring]
        with np.errstate(over="ignore"):
            hashed = segment_hashes(low, high) ^ (
                pair.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            )
        keys.append((hashed, pair, low, high))
    (hash_a, pair_a, low_a, high_a), (hash_b, pair_b, low_b, high_b) = keys
    codes = _group_codes(np.r_[hash_a, hash_b])
    row_b = np.full(codes.max() + 1 if len(codes) else 0, -1)
    row_b[codes[len(hash_a) :]] = np.arange(len(hash_b))
    j = row_b[codes[: len(hash_a)]]
    common = np.flatnonzero(j >= 0)
    j = j[common]
    # equal hashes: compare the segments themselves
    same = (pair_a[common] == pair_b[j]) & same_points(low_a[common], low_b[j])
    common = common[same & same_points(high_a[common], high_b[j])]
    length = np.hypot(*(high_a[common] - low_a[common]).T)
    return np.bincount(pair_a[common], length, minlength=len(a))


def same_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a == b).all(axis=1)`` for two arrays of points (x, y), without numpy's slow
    reduction over a short axis."""
    return (a[:, 0] == b[:, 0]) & (a[:, 1] == b[:, 1])


def segment_hashes(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """64-bit hash of each segment (``low[i]``, ``high[i]``) from the bits of its 4
    coordinates (equal segments, equal hashes; the rare collision of unequal ones only
    makes segments look unmatched)."""
    words = [
        np.ascontiguousarray(column, dtype=np.float64).view(np.uint64)
        for column in (low[:, 0], low[:, 1], high[:, 0], high[:, 1])
    ]
    mix = np.array(
        [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
        dtype=np.uint64,
    )
    with np.errstate(over="ignore"):
        hashed = words[0] * mix[0]
        for k in range(1, 4):
            hashed = (hashed ^ (hashed >> np.uint64(29))) + words[k] * mix[k]
    return hashed


def _group_codes(hashes: np.ndarray) -> np.ndarray:
    """One code per distinct hash, 0..k-1 (equal hashes, equal codes), without pandas."""
    return np.unique(hashes, return_inverse=True)[1].reshape(-1)


def grouped(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    if len(keys) == 0:
        return [values[:0] for _ in range(n)]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    first = np.r_[True, (keys[1:] != keys[:-1]) | (values[1:] != values[:-1])]
    keys, values = keys[first], values[first]  # each value once per key, ascending
    return np.split(values, np.searchsorted(keys, np.arange(1, n)))
