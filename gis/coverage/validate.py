"""Validate a division of a community into grids: no gap, no overlap (纵向到底、横向到边).

:func:`validate` returns the findings, one row per defect; :func:`is_valid_division` answers
yes/no with the same parameters; :func:`findings_to_geojson` serialises findings for a map.
:func:`validate_arrays` is the same check of a division given as arrays (what ``validate``
runs on a frame's columns): its :class:`Findings` give the same frame or GeoJSON without
pandas or geopandas being imported.

**Where things are decided and measured.** Topology (which edges match, gaps, overlaps,
spills, T-junctions) is decided in the coordinates the grids are drawn in, scaled per axis to
metres (:class:`gis.coverage.plane.Plane`: lon/lat for lon/lat data, so a division that tiles
exactly in lon/lat is valid; the plane of a projected CRS; the metric CRS itself unchanged).
A boundary in another CRS is converted with its edges kept straight. Areas, widths and
lengths of what is found are measured after projecting it to :func:`gis.crs.metric_crs` of
the inputs; the deviation of a near-miss edge (``edge_mismatch`` width) is measured in the
plane (within its scale error, under 0.5 % over 20 km). Rules decided here (the issue is
silent on them):

* **Noise.** A piece (gap, overlap, outside part, hole, part of a grid) whose largest
  inscribed circle is narrower than ``noise_m`` is numeric noise from projections and file
  round trips, whatever its length: such hair-thin slivers along shared edges are exactly
  what rounding produces. An edge that stays within ``noise_m`` of its neighbour's edge is
  noise too (this also covers T-junctions: a vertex of one grid lying on its neighbour's
  edge is not a defect).
* **T-junctions.** A grid corner lying on another grid's or the boundary's edge (within
  ``noise_m / 100``, in the plane) is added to that edge as a vertex before the grids are
  snapped to ``noise_m / 10`` (:mod:`gis.coverage.junctions`), so that snapping cannot
  move it off the edge and leave a hair-thin tail on the pieces found next to it.
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

The rules are here; the speed engine that serves them is in :mod:`gis.coverage.snapping`
(vertices and snapping), :mod:`gis.coverage.segments` (segment hashing and distances),
:mod:`gis.coverage.widths` (exact inscribed circles) and :mod:`gis.coverage.context` (the
snapped grids with their index and the edges GEOS flags); :mod:`gis.coverage.common` holds
what :mod:`gis.coverage.repair` shares, :mod:`gis.geojson` the GeoJSON writer. Speed comes
from doing the expensive work only where a defect can be, with the same answers: grids are
mapped vertex by vertex and built into geometries only where one is needed (validity is
judged on the grids as given, see :func:`gis.coverage.snapping.metric_validity`; a grid
whose ring is certainly convex is valid, as given and rounded, without asking GEOS:
:mod:`gis.coverage.convex`); polygons
are snapped by rounding their vertices where that is what ``set_precision`` gives; edge
segments are matched exactly by hashing, so GEOS's coverage check runs only on grids with an
unmatched segment and their neighbours; the union of the grids with no invalid edge is built
from their unmatched segments; overlaps are intersected only for pairs with a flagged grid;
a grid sharing long exact segments with a gap borders it without an overlay; an edge's
deviation is sampled against the outline segments near each short run of it; widths of
small convex pieces, of small pieces with one reflex vertex (the slivers a moved vertex
leaves) and of hole-free pieces whose edges lie close to few others (long thin slivers) are
solved exactly (GEOS's search, which the exact widths are within tolerance of, on the
others).
``tests/gis/_reference_validate.py`` keeps the straightforward version to compare with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS

from gis.coverage.common import (
    MULTIPOLYGON,
    POLYGON,
    REASON_ZH,
    boundary_in_crs,
    check_boundary_geoms,
    check_parameters,
    check_polygonal,
    check_tolerances,
    code_text,
    division_metric_crs,
    format_m,
    geometry_array,
    joint_bounds,
    multipolygon,
    parse_reason,
    polygon_parts,
    polygonal,
    sliver_length,
    union_polygonal,
)
from gis.coverage.context import Context
from gis.coverage.junctions import with_junctions
from gis.coverage.plane import Plane
from gis.coverage.segments import (
    distance_to_segments,
    grouped,
    near_segments,
    ring_segments,
    same_points,
)
from gis.coverage.snapping import (
    Vertices,
    as_set_precision_gives,
    convex_in_plane,
    in_plane,
    made_valid_and_snapped,
    metric_validity,
    without_rings,
)
from gis.crs import WGS84, geometries_to_crs, require_crs
from gis.defaults import DEFAULT_CODE_FIELD, DEFAULT_NOISE_M, DEFAULT_TOLERANCE_M
from gis.geojson import feature_collection, frame_to_feature_collection, geometry_json, json_value

if TYPE_CHECKING:  # imported where used: validate_arrays needs neither
    import geopandas as gpd

__all__ = [
    "FINDING_COLUMNS",
    "FINDING_KINDS",
    "SEVERITY_BY_KIND",
    "Findings",
    "findings_to_geojson",
    "is_valid_division",
    "validate",
    "validate_arrays",
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


_KIND_ORDER = {kind: i for i, kind in enumerate(FINDING_KINDS)}


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


def validate(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    noise_m: float = DEFAULT_NOISE_M,
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
    check_parameters(grids, boundary, code_field, tolerance_m, noise_m)
    found = validate_arrays(
        geometry_array(grids.geometry), grids[code_field].to_numpy(dtype=object),
        require_crs(grids, "grids / 网格"), geometry_array(boundary.geometry),
        require_crs(boundary, "boundary / 边界"), tolerance_m=tolerance_m, noise_m=noise_m,
        index=grids.index, boundary_index=boundary.index,
    )  # fmt: skip
    return found.to_frame()


@dataclass(frozen=True)
class Findings:
    """What :func:`validate_arrays` finds: the columns :data:`FINDING_COLUMNS` as lists, one
    entry per defect in report order, the locations (``geometry``) and their ``crs``."""

    columns: dict[str, list]
    geometry: np.ndarray
    crs: CRS

    def __len__(self) -> int:
        return len(self.geometry)

    @property
    def has_error(self) -> bool:
        """True when any finding is an ``error`` (the division is not valid)."""
        return "error" in self.columns["severity"]

    def to_frame(self) -> gpd.GeoDataFrame:
        """The findings as the GeoDataFrame :func:`validate` returns."""
        import geopandas as gpd
        import pandas as pd

        if not len(self):
            frame = pd.DataFrame(
                {name: pd.Series([], dtype=_DTYPES[name]) for name in self.columns}
            )
            return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=self.crs), crs=self.crs)
        frame = pd.DataFrame(self.columns)
        geo = gpd.GeoSeries(list(self.geometry), crs=self.crs)
        return gpd.GeoDataFrame(frame, geometry=geo, crs=self.crs)

    def in_crs(self, crs: CRS) -> Findings:
        """The findings with their locations converted to ``crs`` vertex by vertex (as
        ``GeoDataFrame.to_crs`` converts them)."""
        if self.crs.is_exact_same(crs) or not len(self):
            return Findings(self.columns, self.geometry, crs)
        return Findings(self.columns, geometries_to_crs(self.geometry, self.crs, crs), crs)

    def to_geojson(self) -> dict[str, Any]:
        """:func:`findings_to_geojson` of :meth:`to_frame`, built without a frame."""
        lonlat = self.in_crs(WGS84).geometry
        features = []
        for i, geom in enumerate(lonlat):
            props = {name: json_value(self.columns[name][i]) for name in FINDING_COLUMNS}
            props["grid_codes"] = [str(code) for code in self.columns["grid_codes"][i]]
            features.append(
                {"type": "Feature", "geometry": geometry_json(geom), "properties": props}
            )
        return feature_collection(features)


def validate_arrays(
    geoms: np.ndarray,
    codes: np.ndarray,
    crs: CRS,
    boundary: np.ndarray,
    boundary_crs: CRS,
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    noise_m: float = DEFAULT_NOISE_M,
    index: Sequence | None = None,
    boundary_index: Sequence | None = None,
) -> Findings:
    """:func:`validate` of a division given as arrays, with neither geopandas nor pandas.

    ``geoms`` (object array of Polygons/MultiPolygons or None) and ``codes`` (object array)
    are the grids in ``crs``; ``boundary`` the boundary's polygons in ``boundary_crs``.
    ``index`` and ``boundary_index`` label the rows in messages (default: positions 0..n-1,
    the index of a frame read from a file). Same rules and errors as :func:`validate`.
    """
    check_tolerances(tolerance_m, noise_m)
    out_crs = CRS.from_user_input(crs)
    boundary_crs = CRS.from_user_input(boundary_crs)
    geoms_in = np.asarray(geoms, dtype=object)
    boundary = np.asarray(boundary, dtype=object)
    index = range(len(geoms_in)) if index is None else index
    missing = shapely.is_missing(geoms_in) | shapely.is_empty(geoms_in)
    check_polygonal(geoms_in, missing, index, "grids / 网格")
    check_boundary_geoms(
        boundary, range(len(boundary)) if boundary_index is None else boundary_index
    )

    boundary_in = boundary_in_crs(boundary, boundary_crs, out_crs)
    metric = division_metric_crs(geoms_in, out_crs, boundary, boundary_crs)
    plane = Plane(out_crs, metric, joint_bounds(geoms_in, boundary_in))
    labels, code_missing = _code_labels(np.asarray(codes, dtype=object), index)
    vertices_m = in_plane(geoms_in, plane)
    vertices_m.list_vertices()

    grid_size_m = noise_m / 10
    # convex grids are valid as given and once rounded: GEOS checks the others
    convex = convex_in_plane(vertices_m, missing, grid_size_m + plane.rounding_m)
    valid_in = convex.copy()
    doubtful = np.flatnonzero(~missing & ~convex)
    valid_in[doubtful] = shapely.is_valid(geoms_in[doubtful])
    rings: dict[str, np.ndarray] = {}
    valid_m = metric_validity(vertices_m, valid_in, missing)
    work = made_valid_and_snapped(vertices_m, missing, grid_size_m, valid_m, rings, convex)
    ctx = Context(work, labels, noise_m, tolerance_m, rings, plane)
    ctx, boundary_plane = _joined_t_junctions(ctx, vertices_m, valid_m, plane.to_plane(boundary_in))
    boundary_m = union_polygonal(boundary_plane, grid_size_m)

    findings: list[_Finding] = []
    findings += _gaps_and_holes(ctx, boundary_m)
    findings += _overlaps(ctx)
    findings += _invalid(geoms_in, missing, valid_in, labels, index, plane)
    findings += _outside(ctx, boundary_m)
    findings += _multipart(ctx, vertices_m, valid_in, grid_size_m)
    findings += _edge_mismatches(ctx)
    findings += _code_findings(geoms_in, vertices_m, labels, code_missing, index)
    return _collected(findings, out_crs, plane)


def is_valid_division(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    code_field: str = DEFAULT_CODE_FIELD,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    noise_m: float = DEFAULT_NOISE_M,
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
    collection = frame_to_feature_collection(findings, FINDING_COLUMNS)
    for feature, codes in zip(collection["features"], findings["grid_codes"], strict=True):
        feature["properties"]["grid_codes"] = [str(code) for code in codes]
    return collection


def _joined_t_junctions(
    ctx: Context, vertices_m: Vertices, valid_m: np.ndarray, boundary: np.ndarray
) -> tuple[Context, np.ndarray]:
    """``ctx`` and the boundary (plane, not snapped) with their T-junctions made shared
    vertices before snapping (:mod:`gis.coverage.junctions`); ``ctx`` as it is without any."""
    tolerance = ctx.grid_size_m / 10
    if tolerance <= 0 or len(ctx.present) == 0:
        return ctx, boundary
    suspects = ctx.present[~ctx.segments.fully_matched(len(ctx.present))]
    suspects = suspects[valid_m[suspects]]  # invalid grids are judged as repaired
    if len(suspects) == 0:
        return ctx, boundary
    geoms = vertices_m.geometries(suspects)
    present_b = boundary[~(shapely.is_missing(boundary) | shapely.is_empty(boundary))]
    found = with_junctions(geoms, shapely.get_coordinates(present_b), tolerance)
    joined = {int(suspects[k]): geom for k, geom in found.items()}
    # grid corners on the boundary's edges
    boundary = present_b.copy()
    for k, geom in with_junctions(present_b, shapely.get_coordinates(geoms), tolerance).items():
        boundary[k] = geom
    if not joined:
        return ctx, boundary
    positions = np.array(sorted(joined))
    work = ctx.work.copy()
    snapped_again = shapely.set_precision(
        np.array([joined[i] for i in positions], dtype=object), ctx.grid_size_m
    )
    work[positions] = [polygonal(g) for g in snapped_again]
    rings = without_rings(ctx.rings, positions)
    return Context(work, ctx.labels, ctx.noise_m, ctx.tolerance_m, rings, ctx.plane), boundary


def _code_labels(values: np.ndarray, index: Sequence) -> tuple[list[str], np.ndarray]:
    """Return one label per grid (its code, or ``#<index label>``) and the missing-code mask."""
    if all(isinstance(value, str) for value in values):  # all text
        texts = [value.strip() for value in values]
        missing = np.array([not text for text in texts], dtype=bool)
    else:
        texts = [code_text(v) or "" for v in values]
        missing = np.array([not t for t in texts], dtype=bool)
    for i in np.flatnonzero(missing):
        texts[i] = f"#{index[i]}"
    return texts, missing


def _gaps_and_holes(ctx: Context, boundary_m: shapely.Geometry) -> list[_Finding]:
    pieces = _uncovered(ctx, boundary_m)
    pieces = pieces[ctx.significant(pieces)]
    if len(pieces) == 0:
        return []
    metric, areas = ctx.plane.measure(pieces)
    widths = ctx.widths(metric)
    hole_owner = _enclosing_hole_owner(ctx, pieces)
    bordering = ctx.bordering(pieces)
    findings = []
    for piece, piece_m, width, area, owner, near in zip(
        pieces, metric, widths, areas, hole_owner, bordering, strict=True
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
                    f"网格 {grid} 内有 {format_m(area)} m² 的洞未被其他网格填满"
                    f"（最宽 {format_m(width)} m）",
                    f"grid {grid} has a hole of {format_m(area)} m² "
                    f"(up to {format_m(width)} m wide) not filled by other grids",
                    area_m2=area,
                    width_m=width,
                )
            )
        elif width < ctx.tolerance_m:
            length = sliver_length(piece_m, width, ctx.noise_m)
            findings.append(
                _Finding(
                    "sliver",
                    codes,
                    piece,
                    f"{names.zh_between}有窄缝 {format_m(area)} m²，"
                    f"宽 {format_m(width)} m、长约 {format_m(length)} m",
                    f"sliver gap of {format_m(area)} m² ({format_m(width)} m wide, "
                    f"about {format_m(length)} m long){names.en_between}",
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
                    f"{names.zh_between}有空隙 {format_m(area)} m²"
                    f"（最宽 {format_m(width)} m），未划入任何网格",
                    f"gap of {format_m(area)} m² (up to {format_m(width)} m wide)"
                    f"{names.en_between}, covered by no grid",
                    area_m2=area,
                    width_m=width,
                )
            )
    return findings


def _uncovered(ctx: Context, boundary_m: shapely.Geometry) -> np.ndarray:
    """Polygon parts of the boundary covered by no grid.

    The grids GEOS finds no invalid edge on form a valid coverage: their union is the area
    enclosed (even-odd) by their segments not matched among themselves. Of what it leaves
    uncovered, the parts a flagged grid reaches into lose that grid's area by an overlay of
    just those grids. If that union's area is not the sum of its grids' areas, the shortcut
    is not trusted and all grids are overlaid.
    """
    if len(ctx.present) == 0:
        return polygon_parts(np.array([boundary_m], dtype=object))[0]
    clean = ~ctx.flagged
    seg = ctx.segments
    outline = clean[seg.owner] & ~(seg.matched & clean[seg.owner[seg.partner]])
    outline &= ~same_points(seg.start, seg.end)
    lines = shapely.linestrings(np.stack([seg.start[outline], seg.end[outline]], axis=1))
    core = shapely.build_area(shapely.multilinestrings(lines))
    expected_m2 = float(shapely.area(ctx.work[ctx.present[clean]]).sum())
    if not math.isclose(float(shapely.area(core)), expected_m2, rel_tol=1e-9, abs_tol=1e-6):
        covered = shapely.union_all(ctx.exact(ctx.present))
        return polygon_parts(np.array([shapely.difference(boundary_m, covered)], dtype=object))[0]
    if ctx.grid_size_m > 0:
        core = shapely.set_precision(core, ctx.grid_size_m, mode="pointwise")
    left, _ = polygon_parts(np.array([shapely.difference(boundary_m, core)], dtype=object))
    dirty = ctx.exact(ctx.present[~clean])
    which, hit = shapely.STRtree(dirty).query(left, predicate="intersects")
    pieces = [left[np.setdiff1d(np.arange(len(left)), which)]]
    for k in np.unique(which):
        rest = shapely.difference(left[k], shapely.union_all(dirty[hit[which == k]]))
        pieces.append(polygon_parts(np.array([rest], dtype=object))[0])
    return np.concatenate(pieces)


def _enclosing_hole_owner(ctx: Context, pieces: np.ndarray) -> np.ndarray:
    """Grid position whose interior ring encloses each piece (smallest ring), else -1."""
    owner = np.full(len(pieces), -1)
    geoms = ctx.work[ctx.present]
    maybe = shapely.get_type_id(geoms) == MULTIPOLYGON
    maybe |= shapely.get_num_interior_rings(geoms) > 0
    grids = ctx.present[maybe]
    parts, part_owner = polygon_parts(ctx.work[grids])
    with_holes = shapely.get_num_interior_rings(parts) > 0
    parts, part_owner = parts[with_holes], part_owner[with_holes]
    if len(parts) == 0:
        return owner
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    interior = np.r_[False, ring_part[1:] == ring_part[:-1]]  # rings after each exterior
    if not interior.any():
        return owner
    holes = shapely.polygons(rings[interior])
    holes_owner = grids[part_owner[ring_part[interior]]]
    which, hit = shapely.STRtree(holes).query(shapely.point_on_surface(pieces), predicate="within")
    hole_area = shapely.area(holes)
    for piece in np.unique(which):
        candidates = hit[which == piece]
        owner[piece] = holes_owner[candidates[np.argmin(hole_area[candidates])]]
    return owner


def _overlaps(ctx: Context) -> list[_Finding]:
    """Pairs of grids overlapping above noise.

    Two grids whose interiors meet have edges GEOS calls invalid (an edge inside the other
    grid, crossing its edges, or duplicating them), so only pairs with a flagged grid, and
    of those only pairs that do more than touch, are intersected.
    """
    flagged = np.flatnonzero(ctx.flagged)
    which, other = ctx.tree.query(ctx.work[ctx.present[flagged]], predicate="intersects")
    pairs = np.unique(
        np.column_stack([np.minimum(flagged[which], other), np.maximum(flagged[which], other)]),
        axis=0,
    ).reshape(-1, 2)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    left, right = ctx.present[pairs[:, 0]], ctx.present[pairs[:, 1]]
    # grids that only touch share no area (at most snapping slivers, below noise)
    meeting = ~shapely.touches(ctx.work[left], ctx.work[right])
    left, right = left[meeting], right[meeting]
    if len(left) == 0:
        return []
    inter = shapely.intersection(ctx.exact(left), ctx.exact(right))
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
                f"网格 {a} 与 {b} 重叠 {format_m(pieces.area_m2)} m²"
                f"（最宽 {format_m(pieces.width_m)} m）",
                f"grids {a} and {b} overlap by {format_m(pieces.area_m2)} m² "
                f"(up to {format_m(pieces.width_m)} m wide)",
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
    index: Sequence,
    plane: Plane,
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
        what, spot = parse_reason(reason)
        if spot is None:
            spot = shapely.point_on_surface(shapely.envelope(geoms_in[i]))
        x_m, y_m = plane.forward(np.array([[spot.x, spot.y]]))[0]
        findings.append(
            _Finding(
                "invalid",
                [grid],
                shapely.Point(x_m, y_m),
                f"网格 {grid} 几何无效：{REASON_ZH.get(what, what)}",
                f"grid {grid} has invalid geometry: {what}",
                geometry_out=spot,
            )
        )
    return findings


def _outside(ctx: Context, boundary_m: shapely.Geometry) -> list[_Finding]:
    shapely.prepare(boundary_m)
    spilling = ctx.present[~_properly_inside(ctx, boundary_m)]
    # a grid along the outline that the boundary covers spills nothing: no overlay with a
    # boundary that holds every grid corner on its edges (the T-junctions joined)
    spilling = spilling[~shapely.covers(boundary_m, ctx.work[spilling])]
    spill = shapely.difference(ctx.exact(spilling), boundary_m)
    findings = []
    for pieces in ctx.grouped_parts(spill, spilling):
        grid = ctx.labels[pieces.owner]
        findings.append(
            _Finding(
                "outside",
                [grid],
                pieces.geometry,
                f"网格 {grid} 有 {format_m(pieces.area_m2)} m² 超出社区边界"
                f"（最宽 {format_m(pieces.width_m)} m）",
                f"grid {grid} extends {format_m(pieces.area_m2)} m² outside the boundary "
                f"(up to {format_m(pieces.width_m)} m wide)",
                area_m2=pieces.area_m2,
                width_m=pieces.width_m,
            )
        )
    return findings


def _properly_inside(ctx: Context, boundary_m: shapely.Geometry) -> np.ndarray:
    """``shapely.contains_properly(boundary_m, grids)`` over ``ctx.present``.

    A polygon whose envelope meets no envelope of the boundary's outline segments does not
    meet the outline: it lies wholly inside or wholly outside, as any of its vertices does.
    Only the others are asked of GEOS, and the first vertex of those polygons is located
    (a multipolygon's parts could lie on both sides: GEOS too).
    """
    geoms = ctx.work[ctx.present]
    start, end, _, _, _ = ring_segments(np.array([boundary_m], dtype=object))
    outline = shapely.linestrings(np.stack([start, end], axis=1))
    near = np.zeros(len(geoms), dtype=bool)
    near[ctx.tree.query(outline)[1]] = True
    near |= shapely.get_type_id(geoms) != POLYGON
    inside = np.zeros(len(geoms), dtype=bool)
    far = np.flatnonzero(~near)
    seg = ctx.segments
    first = np.full(len(geoms), -1)
    first[seg.owner[::-1]] = np.arange(len(seg.owner))[::-1]  # first segment of each grid
    located = far[first[far] >= 0]
    x, y = seg.start[first[located]].T
    inside[located] = shapely.contains_xy(boundary_m, x, y)
    doubtful = np.ones(len(geoms), dtype=bool)
    doubtful[located] = False
    doubtful = np.flatnonzero(doubtful)
    inside[doubtful] = shapely.contains_properly(boundary_m, geoms[doubtful])
    return inside


def _multipart(
    ctx: Context, vertices_m: Vertices, valid_in: np.ndarray, grid_size_m: float
) -> list[_Finding]:
    """Grids made of several polygon parts above noise.

    A valid grid is judged on its (snapped) parts; an invalid one on its parts as given,
    each repaired on its own, so a bow-tie stays one part (reported only as ``invalid``)
    while an invalid MultiPolygon with a detached part is also ``multipart``.
    """
    valid_grids = ctx.present[valid_in[ctx.present]]
    judged = ~valid_in.copy()  # a valid grid with one part is never multipart
    judged[valid_grids[shapely.get_num_geometries(ctx.work[valid_grids]) > 1]] = True
    items, owners = [], []
    for i in ctx.present[judged[ctx.present]]:
        if valid_in[i]:
            parts = polygon_parts(ctx.exact([i]))[0]
        else:
            pieces = shapely.get_parts(vertices_m.geometries([i])[0])
            rings: dict[str, np.ndarray] = {}
            repaired = made_valid_and_snapped(
                pieces, np.zeros(len(pieces), bool), grid_size_m, None, rings
            )
            directly = np.zeros(len(pieces), dtype=bool)
            directly[rings.get("index", np.zeros(0, dtype=int))] = True
            parts = list(as_set_precision_gives(repaired, directly, grid_size_m))
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
        areas, widths = ctx.measured(mine)
        largest = np.argmax(areas)
        strays = np.delete(mine, largest)
        stray_area = float(np.delete(areas, largest).sum())
        width = float(np.delete(widths, largest).max())
        grid, n = ctx.labels[owner], len(mine)
        findings.append(
            _Finding(
                "multipart",
                [grid],
                multipolygon(strays) if len(strays) > 1 else strays[0],
                f"网格 {grid} 由 {n} 块不相连的部分组成，较小的 {n - 1} 块共 "
                f"{format_m(stray_area)} m²（最大一块 {format_m(float(areas.max()))} m²）",
                f"grid {grid} has {n} separate parts; the {n - 1} smaller total "
                f"{format_m(stray_area)} m² (largest part {format_m(float(areas.max()))} m²)",
                area_m2=stray_area,
                width_m=width,
            )
        )
    return findings


def _edge_mismatches(ctx: Context) -> list[_Finding]:
    if len(ctx.present) < 2:
        return []
    flagged_grids, edges = ctx.invalid_edges
    if ctx.grid_size_m > 0:  # as if cut from exact grids: segmentize snaps its points then
        edges = shapely.set_precision(edges, ctx.grid_size_m, mode="pointwise")
    chains, chain_owner = shapely.get_parts(shapely.line_merge(edges), return_index=True)
    chain_owner = flagged_grids[chain_owner]
    keep = ~shapely.is_empty(chains) & (shapely.length(chains) > 0)
    chains, chain_owner = chains[keep], ctx.present[chain_owner[keep]]
    if len(chains) == 0:
        return []
    deviation, near = _deviation_from_neighbours(ctx, chains, chain_owner)
    mismatched = (deviation > ctx.noise_m) & (deviation <= ctx.tolerance_m)
    findings = []
    # each chain's length in the metric CRS: a grid's length is the sum over its chains
    lengths = shapely.length(ctx.plane.to_metric(chains[mismatched]))
    chain_length = np.zeros(len(chains))
    chain_length[mismatched] = lengths
    for owner in np.unique(chain_owner[mismatched]):
        sel = mismatched & (chain_owner == owner)
        lines = list(chains[sel])
        geom = lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)
        length = 0.0
        for part in chain_length[sel]:  # in order, as GEOS sums a MultiLineString's parts
            length += float(part)
        width = float(deviation[sel].max())
        others = sorted({ctx.labels[j] for k in np.flatnonzero(sel) for j in near[k]})
        grid = ctx.labels[owner]
        other_zh, other_en = "、".join(others), ", ".join(others)
        tol = format_m(ctx.tolerance_m)
        findings.append(
            _Finding(
                "edge_mismatch",
                sorted([grid, *others]),
                geom,
                f"网格 {grid} 有 {format_m(length)} m 边界与网格 {other_zh} 的边界相距不到 {tol} m "
                f"但不重合（最大相距 {format_m(width)} m），应对齐",
                f"grid {grid}: {format_m(length)} m of edge within {tol} m of the edge of grid "
                f"{other_en} but not matching (up to {format_m(width)} m apart); snap them",
                length_m=length,
                width_m=width,
            )
        )
    return findings


def _deviation_from_neighbours(
    ctx: Context, chains: np.ndarray, chain_owner: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """Largest distance from each chain to the nearest edge of the other grids nearby.

    Measured at the chain's vertices and at points every ``tolerance_m`` along it (+inf for
    a chain with no other grid within ``tolerance_m``). Also returns, per chain, the grids
    whose edge is nearest to the middle of one of its pieces: the counterparts to snap to
    (a grid met only at an end of the chain is not one). A chain one of whose vertices or
    segment middles already lies farther than ``tolerance_m`` from every such edge is not
    sampled further; the deviation of such chains is only known to exceed ``tolerance_m``
    (what is returned for them is no measurement).
    """
    near = ctx.neighbours(chains, ctx.tolerance_m)
    near = [grids[grids != owner] for grids, owner in zip(near, chain_owner, strict=True)]
    coarse, _ = _sampled_deviation(ctx, chains, near, step=None)
    # the middle of each segment is sampled below too, up to rounding of its coordinates
    within = np.flatnonzero(coarse <= ctx.tolerance_m + 1e-9)
    step = max(ctx.tolerance_m, ctx.noise_m, 1e-3)
    deviation, names = _sampled_deviation(ctx, chains[within], [near[k] for k in within], step)
    result = coarse.copy()
    result[within] = deviation
    counterparts: list[list[int]] = [[] for _ in range(len(chains))]
    for k, grids in zip(within, names, strict=True):
        counterparts[k] = grids
    return result, counterparts


def _sampled_deviation(
    ctx: Context, chains: np.ndarray, near: list[np.ndarray], step: float | None
) -> tuple[np.ndarray, list[list[int]]]:
    """:func:`_deviation_from_neighbours` sampled at the vertices of the chains (every
    ``step`` metres along them unless ``step`` is None) and halfway between them.

    Each sample is measured against the outline segments of the grids near its chain that
    come within reach of its run (a few consecutive vertices of the chain and the stretch
    between them): a segment within reach of a sample is within reach of its run, and a
    nearest distance beyond reach only says the chain is no near-miss.
    """
    lines = chains if step is None else shapely.segmentize(chains, max_segment_length=step)
    vertices, vertex_chain = shapely.get_coordinates(lines, return_index=True)
    same_chain = vertex_chain[1:] == vertex_chain[:-1]
    # runs of _RUN vertices along each chain, each with the vertex ending its last stretch
    chain_first = np.searchsorted(vertex_chain, np.arange(len(chains)))
    local = np.arange(len(vertices)) - chain_first[vertex_chain]
    run_first = np.flatnonzero(local % _RUN == 0)
    vertex_run = np.cumsum(local % _RUN == 0) - 1
    run_chain = vertex_chain[run_first]
    low = np.minimum.reduceat(vertices, run_first) if len(vertices) else vertices
    high = np.maximum.reduceat(vertices, run_first) if len(vertices) else vertices
    run_end = np.r_[run_first[1:], len(vertices)]  # the vertex after each run
    goes_on = np.flatnonzero(run_end < len(vertices))
    goes_on = goes_on[run_chain[goes_on] == vertex_chain[run_end[goes_on]]]
    low[goes_on] = np.minimum(low[goes_on], vertices[run_end[goes_on]])
    high[goes_on] = np.maximum(high[goes_on], vertices[run_end[goes_on]])
    run_boxes = np.column_stack([low, high])
    middles = (vertices[1:][same_chain] + vertices[:-1][same_chain]) / 2
    coords = np.vstack([vertices, middles])
    sample_run = np.r_[vertex_run, vertex_run[:-1][same_chain]]
    sample_chain = run_chain[sample_run]
    middle = np.r_[np.zeros(len(vertices), bool), np.ones(len(middles), bool)]
    # pairs (run, grid near its chain), and rows (sample, pair of its run), grouped by sample
    per_chain = np.array([len(grids) for grids in near], dtype=int)
    near_flat = np.concatenate(near).astype(int) if near else np.zeros(0, int)
    per_run = per_chain[run_chain]
    pair_run = np.repeat(np.arange(len(run_first)), per_run)
    run_pairs_first = np.cumsum(per_run) - per_run
    pair_k = np.arange(len(pair_run)) - run_pairs_first[pair_run]
    pair_grid = near_flat[(np.cumsum(per_chain) - per_chain)[run_chain[pair_run]] + pair_k]
    pair_chain = run_chain[pair_run]
    per_sample = per_run[sample_run]
    row_start = np.cumsum(per_sample) - per_sample
    row_sample = np.repeat(np.arange(len(coords)), per_sample)
    row_pair = np.arange(len(row_sample)) - np.repeat(row_start, per_sample)
    row_pair += np.repeat(run_pairs_first[sample_run], per_sample)
    # only outline segments near the run can be nearest to a sample within reach, and
    # only distances within reach matter (farther, the chain is no near-miss)
    reach = ctx.tolerance_m + ctx.noise_m + 1e-6
    offsets, start, end = near_segments(ctx.work, pair_grid, run_boxes[pair_run], reach)
    distance = distance_to_segments(coords[row_sample], row_pair, offsets, start, end)
    sampled = per_sample > 0  # a sample of a chain without grids nearby measures nothing
    nearest = np.full(len(coords), np.nan)
    if len(distance):
        nearest[sampled] = np.fmin.reduceat(distance, row_start[sampled])
    deviation = np.full(len(chains), np.nan)
    np.fmax.at(deviation, sample_chain[sampled], nearest[sampled])
    result = np.where(np.isin(np.arange(len(chains)), sample_chain[sampled]), deviation, np.inf)
    counterpart = middle[row_sample] & (distance <= nearest[row_sample] + ctx.noise_m)
    names = grouped(
        pair_chain[row_pair[counterpart]], pair_grid[row_pair[counterpart]], len(chains)
    )
    return result, [names_k.tolist() for names_k in names]


_RUN = 8  # vertices of a chain whose samples share the outline segments measured against


def _code_findings(
    geoms_in: np.ndarray,
    vertices_m: Vertices,
    labels: list[str],
    code_missing: np.ndarray,
    index: Sequence,
) -> list[_Finding]:
    findings = []
    rows_of: dict[str, list[int]] = {}  # first-seen order, rows in order
    for i in np.flatnonzero(~code_missing):
        rows_of.setdefault(labels[i], []).append(int(i))
    for code, rows in rows_of.items():
        if len(rows) < 2:
            continue
        names = ", ".join(str(index[i]) for i in rows)
        findings.append(
            _Finding(
                "duplicate_code",
                [code] * len(rows),
                multipolygon(vertices_m.geometries(rows)),
                f"编码 {code} 被 {len(rows)} 个网格重复使用（第 {names} 行）",
                f"code {code} is held by {len(rows)} grids (rows {names})",
                geometry_out=multipolygon(geoms_in[rows]),
                keep_input_geometry=True,
            )
        )
    for i in np.flatnonzero(code_missing):
        geom_m = vertices_m.geometries([i])[0]
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


def _where(lon: float, lat: float) -> tuple[str, str]:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "位置未知", "location unknown"
    text = f"{abs(lon):.6f}°{'E' if lon >= 0 else 'W'}, {abs(lat):.6f}°{'N' if lat >= 0 else 'S'}"
    return f"位置 {text}", f"at {text}"


def _collected(findings: list[_Finding], out_crs: CRS, plane: Plane) -> Findings:
    columns: dict[str, list] = {name: [] for name in FINDING_COLUMNS}
    if not findings:
        return Findings(columns, np.empty(0, dtype=object), out_crs)
    located = np.array([f.geometry_m for f in findings], dtype=object)
    anchors = shapely.point_on_surface(located)
    xy_m = np.column_stack([shapely.get_x(anchors), shapely.get_y(anchors)])
    lon, lat = plane.lonlat(xy_m)
    projected = plane.to_crs(located, out_crs)
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
    ordered = {name: [values[i] for i in order] for name, values in columns.items()}
    located_out = np.empty(len(order), dtype=object)
    located_out[:] = [geometry[i] for i in order]
    return Findings(ordered, located_out, out_crs)


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
