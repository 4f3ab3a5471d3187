"""Points assigned a part at a time: one part of a points table as the single-process reader
returns those rows, and the grid columns ``wangge assign`` adds to it.

Used wherever a points table is too large to hold whole: the Dask partitions
(:mod:`gis.dask_assign`) and the single process streaming a GeoParquet file row group by row
group (:mod:`gis.assign_parquet`). Each part is checked and converted exactly as
:func:`gis.io.read_layer` checks and converts the whole file, so the parts together give the
whole-table answer, point for point; errors name the row by its number in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.assign import GridIndex, assign_lonlat
from gis.crs import CGCS2000, WGS84, is_cgcs2000_based, to_wgs84
from gis.errors import CRSMismatchError, GeometryTypeError, InputError

__all__ = [
    "ADDED_COLUMNS",
    "PointSpec",
    "add_grid_columns",
    "assigned_meta",
    "grid_code_type",
    "lonlat_target",
    "prepare_points",
]

ADDED_COLUMNS = ("grid_code", "outside", "lon_wgs84", "lat_wgs84")
"""The columns ``wangge assign`` adds after every input column, in this order."""


@dataclass(frozen=True)
class PointSpec:
    """How a part of the input becomes the single-process reader's frame."""

    label: str
    kind: str  # "geo" (GeoParquet), "table" (lon/lat columns: CSV or plain Parquet)
    source: str | None  # parsed input_crs
    lon: str | None = None
    lat: str | None = None
    numbers: dict = field(default_factory=dict)  # CSV column -> "int" | "float"


def row_label(offset: int | None, i: int, csv: bool) -> str:
    """Row ``i`` of a part starting ``offset`` rows into the file, as error messages name it."""
    if offset is None:
        return "某行 / a row"
    n = offset + i + (2 if csv else 1)  # CSV rows count the header line
    return f"第 {n} 行 / row {n}"


def _coordinate(values: pd.Series, column: str, spec: PointSpec, offset: int | None) -> np.ndarray:
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{spec.label}: {row_label(offset, i, spec.kind == 'table')}: 列 / column {column!r} "
            f"不是数字 / is not a number: {text.iloc[i]!r}"
        )
    return numbers.to_numpy(dtype=float)


def lonlat_target(file_crs: CRS | None) -> CRS:
    """The lon/lat CRS :func:`gis.io.read_layer` returns a file of ``file_crs`` in (no
    ``input_crs``): CGCS2000 when CGCS2000-based, else WGS84 (also for no CRS)."""
    return CGCS2000 if file_crs is not None and is_cgcs2000_based(file_crs) else WGS84


def _as_lonlat(gdf: gpd.GeoDataFrame, spec: PointSpec) -> gpd.GeoDataFrame:
    """The CRS rule of :func:`gis.io.read_layer`: ``input_crs`` or the file's own CRS, to
    CGCS2000 lon/lat when CGCS2000-based, else WGS84 lon/lat."""
    file_crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    if spec.source is not None:
        if file_crs is not None and not file_crs.is_geographic:
            raise CRSMismatchError(
                f"{spec.label}: 文件自带投影坐标系 {file_crs.name}，与 --input-crs 矛盾 / the "
                f"file carries the projected CRS {file_crs.name!r} but --input-crs says lon/lat"
            )
        return to_wgs84(gdf, spec.source)
    if file_crs is None:
        return gdf.set_crs(WGS84)
    target = lonlat_target(file_crs)
    if file_crs.equals(target, ignore_axis_order=True):
        return gdf.set_crs(target, allow_override=True)
    return gdf.to_crs(target)


def _check_points(gdf: gpd.GeoDataFrame, spec: PointSpec, offset: int | None) -> None:
    geoms = np.asarray(gdf.geometry.values)
    not_point = shapely.get_type_id(geoms) != shapely.GeometryType.POINT
    not_point |= shapely.is_empty(geoms)
    if not_point.any():
        i = int(np.argmax(not_point))
        kind = gdf.geometry.iloc[i].geom_type if geoms[i] is not None else "None"
        raise GeometryTypeError(
            f"{spec.label}: {row_label(offset, i, False)}: 几何类型为 {kind}，应为点 / geometry "
            f"is {kind}, expected Point"
        )
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (np.abs(y) > 90) | (np.abs(x) > 180)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{spec.label}: {row_label(offset, i, spec.kind == 'table')}: 坐标超出经纬度范围 / "
            f"coordinate out of lon/lat range: ({x[i]}, {y[i]})"
        )


def prepare_points(frame: pd.DataFrame, spec: PointSpec, offset: int | None) -> gpd.GeoDataFrame:
    """One part (rows ``offset`` on) as the single-process reader returns those rows."""
    if spec.kind == "geo":
        gdf = frame
        if len(gdf):
            gdf = gdf.set_geometry(shapely.force_2d(np.asarray(gdf.geometry.values)), crs=gdf.crs)
    else:
        frame = frame.loc[frame.notna().any(axis=1).to_numpy()].reset_index(drop=True)
        lon = _coordinate(frame[spec.lon], spec.lon, spec, offset)
        lat = _coordinate(frame[spec.lat], spec.lat, spec, offset)
        attributes = frame.copy()
        attributes[spec.lon], attributes[spec.lat] = lon, lat
        for column, kind in spec.numbers.items():
            values = pd.to_numeric(attributes[column].str.strip())
            attributes[column] = values.astype("int64" if kind == "int" else "float64")
        gdf = gpd.GeoDataFrame(attributes, geometry=shapely.points(lon, lat), crs=None)
    gdf = _as_lonlat(gdf, spec)
    _check_points(gdf, spec, offset)
    return gdf


def add_grid_columns(
    gdf: gpd.GeoDataFrame, grids: GridIndex | gpd.GeoDataFrame, *, code_field: str = "code"
) -> gpd.GeoDataFrame:
    """The rows (checked points, :func:`prepare_points`) with ``grid_code``, ``outside``,
    ``lon_wgs84``, ``lat_wgs84`` as ``wangge assign`` adds them; ``grids`` a built index or
    the grids themselves (``code_field`` their code column)."""
    result = gdf.reset_index(drop=True)
    geoms = np.asarray(result.geometry.values)
    codes = assign_lonlat(
        shapely.get_x(geoms), shapely.get_y(geoms), result.crs, grids, code_field=code_field
    )
    result["grid_code"] = codes
    result["outside"] = np.equal(codes, None)
    wgs84 = np.asarray(result.geometry.to_crs(4326).values) if len(result) else np.array([])
    result["lon_wgs84"] = shapely.get_x(wgs84).astype(float)
    result["lat_wgs84"] = shapely.get_y(wgs84).astype(float)
    return result


def grid_code_type(grids: GridIndex | gpd.GeoDataFrame, code_field: str = "code"):
    """The Arrow type of the ``grid_code`` column: that of the grids' codes (text if none)."""
    import pyarrow as pa

    if isinstance(grids, GridIndex):
        ids = list(grids._grids.ids[:1])
    else:
        ids = grids[code_field].dropna().iloc[:1].tolist()
    return pa.array(ids).type if ids else pa.string()


def assigned_meta(meta: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The empty frame of ``meta``'s columns with the added columns and their dtypes."""
    result = meta.reset_index(drop=True).copy()
    result["grid_code"] = pd.Series(dtype=object)
    result["outside"] = pd.Series(dtype=bool)
    result["lon_wgs84"] = pd.Series(dtype=float)
    result["lat_wgs84"] = pd.Series(dtype=float)
    return result
