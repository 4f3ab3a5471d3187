"""Automatic division of a community into balanced grids (自动划分网格).

:func:`blocks_from_roads` cuts the community boundary into blocks along its road network;
:func:`divide` counts households per block, splits blocks that alone hold far more than the
target, and aggregates blocks into contiguous, compact grids whose household counts sit
near the target.

Everything is computed in metres in :func:`gis.crs.metric_crs` of the boundary; results are
returned in the boundary's CRS.

Rules decided here (the issue is silent on them)
------------------------------------------------
* **Which lines split blocks.** The class of a road is read from ``road_class_field`` if
  given, else from ``highway`` (OpenStreetMap), else from ``kind`` and ``kind_detail``
  (vector-tile extracts); a file with none of these has every line splitting. A line
  whose class is empty (e.g. a railway row of an OSM file with a ``highway`` column) does
  not split. Rail, subway, tram, ferry, aerialway and not-built roads (``proposed``,
  ``construction``, ``abandoned``, ``disused``, ``razed``) do not split
  (:data:`NON_SPLITTING_CLASSES`), nor do tunnels and bridges (a truthy ``tunnel``,
  ``is_tunnel``, ``bridge`` or ``is_bridge``; ``"no"``, ``"false"``, ``"0"`` are false),
  unless ``split_classes`` names the class or ``split_tunnels``/``split_bridges`` is set.
  ``split_classes`` matches any of a row's classes (for vector tiles ``kind`` and
  ``kind_detail``). ``barriers`` (rivers, walls, fences: lines, or polygons whose outline
  is used) always split.
* **Noding.** The boundary outline and the splitting lines (clipped to the boundary grown
  by 1 m) are noded together with snap rounding on a 1 µm grid
  (``shapely.union_all(grid_size=1e-6)``) and polygonised; dangles and lines past the
  boundary drop out, faces outside the boundary (or in its holes) are dropped. The blocks
  thus tile the boundary exactly: adjacent blocks share identical vertices.
* **Buildings are never split.** Footprints (the houses when they are polygons, or
  ``buildings``) that lie in more than one block by more than 0.01 m² each make those
  blocks one block (the splitting line is ignored where it crosses a building). A
  footprint crossing the community boundary is only the part inside.
* **Households.** Point houses: the ``households_field`` of each point summed per block
  (the block covering it; a point on a shared edge goes to the block listed first, as in
  :func:`gis.assign.assign_points`); a missing field or an empty value counts one. Footprint
  houses: each footprint counts for the block holding most of its area. Houses outside
  the boundary are ignored (counted in the report's attributes).
* **Oversized blocks.** A block holding more than ``(1 + band) × target`` is cut by
  straight lines that pass between buildings, never through one (every road class
  already splits blocks, so a block left oversized has no road crossing it). Candidate
  lines run at 0°, 45°, 90°, 135° and along/across the block's minimum rotated
  rectangle; for each direction the footprints (and house points) are projected on the
  normal, and every gap between their projections (at least 1 m wide; the line runs
  through its middle) is a candidate. The cut chosen brings one side closest to
  ``floor(k/2)/k`` of the block's households, ``k = round(households / target)``; ties
  go to the shorter cut. The pieces are cut again while oversized (bisection). A block
  with no such gap stays whole and is flagged.
* **Aggregation.** Blocks are joined when they share an edge longer than 1 cm (rook
  contiguity from shared boundary length; corner touches do not count), in a
  :mod:`networkx` graph; each connected part of it is divided on its own
  (:func:`_aggregate`). A grid's cost is ``((h - target) / target)²``, plus
  ``1 + 10 × (distance to the band / target)²`` when ``h`` is outside the band, plus
  ``0.02 × (1 / Polsby-Popper - 1)`` (perimeter² / (4π area) - 1, which grows steeply for
  strips); the division minimises the sum. Grids out of band come first: a division with
  fewer of them always wins. The number of grids tried: one per block holding more than
  ``(1 + band) × target`` (it is a grid alone), plus ``round(rest / target)`` and one
  either side, within what the band allows (``rest / high ≤ k ≤ rest / low``). For each:
  seeds are the oversized blocks and the populated blocks nearest the centres of a
  household-weighted k-means of block centroids (farthest-point start); the regions grow
  together, the one holding fewest households taking the neighbouring block nearest its
  centre (:func:`_grow`); then single boundary blocks move between neighbouring regions by
  steepest descent, simulated annealing (``max(20000, 300 × blocks)`` moves, temperature
  1 → 0.001) and steepest descent again. A move never disconnects a region. A region
  holding fewer than ``min_share × target`` (a pocket seeded where little can join it)
  may then give up its blocks, or go whole to the neighbour for which that lowers the
  cost; the rest is annealed again. Tries run seed by seed (fixed seeds 0, 1, 2: the
  result is deterministic), each over the numbers of grids (``round``, one more, one
  fewer); the first division that leaves only oversized blocks out of band is kept, else
  the best over all tries.
  PySAL ``spopt``'s ``MaxPHeuristic`` was tried first and dropped: its
  simulated-annealing loop can cycle without end (it did on the demo community with seed
  1), and its objective has no ceiling on households; ``AZP``/``RegionKMeansHeuristic``
  take a fixed number of regions and no band either.
* **Under-filled neighbours.** Afterwards, while two neighbouring grids both hold fewer
  than ``min_share × target``, the pair whose union is most compact is merged and the
  blocks are moved again by steepest descent (at most five rounds; a last merge pass ends
  it, so the rule holds). A grid with no household at all (a park, a campus) goes to the
  neighbour sharing its longest edge.
* **Numbering.** Grids are numbered by :func:`gis.codes.spatial_order` (rows north→south,
  west→east), as codes ``prefix + 001…`` when ``code_prefix`` is given, else ``"001"…``;
  names ``第N网格``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.assign import assign_points
from gis.codes import make_grid_code, spatial_order
from gis.crs import metric_crs, require_crs
from gis.defaults import DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from gis.errors import GeometryTypeError, InputError

__all__ = [
    "NON_SPLITTING_CLASSES",
    "band_summary",
    "blocks_from_roads",
    "divide",
    "household_weights",
    "road_splits",
]

NON_SPLITTING_CLASSES: frozenset[str] = frozenset(
    {
        "rail",
        "railway",
        "subway",
        "light_rail",
        "tram",
        "monorail",
        "narrow_gauge",
        "funicular",
        "ferry",
        "aerialway",
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "razed",
    }
)
_TUNNEL_FIELDS = ("tunnel", "is_tunnel")
_BRIDGE_FIELDS = ("bridge", "is_bridge")
_FALSE_TEXT = frozenset({"", "no", "false", "0", "n", "f", "none", "nan"})

_GRID_SIZE_M = 1e-6  # snap-rounding grid for noding
_CLIP_MARGIN_M = 1.0  # roads are clipped to the boundary grown by this
_CUT_AREA_M2 = 0.01  # a footprint is cut when two blocks each hold more than this of it
_SHARED_EDGE_M = 0.01  # rook contiguity: shared boundary longer than this
_MIN_GAP_M = 1.0  # a cut between buildings needs a gap at least this wide
_CUT_OVERSHOOT_M = 1e-3  # a cut line reaches this far past the block it cuts
_COMPACTNESS_WEIGHT = 0.02  # weight of (1 - Polsby-Popper) in a grid's cost
_ANNEAL_STEPS_PER_BLOCK = 300  # simulated-annealing moves tried per block
_ANNEAL_SEEDS = 3  # annealing runs (fixed seeds 0, 1, …) per number of grids tried
_ANNEAL_STEPS_MIN = 20_000  # at least this many moves per annealing run
_ANNEAL_T_START = 1.0  # annealing temperature at the start (cost units)


# --- road classes -----------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    try:
        return bool(value) and not pd.isna(value)
    except (TypeError, ValueError):
        return bool(value)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text.lower() if text else None


def _class_columns(roads: pd.DataFrame, road_class_field: str | None) -> list[str]:
    if road_class_field is not None:
        if road_class_field not in roads.columns:
            raise InputError(
                f"道路数据没有字段 {road_class_field!r} / roads have no column "
                f"{road_class_field!r}; columns: {list(roads.columns)}"
            )
        return [road_class_field]
    if "highway" in roads.columns:
        return ["highway"]
    return [c for c in ("kind", "kind_detail") if c in roads.columns]


def road_splits(
    roads: gpd.GeoDataFrame,
    *,
    road_class_field: str | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
) -> pd.Series:
    """Return, per road, whether it splits blocks (see the module docstring for the rule).

    >>> from shapely import LineString
    >>> r = gpd.GeoDataFrame({"highway": ["residential", "footway", None, "residential"],
    ...                       "tunnel": [None, None, None, "yes"]},
    ...                      geometry=[LineString([(0, 0), (1, 1)])] * 4, crs=4549)
    >>> road_splits(r).tolist()
    [True, True, False, False]
    >>> r = gpd.GeoDataFrame({"kind": ["major_road", "rail"], "kind_detail": ["primary", None]},
    ...                      geometry=[LineString([(0, 0), (1, 1)])] * 2, crs=4549)
    >>> road_splits(r).tolist(), road_splits(r, split_classes=["rail"]).tolist()
    ([True, False], [False, True])
    """
    columns = _class_columns(roads, road_class_field)
    wanted = None if split_classes is None else {str(c).strip().lower() for c in split_classes}
    out = np.zeros(len(roads), dtype=bool)
    for i, row in enumerate(roads[columns].itertuples(index=False) if columns else []):
        labels = {t for t in (_text(v) for v in row) if t is not None}
        if wanted is None:
            out[i] = bool(labels) and not (labels & NON_SPLITTING_CLASSES)
        else:
            out[i] = bool(labels & wanted)
    if not columns:
        out[:] = wanted is None
    for fields, allowed in ((_TUNNEL_FIELDS, split_tunnels), (_BRIDGE_FIELDS, split_bridges)):
        if allowed:
            continue
        for field in fields:
            if field in roads.columns:
                out &= ~np.array([_truthy(v) for v in roads[field]], dtype=bool)
    return pd.Series(out, index=roads.index, name="splits")


# --- geometry helpers ---------------------------------------------------------------------


def _metric_array(frame: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: CRS, what: str):
    if frame is None:
        return np.empty(0, dtype=object)
    require_crs(
        frame if isinstance(frame, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=frame), what
    )
    geo = frame.geometry.to_crs(crs).to_numpy()
    keep = ~(shapely.is_missing(geo) | shapely.is_empty(geo))
    return geo[keep]


def _boundary_m(boundary: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> shapely.Geometry:
    geoms = _metric_array(boundary, crs, "boundary / 边界")
    if len(geoms) == 0:
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    kinds = set(shapely.get_type_id(geoms).tolist())
    if not kinds <= {3, 6}:
        raise GeometryTypeError("边界必须是面 / boundary must be polygons")
    merged = shapely.union_all(shapely.make_valid(geoms), grid_size=_GRID_SIZE_M)
    return _polygonal(merged)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), [3, 6])]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def _as_lines(geoms: np.ndarray) -> np.ndarray:
    """Lines of ``geoms``: lines as they are, polygon outlines, points dropped."""
    if len(geoms) == 0:
        return geoms
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, [3, 6])
    lines = geoms.copy()
    lines[polygonal] = shapely.boundary(geoms[polygonal])
    return lines[np.isin(shapely.get_type_id(lines), [1, 2, 5])]


def _faces(boundary_m: shapely.Geometry, lines_m: np.ndarray) -> np.ndarray:
    """Polygonise ``boundary_m`` with ``lines_m``: faces tiling the boundary exactly."""
    if len(lines_m):
        lines_m = shapely.intersection(lines_m, shapely.buffer(boundary_m, _CLIP_MARGIN_M))
    edges = np.concatenate([[shapely.boundary(boundary_m)], lines_m])
    noded = shapely.union_all(edges, grid_size=_GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return faces
    inside = shapely.covered_by(shapely.point_on_surface(faces), boundary_m)
    return faces[inside & (shapely.area(faces) > 0)]


def _merge_groups(faces: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Replace each group of face positions by one face (coverage union)."""
    merged_away: set[int] = set()
    out = list(faces)
    for group in groups:
        if len(group) < 2:
            continue
        first = min(group)
        out[first] = _single(shapely.coverage_union_all(faces[group]))
        merged_away.update(g for g in group if g != first)
    return np.array([f for i, f in enumerate(out) if i not in merged_away], dtype=object)


def _single(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    return parts[0] if len(parts) == 1 else geom


def _keep_buildings_whole(faces: np.ndarray, footprints: np.ndarray) -> np.ndarray:
    """Merge faces that share a footprint (each by more than ``_CUT_AREA_M2``)."""
    if len(footprints) == 0 or len(faces) == 0:
        return faces
    tree = shapely.STRtree(faces)
    fp_pos, face_pos = tree.query(footprints, predicate="intersects")
    if len(fp_pos) == 0:
        return faces
    shared = shapely.area(shapely.intersection(footprints[fp_pos], faces[face_pos]))
    keep = shared > _CUT_AREA_M2
    graph = nx.Graph()
    graph.add_nodes_from(range(len(faces)))
    fp_pos, face_pos = fp_pos[keep], face_pos[keep]
    for fp in np.unique(fp_pos):
        holders = face_pos[fp_pos == fp]
        graph.add_edges_from((int(holders[0]), int(h)) for h in holders[1:])
    groups = [sorted(c) for c in nx.connected_components(graph) if len(c) > 1]
    return _merge_groups(faces, groups) if groups else faces


# --- houses -----------------------------------------------------------------------------------


@dataclass
class _Houses:
    """Houses in metres: geometries, households, and whether they are footprints."""

    geoms: np.ndarray
    households: np.ndarray
    footprints: bool

    @property
    def points(self) -> np.ndarray:
        """One point per house (a footprint's point on surface)."""
        return self.geoms if not self.footprints else shapely.point_on_surface(self.geoms)


def _whole_if_possible(values: np.ndarray) -> np.ndarray:
    """``values`` as int64 when every one is a whole number (to float noise), else as given."""
    whole = np.rint(values)
    if np.allclose(values, whole, rtol=0.0, atol=1e-6):
        return whole.astype(np.int64)
    return values


def band_summary(report: pd.DataFrame) -> dict:
    """Count the grids of a :func:`divide` report by where they sit against the band.

    ``in_band`` counts only grids inside the band (status ``"ok"``); ``over_unsplittable``
    (above the band, but one block with no road or gap to cut along) is counted apart from
    ``over`` and ``under``; household extremes are integers when the counts are whole.

    >>> report = pd.DataFrame({"households": [300, 362, 100, 250],
    ...                        "status": ["ok", "over-unsplittable", "under", "ok"]})
    >>> summary = band_summary(report)
    >>> summary["in_band"], summary["over_unsplittable"], summary["households_max"]
    (2, 1, 362)
    """
    status = report["status"]
    households = _whole_if_possible(report["households"].to_numpy(dtype=float))
    return {
        "grids": len(report),
        "in_band": int((status == "ok").sum()),
        "under": int((status == "under").sum()),
        "over": int((status == "over").sum()),
        "over_unsplittable": int((status == "over-unsplittable").sum()),
        "households_min": households.min().item() if len(households) else None,
        "households_max": households.max().item() if len(households) else None,
    }


def household_weights(houses: pd.DataFrame, households_field: str) -> pd.Series:
    """Households per house: the numeric ``households_field``, 1 where it is missing or empty.

    Without the field every house counts one; a value that is not a number raises
    :class:`~gis.errors.InputError` naming the row.
    """
    if households_field not in houses.columns:
        return pd.Series(1.0, index=houses.index)
    values = pd.to_numeric(houses[households_field], errors="coerce")
    bad = houses[households_field].notna() & values.isna()
    if bad.any():
        row = bad.idxmax()
        raise InputError(
            f"房屋第 {row!r} 行的户数 {houses[households_field][row]!r} 不是数字 / "
            f"houses row {row!r}: {households_field} is not a number"
        )
    return values.fillna(1.0).astype(float)


def _houses_m(
    houses: gpd.GeoDataFrame, crs: CRS, households_field: str, boundary_m: shapely.Geometry
) -> _Houses:
    require_crs(houses, "houses / 房屋")
    geo = houses.geometry.to_crs(crs).to_numpy()
    present = ~(shapely.is_missing(geo) | shapely.is_empty(geo))
    types = set(shapely.get_type_id(geo[present]).tolist())
    if types <= {0}:
        footprints = False
    elif types <= {3, 6}:
        footprints = True
    else:
        raise GeometryTypeError(
            "房屋必须全是点或全是面 (建筑轮廓) / houses must be all points or all polygons "
            f"(building footprints); got geometry types {sorted(types)}"
        )
    weights = household_weights(houses, households_field)
    if (weights < 0).any():
        row = (weights < 0).idxmax()
        raise InputError(
            f"房屋第 {row!r} 行的户数为负 / houses row {row!r}: {households_field} < 0"
        )
    households = weights.to_numpy(dtype=float)
    geo, households = geo[present], households[present]
    if footprints:
        geo = shapely.make_valid(geo)
        geo = np.array([_polygonal(g) for g in shapely.intersection(geo, boundary_m)], dtype=object)
        keep = ~shapely.is_empty(geo)
    else:
        keep = shapely.covered_by(geo, boundary_m)
    return _Houses(geo[keep], households[keep], footprints)


def _households_per_face(faces: np.ndarray, houses: _Houses, crs: CRS) -> np.ndarray:
    totals = np.zeros(len(faces))
    if len(houses.geoms) == 0 or len(faces) == 0:
        return totals
    if not houses.footprints:
        blocks = gpd.GeoDataFrame({"block": np.arange(len(faces))}, geometry=faces, crs=crs)
        pts = gpd.GeoSeries(houses.geoms, crs=crs)
        block = assign_points(pts, blocks, code_field="block").to_numpy()
        hit = pd.notna(block)
        np.add.at(totals, block[hit].astype(int), houses.households[hit])
        return totals
    owner = _footprint_owner(faces, houses.geoms)
    hit = owner >= 0
    np.add.at(totals, owner[hit], houses.households[hit])
    return totals


def _footprint_owner(faces: np.ndarray, footprints: np.ndarray) -> np.ndarray:
    """Position of the face holding most of each footprint's area (-1: none)."""
    owner = np.full(len(footprints), -1)
    if len(footprints) == 0 or len(faces) == 0:
        return owner
    fp_pos, face_pos = shapely.STRtree(faces).query(footprints, predicate="intersects")
    if len(fp_pos) == 0:
        return owner
    area = shapely.area(shapely.intersection(footprints[fp_pos], faces[face_pos]))
    order = np.lexsort((face_pos, -area, fp_pos))
    fp_sorted = fp_pos[order]
    first = np.r_[True, fp_sorted[1:] != fp_sorted[:-1]]
    owner[fp_sorted[first]] = face_pos[order][first]
    return owner


# --- splitting oversized blocks -----------------------------------------------------------------


def _cut_candidates(
    face: shapely.Geometry, angle: float, obstacles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (along the normal at ``angle``) of lines through gaps between obstacles."""
    normal = np.array([math.cos(angle), math.sin(angle)])
    coords = shapely.get_coordinates(face)
    proj = coords @ normal
    lo, hi = proj.min(), proj.max()
    if len(obstacles):
        pts, index = shapely.get_coordinates(obstacles, return_index=True)
        p = pts @ normal
        starts = np.full(len(obstacles), np.inf)
        ends = np.full(len(obstacles), -np.inf)
        np.minimum.at(starts, index, p)
        np.maximum.at(ends, index, p)
        order = np.argsort(starts)
        starts, ends = starts[order], np.maximum.accumulate(ends[order])
        gap_lo = np.r_[lo, ends]
        gap_hi = np.r_[starts, hi]
    else:
        gap_lo, gap_hi = np.array([lo]), np.array([hi])
    wide = gap_hi - gap_lo >= _MIN_GAP_M
    mids = (gap_lo[wide] + gap_hi[wide]) / 2
    mids = mids[(mids > lo + _MIN_GAP_M / 2) & (mids < hi - _MIN_GAP_M / 2)]
    return mids, normal


def _cut_line(face: shapely.Geometry, offset: float, normal: np.ndarray) -> shapely.Geometry:
    xmin, ymin, xmax, ymax = shapely.bounds(face)
    reach = math.hypot(xmax - xmin, ymax - ymin) + 10
    centre = normal * offset
    along = np.array([-normal[1], normal[0]])
    cx, cy = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    # the point of the line nearest the bbox centre
    c = np.array([cx, cy])
    c = c - normal * (c @ normal) + centre
    line = shapely.LineString([c - along * reach, c + along * reach])
    return shapely.intersection(line, shapely.buffer(face, _CUT_OVERSHOOT_M))


def _pieces(face: shapely.Geometry, line: shapely.Geometry) -> np.ndarray:
    noded = shapely.union_all([shapely.boundary(face), line], grid_size=_GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return faces[shapely.covered_by(shapely.point_on_surface(faces), face)]


def _split_oversized(
    face: shapely.Geometry,
    item_pts: np.ndarray,
    item_w: np.ndarray,
    obstacles: np.ndarray,
    *,
    target: float,
    ceiling: float,
    depth: int = 0,
) -> list[shapely.Geometry]:
    """Cut lines (between obstacles) that bisect ``face`` until no piece is oversized."""
    inside = shapely.covered_by(item_pts, face) if len(item_pts) else np.zeros(0, bool)
    pts, w = item_pts[inside], item_w[inside]
    total = float(w.sum())
    if total <= ceiling or depth > 12 or len(pts) < 2:
        return []
    k = max(2, round(total / target))
    want = total * (k // 2) / k
    near = obstacles[shapely.intersects(obstacles, face)] if len(obstacles) else obstacles
    rect = shapely.oriented_envelope(face)
    rc = shapely.get_coordinates(rect)
    axis = math.atan2(rc[1, 1] - rc[0, 1], rc[1, 0] - rc[0, 0]) if len(rc) > 2 else 0.0
    angles = [0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4, axis, axis + math.pi / 2]
    xy = shapely.get_coordinates(pts)
    best: tuple[float, float, float, np.ndarray] | None = None
    for angle in angles:
        mids, normal = _cut_candidates(face, angle, near)
        if len(mids) == 0:
            continue
        proj = xy @ normal
        for mid in mids:
            left = float(w[proj < mid].sum())
            if left <= 0 or left >= total:
                continue
            miss = min(abs(left - want), abs(total - left - want))
            line = _cut_line(face, mid, normal)
            key = (round(miss, 6), shapely.length(line))
            if best is None or key < (best[0], best[1]):
                best = (key[0], key[1], mid, normal)
    if best is None:
        return []
    line = _cut_line(face, best[2], best[3])
    cuts = [line]
    for piece in _pieces(face, line):
        cuts += _split_oversized(
            piece, pts, w, near, target=target, ceiling=ceiling, depth=depth + 1
        )
    return cuts


# --- adjacency and aggregation -------------------------------------------------------------------


def _adjacency(polys: np.ndarray) -> nx.Graph:
    """Rook contiguity: polygons sharing a boundary longer than ``_SHARED_EDGE_M``."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(polys)))
    if len(polys) < 2:
        return graph
    a, b = shapely.STRtree(polys).query(polys, predicate="touches")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return graph
    shared = shapely.length(
        shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b]))
    )
    for i, j, length in zip(a, b, shared, strict=True):
        if length > _SHARED_EDGE_M:
            graph.add_edge(int(i), int(j), length=float(length))
    return graph


@dataclass
class _BlockGraph:
    """What aggregation needs of the blocks: households, areas, perimeters, centroids and,
    per block, its rook neighbours with the length of the shared edge (metres)."""

    weights: np.ndarray
    areas: np.ndarray
    perimeters: np.ndarray
    centroids: np.ndarray
    neighbours: list[list[tuple[int, float]]]
    graph: nx.Graph

    @classmethod
    def of(cls, polys: np.ndarray, weights: np.ndarray, graph: nx.Graph) -> _BlockGraph:
        neighbours: list[list[tuple[int, float]]] = [[] for _ in range(len(polys))]
        for i, j, data in sorted(graph.edges(data=True)):
            neighbours[i].append((j, data["length"]))
            neighbours[j].append((i, data["length"]))
        for row in neighbours:
            row.sort()
        return cls(
            weights=np.asarray(weights, dtype=float),
            areas=shapely.area(polys),
            perimeters=shapely.length(polys),
            centroids=shapely.get_coordinates(shapely.centroid(polys)).reshape(-1, 2),
            neighbours=neighbours,
            graph=graph,
        )


@dataclass
class _Objective:
    """Cost of one grid: balance toward the target plus a compactness penalty.

    ``((h - target) / target)² + out-of-band + compactness × (1 - Polsby-Popper)``, where
    out-of-band is ``1 + 10 × (distance to the band / target)²`` outside ``[low, high]``
    and 0 inside: a grid out of band costs more than any in-band deviation or shape.
    """

    target: float
    low: float
    high: float
    compactness: float = _COMPACTNESS_WEIGHT

    def balance(self, households: float) -> float:
        cost = ((households - self.target) / self.target) ** 2
        outside = max(0.0, self.low - households, households - self.high)
        if outside > 1e-9:
            cost += 1.0 + 10.0 * (outside / self.target) ** 2
        return cost

    def __call__(self, households: float, area_m2: float, perimeter_m: float) -> float:
        if area_m2 <= 0:
            return self.balance(households)
        inverse_pp = perimeter_m**2 / (4 * math.pi * area_m2)  # 1 for a disc, grows with length
        return self.balance(households) + self.compactness * max(inverse_pp - 1.0, 0.0)


class _Partition:
    """Blocks labelled with regions, with each region's households, area, perimeter and
    cost kept up to date as single blocks move (perimeter = sum of block perimeters minus
    twice the edges shared inside the region). A region whose last block leaves is gone."""

    def __init__(
        self,
        blocks: _BlockGraph,
        labels: np.ndarray,
        objective: _Objective,
        vanish_below: float = 0.0,
    ):
        self.blocks, self.labels, self.objective = blocks, labels.copy(), objective
        self.vanish_below = vanish_below
        regions = [int(r) for r in np.unique(labels[labels >= 0])]
        self.households = {r: float(blocks.weights[labels == r].sum()) for r in regions}
        self.area = {r: float(blocks.areas[labels == r].sum()) for r in regions}
        self.perimeter = {r: float(blocks.perimeters[labels == r].sum()) for r in regions}
        self.members = {r: set(np.flatnonzero(labels == r).tolist()) for r in regions}
        for i, row in enumerate(blocks.neighbours):
            for j, length in row:
                if i < j and labels[i] == labels[j] and labels[i] >= 0:
                    self.perimeter[int(labels[i])] -= 2 * length
        self.costs = {r: self._cost(r) for r in regions}

    def _cost(self, region: int) -> float:
        return self.objective(self.households[region], self.area[region], self.perimeter[region])

    def _outside(self, households: float) -> bool:
        o = self.objective
        return not o.low - 1e-9 <= households <= o.high + 1e-9

    def score(self) -> tuple[int, float]:
        """Grids out of band first, then the total cost (lower is better)."""
        outside = sum(1 for h in self.households.values() if self._outside(h))
        return outside, round(sum(self.costs[r] for r in sorted(self.costs)), 9)

    def _shared(self, block: int, region: int) -> float:
        labels = self.labels
        return sum(length for j, length in self.blocks.neighbours[block] if labels[j] == region)

    def _after(self, block: int, to: int) -> tuple[tuple[float, float, float], ...]:
        """(households, area, perimeter) of the block's region and of ``to`` after a move."""
        b, frm = self.blocks, int(self.labels[block])
        w, a, p = b.weights[block], b.areas[block], b.perimeters[block]
        s_from, s_to = self._shared(block, frm), self._shared(block, to)
        return (
            (self.households[frm] - w, self.area[frm] - a, self.perimeter[frm] - p + 2 * s_from),
            (self.households[to] + w, self.area[to] + a, self.perimeter[to] + p - 2 * s_to),
        )

    def move_gain(self, block: int, to: int) -> float:
        """Cost saved by moving ``block`` into region ``to`` (negative: worse)."""
        frm = int(self.labels[block])
        left, grown = self._after(block, to)
        after = self.objective(*grown)
        if len(self.members[frm]) > 1:
            after += self.objective(*left)
        return self.costs[frm] + self.costs[to] - after

    def can_leave(self, block: int, *, may_empty: bool = True) -> bool:
        """Whether ``block``'s region stays connected without it, or is then empty (allowed,
        with ``may_empty``, for a region holding fewer than ``vanish_below`` households)."""
        region = int(self.labels[block])
        labels, neighbours = self.labels, self.blocks.neighbours
        if len(self.members[region]) == 1:
            return may_empty and self.households[region] < self.vanish_below
        same = [j for j, _ in neighbours[block] if labels[j] == region]
        if len(same) <= 1:
            return True
        wanted, seen, stack = set(same), {same[0], block}, [same[0]]
        wanted.discard(same[0])
        while stack and wanted:
            for j, _ in neighbours[stack.pop()]:
                if j not in seen and labels[j] == region:
                    seen.add(j)
                    wanted.discard(j)
                    stack.append(j)
        return not wanted

    def move(self, block: int, to: int) -> None:
        frm = int(self.labels[block])
        (h_f, a_f, p_f), (h_t, a_t, p_t) = self._after(block, to)
        self.households[frm], self.area[frm], self.perimeter[frm] = h_f, a_f, p_f
        self.households[to], self.area[to], self.perimeter[to] = h_t, a_t, p_t
        self.members[frm].discard(block)
        self.members[to].add(block)
        self.labels[block] = to
        self.costs[to] = self._cost(to)
        if self.members[frm]:
            self.costs[frm] = self._cost(frm)
        else:
            for table in (self.households, self.area, self.perimeter, self.members, self.costs):
                del table[frm]

    def anneal(
        self, steps: int, seed: int = 0, t_start: float | None = None, t_end: float = 1e-3
    ) -> None:
        """Simulated annealing over single-block moves (fixed seed: deterministic), keeping
        the best partition seen by :meth:`score`. No region is emptied."""
        edges = np.array(sorted(self.blocks.graph.edges()), dtype=int).reshape(-1, 2)
        if len(edges) == 0 or len(self.households) < 2 or steps <= 0:
            return
        t_start = _ANNEAL_T_START if t_start is None else t_start
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(edges), size=steps)
        sides = rng.integers(0, 2, size=steps)
        chance = rng.random(steps)
        temps = t_start * (t_end / t_start) ** np.linspace(0.0, 1.0, steps)
        best_labels, best_score = self.labels.copy(), self.score()
        labels = self.labels
        for step in range(steps):
            i, j = edges[picks[step]]
            block, other = (int(i), int(j)) if sides[step] else (int(j), int(i))
            here, to = int(labels[block]), int(labels[other])
            if here == to:
                continue
            gain = self.move_gain(block, to)
            if gain <= 0 and (
                len(self.members[here]) == 1 or chance[step] >= math.exp(gain / temps[step])
            ):
                continue
            if not self.can_leave(block, may_empty=False):
                continue
            self.move(block, to)
            if gain > 0:
                score = self.score()
                if score < best_score:
                    best_labels, best_score = labels.copy(), score
        if self.score() > best_score:
            self.__init__(self.blocks, best_labels, self.objective, self.vanish_below)  # type: ignore[misc]

    def dissolve_pockets(self) -> bool:
        """Give each region holding fewer than ``vanish_below`` households whole to the
        neighbouring region with which that lowers the cost most, if any does; return
        whether a region went."""
        labels, neighbours = self.labels, self.blocks.neighbours
        for region in sorted(self.households):
            if self.households[region] >= self.vanish_below:
                continue
            shared: dict[int, float] = {}
            for i in sorted(self.members[region]):
                for j, length in neighbours[i]:
                    if labels[j] != region:
                        shared[int(labels[j])] = shared.get(int(labels[j]), 0.0) + length
            best: tuple[float, int] | None = None
            for other, length in sorted(shared.items()):
                merged = self.objective(
                    self.households[region] + self.households[other],
                    self.area[region] + self.area[other],
                    self.perimeter[region] + self.perimeter[other] - 2 * length,
                )
                gain = self.costs[region] + self.costs[other] - merged
                if gain > 1e-9 and (best is None or gain > best[0]):
                    best = (gain, other)
            if best is not None:
                relabelled = labels.copy()
                relabelled[relabelled == region] = best[1]
                self.__init__(self.blocks, relabelled, self.objective, self.vanish_below)  # type: ignore[misc]
                return True
        return False

    def improve(self, max_sweeps: int = 60, *, may_empty: bool = False) -> None:
        """Local search: sweep the blocks in order, moving each boundary block to the
        neighbouring region where that lowers the total cost most, while any move helps
        (with ``may_empty``, a region under ``vanish_below`` may give up its last block)."""
        labels, neighbours = self.labels, self.blocks.neighbours
        for _ in range(max_sweeps):
            moved = False
            for block in range(len(labels)):
                here = int(labels[block])
                if here < 0:
                    continue
                targets = sorted({int(labels[j]) for j, _ in neighbours[block]} - {here, -1})
                if not targets:
                    continue
                gain, neg_to = max((self.move_gain(block, t), -t) for t in targets)
                if gain > 1e-9 and self.can_leave(block, may_empty=may_empty):
                    self.move(block, -neg_to)
                    moved = True
            if not moved:
                return


def _k_means_centres(xy: np.ndarray, w: np.ndarray, k: int, iterations: int = 30) -> np.ndarray:
    """Household-weighted k-means of block centroids, seeded by farthest-point sampling
    from the weighted mean (deterministic)."""
    mean = (xy * w[:, None]).sum(axis=0) / w.sum()
    first = int(np.argmax(np.hypot(*(xy - mean).T)))
    chosen = [first]
    dist = np.hypot(*(xy - xy[first]).T)
    while len(chosen) < min(k, len(xy)):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    centres = xy[chosen].astype(float)
    for _ in range(iterations):
        d = np.hypot(xy[:, None, 0] - centres[None, :, 0], xy[:, None, 1] - centres[None, :, 1])
        nearest = np.argmin(d, axis=1)
        new = centres.copy()
        for c in range(len(centres)):
            mine = nearest == c
            if w[mine].sum() > 0:
                new[c] = (xy[mine] * w[mine, None]).sum(axis=0) / w[mine].sum()
        if np.allclose(new, centres):
            break
        centres = new
    return centres


def _grow(blocks: _BlockGraph, nodes: list[int], k: int, target: float, high: float) -> np.ndarray:
    """Seed ``k`` regions on ``nodes`` (blocks over ``high`` first, then the populated
    blocks nearest the k-means centres) and grow them together: the region holding fewest
    households takes the unassigned neighbouring block nearest its centre, preferring one
    that keeps it within ``high``, until every region reaches ``target``; blocks still
    unassigned then go to the neighbouring region holding fewest households."""
    w, xy = blocks.weights, blocks.centroids
    labels = np.full(len(w), -1)
    nodes_arr = np.array(nodes)
    populated = nodes_arr[w[nodes_arr] > 0]
    heavy = [int(i) for i in populated if w[i] > high]
    seeds: list[int] = heavy[:k]
    free = [int(i) for i in populated if w[i] <= high]
    if len(seeds) < k and free:
        centres = _k_means_centres(xy[free], w[free], k - len(seeds))
        taken = set(seeds)
        for c in centres:
            order = np.lexsort((free, np.hypot(*(xy[free] - c).T)))
            pick = next((free[o] for o in order if free[o] not in taken), None)
            if pick is not None:
                seeds.append(pick)
                taken.add(pick)
    if not seeds:
        seeds = [nodes[0]]
    centre = {r: xy[s] for r, s in enumerate(seeds)}
    totals = {r: float(w[s]) for r, s in enumerate(seeds)}
    for r, s in enumerate(seeds):
        labels[s] = r
    in_nodes = np.zeros(len(w), dtype=bool)
    in_nodes[nodes_arr] = True

    def frontier(r: int) -> list[int]:
        members = np.flatnonzero(labels == r)
        return sorted(
            {j for i in members for j, _ in blocks.neighbours[i] if labels[j] < 0 and in_nodes[j]}
        )

    growing = set(totals)
    while growing:
        r = min(growing, key=lambda q: (totals[q], q))
        options = frontier(r)
        if not options or totals[r] >= target:
            growing.discard(r)
            continue
        dist = np.hypot(*(xy[options] - centre[r]).T)
        fits = np.array([totals[r] + w[j] <= high for j in options])
        pick = options[int(np.lexsort((options, dist, ~fits))[0])]
        labels[pick] = r
        totals[r] += float(w[pick])
    while (labels[nodes_arr] < 0).any():
        progress = False
        for i in nodes:
            if labels[i] >= 0:
                continue
            near = sorted({int(labels[j]) for j, _ in blocks.neighbours[i] if labels[j] >= 0})
            if near:
                r = min(near, key=lambda q: (totals[q], q))
                labels[i] = r
                totals[r] += float(w[i])
                progress = True
        if not progress:  # cannot happen on a connected component
            break
    return labels


def _k_choices(households: float, heavy: np.ndarray, target: float, low: float, high: float):
    """Numbers of regions worth trying for a component: each block above ``high`` alone,
    the rest in regions that the band allows, near ``rest / target``."""
    rest = households - float(heavy.sum())
    if rest <= 0:
        return [max(1, len(heavy))]
    lo_k, hi_k = math.ceil(rest / high - 1e-9), math.floor(rest / low + 1e-9) if low > 0 else 10**9
    centre = max(1, round(rest / target))
    ks = [k for k in (centre, centre + 1, centre - 1) if k >= 1 and lo_k <= k <= hi_k]
    if not ks:
        ks = [centre]
    return [len(heavy) + k for k in ks]


def _apportion(components: list[list[int]], weights: np.ndarray, n_grids: int) -> list[int]:
    """Grids per connected component for exactly ``n_grids`` in all: one each, the rest by
    households (largest remainder; ties to the earlier component)."""
    if n_grids < len(components):
        raise InputError(
            f"社区由 {len(components)} 块互不相邻的区域组成，不能只分 {n_grids} 个网格 / the "
            f"community has {len(components)} separate parts: fewer than {n_grids} grids"
        )
    totals = np.array([float(weights[c].sum()) for c in components])
    extra = n_grids - len(components)
    share = totals / totals.sum() * extra if totals.sum() > 0 else np.zeros(len(components))
    ks = np.floor(share).astype(int)
    order = sorted(range(len(components)), key=lambda i: (-(share[i] - ks[i]), i))
    for i in order[: extra - int(ks.sum())]:
        ks[i] += 1
    return [1 + int(k) for k in ks]


def _aggregate(
    polys: np.ndarray,
    weights: np.ndarray,
    graph: nx.Graph,
    *,
    target: float,
    band: float,
    min_share: float,
    n_grids: int | None = None,
) -> np.ndarray:
    """Region label per block: contiguous regions balanced toward ``target`` (see the
    module docstring, *Aggregation*); with ``n_grids``, exactly that many regions (no region
    is dissolved or merged)."""
    low, high = (1 - band) * target, (1 + band) * target
    blocks = _BlockGraph.of(polys, weights, graph)
    objective = _Objective(target, low, high)
    labels = np.full(len(polys), -1)
    offset = 0
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: c[0])
    fixed = None if n_grids is None else _apportion(components, weights, n_grids)
    for c, nodes in enumerate(components):
        w = blocks.weights[nodes]
        heavy = w[w > high]
        best: tuple[tuple[int, float], np.ndarray] | None = None
        ks = _k_choices(float(w.sum()), heavy, target, low, high) if fixed is None else [fixed[c]]
        if fixed is not None and fixed[c] > len(nodes):
            raise InputError(
                f"只有 {len(nodes)} 个街块（道路围合或建筑间可切分的区域），不能分成 {fixed[c]}"
                f" 个网格 / only {len(nodes)} blocks to make {fixed[c]} grids from"
            )
        tries = [(k, seed) for seed in range(_ANNEAL_SEEDS) for k in ks]
        for k, seed in tries:
            part = _Partition(
                blocks, _grow(blocks, nodes, k, target, high), objective, min_share * target
            )
            steps = max(_ANNEAL_STEPS_MIN, _ANNEAL_STEPS_PER_BLOCK * len(nodes))
            part.improve()
            part.anneal(steps, seed=seed)
            if fixed is None:
                part.improve(may_empty=True)
                while part.dissolve_pockets():
                    pass
            if len(part.households) < k:  # a pocket gave itself up: balance the rest again
                part.anneal(steps, seed=seed)
                part.improve()
            if fixed is not None and len(part.households) < k:
                continue  # fewer seeds than grids (too few populated blocks)
            score = part.score()
            if best is None or score < best[0]:
                best = (score, part.labels)
            if best[0][0] <= len(heavy):
                break  # only blocks that alone exceed the band are out of it
        if best is None:
            raise InputError(
                f"有人居住的街块太少，不能分成 {ks[0]} 个网格 / too few populated blocks to make"
                f" {ks[0]} grids"
            )
        mine = best[1][nodes]
        _, dense = np.unique(mine, return_inverse=True)
        labels[nodes] = dense + offset
        offset += int(dense.max()) + 1
    if n_grids is not None:
        return labels
    for _ in range(5):
        merged = _merge_underfilled(polys, weights, labels, graph, min_share * target)
        if (merged == labels).all():
            break
        _, labels = np.unique(merged, return_inverse=True)
        part = _Partition(blocks, labels, objective, min_share * target)
        part.improve()
        labels = part.labels
    _, labels = np.unique(
        _merge_underfilled(polys, weights, labels, graph, min_share * target), return_inverse=True
    )
    return labels


def _polsby_popper(geom: shapely.Geometry) -> float:
    perimeter = shapely.length(geom)
    return float(4 * math.pi * shapely.area(geom) / perimeter**2) if perimeter > 0 else 0.0


def _merge_underfilled(
    polys: np.ndarray, weights: np.ndarray, labels: np.ndarray, graph: nx.Graph, low: float
) -> np.ndarray:
    """Merge empty regions into a neighbour, then under-filled neighbour pairs."""
    labels = labels.copy()

    def region_graph() -> tuple[nx.Graph, dict[int, float]]:
        totals = {int(r): float(weights[labels == r].sum()) for r in np.unique(labels)}
        rg = nx.Graph()
        rg.add_nodes_from(totals)
        for i, j, data in graph.edges(data=True):
            a, b = int(labels[i]), int(labels[j])
            if a != b:
                prev = rg.get_edge_data(a, b, {"length": 0.0})["length"]
                rg.add_edge(a, b, length=prev + data["length"])
        return rg, totals

    def union(r: int, s: int) -> shapely.Geometry:
        return shapely.coverage_union_all(polys[(labels == r) | (labels == s)])

    while True:
        rg, totals = region_graph()
        empty = [r for r in sorted(totals) if totals[r] <= 0 and rg.degree(r) > 0]
        if empty:
            r = empty[0]
            s = max(rg.neighbors(r), key=lambda n: (rg[r][n]["length"], -n))
            labels[labels == r] = s
            continue
        pairs = [(r, s) for r, s in rg.edges() if totals[r] < low and totals[s] < low]
        if not pairs:
            return labels
        r, s = max(pairs, key=lambda p: (_polsby_popper(union(*p)), -min(p), -max(p)))
        labels[labels == max(r, s)] = min(r, s)


def divide(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    roads: gpd.GeoDataFrame,
    houses: gpd.GeoDataFrame,
    *,
    target_households: float = DEFAULT_TARGET_HOUSEHOLDS,
    households_field: str = "households",
    road_class_field: str | None = None,
    band: float = DEFAULT_HOUSEHOLD_BAND,
    min_share: float = 0.6,
    code_prefix: str | None = None,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
    n_grids: int | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Divide ``boundary`` into contiguous grids of about ``target_households`` households,
    or into exactly ``n_grids`` grids balanced by households.

    Parameters
    ----------
    boundary : GeoDataFrame or GeoSeries
        The community (polygons; several are unioned). Its CRS is the output CRS.
    roads : GeoDataFrame
        Road lines (any CRS); see the module docstring for which of them split blocks.
    houses : GeoDataFrame
        House points, or building footprints (polygons), with ``households_field`` (a
        missing field or empty value counts one household per house).
    target_households : float, default 300
        Households per grid aimed at.
    band : float, default 0.2
        Grids within ``target × (1 ± band)`` are in band; ``(1 - band) × target`` is the
        max-p floor and ``(1 + band) × target`` the size above which a block is split.
    min_share : float, default 0.6
        No two neighbouring grids both hold fewer than ``min_share × target``.
    code_prefix : str, optional
        12 digits (division + street + community): codes become 15-digit grid codes.
    buildings : GeoDataFrame or GeoSeries, optional
        Building footprints to keep whole when ``houses`` are points.
    barriers : GeoDataFrame or GeoSeries, optional
        Rivers, walls, fences: lines (or polygons, by their outline) that always split.
    split_classes, split_tunnels, split_bridges
        Override which road lines split blocks (:func:`road_splits`).
    n_grids : int, optional
        Make exactly this many grids (one per eligible grid worker, say): the target becomes
        the community's households divided by ``n_grids`` (``target_households`` is then
        ignored) and no grid is dissolved or merged afterwards. An
        :class:`~gis.errors.InputError` when there are fewer blocks (after cutting
        oversized ones between buildings) or populated blocks than grids.

    Returns
    -------
    grids : GeoDataFrame
        ``code``, ``name``, ``households``, ``area_m2``, ``polsby_popper``, geometry (in the
        boundary's CRS), in numbering order.
    report : DataFrame
        One row per grid: ``code``, ``name``, ``households``, ``share_of_target``,
        ``area_m2``, ``polsby_popper``, ``blocks``, ``status`` (``"ok"``, ``"under"`` below
        the band, ``"over"`` above it; ``"over-unsplittable"`` for a block that holds too
        many households and has no gap between buildings to cut along). ``report.attrs``
        holds the totals (houses used, houses outside the boundary, blocks, target).
        Households are integers unless ``households_field`` holds fractions (a household
        count shared between buildings) that do not add up to whole numbers per grid.
        :func:`band_summary` counts the grids per status.
    """
    if not target_households > 0:
        raise InputError(f"目标户数必须为正 / target_households must be > 0: {target_households}")
    if not 0 <= band < 1:
        raise InputError(f"band 必须在 [0, 1) / band must be in [0, 1): {band}")
    if not 0 <= min_share <= 1:
        raise InputError(f"min_share 必须在 [0, 1] / min_share must be in [0, 1]: {min_share}")
    if n_grids is not None and (
        isinstance(n_grids, bool) or int(n_grids) != n_grids or n_grids < 1
    ):
        raise InputError(f"网格数必须为正整数 / n_grids must be a positive integer: {n_grids}")
    if code_prefix is not None:
        make_grid_code(code_prefix, 1)  # validates the prefix
    out_crs = require_crs(_frame(boundary), "boundary / 边界")
    crs = metric_crs(_frame(boundary))
    boundary_m = _boundary_m(boundary, crs)

    lines = _cutting_lines(
        roads, barriers, crs, road_class_field=road_class_field, split_classes=split_classes,
        split_tunnels=split_tunnels, split_bridges=split_bridges,
    )  # fmt: skip
    house_m = _houses_m(houses, crs, households_field, boundary_m)
    if n_grids is not None:
        total = float(np.sum(house_m.households))
        if total <= 0:
            raise InputError("边界内没有住户，无法按人数划分 / no households inside the boundary")
        target_households = total / n_grids
    ceiling = (1 + band) * target_households
    footprints = house_m.geoms if house_m.footprints else np.empty(0, dtype=object)
    extra = _metric_array(buildings, crs, "buildings / 建筑")
    extra = extra[np.isin(shapely.get_type_id(extra), [3, 6])] if len(extra) else extra
    if len(extra):
        extra = shapely.intersection(shapely.make_valid(extra), boundary_m)
        extra = extra[~shapely.is_empty(extra)]
    footprints = np.concatenate([footprints, extra])

    faces = _keep_buildings_whole(_faces(boundary_m, lines), footprints)
    weights = _households_per_face(faces, house_m, crs)
    obstacles = np.concatenate([footprints, house_m.geoms if not house_m.footprints else []])
    item_pts, item_w = house_m.points, house_m.households
    cuts: list[shapely.Geometry] = []
    for face in faces[weights > ceiling]:
        cuts += _split_oversized(
            face, item_pts, item_w, obstacles, target=target_households, ceiling=ceiling
        )
    if cuts:
        lines = np.concatenate([lines, np.array(cuts, dtype=object)])
        faces = _keep_buildings_whole(_faces(boundary_m, lines), footprints)
        weights = _households_per_face(faces, house_m, crs)

    graph = _adjacency(faces)
    labels = _aggregate(
        faces,
        weights,
        graph,
        target=target_households,
        band=band,
        min_share=min_share,
        n_grids=n_grids,
    )

    regions = np.unique(labels)
    geoms = np.array(
        [_single(shapely.coverage_union_all(faces[labels == r])) for r in regions], dtype=object
    )
    households = _whole_if_possible(np.array([weights[labels == r].sum() for r in regions]))
    n_blocks = np.array([(labels == r).sum() for r in regions])
    unsplittable = np.array(
        [bool(((labels == r) & (weights > ceiling)).any()) for r in regions], dtype=bool
    )
    grids_m = gpd.GeoDataFrame(
        {
            "households": households,
            "area_m2": shapely.area(geoms),
            "polsby_popper": [_polsby_popper(g) for g in geoms],
        },
        geometry=geoms,
        crs=crs,
    )
    order = spatial_order(grids_m)
    grids_m = grids_m.iloc[order].reset_index(drop=True)
    n_blocks, unsplittable = n_blocks[order], unsplittable[order]
    seq = np.arange(1, len(grids_m) + 1)
    codes = [make_grid_code(code_prefix, int(s)) if code_prefix else f"{s:03d}" for s in seq]
    grids_m.insert(0, "code", codes)
    grids_m.insert(1, "name", [f"第{s}网格" for s in seq])
    grids = grids_m.to_crs(out_crs)

    low, high = (1 - band) * target_households, ceiling
    status = np.where(
        grids_m["households"] > high + 1e-9,
        np.where(unsplittable, "over-unsplittable", "over"),
        np.where(grids_m["households"] < low - 1e-9, "under", "ok"),
    )
    report = pd.DataFrame(
        {
            "code": codes,
            "name": grids_m["name"],
            "households": grids_m["households"],
            "share_of_target": grids_m["households"] / target_households,
            "area_m2": grids_m["area_m2"],
            "polsby_popper": grids_m["polsby_popper"],
            "blocks": n_blocks,
            "status": status,
        }
    )
    report.attrs.update(
        {
            "target_households": target_households,
            "band": band,
            "houses_used": len(house_m.geoms),
            "houses_outside": int(len(houses) - len(house_m.geoms)),
            "households_total": _whole_if_possible(np.array([weights.sum()]))[0].item(),
            "blocks": len(faces),
            "cuts_between_buildings": len(cuts),
            "metric_crs": crs.to_string(),
        }
    )
    return grids, report


def _frame(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def _cutting_lines(
    roads: gpd.GeoDataFrame,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None,
    crs,
    *,
    road_class_field: str | None,
    split_classes: Iterable[str] | None,
    split_tunnels: bool,
    split_bridges: bool,
) -> np.ndarray:
    """The lines that cut blocks, in ``crs``: the splitting roads (:func:`road_splits`) and
    the barriers (polygons by their outline)."""
    split = road_splits(
        roads,
        road_class_field=road_class_field,
        split_classes=split_classes,
        split_tunnels=split_tunnels,
        split_bridges=split_bridges,
    ).to_numpy()
    return np.concatenate(
        [
            _as_lines(_metric_array(roads.loc[split], crs, "roads / 道路")),
            _as_lines(_metric_array(barriers, crs, "barriers / 隔断")),
        ]
    )


def blocks_from_roads(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    roads: gpd.GeoDataFrame,
    *,
    road_class_field: str | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Return the blocks into which the splitting roads cut ``boundary`` (boundary's CRS).

    The blocks tile the boundary exactly (no gap, no overlap, identical shared vertices).
    With ``buildings``, blocks that would cut a footprint are one block. Columns:
    ``block`` (0, 1, … in :func:`gis.codes.spatial_order`), ``area_m2``, geometry.

    >>> from shapely import LineString, box
    >>> x, y = 642000, 3459000  # EPSG:4549 (CGCS2000 GK CM 120E), North Bund, Shanghai
    >>> b = gpd.GeoSeries([box(x, y, x + 100, y + 100)], crs=4549)
    >>> r = gpd.GeoDataFrame({"highway": ["residential", "footway", "rail"]}, crs=4549,
    ...     geometry=[LineString([(x + 50, y - 10), (x + 50, y + 110)]),
    ...               LineString([(x, y + 50), (x + 50, y + 50)]),
    ...               LineString([(x - 5, y + 20), (x + 105, y + 20)])])
    >>> blocks_from_roads(b, r)["area_m2"].round(6).tolist()  # 3 blocks; rail does not cut
    [2500.0, 5000.0, 2500.0]
    """
    out_crs = require_crs(_frame(boundary), "boundary / 边界")
    crs = metric_crs(_frame(boundary))
    boundary_m = _boundary_m(boundary, crs)
    lines = _cutting_lines(
        roads, barriers, crs, road_class_field=road_class_field, split_classes=split_classes,
        split_tunnels=split_tunnels, split_bridges=split_bridges,
    )  # fmt: skip
    footprints = _metric_array(buildings, crs, "buildings / 建筑")
    if len(footprints):
        footprints = shapely.intersection(shapely.make_valid(footprints), boundary_m)
        footprints = footprints[~shapely.is_empty(footprints)]
    faces = _keep_buildings_whole(_faces(boundary_m, lines), footprints)
    blocks = gpd.GeoDataFrame({"area_m2": shapely.area(faces)}, geometry=faces, crs=crs)
    blocks = blocks.iloc[spatial_order(blocks)].reset_index(drop=True)
    blocks.insert(0, "block", np.arange(len(blocks)))
    return blocks.to_crs(out_crs)
