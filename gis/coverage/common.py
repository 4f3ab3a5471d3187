"""Pieces :mod:`gis.coverage.validate` and :mod:`gis.coverage.repair` share: checks of the
inputs (with errors naming the rows), polygonal parts, GEOS's validity reasons in Chinese,
the metric CRS of a division, and how sizes are measured and printed."""

from __future__ import annotations

import math
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.codes import require_code_field
from gis.crs import WGS84, metric_crs, require_crs
from gis.errors import GeometryTypeError, InputError

__all__ = [
    "MULTIPOLYGON",
    "POLYGON",
    "REASON_ZH",
    "as_frame",
    "boundary_in_crs",
    "check_boundary",
    "check_parameters",
    "check_polygonal",
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
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError(f"网格须为 GeoDataFrame / grids must be a GeoDataFrame, not {type(grids)}")
    if not isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(
            f"边界须为 GeoDataFrame 或 GeoSeries / boundary must be a GeoDataFrame or "
            f"GeoSeries, not {type(boundary)}"
        )
    require_code_field(grids, code_field)
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
    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def check_boundary(boundary: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """Raise InputError for a boundary without any polygon, or with a non-polygon row."""
    geoms = geometry_array(boundary.geometry)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.all():
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    check_polygonal(geoms, missing, boundary.index, "boundary / 边界")


def check_polygonal(geoms: np.ndarray, missing: np.ndarray, index: pd.Index, what: str) -> None:
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
    if value is None or (not isinstance(value, str) and pd.isna(value)):
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


def division_metric_crs(grids: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> CRS:
    """:func:`gis.crs.metric_crs` of the grids and the boundary, without projecting every grid.

    ``metric_crs`` decides from the centre of the lon/lat extent. For many projected grids the
    extent is bracketed instead: the lon/lat of the vertices of the outermost grids lie
    inside it, the densified projected bounding box encloses it. When every centre the
    brackets allow gives the same answer, that is the answer; otherwise (a centre near a
    zone edge) the grids are projected as ``metric_crs`` does.
    """
    crs = require_crs(grids, "grids / 网格")
    geoms = geometry_array(grids.geometry)
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


def boundary_in_crs(boundary: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """The boundary's geometries in ``crs`` (the grids' CRS), its edges kept straight.

    A boundary drawn in another CRS has straight edges there; converted corner by corner,
    an edge of a few hundred metres would bow by a millimetre against grids whose corners
    were placed on it in that CRS. So its edges get a vertex every 50 m or so first.
    """
    geo = boundary.geometry
    source = require_crs(boundary, "boundary / 边界")
    if source.equals(crs):
        return geometry_array(geo)
    step = 5e-4 if source.is_geographic else 50.0 / _unit_metres(source)
    return geometry_array(geo.segmentize(step).to_crs(crs))


def _unit_metres(crs: CRS) -> float:
    """Metres per unit of a projected CRS's first axis (1.0 when unknown)."""
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return factor if factor and math.isfinite(factor) else 1.0
