"""Validate a division of a community into grids: no gap, no overlap (纵向到底、横向到边).

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
  grid is one closed polygon (DESIGN.md §2, DB11/T 2157-2023).
* **Order.** Kind in :data:`FINDING_KINDS` order, then ``grid_codes``, then position of the
  defect, north to south then west to east.
* **Empty grids.** With no grid at all, the whole boundary is one ``gap``.

Speed (issue 6 part 3) comes from doing the expensive work only where a defect can be, with
the same answers: grids are projected vertex by vertex, each distinct vertex once, and built
into geometries only where one is needed (validity is judged on the grids as given, see
:func:`_metric_validity`); polygons are snapped by rounding their vertices where that is
what ``set_precision`` gives; edge segments are matched exactly by hashing, so GEOS's
coverage check runs only on grids with an unmatched segment and their neighbours; the union
of the grids with no invalid edge is built from their unmatched segments; overlaps are
intersected only for pairs with a flagged grid; a grid sharing long exact segments with a
gap borders it without an overlay; widths of small convex pieces, and of small pieces with
one reflex vertex (the slivers a moved vertex leaves), are solved exactly (GEOS's search,
which the widths above are within tolerance of, on the others).
``tests/gis/_reference_validate.py`` keeps the straightforward version to compare with.
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

from gis.coverage.plane import Plane
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
_NO_CRS = CRS.from_epsg(3857)  # a stand-in: contexts built without a plane are metric
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
    _check_boundary(boundary)

    boundary_in = _geometry_array(_as_frame(boundary).geometry.to_crs(out_crs))
    metric = _metric_crs(grids, _as_frame(boundary))
    plane = Plane(out_crs, metric, _joint_bounds(geoms_in, boundary_in))
    labels, code_missing = _code_labels(grids[code_field], grids.index)
    vertices_m = _in_plane(geoms_in, plane)

    valid_in = shapely.is_valid(geoms_in) & ~missing
    grid_size_m = noise_m / 10
    rings: dict[str, np.ndarray] = {}
    valid_m = _metric_validity(vertices_m, valid_in, missing)
    work = _repaired(vertices_m, missing, grid_size_m, valid_m, rings)
    boundary_m = _union_polygonal(plane.to_plane(boundary_in), grid_size_m)
    ctx = _Context(work, labels, noise_m, tolerance_m, rings, plane)

    findings: list[_Finding] = []
    findings += _gaps_and_holes(ctx, boundary_m)
    findings += _overlaps(ctx)
    findings += _invalid(geoms_in, missing, valid_in, labels, grids.index, plane)
    findings += _outside(ctx, boundary_m)
    findings += _multipart(ctx, vertices_m, valid_in, grid_size_m)
    findings += _edge_mismatches(ctx)
    findings += _code_findings(geoms_in, vertices_m, labels, code_missing, grids.index)
    return _to_frame(findings, out_crs, plane)


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
    collection = feature_collection(findings, FINDING_COLUMNS)
    for feature, codes in zip(collection["features"], findings["grid_codes"], strict=True):
        feature["properties"]["grid_codes"] = [str(code) for code in codes]
    return collection


def feature_collection(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """``frame`` as an RFC 7946 FeatureCollection in lon/lat with ``columns`` as properties.

    NaN/inf become null, numpy scalars plain numbers, a missing or empty geometry a null
    geometry; polygon exteriors are counter-clockwise.
    """
    geo = frame.geometry.to_crs(WGS84) if len(frame) else frame.geometry
    geoms = shapely.orient_polygons(_geometry_array(geo), exterior_cw=False)
    features = []
    for row, geom in zip(frame.itertuples(index=False), geoms, strict=True):
        props = {name: _json_value(getattr(row, name)) for name in columns}
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


class _Vertices:
    """Geometries held as their vertices, built only where a geometry is needed.

    ``shapes`` give the structure (parts and rings); ``coords`` the vertices in the order
    ``shapely.get_coordinates`` lists them, or None when ``shapes`` are the geometries
    themselves. Projecting the vertices of 200,000 grids is cheap, building 200,000
    geometries from them is not, and most grids are needed only snapped
    (:func:`_snapped` builds those from the vertices directly).
    """

    def __init__(self, shapes: np.ndarray, coords: np.ndarray | None = None):
        self.shapes = shapes
        self.coords = coords
        if coords is not None:
            self.first = np.r_[0, np.cumsum(shapely.get_num_coordinates(shapes))]

    def __len__(self) -> int:
        return len(self.shapes)

    def subset(self, positions: np.ndarray) -> _Vertices:
        if self.coords is None:
            return _Vertices(self.shapes[positions])
        return _Vertices(self.shapes[positions], self.coordinates(positions)[0])

    def geometries(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """The geometries at ``positions`` (integers)."""
        positions = np.asarray(positions, dtype=int)
        if self.coords is None:
            return self.shapes[positions]
        return shapely.set_coordinates(self.shapes[positions], self.coordinates(positions)[0])

    def coordinates(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vertices of the geometries at ``positions`` and, for each, its index in them."""
        if self.coords is None:
            return shapely.get_coordinates(self.shapes[positions], return_index=True)
        counts = np.diff(self.first)[positions]
        owner = np.repeat(np.arange(len(positions)), counts)
        within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.coords[within + np.repeat(self.first[positions], counts)], owner


def _in_plane(geoms: np.ndarray, plane: Plane) -> _Vertices:
    """``geoms`` in the division's plane (:class:`Plane`), held as their mapped vertices.

    In the metric CRS itself the geometries are taken as they are. Otherwise their vertices
    are mapped (one affine map, so equal vertices stay equal and straight edges straight);
    Z is dropped.
    """
    if plane.identity:
        return _Vertices(geoms)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    return _Vertices(geoms, plane.forward(shapely.get_coordinates(geoms)))


def _joint_bounds(*arrays: np.ndarray) -> np.ndarray:
    """Bounds (xmin, ymin, xmax, ymax) of all geometries of ``arrays`` together."""
    bounds = np.vstack([shapely.bounds(a).reshape(-1, 4) for a in arrays])
    with np.errstate(invalid="ignore"):
        low, high = np.nanmin(bounds[:, :2], axis=0), np.nanmax(bounds[:, 2:], axis=0)
    return np.r_[low, high]


def _as_frame(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def _check_boundary(boundary: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """Raise InputError for a boundary without any polygon, or with a non-polygon row."""
    geoms = _geometry_array(boundary.geometry)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.all():
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    _check_polygonal(geoms, missing, boundary.index, "boundary / 边界")


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
    values = codes.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":  # all text
        texts = [value.strip() for value in values]
        missing = np.array([not text for text in texts], dtype=bool)
    else:
        texts = [_code_text(v) or "" for v in values]
        missing = np.array([not t for t in texts], dtype=bool)
    for i in np.flatnonzero(missing):
        texts[i] = f"#{index[i]}"
    return texts, missing


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


def _metric_crs(grids: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> CRS:
    """:func:`gis.crs.metric_crs` of the grids and the boundary, without projecting every grid.

    ``metric_crs`` decides from the centre of the lon/lat extent. For many projected grids the
    extent is bracketed instead: the lon/lat of the vertices of the outermost grids lie
    inside it, the densified projected bounding box encloses it. When every centre the
    brackets allow gives the same answer, that is the answer; otherwise (a centre near a
    zone edge) the grids are projected as ``metric_crs`` does.
    """
    crs = require_crs(grids, "grids / 网格")
    geoms = _geometry_array(grids.geometry)
    if crs.is_geographic or len(geoms) < 1000 or not np.isfinite(grids.total_bounds).all():
        return metric_crs(grids, boundary)
    # any vertices bound the extent from inside: take those of the outermost grids
    x0, y0, x1, y1 = shapely.bounds(geoms).T
    outermost = [np.nanargmin(d) for d in (x0, y0, -x1, -y1, x0 + y0, x0 - y1, y0 - x1, -x1 - y1)]
    extreme = shapely.get_coordinates(geoms[outermost])
    x0, y0, x1, y1 = np.nanmin(x0), np.nanmin(y0), np.nanmax(x1), np.nanmax(y1)
    frame = shapely.segmentize(shapely.box(x0, y0, x1, y1), max(x1 - x0, y1 - y0) / 100)
    # geopandas caches its transformers: the boundary goes the same way in metric_crs
    lonlat = gpd.GeoSeries([shapely.multipoints(extreme), frame], crs=crs).to_crs(WGS84)
    lon, lat = shapely.get_coordinates(lonlat.iloc[0]).T
    outer = lonlat.iloc[1].bounds
    margin = 1e-6  # degrees; the densified box edges are far closer than that
    low = np.array([outer[0] - margin, outer[1] - margin, lon.max(), lat.max()])
    high = np.array([lon.min(), lat.min(), outer[2] + margin, outer[3] + margin])
    if not (np.isfinite(low).all() and np.isfinite(high).all()) or (high - low).max() > 1e-3:
        return metric_crs(grids, boundary)
    answers = []
    for lon_side in (low, high):  # the centre is monotone in each bound: its corners suffice
        for lat_side in (low, high):
            corners = shapely.points([[lon_side[0], lat_side[1]], [lon_side[2], lat_side[3]]])
            proxy = gpd.GeoDataFrame(geometry=corners, crs=WGS84)
            answers.append(metric_crs(proxy, boundary))
    if any(answer != answers[0] for answer in answers):
        return metric_crs(grids, boundary)
    return answers[0]


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


def _repaired(
    geoms_m: np.ndarray | _Vertices,
    missing: np.ndarray,
    grid_size_m: float,
    valid_m: np.ndarray | None = None,
    rings: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Metric geometries made valid (polygonal parts) and snapped to ``grid_size_m``.

    Missing geometries become None. Snapping to a grid far below the noise floor makes
    vertices that differ only in their last bits identical again (file and projection
    round trips), so that most noise never reaches the overlay. ``valid_m`` says which
    geometries to take as valid (default ``shapely.is_valid(geoms_m)``; see
    :func:`_metric_validity`); ``rings``, if given, receives the
    clockwise rings of the polygons :func:`_snapped` rounded directly (``index`` into the
    result, ``coords``, ``owner`` into ``index``).
    """
    vertices = geoms_m if isinstance(geoms_m, _Vertices) else _Vertices(geoms_m)
    present = np.flatnonzero(~missing)
    work = np.full(len(vertices), None, dtype=object)
    if valid_m is None:
        valid_m = np.zeros(len(vertices), dtype=bool)
        valid_m[present] = shapely.is_valid(vertices.geometries(present))
    broken = ~missing & ~valid_m
    for i in np.flatnonzero(broken):
        work[i] = _made_valid(vertices.geometries([i])[0])
    if grid_size_m > 0:
        work[present] = _snapped(
            vertices.subset(present), grid_size_m, ~broken[present], rings, work[present]
        )
        if rings:
            rings["index"] = present[rings["index"]]
    else:
        kept = np.flatnonzero(~missing & ~broken)
        work[kept] = vertices.geometries(kept)
    return work


def _metric_validity(
    vertices_m: _Vertices, valid_in: np.ndarray, missing: np.ndarray
) -> np.ndarray:
    """Which projected grids to treat as valid: those valid as given, or valid once projected.

    Projecting moves vertices smoothly, so a valid grid stays valid but for a vertex a few
    ulps from another edge. Those rare grids are not looked for: :func:`_snapped` checks
    every polygon it rounds, and repairs any invalid one it hands to ``set_precision``.
    """
    valid_m = valid_in.copy()
    doubtful = np.flatnonzero(~valid_in & ~missing)
    valid_m[doubtful] = shapely.is_valid(vertices_m.geometries(doubtful))
    return valid_m


def _made_valid(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of ``make_valid`` (structure method) of ``geom``."""
    return _polygonal(shapely.make_valid(geom, method="structure", keep_collapsed=False))


def _as_set_precision_gives(
    geoms: np.ndarray, snapped_directly: np.ndarray, grid_size_m: float
) -> np.ndarray:
    """``geoms`` with the fixed precision model where :func:`_snapped` left them floating.

    ``set_precision`` gives its results the snapping grid as fixed precision model; a grid
    rebuilt from parts afterwards (a multipolygon in :func:`_polygonal`) has the floating
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


def _snapped(
    geoms: _Vertices,
    grid_size_m: float,
    was_valid: np.ndarray,
    rings: dict[str, np.ndarray] | None = None,
    repaired: np.ndarray | None = None,
) -> np.ndarray:
    """``_polygonal(shapely.set_precision(g, grid_size_m))`` for each of ``geoms``.

    ``repaired`` holds, where ``was_valid`` is False, the geometry to snap instead.

    ``set_precision`` snap-rounds through an overlay, which is slow. For a valid polygon
    without holes whose vertices, rounded to the grid as GEOS rounds them, still form a
    valid ring without repeated vertices, the overlay gives back that ring, clockwise and
    starting at its second vertex: such polygons are rounded and rotated directly, vertex
    for vertex the same. They keep the floating precision model: :meth:`_Context.exact`
    gives them ``set_precision``'s fixed one (which later overlays snap-round to) where an
    overlay needs it. The shortcut is checked against ``set_precision`` on a sample (a GEOS
    that builds its rings differently only loses the shortcut); everything else goes
    through ``set_precision``.
    """
    out = np.full(len(geoms), None, dtype=object)
    shapes = geoms.shapes  # parts and rings as in the geometries
    candidate = was_valid & (shapely.get_type_id(shapes) == _POLYGON)
    candidate &= ~shapely.has_z(shapes) & (grid_size_m <= 1)
    candidate[candidate] &= shapely.get_num_interior_rings(shapes[candidate]) == 0
    idx = np.flatnonzero(candidate)
    if len(idx):
        # in chunks: each large temporary array in fresh memory costs page faults
        found = [
            _rounded_rings(geoms, part, grid_size_m)
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
            given[k] = _made_valid(given[k])
        reduced = shapely.set_precision(given, grid_size_m)
        for k, geom in zip(rest, reduced, strict=True):
            out[k] = _polygonal(geom)
    return out


_SNAP_CHUNK = 50_000  # polygons rounded at once


def _rounded_rings(
    geoms: _Vertices, idx: np.ndarray, grid_size_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The single-ring polygons ``geoms[idx]`` rounded and rotated as ``set_precision``
    gives them (see :func:`_snapped`), where that leaves a valid ring.

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
    repeated = _same_points(rounded[1:], rounded[:-1]) & same_ring
    ok[owner[1:][repeated]] = False
    ccw = twice_area > 0
    k = np.arange(len(owner)) - first[owner]
    n = (last - first)[owner]
    source = first[owner] + np.where(
        ccw[owner], np.where(k < n, n - 1 - k, n - 1), np.where(k < n, k + 1, 1)
    )
    rotated = rounded[source]
    rebuilt = shapely.set_coordinates(geoms.shapes[idx], rotated)
    ok &= shapely.is_valid(rebuilt)
    kept = ok[owner]
    return idx[ok], rebuilt[ok], rotated[kept], np.cumsum(ok)[owner[kept]] - 1


# --------------------------------------------------------------------------- the checks


class _Context:
    """Repaired metric grids with their labels, spatial index and thresholds."""

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
        self.plane = plane if plane is not None else Plane(_NO_CRS, _NO_CRS, (0, 0, 0, 0))
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
        the shortcut in :func:`_snapped`.
        """
        positions = np.asarray(positions, dtype=int)
        return _as_set_precision_gives(
            self.work[positions], self.snapped_directly[positions], self.grid_size_m
        )

    @functools.cached_property
    def segments(self) -> _Segments:
        """Edge segments of the present grids (owners are positions in ``present``)."""
        known = None
        if "index" in self.rings:  # clockwise rings known from snapping
            at = np.searchsorted(self.present, self.rings["index"])
            known = (at, self.rings["coords"], self.rings["owner"])
        return _matched_segments(self.work[self.present], known)

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
        polygon = np.flatnonzero(present & (shapely.get_type_id(parts) == _POLYGON))
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
        # exact for small convex pieces (most of them) and small pieces with one reflex
        # vertex (the slivers a moved vertex leaves); otherwise GEOS's search, accurate to
        # a tenth of the noise floor on thin pieces, to 1e-5 of the size on big ones
        widths = 2 * _convex_inscribed_radius(parts)
        rest = np.isnan(widths)
        if rest.any():
            widths[rest] = 2 * _one_reflex_inscribed_radius(parts[rest])
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
        keep = _common_segment_length(pieces[which], self.work[grid]) > 20 * reach
        doubtful = np.flatnonzero(~keep)
        shared = shapely.length(
            shapely.intersection(
                shapely.boundary(pieces[which[doubtful]]),
                shapely.buffer(shapely.boundary(self.exact(grid[doubtful])), reach, quad_segs=2),
            )
        )
        keep[doubtful] = shared > 10 * reach
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
        areas, widths = self.measured(parts)
        groups = []
        for owner in np.unique(owner_of_part):
            sel = owner_of_part == owner
            groups.append(_Pieces(owner, parts[sel], areas[sel], widths[sel]))
        return groups


@dataclass
class _Pieces:
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


_MAX_CONVEX_EDGES = 12


def _convex_inscribed_radius(parts: np.ndarray) -> np.ndarray:
    """Radius of the largest inscribed circle of each convex polygon, NaN for the others.

    For a convex polygon the circle touches three of its edge lines (a linear program in
    centre and radius whose optimum is a vertex): among the circles tangent to three edge
    lines, the largest lying inside every edge line is the one. Exact up to rounding, where
    GEOS's grid search would take its time on long thin pieces. Only polygons without holes,
    with at most ``_MAX_CONVEX_EDGES`` edges and no reflex vertex, are handled.
    """
    return _radius_by_edge_count(parts, 3, _convex_radius_n)


def _convex_radius_n(coords: np.ndarray, n: int) -> np.ndarray:
    """:func:`_convex_inscribed_radius` of polygons with ``n`` edges (closed rings)."""
    rings = coords.reshape(-1, n + 1, 2)
    rings = rings - rings[:, :1]  # local coordinates keep the arithmetic exact enough
    start, end = rings[:, :-1], rings[:, 1:]
    step = end - start
    cross = step[:, :, 0] * np.roll(step, -1, axis=1)[:, :, 1]
    cross -= step[:, :, 1] * np.roll(step, -1, axis=1)[:, :, 0]
    twice_area = (start[:, :, 0] * end[:, :, 1] - end[:, :, 0] * start[:, :, 1]).sum(axis=1)
    sign = np.sign(twice_area)[:, None]
    length = np.hypot(step[:, :, 0], step[:, :, 1])
    convex = ((cross * sign >= 0).all(axis=1)) & (length > 0).all(axis=1) & (sign[:, 0] != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # inward unit normals: to the left of each edge of a counter-clockwise ring
        normal = sign[:, :, None] * np.stack([-step[:, :, 1], step[:, :, 0]], axis=2)
        normal /= length[:, :, None]
        offset = (normal * start).sum(axis=2)  # inside: normal . x - offset >= radius
        triples = np.array(
            [(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)]
        )
        a = np.concatenate([normal[:, triples], -np.ones((len(rings), len(triples), 3, 1))], 3)
        b = offset[:, triples]
        det = np.linalg.det(a)
        usable = np.abs(det) > 1e-12
        a[~usable] = np.eye(3)
        solution = np.linalg.solve(a, b[..., None])[..., 0]  # x, y, r per triple
        centre, r = solution[..., :2], solution[..., 2]
        slack = np.einsum("mtc,mec->mte", centre, normal) - offset[:, None, :] - r[..., None]
        scale = np.abs(rings).max(axis=(1, 2))[:, None] + 1.0
        inside = (slack >= -1e-9 * scale[..., None]).all(axis=2) & usable & (r >= 0)
        best = np.where(inside, r, -np.inf).max(axis=1)
    return np.where(convex & np.isfinite(best), best, np.nan)


def _one_reflex_inscribed_radius(parts: np.ndarray) -> np.ndarray:
    """Radius of the largest inscribed circle of each polygon with exactly one reflex vertex.

    NaN for the others. The centre of the largest inscribed circle is a vertex of the
    medial axis: a point inside, equidistant from three sites, each an edge or a reflex
    vertex (along a branch of the medial axis the distance to the outline has no interior
    maximum). With one reflex vertex the sites are three edge lines, or two edge lines and
    that vertex; the answer is the largest distance to the outline among those points that
    lie inside. Exact up to rounding, for polygons without holes and with at most
    ``_MAX_CONVEX_EDGES`` edges.
    """
    return _radius_by_edge_count(parts, 4, _one_reflex_radius_n)


def _radius_by_edge_count(parts: np.ndarray, min_edges: int, radius_n) -> np.ndarray:
    """``radius_n(coordinates, n)`` of the hole-free polygons of ``parts`` with ``min_edges``
    to ``_MAX_CONVEX_EDGES`` edges, grouped by edge count; NaN for the others."""
    radius = np.full(len(parts), np.nan)
    polygon = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
    polygon[polygon] &= shapely.get_num_interior_rings(parts[polygon]) == 0
    n_edges = np.zeros(len(parts), dtype=int)
    n_edges[polygon] = shapely.get_num_coordinates(parts[polygon]) - 1
    for n in range(min_edges, _MAX_CONVEX_EDGES + 1):
        which = np.flatnonzero(polygon & (n_edges == n))
        if len(which):
            radius[which] = radius_n(shapely.get_coordinates(parts[which]), n)
    return radius


def _one_reflex_radius_n(coords: np.ndarray, n: int) -> np.ndarray:
    """:func:`_one_reflex_inscribed_radius` of polygons with ``n`` edges (closed rings)."""
    rings = coords.reshape(-1, n + 1, 2)
    rings = rings - rings[:, :1]
    m = len(rings)
    start, end = rings[:, :-1], rings[:, 1:]
    step = end - start
    length = np.hypot(step[:, :, 0], step[:, :, 1])
    twice_area = (start[:, :, 0] * end[:, :, 1] - end[:, :, 0] * start[:, :, 1]).sum(axis=1)
    sign = np.sign(twice_area)[:, None]
    following = np.roll(step, -1, axis=1)
    turn = sign * (step[:, :, 0] * following[:, :, 1] - step[:, :, 1] * following[:, :, 0])
    reflex = turn < 0  # at the end of each edge
    usable = (reflex.sum(axis=1) == 1) & (length > 0).all(axis=1) & (sign[:, 0] != 0)
    corner = end[np.arange(m), np.argmax(reflex, axis=1)]  # the reflex vertex
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = sign[:, :, None] * np.stack([-step[:, :, 1], step[:, :, 0]], axis=2)
        normal /= length[:, :, None]  # inward unit normals
        offset = (normal * start).sum(axis=2)  # distance to edge line k: normal . x - offset
        # centres equidistant from three edge lines
        triples = np.array(
            [(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)]
        )
        a = np.concatenate([normal[:, triples], -np.ones((m, len(triples), 3, 1))], 3)
        solvable = np.abs(np.linalg.det(a)) > 1e-12
        a[~solvable] = np.eye(3)
        solution = np.linalg.solve(a, offset[:, triples][..., None])[..., 0]
        from_lines = np.where(solvable[..., None], solution[..., :2], np.nan)
        # centres equidistant from two edge lines and the reflex vertex: on the lines'
        # bisector c = c0 + r d, with |c - corner| = r
        pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
        b = normal[:, pairs]
        det = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
        o_i, o_j = offset[:, pairs[:, 0]], offset[:, pairs[:, 1]]
        c0 = np.stack([o_i * b[..., 1, 1] - o_j * b[..., 0, 1],
                       o_j * b[..., 0, 0] - o_i * b[..., 1, 0]], axis=-1)  # fmt: skip
        c0 /= det[..., None]
        d = np.stack([b[..., 1, 1] - b[..., 0, 1], b[..., 0, 0] - b[..., 1, 0]], axis=-1)
        d /= det[..., None]
        rel = c0 - corner[:, None, :]
        qa = (d * d).sum(axis=-1) - 1
        qb = 2 * (rel * d).sum(axis=-1)
        qc = (rel * rel).sum(axis=-1)
        root = np.sqrt(qb * qb - 4 * qa * qc)
        linear = np.abs(qa) < 1e-12
        r_plus = np.where(linear, -qc / qb, (-qb + root) / (2 * qa))
        r_minus = np.where(linear, np.nan, (-qb - root) / (2 * qa))
        from_corner = [c0 + r[..., None] * d for r in (r_plus, r_minus)]
        centres = np.concatenate([from_lines, *from_corner], axis=1)  # m × candidates × 2
        # the distance from each candidate to the outline, and whether it lies inside
        p = centres[:, :, None, :]
        s0, s1 = start[:, None], end[:, None]
        v = (s1 - s0)[..., 0], (s1 - s0)[..., 1]
        t = (p[..., 0] - s0[..., 0]) * v[0] + (p[..., 1] - s0[..., 1]) * v[1]
        t = np.clip(t / (v[0] * v[0] + v[1] * v[1]), 0, 1)
        gap = p - (s0 + t[..., None] * (s1 - s0))
        distance = np.hypot(gap[..., 0], gap[..., 1]).min(axis=2)
        crosses = (s0[..., 1] > p[..., 1]) != (s1[..., 1] > p[..., 1])
        x_at = s0[..., 0] + (p[..., 1] - s0[..., 1]) * v[0] / v[1]
        inside = (crosses & (p[..., 0] < x_at)).sum(axis=2) % 2 == 1
        best = np.where(inside & np.isfinite(distance), distance, -np.inf).max(axis=1)
    return np.where(usable & np.isfinite(best), best, np.nan)


@dataclass
class _Segments:
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


def _matched_segments(
    geoms: np.ndarray, known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> _Segments:
    """Segments of polygonal ``geoms`` and their exact matches in the other polygons.

    A polygon all of whose segments are matched is one ``coverage_invalid_edges`` finds
    nothing on: GEOS marks every such segment as matched (a shared segment oriented the
    same way twice, a segment shared by three polygons, a repeated vertex, or a segment on
    the outside of the coverage leave a polygon not fully matched, which only sends it to
    GEOS). ``known`` gives the clockwise single rings of some of the polygons (their
    positions, coordinates, and for each coordinate its polygon among those positions).
    """
    if known is None:
        start, end, owner = _oriented_segments(geoms)
    else:
        at, coords, ring = known
        same = ring[1:] == ring[:-1]
        others = np.ones(len(geoms), dtype=bool)
        others[at] = False
        others = np.flatnonzero(others)
        start, end, owner = _oriented_segments(geoms[others])
        start = np.vstack([coords[:-1][same], start])
        end = np.vstack([coords[1:][same], end])
        owner = np.r_[at[ring[:-1][same]], others[owner]]
    n = len(start)
    if n == 0:
        return _Segments(start, end, owner, np.zeros(0, bool), np.zeros(0, int))
    # the segment without its direction, hashed from the bits of its ends' coordinates
    swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    low, high = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
    codes, _ = pd.factorize(_hashed(low, high))
    count = np.bincount(codes)
    position_sum = np.bincount(codes, weights=np.arange(n, dtype=np.float64))
    partner = np.where(count[codes] == 2, position_sum[codes].astype(np.int64) - np.arange(n), 0)
    matched = count[codes] == 2
    matched &= _same_points(start[partner], end) & _same_points(end[partner], start)
    matched &= (owner[partner] != owner) & ~_same_points(start, end)
    return _Segments(start, end, owner, matched, partner)


def _oriented_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge segments of polygonal ``geoms`` as (start, end, owner), interior on the right.

    Shells run clockwise, holes counter-clockwise, as in ``coverage_invalid_edges``. Rings
    whose orientation is numerically unclear get a zero-length segment (never matched).
    """
    start, end, seg_ring, ring_owner, ring_is_shell = _ring_segments(geoms)
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


def _ring_segments(geoms: np.ndarray) -> tuple[np.ndarray, ...]:
    """Segments of the rings of polygonal ``geoms``, in ring order.

    Returns start and end points and the ring of each segment, and per ring its geometry
    and whether it is a shell. Polygons without holes, one ring each, need no ring objects.
    """
    simple = shapely.get_type_id(geoms) == _POLYGON
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


def _near_segments(
    geoms: np.ndarray, grid: np.ndarray, boxes: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outline segments of ``geoms[grid[k]]`` that come within ``reach`` of ``boxes[k]``.

    Returns, per k, the offsets of its segments (``offsets[k]:offsets[k + 1]``) into the
    start and end points returned, in ring order within each outline.
    """
    needed, slot = np.unique(grid, return_inverse=True)
    start, end, seg_ring, ring_owner, _ = _ring_segments(geoms[needed])
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


def _distance_to_segments(
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


def _common_segment_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total length of the edge segments of each polygonal ``a[k]`` that ``b[k]`` has too
    (the same two end points, in either direction)."""
    keys = []
    for geoms in (a, b):
        start, end, seg_ring, ring_owner, _ = _ring_segments(geoms)
        swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
        low, high = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
        pair = ring_owner[seg_ring]
        with np.errstate(over="ignore"):
            hashed = _hashed(low, high) ^ (pair.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        keys.append((hashed, pair, low, high))
    (hash_a, pair_a, low_a, high_a), (hash_b, pair_b, low_b, high_b) = keys
    codes, _ = pd.factorize(np.r_[hash_a, hash_b])
    row_b = np.full(codes.max() + 1 if len(codes) else 0, -1)
    row_b[codes[len(hash_a) :]] = np.arange(len(hash_b))
    j = row_b[codes[: len(hash_a)]]
    common = np.flatnonzero(j >= 0)
    j = j[common]
    # equal hashes: compare the segments themselves
    same = (pair_a[common] == pair_b[j]) & _same_points(low_a[common], low_b[j])
    common = common[same & _same_points(high_a[common], high_b[j])]
    length = np.hypot(*(high_a[common] - low_a[common]).T)
    return np.bincount(pair_a[common], length, minlength=len(a))


def _same_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a == b).all(axis=1)`` for two arrays of points (x, y), without numpy's slow
    reduction over a short axis."""
    return (a[:, 0] == b[:, 0]) & (a[:, 1] == b[:, 1])


def _hashed(low: np.ndarray, high: np.ndarray) -> np.ndarray:
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


def _group(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    if len(keys) == 0:
        return [values[:0] for _ in range(n)]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    first = np.r_[True, (keys[1:] != keys[:-1]) | (values[1:] != values[:-1])]
    keys, values = keys[first], values[first]  # each value once per key, ascending
    return np.split(values, np.searchsorted(keys, np.arange(1, n)))


def _gaps_and_holes(ctx: _Context, boundary_m: shapely.Geometry) -> list[_Finding]:
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
                    f"网格 {grid} 内有 {_m(area)} m² 的洞未被其他网格填满（最宽 {_m(width)} m）",
                    f"grid {grid} has a hole of {_m(area)} m² (up to {_m(width)} m wide) "
                    "not filled by other grids",
                    area_m2=area,
                    width_m=width,
                )
            )
        elif width < ctx.tolerance_m:
            length = _sliver_length(piece_m, width, ctx.noise_m)
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


def _uncovered(ctx: _Context, boundary_m: shapely.Geometry) -> np.ndarray:
    """Polygon parts of the boundary covered by no grid.

    The grids GEOS finds no invalid edge on form a valid coverage: their union is the area
    enclosed (even-odd) by their segments not matched among themselves. Of what it leaves
    uncovered, the parts a flagged grid reaches into lose that grid's area by an overlay of
    just those grids. If that union's area is not the sum of its grids' areas, the shortcut
    is not trusted and all grids are overlaid.
    """
    if len(ctx.present) == 0:
        return _polygon_parts(np.array([boundary_m], dtype=object))[0]
    clean = ~ctx.flagged
    seg = ctx.segments
    outline = clean[seg.owner] & ~(seg.matched & clean[seg.owner[seg.partner]])
    outline &= ~_same_points(seg.start, seg.end)
    lines = shapely.linestrings(np.stack([seg.start[outline], seg.end[outline]], axis=1))
    core = shapely.build_area(shapely.multilinestrings(lines))
    expected_m2 = float(shapely.area(ctx.work[ctx.present[clean]]).sum())
    if not math.isclose(float(shapely.area(core)), expected_m2, rel_tol=1e-9, abs_tol=1e-6):
        covered = shapely.union_all(ctx.exact(ctx.present))
        return _polygon_parts(np.array([shapely.difference(boundary_m, covered)], dtype=object))[0]
    if ctx.grid_size_m > 0:
        core = shapely.set_precision(core, ctx.grid_size_m, mode="pointwise")
    left, _ = _polygon_parts(np.array([shapely.difference(boundary_m, core)], dtype=object))
    dirty = ctx.exact(ctx.present[~clean])
    which, hit = shapely.STRtree(dirty).query(left, predicate="intersects")
    pieces = [left[np.setdiff1d(np.arange(len(left)), which)]]
    for k in np.unique(which):
        rest = shapely.difference(left[k], shapely.union_all(dirty[hit[which == k]]))
        pieces.append(_polygon_parts(np.array([rest], dtype=object))[0])
    return np.concatenate(pieces)


def _enclosing_hole_owner(ctx: _Context, pieces: np.ndarray) -> np.ndarray:
    """Grid position whose interior ring encloses each piece (smallest ring), else -1."""
    owner = np.full(len(pieces), -1)
    geoms = ctx.work[ctx.present]
    maybe = shapely.get_type_id(geoms) == _MULTIPOLYGON
    maybe |= shapely.get_num_interior_rings(geoms) > 0
    grids = ctx.present[maybe]
    parts, part_owner = _polygon_parts(ctx.work[grids])
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


def _overlaps(ctx: _Context) -> list[_Finding]:
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
        what, spot = _parse_reason(reason)
        if spot is None:
            spot = shapely.point_on_surface(shapely.envelope(geoms_in[i]))
        x_m, y_m = plane.forward(np.array([[spot.x, spot.y]]))[0]
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
    shapely.prepare(boundary_m)
    spilling = ctx.present[~shapely.contains_properly(boundary_m, ctx.work[ctx.present])]
    spill = shapely.difference(ctx.exact(spilling), boundary_m)
    findings = []
    for pieces in ctx.grouped_parts(spill, spilling):
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
    ctx: _Context, vertices_m: _Vertices, valid_in: np.ndarray, grid_size_m: float
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
            parts = _polygon_parts(ctx.exact([i]))[0]
        else:
            pieces = shapely.get_parts(vertices_m.geometries([i])[0])
            rings: dict[str, np.ndarray] = {}
            repaired = _repaired(pieces, np.zeros(len(pieces), bool), grid_size_m, None, rings)
            directly = np.zeros(len(pieces), dtype=bool)
            directly[rings.get("index", np.zeros(0, dtype=int))] = True
            parts = list(_as_set_precision_gives(repaired, directly, grid_size_m))
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
    for owner in np.unique(chain_owner[mismatched]):
        sel = mismatched & (chain_owner == owner)
        lines = list(chains[sel])
        geom = lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)
        length = float(shapely.length(ctx.plane.to_metric(np.array([geom]))[0]))
        width = float(deviation[sel].max())
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
    ctx: _Context, chains: np.ndarray, near: list[np.ndarray], step: float | None
) -> tuple[np.ndarray, list[list[int]]]:
    """:func:`_deviation_from_neighbours` sampled at the vertices of the chains (every
    ``step`` metres along them unless ``step`` is None) and halfway between them."""
    lines = chains if step is None else shapely.segmentize(chains, max_segment_length=step)
    vertices, vertex_chain = shapely.get_coordinates(lines, return_index=True)
    same_chain = vertex_chain[1:] == vertex_chain[:-1]
    middles = (vertices[1:][same_chain] + vertices[:-1][same_chain]) / 2
    coords = np.vstack([vertices, middles])
    sample_chain = np.r_[vertex_chain, vertex_chain[1:][same_chain]]
    middle = np.r_[np.zeros(len(vertices), bool), np.ones(len(middles), bool)]
    # pairs (chain, grid near it), and rows (sample, pair of its chain), grouped by sample
    per_chain = np.array([len(grids) for grids in near], dtype=int)
    pair_grid = np.concatenate(near).astype(int) if near else np.zeros(0, int)
    pair_chain = np.repeat(np.arange(len(chains)), per_chain)
    per_sample = per_chain[sample_chain]
    row_start = np.cumsum(per_sample) - per_sample
    row_sample = np.repeat(np.arange(len(coords)), per_sample)
    row_pair = np.arange(len(row_sample)) - np.repeat(row_start, per_sample)
    row_pair += np.repeat((np.cumsum(per_chain) - per_chain)[sample_chain], per_sample)
    # only outline segments near the chain can be nearest to a sample within reach, and
    # only distances within reach matter (farther, the chain is no near-miss)
    reach = ctx.tolerance_m + ctx.noise_m + 1e-6
    chain_boxes = shapely.bounds(chains)[pair_chain]
    offsets, start, end = _near_segments(ctx.work, pair_grid, chain_boxes, reach)
    distance = _distance_to_segments(coords[row_sample], row_pair, offsets, start, end)
    sampled = per_sample > 0  # a sample of a chain without grids nearby measures nothing
    nearest = np.full(len(coords), np.nan)
    if len(distance):
        nearest[sampled] = np.fmin.reduceat(distance, row_start[sampled])
    deviation = np.full(len(chains), np.nan)
    np.fmax.at(deviation, sample_chain[sampled], nearest[sampled])
    result = np.where(np.isin(np.arange(len(chains)), sample_chain[sampled]), deviation, np.inf)
    counterpart = middle[row_sample] & (distance <= nearest[row_sample] + ctx.noise_m)
    names = _group(pair_chain[row_pair[counterpart]], pair_grid[row_pair[counterpart]], len(chains))
    return result, [names_k.tolist() for names_k in names]


def _code_findings(
    geoms_in: np.ndarray,
    vertices_m: _Vertices,
    labels: list[str],
    code_missing: np.ndarray,
    index: pd.Index,
) -> list[_Finding]:
    findings = []
    held = pd.Series(labels)[~code_missing]
    repeated = held[held.duplicated(keep=False)]
    by_code = repeated.groupby(repeated, sort=False).groups  # first-seen order, rows in order
    for code, rows in by_code.items():
        rows = list(rows)
        names = ", ".join(str(index[i]) for i in rows)
        findings.append(
            _Finding(
                "duplicate_code",
                [code] * len(rows),
                _multipolygon(vertices_m.geometries(rows)),
                f"编码 {code} 被 {len(rows)} 个网格重复使用（第 {names} 行）",
                f"code {code} is held by {len(rows)} grids (rows {names})",
                geometry_out=_multipolygon(geoms_in[rows]),
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


def _sliver_length(piece_m: shapely.Geometry, width: float, noise_m: float) -> float:
    """Half the perimeter minus the width of a thin piece: its length (exact for a thin
    rectangle). Tails of the piece narrower than ``noise_m`` (a corner lying a hair off a
    long edge in the metric CRS) are noise and left out: they are measured on the piece
    opened by ``noise_m / 2``."""
    if noise_m > 0:
        opened = shapely.buffer(
            shapely.buffer(piece_m, -noise_m / 2, join_style="mitre"),
            noise_m / 2,
            join_style="mitre",
        )
        if not shapely.is_empty(opened):
            piece_m = opened
    return float(shapely.length(piece_m)) / 2 - width


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


def _to_frame(findings: list[_Finding], out_crs: CRS, plane: Plane) -> gpd.GeoDataFrame:
    columns = {name: [] for name in FINDING_COLUMNS}
    if not findings:
        frame = pd.DataFrame({name: pd.Series([], dtype=_DTYPES[name]) for name in columns})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=out_crs), crs=out_crs)
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
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
