"""Test oracle, not production code: the straightforward validator the project once shipped.

``gis.coverage.validate`` is the production validator. This module keeps its earlier, simple
implementation (every rule decided with GEOS overlays, no segment matching, no shortcuts) so
that tests can compare the fast production path with it on generated divisions
(``tests/gis/test_coverage.py``). Do not import it outside ``tests/``; it is not maintained for
speed and is not part of the package.

What follows is the original description of the rules it implements, which the production
validator implements too.

Validate a division of a community into grids: no gap, no overlap (纵向到底、横向到边).

:func:`validate` returns the findings, one row per defect; :func:`is_valid_division` answers
yes/no with the same parameters; :func:`findings_to_geojson` serialises findings for a map.

Everything is measured in metres in :func:`gis.crs.metric_crs` of the inputs. Rules decided
here (the issue is silent on them):

* **Noise.** A piece (gap, overlap, outside part, hole, part of a grid) whose largest
  inscribed circle is narrower than ``noise_m`` is numeric noise from projections and file
  round trips, whatever its length: such hair-thin slivers along shared edges are exactly
  what rounding produces. An edge that stays within ``noise_m`` of its neighbour's edge is
  noise too (this also covers T-junctions: a vertex of one grid lying on its neighbour's
  edge is not a defect).
* **Gap, sliver, hole.** The part of the boundary that no grid covers is split into
  connected pieces. A piece lying inside an interior ring of a grid is reported once, as
  ``hole`` of that grid (never also as a gap); otherwise a piece narrower than
  ``tolerance_m`` (2 × radius of its largest inscribed circle) is a ``sliver``, else a
  ``gap``. A grid wrapped around another grid is legitimate: the filled hole leaves no
  uncovered piece. ``grid_codes`` of these findings are the grids sharing a stretch of
  edge with the piece (a grid touching it only at a corner is not named).
* **Overlap.** One row per pair of grids whose intersection has a part above noise
  (area = total of those parts).
* **Invalid.** ``shapely.is_valid_reason`` on the geometry as given (input CRS); the
  geometry of the finding is the point it names. A None/empty geometry is an ``invalid``
  finding without location. Invalid grids are repaired (``make_valid``, structure method,
  polygonal parts kept) for the area checks (gap, overlap, outside, hole).
* **Multipart.** A grid with more than one polygon part above noise; the location is every
  part but the largest. An invalid grid is judged on its parts as given, each repaired on
  its own: a bow-tie is one part (only ``invalid``), an invalid MultiPolygon with a
  detached part is ``invalid`` and ``multipart``.
* **Sizes.** ``width_m`` = 2 × radius of the largest inscribed circle; a sliver's
  ``length_m`` = half its perimeter minus its width (exact for a thin rectangle). Geometry
  is snapped to ``noise_m / 10`` before measuring, so sizes carry up to that much error
  per metre of outline.
* **Edge mismatch.** Edges flagged by ``shapely.coverage_invalid_edges(gap_width=
  tolerance_m)`` whose largest distance to the neighbouring grids' edges lies in
  ``(noise_m, tolerance_m]``: near-coincident edges to snap. Edges farther apart belong to
  an overlap or gap already reported. One row per grid (its flagged edges as lines, with
  ``length_m`` and ``width_m`` = largest distance), ``grid_codes`` = the grid and the
  neighbours whose edges it nearly meets. Always ``warning``: a mismatch wide enough to
  matter comes with a ``sliver``/``gap``/``overlap`` error for the same place, so the
  warning says which edges to snap without counting the defect twice.
* **Codes.** ``duplicate_code``: one row per code held by several grids, ``grid_codes`` the
  code once per grid holding it. ``missing_code``: None/NaN/empty/whitespace. A grid without
  a code appears in ``grid_codes`` of any finding as ``"#<index label>"``. A gap in the code
  sequence is not a defect.
* **Severity.** Everything is an ``error`` except ``edge_mismatch`` (``warning``).
  ``sliver`` is an error because it breaks "no gap"; ``multipart`` is an error because a
  grid is one closed polygon (docs/design.md §2, DB11/T 2157-2023).
* **Order.** Kind in :data:`FINDING_KINDS` order, then ``grid_codes``, then position of the
  defect, north to south then west to east.
* **Empty grids.** With no grid at all, the whole boundary is one ``gap``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.crs import WGS84, metric_crs, require_crs
from gis.errors import GeometryTypeError, InputError

__all__ = [
    "FINDING_COLUMNS",
    "FINDING_KINDS",
    "SEVERITY_BY_KIND",
    "findings_to_geojson",
    "is_valid_division",
    "validate",
]

FINDING_KINDS: tuple[str, ...] = (
    "gap",
    "sliver",
    "overlap",
    "invalid",
    "outside",
    "multipart",
    "hole",
    "edge_mismatch",
    "duplicate_code",
    "missing_code",
)

SEVERITY_BY_KIND: dict[str, str] = {kind: "error" for kind in FINDING_KINDS} | {
    "edge_mismatch": "warning"
}

FINDING_COLUMNS: tuple[str, ...] = (
    "kind",
    "grid_codes",
    "area_m2",
    "length_m",
    "width_m",
    "severity",
    "message_zh",
    "message_en",
)

_POLYGON, _MULTIPOLYGON = 3, 6
_KIND_ORDER = {kind: i for i, kind in enumerate(FINDING_KINDS)}
_REASON_LOCATION = re.compile(r"\[\s*([-+0-9.eEnaNif]+)\s+([-+0-9.eEnaNif]+)[^\]]*\]\s*$")
_REASON_ZH = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points in geometry component": "点数过少",
    "Hole lies outside shell": "洞在外环之外",
    "Nested holes": "洞互相嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环互相嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


@dataclass
class _Finding:
    kind: str
    grid_codes: list[str]
    geometry_m: Any  # location in the metric CRS (for position and message), or None
    zh: str  # message without location
    en: str
    area_m2: float = math.nan
    length_m: float = math.nan
    width_m: float = math.nan
    geometry_out: Any = None  # location already in the output CRS (else geometry_m projected)
    keep_input_geometry: bool = False


# --------------------------------------------------------------------------- public verbs


def validate(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    code_field: str = "code",
    tolerance_m: float = 0.5,
    noise_m: float = 0.001,
) -> gpd.GeoDataFrame:
    """Return the defects of a division of ``boundary`` into ``grids``, one row per defect.

    Parameters
    ----------
    grids : GeoDataFrame
        The grids (Polygon or MultiPolygon, a CRS is required); ``code_field`` holds codes.
    boundary : GeoDataFrame or GeoSeries
        The community boundary; several polygons are unioned. A CRS is required; it may
        differ from the grids' CRS.
    code_field : str, default "code"
        Column of ``grids`` holding the grid code.
    tolerance_m : float, default 0.5
        Gaps narrower than this are ``sliver``; edges closer than this that do not match
        are ``edge_mismatch``.
    noise_m : float, default 0.001
        Differences narrower than this are numeric noise, not findings.

    Returns
    -------
    GeoDataFrame
        Columns :data:`FINDING_COLUMNS` and ``geometry`` (the location of the defect itself,
        in the CRS of ``grids``); empty (same columns and CRS) for a clean division. See the
        module docstring for the rules.

    Raises
    ------
    UnknownCRSError
        If ``grids`` or ``boundary`` has no CRS.
    InputError
        If ``code_field`` is missing, the boundary is empty, or a parameter is out of range.
    GeometryTypeError
        If a grid or the boundary is not polygonal.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> x, y = 642000, 3459000  # EPSG:4549 (CGCS2000 GK CM 120E), North Bund, Shanghai
    >>> b = gpd.GeoSeries([box(x, y, x + 200, y + 100)], crs=4549)
    >>> g = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4549, geometry=[
    ...     box(x, y, x + 100, y + 100), box(x + 100.3, y, x + 200, y + 100)])
    >>> f = validate(g, b)
    >>> f.loc[f.severity == "error", ["kind", "grid_codes", "area_m2", "width_m"]].round(3)
         kind grid_codes  area_m2  width_m
    0  sliver     [a, b]     30.0      0.3
    >>> len(validate(g.assign(geometry=[box(x, y, x + 100, y + 100),
    ...                                 box(x + 100, y, x + 200, y + 100)]), b))
    0
    """
    _check_parameters(grids, boundary, code_field, tolerance_m, noise_m)
    out_crs = require_crs(grids, "grids / 网格")
    require_crs(boundary, "boundary / 边界")
    geoms_in = _geometry_array(grids.geometry)
    missing = shapely.is_missing(geoms_in) | shapely.is_empty(geoms_in)
    _check_polygonal(geoms_in, missing, grids.index, "grids / 网格")
    boundary_in = _geometry_array(boundary.geometry)
    boundary_missing = shapely.is_missing(boundary_in) | shapely.is_empty(boundary_in)
    if boundary_missing.all():
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    _check_polygonal(boundary_in, boundary_missing, boundary.index, "boundary / 边界")

    metric = metric_crs(grids, _as_frame(boundary))
    labels, code_missing = _code_labels(grids[code_field], grids.index)
    geoms_m = _geometry_array(grids.geometry.to_crs(metric))

    valid_in = shapely.is_valid(geoms_in) & ~missing
    grid_size_m = noise_m / 10
    work = _repaired(geoms_m, missing, grid_size_m)
    boundary_m = _union_polygonal(_geometry_array(boundary.geometry.to_crs(metric)), grid_size_m)
    ctx = _Context(work, labels, noise_m, tolerance_m)

    findings: list[_Finding] = []
    findings += _gaps_and_holes(ctx, boundary_m)
    findings += _overlaps(ctx)
    findings += _invalid(geoms_in, missing, valid_in, labels, grids.index, out_crs, metric)
    findings += _outside(ctx, boundary_m)
    findings += _multipart(ctx, geoms_m, valid_in, grid_size_m)
    findings += _edge_mismatches(ctx)
    findings += _code_findings(geoms_in, geoms_m, labels, code_missing, grids.index)
    return _to_frame(findings, out_crs, metric)


def is_valid_division(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    code_field: str = "code",
    tolerance_m: float = 0.5,
    noise_m: float = 0.001,
) -> bool:
    """Return True if :func:`validate` finds no ``error`` (warnings allowed).

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> x, y = 642000, 3459000
    >>> b = gpd.GeoSeries([box(x, y, x + 2, y + 1)], crs=4549)
    >>> g = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4549, geometry=[
    ...     box(x, y, x + 1, y + 1), box(x + 1, y, x + 2, y + 1)])
    >>> is_valid_division(g, b), is_valid_division(g.iloc[:1], b)
    (True, False)
    """
    findings = validate(
        grids, boundary, code_field=code_field, tolerance_m=tolerance_m, noise_m=noise_m
    )
    return not (findings["severity"] == "error").any()


def findings_to_geojson(findings: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return ``findings`` as an RFC 7946 FeatureCollection in lon/lat (EPSG:4326).

    Properties are :data:`FINDING_COLUMNS`; NaN becomes null, a missing location a null
    geometry; polygon exteriors are counter-clockwise as RFC 7946 asks.
    """
    require_crs(findings, "findings / 检查结果")
    geo = findings.geometry.to_crs(WGS84) if len(findings) else findings.geometry
    geoms = shapely.orient_polygons(_geometry_array(geo), exterior_cw=False)
    features = []
    for row, geom in zip(findings.itertuples(index=False), geoms, strict=True):
        props = {name: _json_value(getattr(row, name)) for name in FINDING_COLUMNS}
        props["grid_codes"] = [str(code) for code in row.grid_codes]
        empty = geom is None or shapely.is_empty(geom)
        features.append(
            {
                "type": "Feature",
                "geometry": None if empty else shapely.geometry.mapping(geom),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ------------------------------------------------------------------------ input handling


def _check_parameters(
    grids: Any, boundary: Any, code_field: str, tolerance_m: float, noise_m: float
) -> None:
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError(f"网格须为 GeoDataFrame / grids must be a GeoDataFrame, not {type(grids)}")
    if not isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(
            f"边界须为 GeoDataFrame 或 GeoSeries / boundary must be a GeoDataFrame or "
            f"GeoSeries, not {type(boundary)}"
        )
    if code_field not in grids.columns:
        raise InputError(
            f"网格缺少编码字段 {code_field!r} / grids have no code field {code_field!r}; "
            f"columns: {[c for c in grids.columns if c != grids.geometry.name]}"
        )
    if not (math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise InputError(f"容差须为非负数 / tolerance_m must be >= 0, got {tolerance_m}")
    if not (math.isfinite(noise_m) and 0 <= noise_m <= max(tolerance_m, 0)):
        raise InputError(
            f"噪声阈值须在 0 与容差之间 / noise_m must be in [0, tolerance_m={tolerance_m}], "
            f"got {noise_m}"
        )


def _geometry_array(geo: gpd.GeoSeries) -> np.ndarray:
    return np.asarray(geo.array, dtype=object)


def _as_frame(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def _check_polygonal(geoms: np.ndarray, missing: np.ndarray, index: pd.Index, what: str) -> None:
    type_ids = shapely.get_type_id(geoms)
    bad = ~missing & (type_ids != _POLYGON) & (type_ids != _MULTIPOLYGON)
    if bad.any():
        rows = [index[i] for i in np.flatnonzero(bad)[:5]]
        kinds = sorted({shapely.get_type_id(geoms[i]) for i in np.flatnonzero(bad)})
        names = [shapely.GeometryType(k).name for k in kinds]
        raise GeometryTypeError(
            f"{what}: 第 {rows} 行不是面 / rows {rows} are not polygons ({', '.join(names)})"
        )


def _code_labels(codes: pd.Series, index: pd.Index) -> tuple[list[str], np.ndarray]:
    """Return one label per grid (its code, or ``#<index label>``) and the missing-code mask."""
    labels: list[str] = []
    missing = np.zeros(len(codes), dtype=bool)
    for i, (value, label) in enumerate(zip(codes.to_numpy(), index, strict=True)):
        text = _code_text(value)
        if text is None:
            missing[i] = True
            text = f"#{label}"
        labels.append(text)
    return labels, missing


def _code_text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)  # a code read as a float from a table: 3.10109e14 -> 310109...
    text = str(value).strip()
    return text or None


def _union_polygonal(geoms: np.ndarray, grid_size_m: float) -> shapely.Geometry:
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    fixed = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    union = shapely.union_all(_polygon_parts(fixed)[0])
    if grid_size_m > 0:
        union = shapely.set_precision(union, grid_size_m)
    return _polygonal(union)


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the non-empty Polygon parts of ``geoms`` and the index of their geometry."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts, _ = _polygon_parts(np.array([geom], dtype=object))
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(list(parts)) if len(parts) else shapely.Polygon()


def _repaired(geoms_m: np.ndarray, missing: np.ndarray, grid_size_m: float) -> np.ndarray:
    """Metric geometries made valid (polygonal parts) and snapped to ``grid_size_m``.

    Missing geometries become None. Snapping to a grid far below the noise floor makes
    vertices that differ only in their last bits identical again (file and projection
    round trips), so that most noise never reaches the overlay.
    """
    work = geoms_m.copy()
    work[missing] = None
    broken = ~missing & ~shapely.is_valid(work)
    for i in np.flatnonzero(broken):
        work[i] = _polygonal(shapely.make_valid(work[i], method="structure", keep_collapsed=False))
    if grid_size_m > 0:
        present = ~missing
        work[present] = shapely.set_precision(work[present], grid_size_m)
        for i in np.flatnonzero(present):
            work[i] = _polygonal(work[i])
    return work


# --------------------------------------------------------------------------- the checks


class _Context:
    """Repaired metric grids with their labels, spatial index and thresholds."""

    def __init__(self, work: np.ndarray, labels: list[str], noise_m: float, tolerance_m: float):
        self.work = work
        self.labels = labels
        self.noise_m = noise_m
        self.tolerance_m = tolerance_m
        self.present = np.flatnonzero(~shapely.is_missing(work) & ~shapely.is_empty(work))
        self.tree = shapely.STRtree(work[self.present])

    def codes(self, grid_positions: Sequence[int] | np.ndarray) -> list[str]:
        return sorted(self.labels[i] for i in grid_positions)

    def significant(self, parts: np.ndarray) -> np.ndarray:
        """Mask of polygon parts wider than the noise floor somewhere."""
        if len(parts) == 0:
            return np.zeros(0, dtype=bool)
        if self.noise_m == 0:
            return ~shapely.is_empty(parts)
        core = shapely.buffer(parts, -self.noise_m / 2, quad_segs=2, join_style="mitre")
        return ~shapely.is_empty(core)

    def widths(self, parts: np.ndarray) -> np.ndarray:
        """2 × radius of the largest inscribed circle of each polygon, in metres."""
        if len(parts) == 0:
            return np.zeros(0)
        # accurate to a tenth of the noise floor on thin pieces, to 1e-5 of the size on big ones
        tol = np.maximum(max(self.noise_m, 1e-6) / 10, 1e-5 * np.sqrt(shapely.area(parts)))
        return 2 * shapely.length(shapely.maximum_inscribed_circle(parts, tolerance=tol))

    def bordering(self, pieces: np.ndarray) -> list[np.ndarray]:
        """Grid positions sharing a stretch of edge (not just a vertex) with each piece.

        A grid borders a piece when more than ``10 × noise_m`` of the piece's outline lies
        within ``noise_m`` of the grid's outline; touching at a corner does not count.
        """
        reach = max(self.noise_m, 1e-6)
        which, hit = self.tree.query(pieces, predicate="dwithin", distance=reach)
        grid = self.present[hit]
        shared = shapely.length(
            shapely.intersection(
                shapely.boundary(pieces[which]),
                shapely.buffer(shapely.boundary(self.work[grid]), reach, quad_segs=2),
            )
        )
        keep = shared > 10 * reach
        return _group(which[keep], grid[keep], len(pieces))

    def neighbours(self, geoms: np.ndarray, distance: float) -> list[np.ndarray]:
        """Grid positions within ``distance`` of each geometry."""
        which, hit = self.tree.query(geoms, predicate="dwithin", distance=distance)
        return _group(which, self.present[hit], len(geoms))

    def grouped_parts(self, geoms: np.ndarray, owners: np.ndarray) -> list[_Pieces]:
        """Significant polygon parts of ``geoms`` grouped by owner (sorted by owner)."""
        parts, idx = _polygon_parts(geoms)
        keep = self.significant(parts)
        parts, owner_of_part = parts[keep], owners[idx[keep]]
        widths = self.widths(parts)
        groups = []
        for owner in np.unique(owner_of_part):
            sel = owner_of_part == owner
            groups.append(_Pieces(owner, parts[sel], widths[sel]))
        return groups


@dataclass
class _Pieces:
    owner: Any
    parts: np.ndarray
    widths: np.ndarray

    @property
    def geometry(self) -> shapely.Geometry:
        return self.parts[0] if len(self.parts) == 1 else shapely.MultiPolygon(list(self.parts))

    @property
    def area_m2(self) -> float:
        return float(shapely.area(self.parts).sum())

    @property
    def width_m(self) -> float:
        return float(self.widths.max())


def _group(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    cuts = np.searchsorted(keys, np.arange(n + 1))
    return [np.unique(values[cuts[i] : cuts[i + 1]]) for i in range(n)]


def _gaps_and_holes(ctx: _Context, boundary_m: shapely.Geometry) -> list[_Finding]:
    covered = shapely.union_all(ctx.work[ctx.present]) if len(ctx.present) else None
    uncovered = boundary_m if covered is None else shapely.difference(boundary_m, covered)
    pieces, _ = _polygon_parts(np.array([uncovered], dtype=object))
    pieces = pieces[ctx.significant(pieces)]
    if len(pieces) == 0:
        return []
    widths = ctx.widths(pieces)
    areas = shapely.area(pieces)
    hole_owner = _enclosing_hole_owner(ctx, pieces)
    bordering = ctx.bordering(pieces)
    findings = []
    for piece, width, area, owner, near in zip(
        pieces, widths, areas, hole_owner, bordering, strict=True
    ):
        codes = ctx.codes(near)
        names = _names(codes)
        if owner >= 0:
            grid = ctx.labels[owner]
            findings.append(
                _Finding(
                    "hole",
                    codes,
                    piece,
                    f"网格 {grid} 内有 {_m(area)} m² 的洞未被其他网格填满（最宽 {_m(width)} m）",
                    f"grid {grid} has a hole of {_m(area)} m² (up to {_m(width)} m wide) "
                    "not filled by other grids",
                    area_m2=area,
                    width_m=width,
                )
            )
        elif width < ctx.tolerance_m:
            length = float(shapely.length(piece)) / 2 - width  # exact for a rectangle
            findings.append(
                _Finding(
                    "sliver",
                    codes,
                    piece,
                    f"{names.zh_between}有窄缝 {_m(area)} m²，"
                    f"宽 {_m(width)} m、长约 {_m(length)} m",
                    f"sliver gap of {_m(area)} m² ({_m(width)} m wide, about {_m(length)} m "
                    f"long){names.en_between}",
                    area_m2=area,
                    width_m=width,
                    length_m=length,
                )
            )
        else:
            findings.append(
                _Finding(
                    "gap",
                    codes,
                    piece,
                    f"{names.zh_between}有空隙 {_m(area)} m²（最宽 {_m(width)} m），未划入任何网格",
                    f"gap of {_m(area)} m² (up to {_m(width)} m wide){names.en_between}, "
                    "covered by no grid",
                    area_m2=area,
                    width_m=width,
                )
            )
    return findings


def _enclosing_hole_owner(ctx: _Context, pieces: np.ndarray) -> np.ndarray:
    """Grid position whose interior ring encloses each piece (smallest ring), else -1."""
    owner = np.full(len(pieces), -1)
    parts, part_owner = _polygon_parts(ctx.work[ctx.present])
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    interior = np.r_[False, ring_part[1:] == ring_part[:-1]]  # rings after each exterior
    if not interior.any():
        return owner
    holes = shapely.polygons(rings[interior])
    holes_owner = ctx.present[part_owner[ring_part[interior]]]
    which, hit = shapely.STRtree(holes).query(shapely.point_on_surface(pieces), predicate="within")
    hole_area = shapely.area(holes)
    for piece in np.unique(which):
        candidates = hit[which == piece]
        owner[piece] = holes_owner[candidates[np.argmin(hole_area[candidates])]]
    return owner


def _overlaps(ctx: _Context) -> list[_Finding]:
    geoms = ctx.work[ctx.present]
    left, right = ctx.tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = ctx.present[left[keep]], ctx.present[right[keep]]
    if len(left) == 0:
        return []
    inter = shapely.intersection(ctx.work[left], ctx.work[right])
    findings = []
    for pieces in ctx.grouped_parts(inter, np.arange(len(inter))):
        pair = [left[pieces.owner], right[pieces.owner]]
        codes = ctx.codes(pair)
        a, b = codes
        findings.append(
            _Finding(
                "overlap",
                codes,
                pieces.geometry,
                f"网格 {a} 与 {b} 重叠 {_m(pieces.area_m2)} m²（最宽 {_m(pieces.width_m)} m）",
                f"grids {a} and {b} overlap by {_m(pieces.area_m2)} m² "
                f"(up to {_m(pieces.width_m)} m wide)",
                area_m2=pieces.area_m2,
                width_m=pieces.width_m,
            )
        )
    return findings


def _invalid(
    geoms_in: np.ndarray,
    missing: np.ndarray,
    valid_in: np.ndarray,
    labels: list[str],
    index: pd.Index,
    out_crs: CRS,
    metric: CRS,
) -> list[_Finding]:
    findings = []
    for i in np.flatnonzero(missing | ~valid_in):
        grid = labels[i]
        if missing[i]:
            findings.append(
                _Finding(
                    "invalid",
                    [grid],
                    None,
                    f"网格 {grid}（第 {index[i]} 行）没有几何图形",
                    f"grid {grid} (row {index[i]}) has no geometry",
                )
            )
            continue
        reason = shapely.is_valid_reason(geoms_in[i])
        what, spot = _parse_reason(reason)
        if spot is None:
            spot = shapely.point_on_surface(shapely.envelope(geoms_in[i]))
        x_m, y_m = _transformer(out_crs, metric).transform(spot.x, spot.y)
        findings.append(
            _Finding(
                "invalid",
                [grid],
                shapely.Point(x_m, y_m),
                f"网格 {grid} 几何无效：{_REASON_ZH.get(what, what)}",
                f"grid {grid} has invalid geometry: {what}",
                geometry_out=spot,
            )
        )
    return findings


@functools.lru_cache(maxsize=32)
def _transformer(source: CRS, target: CRS) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _parse_reason(reason: str) -> tuple[str, shapely.Point | None]:
    """Split GEOS's ``'Self-intersection[x y]'`` into the reason and its location."""
    match = _REASON_LOCATION.search(reason)
    if match is None:
        return reason, None
    what = reason[: match.start()].strip()
    x, y = float(match.group(1)), float(match.group(2))
    return what, (shapely.Point(x, y) if math.isfinite(x) and math.isfinite(y) else None)


def _outside(ctx: _Context, boundary_m: shapely.Geometry) -> list[_Finding]:
    geoms = ctx.work[ctx.present]
    spill = shapely.difference(geoms, boundary_m)
    findings = []
    for pieces in ctx.grouped_parts(spill, ctx.present):
        grid = ctx.labels[pieces.owner]
        findings.append(
            _Finding(
                "outside",
                [grid],
                pieces.geometry,
                f"网格 {grid} 有 {_m(pieces.area_m2)} m² 超出社区边界"
                f"（最宽 {_m(pieces.width_m)} m）",
                f"grid {grid} extends {_m(pieces.area_m2)} m² outside the boundary "
                f"(up to {_m(pieces.width_m)} m wide)",
                area_m2=pieces.area_m2,
                width_m=pieces.width_m,
            )
        )
    return findings


def _multipart(
    ctx: _Context, geoms_m: np.ndarray, valid_in: np.ndarray, grid_size_m: float
) -> list[_Finding]:
    """Grids made of several polygon parts above noise.

    A valid grid is judged on its (snapped) parts; an invalid one on its parts as given,
    each repaired on its own, so a bow-tie stays one part (reported only as ``invalid``)
    while an invalid MultiPolygon with a detached part is also ``multipart``.
    """
    items, owners = [], []
    for i in ctx.present:
        if valid_in[i]:
            parts = _polygon_parts(np.array([ctx.work[i]], dtype=object))[0]
        else:
            parts = [
                _repaired(np.array([part], dtype=object), np.zeros(1, bool), grid_size_m)[0]
                for part in shapely.get_parts(geoms_m[i])
            ]
        items += list(parts)
        owners += [i] * len(parts)
    if not items:
        return []
    items_arr, owners_arr = np.array(items, dtype=object), np.array(owners)
    keep = ctx.significant(items_arr)
    items_arr, owners_arr = items_arr[keep], owners_arr[keep]
    findings = []
    for owner in np.unique(owners_arr):
        mine = items_arr[owners_arr == owner]
        if len(mine) < 2:
            continue
        areas = shapely.area(mine)
        strays = np.delete(mine, np.argmax(areas))
        stray_area = float(shapely.area(strays).sum())
        width = float(ctx.widths(strays).max())
        grid, n = ctx.labels[owner], len(mine)
        findings.append(
            _Finding(
                "multipart",
                [grid],
                _multipolygon(strays) if len(strays) > 1 else strays[0],
                f"网格 {grid} 由 {n} 块不相连的部分组成，较小的 {n - 1} 块共 "
                f"{_m(stray_area)} m²（最大一块 {_m(float(areas.max()))} m²）",
                f"grid {grid} has {n} separate parts; the {n - 1} smaller total "
                f"{_m(stray_area)} m² (largest part {_m(float(areas.max()))} m²)",
                area_m2=stray_area,
                width_m=width,
            )
        )
    return findings


def _edge_mismatches(ctx: _Context) -> list[_Finding]:
    if len(ctx.present) < 2:
        return []
    geoms = ctx.work[ctx.present]
    flagged = shapely.line_merge(shapely.coverage_invalid_edges(geoms, gap_width=ctx.tolerance_m))
    chains, chain_owner = shapely.get_parts(flagged, return_index=True)
    keep = ~shapely.is_empty(chains) & (shapely.length(chains) > 0)
    chains, chain_owner = chains[keep], ctx.present[chain_owner[keep]]
    if len(chains) == 0:
        return []
    deviation, near = _deviation_from_neighbours(ctx, chains, chain_owner)
    mismatched = (deviation > ctx.noise_m) & (deviation <= ctx.tolerance_m)
    findings = []
    for owner in np.unique(chain_owner[mismatched]):
        sel = mismatched & (chain_owner == owner)
        lines = list(chains[sel])
        geom = lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)
        length, width = float(shapely.length(geom)), float(deviation[sel].max())
        others = sorted({ctx.labels[j] for k in np.flatnonzero(sel) for j in near[k]})
        grid = ctx.labels[owner]
        other_zh, other_en = "、".join(others), ", ".join(others)
        tol = _m(ctx.tolerance_m)
        findings.append(
            _Finding(
                "edge_mismatch",
                sorted([grid, *others]),
                geom,
                f"网格 {grid} 有 {_m(length)} m 边界与网格 {other_zh} 的边界相距不到 {tol} m "
                f"但不重合（最大相距 {_m(width)} m），应对齐",
                f"grid {grid}: {_m(length)} m of edge within {tol} m of the edge of grid "
                f"{other_en} but not matching (up to {_m(width)} m apart); snap them",
                length_m=length,
                width_m=width,
            )
        )
    return findings


def _deviation_from_neighbours(
    ctx: _Context, chains: np.ndarray, chain_owner: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """Largest distance from each chain to the nearest edge of the other grids nearby.

    Measured at the chain's vertices and at points every ``tolerance_m`` along it (+inf for
    a chain with no other grid within ``tolerance_m``). Also returns, per chain, the grids
    whose edge is nearest to the middle of one of its pieces: the counterparts to snap to
    (a grid met only at an end of the chain is not one).
    """
    near = ctx.neighbours(chains, ctx.tolerance_m)
    near = [grids[grids != owner] for grids, owner in zip(near, chain_owner, strict=True)]
    step = max(ctx.tolerance_m, ctx.noise_m, 1e-3)
    vertices, vertex_chain = shapely.get_coordinates(
        shapely.segmentize(chains, max_segment_length=step), return_index=True
    )
    same_chain = vertex_chain[1:] == vertex_chain[:-1]
    middles = (vertices[1:][same_chain] + vertices[:-1][same_chain]) / 2
    samples = pd.DataFrame(
        {
            "chain": np.r_[vertex_chain, vertex_chain[1:][same_chain]],
            "middle": np.r_[np.zeros(len(vertices), bool), np.ones(len(middles), bool)],
        }
    )
    coords = np.vstack([vertices, middles])
    samples["point"] = np.arange(len(samples))
    pairs = pd.DataFrame(
        {
            "chain": np.repeat(np.arange(len(chains)), [len(g) for g in near]),
            "grid": np.concatenate(near).astype(int) if near else np.zeros(0, int),
        }
    )
    joined = samples.merge(pairs, on="chain")
    edges = shapely.boundary(ctx.work)
    joined["distance"] = shapely.distance(
        shapely.points(coords[joined["point"].to_numpy()]), edges[joined["grid"].to_numpy()]
    )
    nearest = joined.groupby("point")["distance"].transform("min")
    deviation = joined.assign(nearest=nearest).groupby("chain")["nearest"].max()
    counterpart = joined[joined["middle"] & (joined["distance"] <= nearest + ctx.noise_m)]
    names = counterpart.groupby("chain")["grid"].unique()
    result = np.full(len(chains), np.inf)
    result[deviation.index.to_numpy()] = deviation.to_numpy()
    counterparts = [sorted(names.get(k, [])) for k in range(len(chains))]
    return result, counterparts


def _code_findings(
    geoms_in: np.ndarray,
    geoms_m: np.ndarray,
    labels: list[str],
    code_missing: np.ndarray,
    index: pd.Index,
) -> list[_Finding]:
    findings = []
    by_code: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        if not code_missing[i]:
            by_code.setdefault(label, []).append(i)
    for code, rows in by_code.items():
        if len(rows) < 2:
            continue
        names = ", ".join(str(index[i]) for i in rows)
        findings.append(
            _Finding(
                "duplicate_code",
                [code] * len(rows),
                _multipolygon(geoms_m[rows]),
                f"编码 {code} 被 {len(rows)} 个网格重复使用（第 {names} 行）",
                f"code {code} is held by {len(rows)} grids (rows {names})",
                geometry_out=_multipolygon(geoms_in[rows]),
                keep_input_geometry=True,
            )
        )
    for i in np.flatnonzero(code_missing):
        geom_m = geoms_m[i] if not shapely.is_missing(geoms_m[i]) else None
        findings.append(
            _Finding(
                "missing_code",
                [labels[i]],
                geom_m,
                f"第 {index[i]} 行网格没有编码",
                f"grid in row {index[i]} has no code",
                geometry_out=geoms_in[i],
                keep_input_geometry=True,
            )
        )
    return findings


def _multipolygon(geoms: np.ndarray) -> shapely.Geometry | None:
    parts, _ = _polygon_parts(geoms[~shapely.is_missing(geoms)])
    return shapely.MultiPolygon(list(parts)) if len(parts) else None


# ------------------------------------------------------------------------------- output


@dataclass
class _Names:
    zh_between: str
    en_between: str


def _names(codes: list[str]) -> _Names:
    if not codes:
        return _Names("边界内", " inside the boundary")
    unique = list(dict.fromkeys(codes))
    if len(unique) == 1:
        return _Names(f"网格 {unique[0]} 旁", f" next to grid {unique[0]}")
    return _Names(f"网格 {'、'.join(unique)} 之间", f" between grids {', '.join(unique)}")


def _m(value: float) -> str:
    """Format a size in metres or square metres for a message."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return f"{value:.4f}"


def _where(lon: float, lat: float) -> tuple[str, str]:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "位置未知", "location unknown"
    text = f"{abs(lon):.6f}°{'E' if lon >= 0 else 'W'}, {abs(lat):.6f}°{'N' if lat >= 0 else 'S'}"
    return f"位置 {text}", f"at {text}"


def _to_frame(findings: list[_Finding], out_crs: CRS, metric: CRS) -> gpd.GeoDataFrame:
    columns = {name: [] for name in FINDING_COLUMNS}
    if not findings:
        frame = pd.DataFrame({name: pd.Series([], dtype=_DTYPES[name]) for name in columns})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=out_crs), crs=out_crs)
    located = np.array([f.geometry_m for f in findings], dtype=object)
    anchors = shapely.point_on_surface(located)
    xy_m = np.column_stack([shapely.get_x(anchors), shapely.get_y(anchors)])
    lon, lat = _transformer(metric, WGS84).transform(xy_m[:, 0], xy_m[:, 1])
    projected = gpd.GeoSeries(located, crs=metric).to_crs(out_crs).array
    geometry = [
        f.geometry_out if (f.geometry_out is not None or f.keep_input_geometry) else g
        for f, g in zip(findings, projected, strict=True)
    ]
    for f, x, y in zip(findings, lon, lat, strict=True):
        where_zh, where_en = _where(float(x), float(y))
        columns["kind"].append(f.kind)
        columns["grid_codes"].append(list(f.grid_codes))
        columns["area_m2"].append(float(f.area_m2))
        columns["length_m"].append(float(f.length_m))
        columns["width_m"].append(float(f.width_m))
        columns["severity"].append(SEVERITY_BY_KIND[f.kind])
        columns["message_zh"].append(f"{f.zh}，{where_zh}")
        columns["message_en"].append(f"{f.en} {where_en}")
    # north to south, then west to east; unknown positions last; mm rounding keeps the
    # order stable under numeric noise
    north = np.where(np.isfinite(xy_m[:, 1]), -np.round(xy_m[:, 1], 3), np.inf)
    east = np.where(np.isfinite(xy_m[:, 0]), np.round(xy_m[:, 0], 3), np.inf)
    order = sorted(
        range(len(findings)),
        key=lambda i: (
            _KIND_ORDER[findings[i].kind],
            tuple(findings[i].grid_codes),
            north[i],
            east[i],
        ),
    )
    frame = pd.DataFrame(columns).iloc[order].reset_index(drop=True)
    geo = gpd.GeoSeries([geometry[i] for i in order], crs=out_crs)
    return gpd.GeoDataFrame(frame, geometry=geo, crs=out_crs)


_DTYPES = {
    "kind": object,
    "grid_codes": object,
    "area_m2": float,
    "length_m": float,
    "width_m": float,
    "severity": object,
    "message_zh": object,
    "message_en": object,
}


def _json_value(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
