"""Pieces :mod:`gis.coverage.validate` and :mod:`gis.coverage.repair` share: checks of the
inputs (with errors naming the rows), polygonal parts, GEOS's validity reasons in Chinese,
the metric CRS of a division, and how sizes are measured and printed."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS

from gis.codes import require_code_field
from gis.crs import WGS84, geometries_to_crs, metric_crs_of
from gis.errors import GeometryTypeError, InputError

if TYPE_CHECKING:  # imported where used: validating arrays needs neither
    import geopandas as gpd

__all__ = [
    "MULTIPOLYGON",
    "POLYGON",
    "REASON_ZH",
    "as_frame",
    "boundary_in_crs",
    "check_boundary",
    "check_boundary_geoms",
    "check_parameters",
    "check_polygonal",
    "check_tolerances",
    "code_text",
    "division_metric_crs",
    "format_m",
    "geometry_array",
    "joint_bounds",
    "made_valid",
    "multipolygon",
    "parse_reason",
    "polygon_parts",
    "polygonal",
    "sliver_length",
    "union_polygonal",
]

POLYGON, MULTIPOLYGON = 3, 6


_REASON_LOCATION = re.compile(r"\[\s*([-+0-9.eEnaNif]+)\s+([-+0-9.eEnaNif]+)[^\]]*\]\s*$")


REASON_ZH = {
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


def check_parameters(
    grids: Any, boundary: Any, code_field: str, tolerance_m: float, noise_m: float
) -> None:
    import geopandas as gpd

    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError(f"网格须为 GeoDataFrame / grids must be a GeoDataFrame, not {type(grids)}")
    if not isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(
            f"边界须为 GeoDataFrame 或 GeoSeries / boundary must be a GeoDataFrame or "
            f"GeoSeries, not {type(boundary)}"
        )
    require_code_field(grids, code_field)
    check_tolerances(tolerance_m, noise_m)


def check_tolerances(tolerance_m: float, noise_m: float) -> None:
    if not (math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise InputError(f"容差须为非负数 / tolerance_m must be >= 0, got {tolerance_m}")
    if not (math.isfinite(noise_m) and 0 <= noise_m <= max(tolerance_m, 0)):
        raise InputError(
            f"噪声阈值须在 0 与容差之间 / noise_m must be in [0, tolerance_m={tolerance_m}], "
            f"got {noise_m}"
        )


def geometry_array(geo: gpd.GeoSeries) -> np.ndarray:
    return np.asarray(geo.array, dtype=object)


def joint_bounds(*arrays: np.ndarray) -> np.ndarray:
    """Bounds (xmin, ymin, xmax, ymax) of all geometries of ``arrays`` together."""
    bounds = np.vstack([shapely.bounds(a).reshape(-1, 4) for a in arrays])
    with np.errstate(invalid="ignore"):
        low, high = np.nanmin(bounds[:, :2], axis=0), np.nanmax(bounds[:, 2:], axis=0)
    return np.r_[low, high]


def as_frame(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    import geopandas as gpd

    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def check_boundary(boundary: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """Raise InputError for a boundary without any polygon, or with a non-polygon row."""
    check_boundary_geoms(geometry_array(boundary.geometry), boundary.index)


def check_boundary_geoms(geoms: np.ndarray, index: Sequence) -> None:
    """:func:`check_boundary` of the boundary's geometries and their row labels."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.all():
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    check_polygonal(geoms, missing, index, "boundary / 边界")


def check_polygonal(geoms: np.ndarray, missing: np.ndarray, index: Sequence, what: str) -> None:
    type_ids = shapely.get_type_id(geoms)
    bad = ~missing & (type_ids != POLYGON) & (type_ids != MULTIPOLYGON)
    if bad.any():
        rows = [index[i] for i in np.flatnonzero(bad)[:5]]
        kinds = sorted({shapely.get_type_id(geoms[i]) for i in np.flatnonzero(bad)})
        names = [shapely.GeometryType(k).name for k in kinds]
        raise GeometryTypeError(
            f"{what}: 第 {rows} 行不是面 / rows {rows} are not polygons ({', '.join(names)})"
        )


def code_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        import pandas as pd

        if pd.isna(value):
            return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)  # a code read as a float from a table: 3.10109e14 -> 310109...
    text = str(value).strip()
    return text or None


def union_polygonal(geoms: np.ndarray, grid_size_m: float) -> shapely.Geometry:
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    fixed = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    union = shapely.union_all(polygon_parts(fixed)[0])
    if grid_size_m > 0:
        union = shapely.set_precision(union, grid_size_m)
    return polygonal(union)


def division_metric_crs(
    geoms: np.ndarray, crs: CRS, boundary: np.ndarray, boundary_crs: CRS
) -> CRS:
    """:func:`gis.crs.metric_crs` of the grids and the boundary, without projecting every grid.

    ``metric_crs`` decides from the centre of the lon/lat extent. For many projected grids the
    extent is bracketed instead: the lon/lat of the vertices of the outermost grids lie
    inside it, the densified projected bounding box encloses it. When every centre the
    brackets allow gives the same answer, that is the answer; otherwise (a centre near a
    zone edge) the grids are projected as ``metric_crs`` does.
    """
    layers = ((geoms, crs), (boundary, boundary_crs))
    if crs.is_geographic or len(geoms) < 1000:
        return metric_crs_of(*layers)
    if not np.isfinite(joint_bounds(geoms)).all():
        return metric_crs_of(*layers)
    x0, y0, x1, y1 = shapely.bounds(geoms).T
    # any vertices bound the extent from inside: take those of the outermost grids
    outermost = [np.nanargmin(d) for d in (x0, y0, -x1, -y1, x0 + y0, x0 - y1, y0 - x1, -x1 - y1)]
    extreme = shapely.get_coordinates(geoms[outermost])
    x0, y0, x1, y1 = np.nanmin(x0), np.nanmin(y0), np.nanmax(x1), np.nanmax(y1)
    frame = shapely.segmentize(shapely.box(x0, y0, x1, y1), max(x1 - x0, y1 - y0) / 100)
    corners_and_frame = np.array([shapely.multipoints(extreme), frame], dtype=object)
    lonlat = geometries_to_crs(corners_and_frame, crs, WGS84)
    lon, lat = shapely.get_coordinates(lonlat[0]).T
    outer = shapely.bounds(lonlat[1])
    margin = 1e-6  # degrees; the densified box edges are far closer than that
    low = np.array([outer[0] - margin, outer[1] - margin, lon.max(), lat.max()])
    high = np.array([lon.min(), lat.min(), outer[2] + margin, outer[3] + margin])
    if not (np.isfinite(low).all() and np.isfinite(high).all()) or (high - low).max() > 1e-3:
        return metric_crs_of(*layers)
    answers = []
    for lon_side in (low, high):  # the centre is monotone in each bound: its corners suffice
        for lat_side in (low, high):
            corners = shapely.points([[lon_side[0], lat_side[1]], [lon_side[2], lat_side[3]]])
            answers.append(metric_crs_of((corners, WGS84), layers[1]))
    if any(answer != answers[0] for answer in answers):
        return metric_crs_of(*layers)
    return answers[0]


def polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the non-empty Polygon parts of ``geoms`` and the index of their geometry."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == POLYGON) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts, _ = polygon_parts(np.array([geom], dtype=object))
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(list(parts)) if len(parts) else shapely.Polygon()


def made_valid(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of ``make_valid`` (structure method) of ``geom``."""
    return polygonal(shapely.make_valid(geom, method="structure", keep_collapsed=False))


def parse_reason(reason: str) -> tuple[str, shapely.Point | None]:
    """Split GEOS's ``'Self-intersection[x y]'`` into the reason and its location."""
    match = _REASON_LOCATION.search(reason)
    if match is None:
        return reason, None
    what = reason[: match.start()].strip()
    x, y = float(match.group(1)), float(match.group(2))
    return what, (shapely.Point(x, y) if math.isfinite(x) and math.isfinite(y) else None)


def sliver_length(piece_m: shapely.Geometry, width: float, noise_m: float) -> float:
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


def multipolygon(geoms: np.ndarray) -> shapely.Geometry | None:
    parts, _ = polygon_parts(geoms[~shapely.is_missing(geoms)])
    return shapely.MultiPolygon(list(parts)) if len(parts) else None


def format_m(value: float) -> str:
    """Format a size in metres or square metres for a message."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return f"{value:.4f}"


def boundary_in_crs(boundary: np.ndarray, source: CRS, crs: CRS) -> np.ndarray:
    """The boundary's geometries (in ``source``) in ``crs`` (the grids' CRS), its edges kept
    straight.

    A boundary drawn in another CRS has straight edges there; converted corner by corner,
    an edge of a few hundred metres would bow by a millimetre against grids whose corners
    were placed on it in that CRS. So its edges get a vertex every 50 m or so first.
    """
    if source.equals(crs):
        return boundary
    step = 5e-4 if source.is_geographic else 50.0 / _unit_metres(source)
    return geometries_to_crs(shapely.segmentize(boundary, step), source, crs)


def _unit_metres(crs: CRS) -> float:
    """Metres per unit of a projected CRS's first axis (1.0 when unknown)."""
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return factor if factor and math.isfinite(factor) else 1.0
