"""Repair a division of a community into grids so that it passes :func:`validate`.

:func:`repair` returns the repaired grids and a change log, one row per fix;
:func:`changes_to_geojson` serialises the log for a map or a ``--log`` file.

How it works (in metres; see the end for which CRS): every invalid
grid is made valid first; then the boundary and the edges of all grids are noded together
(``shapely.union_all`` on a ``noise_m / 10`` precision grid) and polygonised into *faces*,
the smallest pieces any two edges cut the plane into. Each face is covered by zero, one or
several grids and lies inside or outside the boundary. The rules below give every face
inside the boundary exactly one grid, and each grid is the coverage union of its faces, so
neighbours share their edges bit for bit and the result is a clean coverage by
construction. Rules, in the order applied:

* **fix_invalid.** An invalid grid is repaired with ``shapely.make_valid(method=
  "structure")`` (keeps the area the rings enclose; polygonal parts only). The change is
  measured against the area GEOS gives the invalid input (for a bow-tie the lobes cancel).
  A hole left inside one grid and filled by no other grid goes back to that grid (see
  *fill_gap*).
* **clip_outside.** Faces outside the boundary are dropped (one row per grid and piece).
* **resolve_overlap.** A face covered by several grids goes to the grid earliest in
  ``priority`` (codes, earlier wins; grids not listed come after the listed ones), then to
  the grid with the smaller area (after fix_invalid), then to the earlier row.
* **fill_gap.** Connected pieces of the boundary that no grid covers go whole to the grid
  sharing the longest stretch of edge with the piece (ties: the earlier row). A piece whose
  only neighbour is one grid and which does not reach the boundary is that grid's hole.
  With ``max_gap_m2``, a piece larger than that is left (**gap_left**); so is a piece no
  grid shares an edge with. A result with a gap left does not validate.
* **snap.** A gap or overlap piece narrower than ``tolerance_m`` (2 × radius of its largest
  inscribed circle) is a near-coincident edge pair, not a real gap or overlap: it is
  resolved by the same rule but logged as ``snap`` (with ``length_m`` ≈ its length). This
  kills every sliver: afterwards both neighbours use the very same edge.
* **reassign_part.** A grid left in several parts keeps its largest part; every other part
  goes to the neighbour sharing the longest edge with it (repeated until nothing moves).
  A part that shares an edge with no other grid stays (the result then has a multipart).
* **recode.** Codes are kept, except: of grids holding the same code, the one whose
  position in :func:`gis.codes.spatial_order` agrees with its sequence (fewest inversions
  against the grids with unique codes; ties: the first in spatial order) keeps it; the
  others and every grid without a code take the lowest free sequences under the
  community's 12-digit prefix (the most common prefix among the codes), in spatial order
  among themselves (:func:`gis.codes.renumber_keep_existing`). So where exactly one
  sequence is missing, that one is used. Without any 15-digit code to take the prefix
  from, recoding raises :class:`InputError`.

Pieces narrower than ``noise_m`` move by the same rules but are not logged: they are
numeric noise (as in :func:`validate`). Hence each grid's area change equals the sum of its
logged ``area_change_m2`` within ``noise_m`` × its perimeter. Log geometries are in lon/lat
(EPSG:4326); ``lon``/``lat`` is a point on the piece. Codes in the log are the codes after
repair (``old_code`` holds the code before a recode).

A valid grid to or from which no piece above noise moved is returned as given, bit for
bit; its neighbours' rebuilt edges then differ from its own by less than ``noise_m``. So a
division that validates clean comes back unchanged.

Like :func:`validate`, the faces are built in the division's own coordinates scaled to
metres (:class:`gis.coverage.plane.Plane`: lon/lat for lon/lat data), so that a tiling exact
there stays exact; the sizes logged are measured in the metric CRS.

A grid with no geometry cannot be repaired (:class:`InputError`); a grid that loses all its
area (e.g. lying wholly outside the boundary, or an exact copy of a smaller-priority grid)
keeps its row with an empty geometry, and the result does not validate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS

from gis.codes import PREFIX_LENGTH, is_grid_code, renumber_keep_existing, spatial_order
from gis.coverage.common import (
    REASON_ZH,
    as_frame,
    boundary_in_crs,
    check_boundary,
    check_parameters,
    check_polygonal,
    code_text,
    format_m,
    geometry_array,
    joint_bounds,
    parse_reason,
    polygonal,
    sliver_length,
    union_polygonal,
)
from gis.coverage.plane import Plane
from gis.crs import WGS84, metric_crs, require_crs
from gis.defaults import DEFAULT_CODE_FIELD, DEFAULT_NOISE_M, DEFAULT_TOLERANCE_M
from gis.errors import InputError
from gis.geojson import frame_to_feature_collection

if TYPE_CHECKING:  # imported where used: importing the package for validation needs neither
    import geopandas as gpd
    import pandas as pd

__all__ = ["CHANGE_ACTIONS", "CHANGE_COLUMNS", "changes_to_geojson", "repair"]

CHANGE_ACTIONS: tuple[str, ...] = (
    "fix_invalid",
    "clip_outside",
    "resolve_overlap",
    "snap",
    "fill_gap",
    "gap_left",
    "reassign_part",
    "recode",
)

CHANGE_COLUMNS: tuple[str, ...] = (
    "action",
    "grid_codes",
    "area_m2",
    "length_m",
    "width_m",
    "area_change_m2",
    "old_code",
    "reason_zh",
    "reason_en",
    "lon",
    "lat",
)

_ACTION_ORDER = {action: i for i, action in enumerate(CHANGE_ACTIONS)}
_OUTSIDE, _GAP = -2, -1


@dataclass
class _Change:
    action: str
    grid_codes: list[str]
    geometry_m: Any  # the piece, metric CRS
    zh: str
    en: str
    area_m2: float = math.nan
    length_m: float = math.nan
    width_m: float = math.nan
    area_change_m2: dict[str, float] | None = None
    old_code: str | None = None
    anchor_m: Any = None  # where to report it (default: a point on the piece)


# --------------------------------------------------------------------------- public verbs


def repair(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    max_gap_m2: float | None = None,
    priority: Sequence[str] | None = None,
    noise_m: float = DEFAULT_NOISE_M,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return ``grids`` repaired into a clean division of ``boundary``, and the change log.

    Parameters
    ----------
    grids : GeoDataFrame
        The grids (Polygon or MultiPolygon, any CRS); ``code_field`` holds their codes.
    boundary : GeoDataFrame or GeoSeries
        The community boundary (several polygons are unioned); its CRS may differ.
    code_field : str, default "code"
        Column of ``grids`` holding the grid code.
    tolerance_m : float, default 0.5
        Gaps and overlaps narrower than this are snapped away (action ``snap``).
    max_gap_m2 : float, optional
        Gaps larger than this are left (``gap_left``); by default every gap is filled.
    priority : sequence of str, optional
        Codes in the order that wins an overlap (earlier wins); by default the smaller grid.
    noise_m : float, default 0.001
        Pieces narrower than this are numeric noise: fixed, but not logged.

    Returns
    -------
    repaired : GeoDataFrame
        Same rows, index, columns and CRS as ``grids``; new geometries, codes kept except
        duplicates and missing ones (see the module docstring).
    changes : GeoDataFrame
        One row per fix, columns :data:`CHANGE_COLUMNS` and ``geometry`` (the piece, lon/lat
        EPSG:4326). ``area_change_m2`` maps each grid code to its signed area change.

    Raises
    ------
    InputError
        Bad parameters, a missing code field, an empty boundary, a grid without geometry,
        an unknown code in ``priority``, or a recode with no 15-digit code to follow.
    UnknownCRSError, GeometryTypeError
        As :func:`validate`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> x, y = 642000, 3459000  # EPSG:4549, North Bund, Shanghai
    >>> b = gpd.GeoSeries([box(x, y, x + 200, y + 100)], crs=4549)
    >>> g = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4549, geometry=[
    ...     box(x, y, x + 100, y + 100), box(x + 100.3, y, x + 200, y + 100)])
    >>> fixed, log = repair(g, b)
    >>> fixed.area.round(3).tolist()
    [10030.0, 9970.0]
    >>> log[["action", "grid_codes", "area_m2", "width_m"]].round(3)
      action grid_codes  area_m2  width_m
    0   snap     [a, b]     30.0      0.3
    """
    import geopandas as gpd
    import pandas as pd

    check_parameters(grids, boundary, code_field, tolerance_m, noise_m)
    if max_gap_m2 is not None and not (math.isfinite(max_gap_m2) and max_gap_m2 >= 0):
        raise InputError(f"max_gap_m2 须为非负数 / max_gap_m2 must be >= 0, got {max_gap_m2}")
    out_crs = require_crs(grids, "grids / 网格")
    require_crs(boundary, "boundary / 边界")
    geoms_in = geometry_array(grids.geometry)
    missing = shapely.is_missing(geoms_in) | shapely.is_empty(geoms_in)
    check_polygonal(geoms_in, missing, grids.index, "grids / 网格")
    if missing.any():
        rows = [grids.index[i] for i in np.flatnonzero(missing)[:5]]
        raise InputError(
            f"网格第 {rows} 行没有几何图形，无法修复 / grids in rows {rows} have no geometry "
            "and cannot be repaired: draw them or delete the rows"
        )
    check_boundary(boundary)

    metric = metric_crs(grids, as_frame(boundary))
    boundary_in = boundary_in_crs(
        geometry_array(boundary.geometry), require_crs(boundary, "boundary / 边界"), out_crs
    )
    plane = Plane(out_crs, metric, joint_bounds(geoms_in, boundary_in))
    grid_size_m = noise_m / 10
    geoms_m = plane.to_plane(geoms_in)
    boundary_m = union_polygonal(plane.to_plane(boundary_in), grid_size_m)
    codes_in = [code_text(value) for value in grids[code_field].to_numpy()]
    rank = _priority_rank(priority, codes_in)

    work, invalid = _made_valid(geoms_m, grid_size_m)
    # ordered in the plane: metres to first order, enough for west-east, north-south
    codes, recodes = _recode(codes_in, work, metric, grids.index)
    changes = _invalid_changes(geoms_in, geoms_m, work, invalid, codes, plane)
    changes += [
        _Change(
            "recode",
            [new],
            work[i],
            f"网格（第 {grids.index[i]} 行）编码{'重复' if old else '缺失'}"
            f"{f' {old}' if old else ''}，改为 {new}",
            f"grid in row {grids.index[i]} "
            f"{f'shared code {old}' if old else 'had no code'}; now {new}",
            old_code=old,
        )
        for i, old, new in recodes
    ]

    faces = _Faces(work, boundary_m, grid_size_m)
    ctx = _Repair(faces, work, boundary_m, codes, noise_m, tolerance_m, plane)
    changes += ctx.clip_outside()
    changes += ctx.resolve_overlaps(rank, shapely.area(work))
    changes += ctx.fill_gaps(max_gap_m2)
    changes += ctx.reassign_parts()

    result_m = ctx.grid_geometries()
    keep = ~ctx.moved & ~invalid  # returned as given, bit for bit
    result = gpd.GeoSeries(_back_in_source(result_m, plane), crs=out_crs, index=grids.index).array
    result[keep] = grids.geometry.array[keep]
    repaired = grids.copy()
    repaired[code_field] = repaired[code_field].astype(object)
    for i, _old, new in recodes:
        repaired.iat[i, repaired.columns.get_loc(code_field)] = new
    if recodes and isinstance(grids[code_field].dtype, pd.StringDtype):
        repaired[code_field] = repaired[code_field].astype(grids[code_field].dtype)
    repaired = repaired.set_geometry(result, crs=out_crs)
    if repaired.geometry.name != grids.geometry.name:
        repaired = repaired.rename_geometry(grids.geometry.name)
    return repaired, _to_frame(changes, plane)


def changes_to_geojson(changes: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return the change log of :func:`repair` as an RFC 7946 FeatureCollection (lon/lat)."""
    return frame_to_feature_collection(changes, CHANGE_COLUMNS)


# ------------------------------------------------------------------------ preparation


def _priority_rank(priority: Sequence[str] | None, codes: list[str | None]) -> np.ndarray:
    """Rank of each grid in ``priority`` (len(priority) when not listed)."""
    if priority is None:
        return np.zeros(len(codes), dtype=int)
    if isinstance(priority, str):
        priority = [c for c in priority.split(",") if c.strip()]
    wanted = [str(c).strip() for c in priority]
    unknown = sorted(set(wanted) - {c for c in codes if c is not None})
    if unknown:
        raise InputError(
            f"优先顺序中的编码不存在 / priority names codes no grid holds: {', '.join(unknown)}"
        )
    first = {}
    for i, c in enumerate(wanted):
        first.setdefault(c, i)
    return np.array([first.get(c, len(wanted)) for c in codes], dtype=int)


def _made_valid(geoms_m: np.ndarray, grid_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grids made valid (structure method, polygonal parts), then on the precision grid."""
    invalid = ~shapely.is_valid(geoms_m)
    work = geoms_m.copy()
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(geoms_m[i], method="structure", keep_collapsed=False)
        work[i] = polygonal(fixed)
    if grid_size_m > 0:
        work = shapely.set_precision(work, grid_size_m)
        work = np.array([polygonal(g) for g in work], dtype=object)
    return work, invalid


def _recode(
    codes_in: list[str | None], work: np.ndarray, metric: CRS, index: pd.Index
) -> tuple[list[str], list[tuple[int, str | None, str]]]:
    """Final code of every grid and the recodes made (position, old code, new code)."""
    import geopandas as gpd

    by_code: dict[str, list[int]] = {}
    for i, c in enumerate(codes_in):
        if c is not None:
            by_code.setdefault(c, []).append(i)
    losers = []
    duplicated = {c: rows for c, rows in by_code.items() if len(rows) > 1}
    if duplicated:
        rank = np.empty(len(work), dtype=int)
        rank[spatial_order(gpd.GeoSeries(work, crs=metric))] = np.arange(len(work))
        unique = [rows[0] for c, rows in by_code.items() if len(rows) == 1 and is_grid_code(c)]
        for c, rows in duplicated.items():

            def inversions(i: int, c: str = c) -> int:
                if not is_grid_code(c):
                    return 0
                return sum(
                    (rank[j] < rank[i]) != (codes_in[j] < c)
                    for j in unique
                    if codes_in[j][:PREFIX_LENGTH] == c[:PREFIX_LENGTH]
                )

            keeper = min(rows, key=lambda i: (inversions(i), rank[i]))
            losers += [i for i in rows if i != keeper]
    needing = sorted(losers + [i for i, c in enumerate(codes_in) if c is None])
    codes = [c if c is not None else "" for c in codes_in]
    if not needing:
        return codes, []
    prefixes = Counter(c[:PREFIX_LENGTH] for c in codes_in if is_grid_code(c))
    if not prefixes:
        rows = [index[i] for i in needing[:5]]
        raise InputError(
            f"网格第 {rows} 行编码重复或缺失，但没有 15 位网格编码可据以编新号 / grids in "
            f"rows {rows} need a new code but no grid holds a 15-digit code to take the "
            "community prefix from; give them codes first"
        )
    prefix = prefixes.most_common(1)[0][0]
    renumbered = set(needing)
    frame = gpd.GeoDataFrame(
        {"code": [None if i in renumbered else c for i, c in enumerate(codes_in)]},
        geometry=gpd.GeoSeries(work, crs=metric).array,
        crs=metric,
    )
    new_codes = renumber_keep_existing(frame, prefix)["code"].tolist()
    recodes = [(i, codes_in[i], new_codes[i]) for i in needing]
    for i, _old, new in recodes:
        codes[i] = new
    return codes, recodes


def _invalid_changes(
    geoms_in: np.ndarray,
    geoms_m: np.ndarray,
    work: np.ndarray,
    invalid: np.ndarray,
    codes: list[str],
    plane: Plane,
) -> list[_Change]:
    changes = []
    for i in np.flatnonzero(invalid):
        what, spot = parse_reason(shapely.is_valid_reason(geoms_in[i]))
        _, (after, before) = plane.measure(np.array([work[i], geoms_m[i]], dtype=object))
        delta = float(after - before)
        grid = codes[i]
        changes.append(
            _Change(
                "fix_invalid",
                [grid],
                work[i],
                f"网格 {grid} 几何无效（{REASON_ZH.get(what, what)}），已按外环/内环结构修复，"
                f"面积变化 {delta:+.2f} m²",
                f"grid {grid} had invalid geometry ({what}); made valid keeping the area its "
                f"rings enclose, area changed by {delta:+.2f} m²",
                area_m2=abs(delta),
                area_change_m2={grid: delta},
            )
        )
        if spot is not None:
            x_m, y_m = plane.forward(np.array([[spot.x, spot.y]]))[0]
            changes[-1].anchor_m = shapely.Point(x_m, y_m)
    return changes


# --------------------------------------------------------------------------- the faces


class _Faces:
    """The boundary and all grid edges noded and polygonised into faces, with adjacency.

    ``cover[f]``: grid positions covering face ``f``; ``inside[f]``: face in the boundary;
    ``adjacency``: sparse symmetric matrix of shared edge lengths (metres) between faces.
    """

    def __init__(self, work: np.ndarray, boundary_m: shapely.Geometry, grid_size_m: float):
        present = ~(shapely.is_missing(work) | shapely.is_empty(work))
        edges = shapely.boundary(np.r_[work[present], np.array([boundary_m], dtype=object)])
        size = grid_size_m if grid_size_m > 0 else None
        noded = shapely.union_all(edges, grid_size=size)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        faces = faces[shapely.area(faces) > 0]
        self.faces = faces
        self.area = shapely.area(faces)
        n = len(faces)
        tree = shapely.STRtree(work)
        which, grid = tree.query(faces, predicate="intersects")
        share = shapely.area(shapely.intersection(faces[which], work[grid], grid_size=size))
        keep = share > 0.5 * self.area[which]
        self.cover = [np.sort(grid[keep][which[keep] == f]) for f in range(n)]
        inside_share = shapely.area(shapely.intersection(faces, boundary_m, grid_size=size))
        self.inside = inside_share > 0.5 * self.area
        a, b = shapely.STRtree(faces).query(faces, predicate="intersects")
        a, b = a[a < b], b[a < b]
        shared = shapely.length(
            shapely.intersection(
                shapely.boundary(faces[a]), shapely.boundary(faces[b]), grid_size=size
            )
        )
        ok = shared > 0
        a, b, shared = a[ok], b[ok], shared[ok]
        from scipy.sparse import csr_matrix  # here: validate-only runs never import scipy

        self.adjacency = csr_matrix(
            (np.r_[shared, shared], (np.r_[a, b], np.r_[b, a])), shape=(n, n)
        )

    def components(self, subset: np.ndarray) -> list[np.ndarray]:
        """Edge-connected groups of the face positions ``subset``, largest area first."""
        if len(subset) == 0:
            return []
        from scipy.sparse.csgraph import connected_components

        sub = self.adjacency[subset][:, subset]
        count, labels = connected_components(sub, directed=False)
        groups = [subset[labels == k] for k in range(count)]
        return sorted(groups, key=lambda g: -float(self.area[g].sum()))

    def shared_with(self, group: np.ndarray, owner: np.ndarray, n_grids: int) -> np.ndarray:
        """Length of edge the faces ``group`` share with each grid (by ``owner``)."""
        row = np.asarray(self.adjacency[group].sum(axis=0)).ravel()
        mine = np.zeros(len(owner), dtype=bool)
        mine[group] = True
        sel = (row > 0) & (owner >= 0) & ~mine
        return np.bincount(owner[sel], weights=row[sel], minlength=n_grids)

    def union(self, group: np.ndarray) -> shapely.Geometry:
        if len(group) == 0:
            return shapely.Polygon()
        if len(group) == 1:
            return self.faces[group[0]]
        return polygonal(shapely.coverage_union_all(self.faces[group]))


class _Repair:
    """Assignment of faces to grids, rule by rule, with the change log entries."""

    def __init__(
        self,
        faces: _Faces,
        work: np.ndarray,
        boundary_m: shapely.Geometry,
        codes: list[str],
        noise_m: float,
        tolerance_m: float,
        plane: Plane,
    ):
        self.f = faces
        self.plane = plane
        self.work = work
        self.boundary_line = shapely.boundary(boundary_m)
        self.codes = codes
        self.noise_m = noise_m
        self.tolerance_m = tolerance_m
        self.n = len(work)
        self.owner = np.where(faces.inside, _GAP, _OUTSIDE)
        self.moved = np.zeros(self.n, dtype=bool)  # a piece above noise moved in or out

    def _pieces(self, group: np.ndarray) -> list[tuple[shapely.Geometry, _Size]]:
        """Connected parts of ``group`` above noise (judged in the plane), with their size
        measured in the metric CRS."""
        out = []
        for comp in self.f.components(group):
            geom = self.f.union(comp)
            width = _widths(np.array([geom], dtype=object), self.noise_m)[0]
            if width >= self.noise_m:
                out.append((geom, self.size(geom)))
        return out

    def size(self, geom: shapely.Geometry) -> _Size:
        """Area, width and length (of a thin piece) of plane ``geom``, in the metric CRS."""
        metric, [area] = self.plane.measure(np.array([geom], dtype=object))
        width = float(_widths(metric, self.noise_m)[0])
        return _Size(float(area), width, sliver_length(metric[0], width, self.noise_m))

    def clip_outside(self) -> list[_Change]:
        changes = []
        outside = np.flatnonzero(~self.f.inside)
        for g in range(self.n):
            mine = np.array([f for f in outside if g in self.f.cover[f]], dtype=int)
            for geom, size in self._pieces(mine):
                area, width = size.area_m2, size.width_m
                grid = self.codes[g]
                self.moved[g] = True
                changes.append(
                    _Change(
                        "clip_outside",
                        [grid],
                        geom,
                        f"网格 {grid} 超出社区边界的 {format_m(area)} m²"
                        f"（最宽 {format_m(width)} m）已裁去",
                        f"cut {format_m(area)} m² (up to {format_m(width)} m wide) "
                        f"of grid {grid} lying outside the boundary",
                        area_m2=area,
                        width_m=width,
                        area_change_m2={grid: -area},
                    )
                )
        return changes

    def resolve_overlaps(self, rank: np.ndarray, area_m2: np.ndarray) -> list[_Change]:
        groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
        for f in np.flatnonzero(self.f.inside):
            cover = self.f.cover[f]
            if len(cover) == 0:
                continue
            winner = int(min(cover, key=lambda g: (rank[g], area_m2[g], g)))
            self.owner[f] = winner
            if len(cover) > 1:
                losers = tuple(int(g) for g in cover if g != winner)
                groups.setdefault((winner, losers), []).append(f)
        changes = []
        for (winner, losers), group in groups.items():
            by_priority = rank[winner] < min(rank[g] for g in losers)
            for geom, size in self._pieces(np.array(group)):
                area, width, length = size.area_m2, size.width_m, size.length_m
                self.moved[[winner, *losers]] = True
                w, lost = self.codes[winner], [self.codes[g] for g in losers]
                why_zh = "优先顺序在前" if by_priority else "面积较小"
                why_en = "earlier in priority" if by_priority else "the smaller grid"
                snap = width < self.tolerance_m
                changes.append(
                    _Change(
                        "snap" if snap else "resolve_overlap",
                        [w, *lost],
                        geom,
                        (
                            f"网格 {w} 与 {'、'.join(lost)} 的边界相差不到 {format_m(width)} m"
                            f"（重叠 {format_m(area)} m²，长约 {format_m(length)} m），"
                            f"对齐到网格 {w}"
                            if snap
                            else f"网格 {w} 与 {'、'.join(lost)} 重叠 {format_m(area)} m²"
                            f"（最宽 {format_m(width)} m），归网格 {w}（{why_zh}）"
                        ),
                        (
                            f"edges of grids {w} and {', '.join(lost)} up to {format_m(width)} m "
                            f"apart (overlap of {format_m(area)} m², "
                            f"about {format_m(length)} m long) snapped to grid {w}"
                            if snap
                            else f"overlap of {format_m(area)} m² (up to {format_m(width)} m wide) "
                            f"between grids {w} and {', '.join(lost)} kept by {w} ({why_en})"
                        ),
                        area_m2=area,
                        width_m=width,
                        length_m=length if snap else math.nan,
                        area_change_m2={c: -area for c in lost},
                    )
                )
        return changes

    def fill_gaps(self, max_gap_m2: float | None) -> list[_Change]:
        gaps = np.flatnonzero(self.owner == _GAP)
        changes = []
        for comp in self.f.components(gaps):
            shared = self.f.shared_with(comp, self.owner, self.n)
            geom = self.f.union(comp)
            noise = _widths(np.array([geom], dtype=object), self.noise_m)[0] < self.noise_m
            size = self.size(geom)
            area, width, length = size.area_m2, size.width_m, size.length_m
            too_big = max_gap_m2 is not None and area > max_gap_m2
            near = [self.codes[g] for g in np.flatnonzero(shared > 0)]
            if too_big or shared.max(initial=0) <= 0:
                if too_big:
                    zh = f"空隙 {format_m(area)} m² 大于 {format_m(max_gap_m2)} m²，未填补"
                    en = (
                        f"gap of {format_m(area)} m² is larger than {format_m(max_gap_m2)} m², left"
                    )
                else:
                    zh = f"空隙 {format_m(area)} m² 没有共享边的网格，未填补"
                    en = f"gap of {format_m(area)} m² shares no edge with any grid, left"
                changes.append(
                    _Change(
                        "gap_left",
                        sorted(near),
                        geom,
                        zh,
                        en,
                        area_m2=area,
                        width_m=width,
                        area_change_m2={},
                    )
                )
                continue
            best = int(np.argmax(shared))
            self.owner[comp] = best
            if noise:
                continue
            self.moved[best] = True
            grid, edge = self.codes[best], float(shared[best])
            others = sorted(c for c in near if c != grid)
            hole = (
                not others
                and shapely.length(shapely.intersection(shapely.boundary(geom), self.boundary_line))
                <= self.noise_m
            )
            if width < self.tolerance_m:
                action = "snap"
                zh = (
                    f"{'网格 ' + grid + '、' + '、'.join(others) + ' 之间' if others else ''}"
                    f"宽 {format_m(width)} m、长约 {format_m(length)} m 的窄缝 "
                    f"{format_m(area)} m² 已闭合，"
                    f"并入网格 {grid}（共享边最长，{format_m(edge)} m）"
                )
                en = (
                    f"sliver of {format_m(area)} m² ({format_m(width)} m wide, "
                    f"about {format_m(length)} m long)"
                    f"{' between grids ' + ', '.join([grid, *others]) if others else ''} "
                    f"closed: given to grid {grid} (longest shared edge, {format_m(edge)} m)"
                )
            elif hole:
                action = "fill_gap"
                zh = f"网格 {grid} 内未被其他网格填满的洞 {format_m(area)} m² 归还网格 {grid}"
                en = (
                    f"hole of {format_m(area)} m² inside grid {grid}, filled by no grid, "
                    f"given to {grid}"
                )
            else:
                action = "fill_gap"
                zh = (
                    f"空隙 {format_m(area)} m²（最宽 {format_m(width)} m）划给网格 {grid}"
                    f"（共享边最长，{format_m(edge)} m）"
                )
                en = (
                    f"gap of {format_m(area)} m² (up to {format_m(width)} m wide) "
                    f"given to grid {grid} (longest shared edge, {format_m(edge)} m)"
                )
            changes.append(
                _Change(
                    action,
                    [grid, *others],
                    geom,
                    zh,
                    en,
                    area_m2=area,
                    width_m=width,
                    length_m=length if action == "snap" else math.nan,
                    area_change_m2={grid: area},
                )
            )
        return changes

    def reassign_parts(self) -> list[_Change]:
        changes = []
        for _ in range(self.n + 1):
            moved = False
            for g in range(self.n):
                parts = self.f.components(np.flatnonzero(self.owner == g))
                for part in parts[1:]:  # the largest part stays
                    shared = self.f.shared_with(part, self.owner, self.n)
                    shared[g] = 0
                    if shared.max(initial=0) <= 0:
                        continue
                    best = int(np.argmax(shared))
                    self.owner[part] = best
                    moved = True
                    geom = self.f.union(part)
                    width = float(_widths(np.array([geom], dtype=object), self.noise_m)[0])
                    if width < self.noise_m:
                        continue
                    self.moved[[g, best]] = True
                    size = self.size(geom)
                    area, width = size.area_m2, size.width_m
                    src, dst, edge = self.codes[g], self.codes[best], float(shared[best])
                    changes.append(
                        _Change(
                            "reassign_part",
                            [src, dst],
                            geom,
                            f"网格 {src} 不相连的一块 {format_m(area)} m² 划给网格 {dst}"
                            f"（共享边最长，{format_m(edge)} m），{src} 保留最大的一块",
                            f"detached part of {format_m(area)} m² of grid {src} given to grid "
                            f"{dst} (longest shared edge, {format_m(edge)} m); {src} keeps its "
                            "largest part",
                            area_m2=area,
                            width_m=width,
                            area_change_m2={src: -area, dst: area},
                        )
                    )
            if not moved:
                break
        return changes

    def grid_geometries(self) -> np.ndarray:
        return np.array(
            [self.f.union(np.flatnonzero(self.owner == g)) for g in range(self.n)], dtype=object
        )


@dataclass
class _Size:
    area_m2: float
    width_m: float
    length_m: float


def _back_in_source(geoms_m: np.ndarray, plane: Plane) -> np.ndarray:
    """Repaired plane geometries in the grids' CRS; any made invalid by the rounding of the
    way back is made valid again (polygonal parts)."""
    out = plane.to_source(geoms_m)
    if plane.identity:
        return out
    bad = np.flatnonzero(~shapely.is_valid(out) & ~shapely.is_empty(out))
    for i in bad:
        out[i] = polygonal(shapely.make_valid(out[i], method="structure", keep_collapsed=False))
    return out


def _widths(parts: np.ndarray, noise_m: float) -> np.ndarray:
    """2 × radius of the largest inscribed circle of each polygon, in metres."""
    tol = np.maximum(max(noise_m, 1e-6) / 10, 1e-5 * np.sqrt(shapely.area(parts)))
    return 2 * shapely.length(shapely.maximum_inscribed_circle(parts, tolerance=tol))


# ------------------------------------------------------------------------------- output


def _to_frame(changes: list[_Change], plane: Plane) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    columns: dict[str, list] = {name: [] for name in CHANGE_COLUMNS}
    if not changes:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in CHANGE_COLUMNS})
        for name in ("area_m2", "length_m", "width_m", "lon", "lat"):
            frame[name] = frame[name].astype(float)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    anchors = np.array(
        [c.anchor_m if c.anchor_m is not None else c.geometry_m for c in changes], dtype=object
    )
    anchors = shapely.point_on_surface(anchors)
    x_m, y_m = shapely.get_x(anchors), shapely.get_y(anchors)
    lon, lat = plane.lonlat(np.column_stack([x_m, y_m]))
    for c, x, y in zip(changes, lon, lat, strict=True):
        columns["action"].append(c.action)
        columns["grid_codes"].append(list(c.grid_codes))
        columns["area_m2"].append(float(c.area_m2))
        columns["length_m"].append(float(c.length_m))
        columns["width_m"].append(float(c.width_m))
        columns["area_change_m2"].append(dict(c.area_change_m2 or {}))
        columns["old_code"].append(c.old_code)
        columns["reason_zh"].append(c.zh)
        columns["reason_en"].append(c.en)
        columns["lon"].append(float(x))
        columns["lat"].append(float(y))
    order = sorted(
        range(len(changes)),
        key=lambda i: (_ACTION_ORDER[changes[i].action], -round(y_m[i], 3), round(x_m[i], 3)),
    )
    frame = pd.DataFrame(columns)
    frame["old_code"] = pd.Series(columns["old_code"], dtype=object)  # None, not NaN
    frame = frame.iloc[order].reset_index(drop=True)
    located = np.array([changes[i].geometry_m for i in order], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=plane.to_crs(located, WGS84), crs=WGS84)
