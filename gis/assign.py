"""Assign points (houses, incidents) to the grid that covers them.

Rule (DESIGN.md "Point → grid rule"):

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
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.errors import GeometryTypeError, UnknownCRSError

__all__ = [
    "TIE_BREAK",
    "GridIndex",
    "assign_points",
    "outside_mask",
]

TIE_BREAK = (
    "several grids cover the point (shared edge/vertex or overlap): the grid whose id sorts "
    "first as a Python string (str(id)) wins; SQL: ORDER BY code LIMIT 1"
)

_POLYGONAL = {"Polygon", "MultiPolygon"}


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


class _SortedGrids:
    """Grids in tie-break order (by ``str(id)``), prepared, without missing ids or geometry."""

    def __init__(self, grids: gpd.GeoDataFrame, grid_id: str) -> None:
        if not isinstance(grids, gpd.GeoDataFrame):
            raise TypeError(f"grids must be a GeoDataFrame, not {type(grids).__name__}")
        if grid_id not in grids.columns:
            raise KeyError(
                f"网格编号列 {grid_id!r} 不存在 / grid id column {grid_id!r} not found; "
                f"columns: {list(grids.columns)}"
            )
        self.crs = _crs_of(grids, "grids 网格")
        bad = _first_bad_row(grids.geometry, _POLYGONAL)
        if bad is not None:
            kind = grids.geometry.loc[bad].geom_type
            raise GeometryTypeError(
                f"网格第 {bad!r} 行不是面 ({kind}) / grid row {bad!r} is a {kind}, "
                "not a Polygon or MultiPolygon"
            )
        ids = grids[grid_id]
        geoms = grids.geometry.to_numpy()
        keep = ids.notna().to_numpy() & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        ids = ids.to_numpy()[keep]
        order = np.argsort(np.array([str(v) for v in ids], dtype=object), kind="stable")
        self.ids: np.ndarray = ids[order]
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
    out = np.full(len(best), None, dtype=object)
    hit = best < len(grids)
    out[hit] = grids.ids[best[hit]]
    return out


def _point_array(points: gpd.GeoSeries) -> np.ndarray:
    bad = _first_bad_row(points, {"Point"})
    if bad is not None:
        kind = points.loc[bad].geom_type
        raise GeometryTypeError(
            f"第 {bad!r} 行不是点 ({kind}) / row {bad!r} is a {kind}, not a Point"
        )
    return points.to_numpy()


def assign_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    grids: gpd.GeoDataFrame,
    *,
    grid_id: str = "code",
) -> pd.Series:
    """Return the id of the grid covering each point (NA outside every grid).

    One vectorised spatial join: an STRtree over the points is queried with every prepared
    grid and the predicate ``covers``; ties go to the grid id that sorts first
    (:data:`TIE_BREAK`).

    Parameters
    ----------
    points : GeoDataFrame or GeoSeries of Points
        None or empty geometries are allowed and give NA. Reprojected to the grids' CRS when
        the two differ.
    grids : GeoDataFrame of Polygons/MultiPolygons
    grid_id : str
        Column of ``grids`` holding the id returned (default ``"code"``).

    Returns
    -------
    pandas.Series
        Aligned with ``points.index``, named ``"grid_code"``, dtype object: the covering
        grid's id, or None where no grid covers the point.

    Raises
    ------
    UnknownCRSError
        If ``points`` or ``grids`` has no CRS.
    GeometryTypeError
        If a point is not a Point (or a grid not polygonal), naming the first bad row.

    Examples
    --------
    >>> from shapely import box, Point
    >>> grids = gpd.GeoDataFrame({"code": ["b", "a"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
    ...                          crs=4549)
    >>> pts = gpd.GeoSeries([Point(0.5, 0.5), Point(1, 0.5), Point(2, 1), Point(3, 3), None],
    ...                     crs=4549)
    >>> assign_points(pts, grids).tolist()  # shared edge x=1 -> "a"; outer corner -> "b"
    ['a', 'a', 'b', None, None]
    """
    sorted_grids = _SortedGrids(grids, grid_id)
    geoseries = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if not isinstance(geoseries, gpd.GeoSeries):
        raise TypeError(f"points must be a GeoDataFrame or GeoSeries, not {type(points).__name__}")
    point_crs = _crs_of(geoseries, "points 点")
    point_geoms = _point_array(geoseries)
    if point_crs != sorted_grids.crs:
        point_geoms = geoseries.to_crs(sorted_grids.crs).to_numpy()
    n = len(point_geoms)
    if n == 0 or len(sorted_grids) == 0:
        return pd.Series([None] * n, index=geoseries.index, name="grid_code", dtype=object)
    tree = shapely.STRtree(point_geoms)
    grid_pos, point_pos = tree.query(sorted_grids.geoms, predicate="covers")
    best = _first_covering(grid_pos, point_pos, n, len(sorted_grids))
    return pd.Series(
        _ids_at(sorted_grids, best), index=geoseries.index, name="grid_code", dtype=object
    )


def outside_mask(grid_codes: pd.Series) -> pd.Series:
    """Return True where :func:`assign_points` found no grid (the point is outside).

    >>> outside_mask(pd.Series(["a", None])).tolist()
    [False, True]
    """
    return grid_codes.isna().rename("outside")


class GridIndex:
    """In-memory index of a division for fast single-point look-ups.

    Same rule and same predicate as :func:`assign_points` (prepared ``covers``, grids held in
    tie-break order), so the two agree on every point.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"code": ["b", "a"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
    ...                          crs=4326)
    >>> index = GridIndex(grids)
    >>> index.locate(1.0, 0.0), index.locate(1.5, 0.5), index.locate(5, 5)
    ('a', 'b', None)
    """

    def __init__(self, grids: gpd.GeoDataFrame, *, grid_id: str = "code") -> None:
        self._grids = _SortedGrids(grids, grid_id)
        self._tree = shapely.STRtree(self._grids.geoms)

    @property
    def crs(self) -> CRS:
        """CRS of the grids; ``locate`` takes coordinates in it."""
        return self._grids.crs

    def __len__(self) -> int:
        return len(self._grids)

    def locate(self, x: float, y: float) -> Hashable | None:
        """Return the id of the grid covering (x, y) (x=lon, y=lat in the grids' CRS), or None."""
        point = shapely.Point(x, y)
        candidates = np.sort(self._tree.query(point))
        if len(candidates) == 0:
            return None
        covered = shapely.covers(self._grids.geoms[candidates], point)
        if not covered.any():
            return None
        return self._grids.ids[candidates[np.argmax(covered)]]

    def locate_many(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray):
        """Return an object array of grid ids for the points (xs, ys); None outside."""
        points = shapely.points(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        points = np.atleast_1d(points)
        point_pos, grid_pos = self._tree.query(points)
        covered = shapely.covers(self._grids.geoms[grid_pos], points[point_pos])
        best = _first_covering(grid_pos[covered], point_pos[covered], len(points), len(self))
        return _ids_at(self._grids, best)
