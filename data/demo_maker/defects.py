"""The defective division: planted gaps, overlaps and slivers between grids."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

__all__ = ["plant_defects"]


def _shared_line(a: Polygon, b: Polygon):
    return shapely.line_merge(shapely.intersection(a.boundary, b.boundary))


def _longest_straight(line, min_len: float):
    """Longest straight segment (two consecutive vertices) of ``line`` if >= ``min_len``."""
    best = None
    for part in shapely.get_parts(line):
        if part.geom_type != "LineString":
            continue
        xy = np.asarray(part.coords)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        k = int(np.argmax(seg))
        if seg[k] >= min_len and (best is None or seg[k] > best[2]):
            best = (xy[k], xy[k + 1], seg[k])
    return best


def plant_defects(geoms: list, codes: list[str], boundary: Polygon, rng):
    """Return (defective geometries, defective codes, defect records) in metric CRS."""
    geoms = list(geoms)
    codes = list(codes)
    n = len(geoms)
    used: dict[int, int] = dict.fromkeys(range(n), 0)
    spots: list[Point] = []
    records = []
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            seg = _longest_straight(_shared_line(geoms[i], geoms[j]), 45.0)
            if seg is not None:
                pairs.append((i, j, seg))

    def far(p: Point) -> bool:
        return all(p.distance(q) > 120.0 for q in spots) and p.distance(boundary.exterior) > 40

    def pick_pair():
        ranked = sorted(pairs, key=lambda t: (used[t[0]] + used[t[1]], -t[2][2], t[0], t[1]))
        for i, j, (a, b, length) in ranked:
            mid = Point((a + b) / 2)
            if far(mid):
                return i, j, a, b, length
        raise RuntimeError("no free shared edge for a defect")

    def note(kind, idx, where, **extra):
        for k in idx:
            used[k] += 1
        spots.append(where)
        records.append({"kind": kind, "grid_index": list(idx), "point_m": where, **extra})

    # gap: a 30 m x 15 m piece of grid A next to its neighbour B, removed and given to nobody
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    square = Point(mid).buffer(15.0, cap_style="square")
    side_a = geoms[i] if geoms[i].intersection(square).area > 0 else geoms[j]
    ia, ib = (i, j) if side_a is geoms[i] else (j, i)
    hole = geoms[ia].intersection(square)
    geoms[ia] = geoms[ia].difference(square)
    note(
        "gap",
        (ia, ib),
        hole.point_on_surface(),
        area_m2=hole.area,
        description="30 m 见方的一块从网格中挖去, 无人覆盖 / a ~30 m square piece removed, "
        "covered by no grid",
    )

    # overlap: grid A extended 10 m into B along 40 m of their shared edge
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    seg = LineString([mid - 20 * u, mid + 20 * u])
    strip = seg.buffer(10.0, cap_style="flat")
    over = geoms[j].intersection(strip)
    geoms[i] = shapely.union(geoms[i], over)
    note(
        "overlap",
        (i, j),
        over.point_on_surface(),
        area_m2=over.area,
        description="网格向邻格伸入 10 m / a grid extended 10 m into its neighbour",
    )

    # sliver: 0.3 m strip along 30 m of a shared edge given up by B, covered by nobody
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    seg = LineString([mid - 15 * u, mid + 15 * u])
    band = seg.buffer(0.3, cap_style="flat")
    strip = geoms[j].intersection(band)
    geoms[j] = geoms[j].difference(band)
    note(
        "sliver",
        (i, j),
        Point(mid + 0.15 * _toward(geoms[i], mid, u)),
        area_m2=strip.area,
        width_m=0.3,
        length_m=30.0,
        description="共享边移动 0.3 m, 留下 0.3 m 宽的缝 / shared edge shifted 0.3 m, "
        "a 0.3 m wide strip uncovered",
    )
    # the strip lies on B's side: the point is 0.15 m into it
    records[-1]["point_m"] = Point(mid - 0.15 * _toward(geoms[i], mid, u))
    spots[-1] = records[-1]["point_m"]

    # outside: a grid on the community edge spills 20 m across the boundary along 40 m
    outer = []
    for k in np.argsort([used[k] for k in range(n)], kind="stable"):
        seg_b = _longest_straight(_shared_line(geoms[k], boundary), 45.0)
        if seg_b is not None:
            outer.append((int(k), seg_b))
    k, (a, b, length) = next(
        (k, s) for k, s in outer if all(Point((s[0] + s[1]) / 2).distance(q) > 120 for q in spots)
    )
    mid = (a + b) / 2
    u = (b - a) / length
    out_n = -_toward(boundary, mid, u)
    # The rectangle reaches 1 m into the grid so the union overlaps by area: a rectangle
    # merely touching the edge gave parts joined along a float-thin line, which crossed
    # itself once written in lon/lat.
    p, q = mid - 20 * u - out_n, mid + 20 * u - out_n
    geoms[k] = shapely.union(geoms[k], Polygon([p, q, q + 21 * out_n, p + 21 * out_n]))
    spill = geoms[k].difference(boundary)
    note(
        "outside",
        (k,),
        spill.point_on_surface(),
        area_m2=spill.area,
        description="网格越过社区边界 20 m / a grid spills 20 m outside the community",
    )

    # invalid: a bow-tie (self-intersecting ring) on another grid's stretch of boundary
    k2, (a, b, length) = next(
        (k2, s)
        for k2, s in outer
        if k2 != k and all(Point((s[0] + s[1]) / 2).distance(q) > 120 for q in spots)
    )
    geoms[k2], lobe, crossing = _bowtie(geoms[k2], a, b, boundary, w=6.0, d=6.0)
    note(
        "invalid",
        (k2,),
        crossing,
        area_m2=lobe,
        description="网格边界自相交 (蝴蝶结) / self-intersecting ring (bow-tie); its two "
        "6 m x 3 m lobes lie outside the community",
    )

    # multipart: a 30 m x 30 m piece deep inside B is given to A (A becomes two parts)
    # prefer grids already used elsewhere (far away) to keep spare grids for the code defects
    for i, j, _ in sorted(pairs, key=lambda t: (-used[t[0]] - used[t[1]], t[0], t[1])):
        if not (geoms[i].is_valid and geoms[j].is_valid and geoms[i].geom_type == "Polygon"):
            continue
        core = geoms[j].buffer(-30.0)
        if core.is_empty:
            continue
        centre = core.point_on_surface()
        if all(centre.distance(q) > 120.0 for q in spots):
            break
    piece = centre.buffer(15.0, cap_style="square")
    geoms[j] = geoms[j].difference(piece)
    geoms[i] = MultiPolygon([geoms[i], piece])
    note(
        "multipart",
        (i,),
        centre,
        area_m2=piece.area,
        description="网格含一块飞地, 位于邻格内部 / a detached part of the grid lies inside "
        "another grid (which has a matching hole)",
    )

    # duplicate_code and missing_code on the least involved grids
    spare = [int(k) for k in np.argsort([used[k] for k in range(n)], kind="stable")]
    d1, d2, m1 = spare[0], spare[1], spare[2]
    records.append(
        {
            "kind": "duplicate_code",
            "grid_index": [d1, d2],
            "point_m": geoms[d2].point_on_surface(),
            "description": "两个网格同一编码 / two grids share one code",
        }
    )
    records.append(
        {
            "kind": "missing_code",
            "grid_index": [m1],
            "point_m": geoms[m1].point_on_surface(),
            "description": "网格没有编码 / a grid with no code",
        }
    )
    original = list(codes)
    codes[d2] = codes[d1]
    codes[m1] = None
    for r in records:
        r["original_codes"] = [original[k] for k in r["grid_index"]]
        r["grid_codes"] = [codes[k] for k in r["grid_index"] if codes[k] is not None]
    return geoms, codes, records


def _toward(poly: Polygon, mid: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Unit normal to ``u`` at ``mid`` pointing into ``poly``."""
    nrm = np.array([-u[1], u[0]])
    return nrm if poly.contains(Point(mid + 0.5 * nrm)) else -nrm


def _bowtie(poly: Polygon, a, b, boundary: Polygon, *, w: float, d: float):
    """Replace a piece of edge a-b of ``poly`` by a crossing detour outside ``boundary``."""
    u = (b - a) / np.hypot(*(b - a))
    nrm = np.array([-u[1], u[0]])
    mid = (a + b) / 2
    if boundary.contains(Point(mid + 0.5 * nrm)):
        nrm = -nrm  # point outward
    m = mid - u * w / 2
    detour = [m, m + u * w + nrm * d, m + nrm * d, m + u * w]
    ring = np.asarray(poly.exterior.coords)
    for k in range(len(ring) - 1):
        p, q = ring[k], ring[k + 1]
        if (np.allclose(p, a) and np.allclose(q, b)) or (np.allclose(p, b) and np.allclose(q, a)):
            pts = detour if np.allclose(p, a) else detour[::-1]
            new = [*ring[: k + 1], *pts, *ring[k + 1 :]]
            out = Polygon(new, [i.coords for i in poly.interiors])
            assert not out.is_valid
            # two triangles of w*d/4 each; the ring crosses itself at mid + nrm*d/2
            return out, w * d / 2, Point(mid + nrm * d / 2)
    raise RuntimeError("edge for the bow-tie not found")
