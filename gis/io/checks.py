"""Checks every layer read by :mod:`gis.io` passes: its CRS, finite lon/lat, geometry kind."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import lonlat_crs, to_wgs84
from gis.errors import (
    CRSMismatchError,
    GeometryTypeError,
    InputError,
    UnknownCRSError,
)
from gis.io.common import _GEOMETRY_TYPES, Where


def _resolve_crs(
    gdf: gpd.GeoDataFrame,
    label: str,
    source: str | None,
    default_crs: CRS | None,
    hint: str,
    keep_projected: bool = False,
) -> gpd.GeoDataFrame:
    file_crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    if source is not None:
        if file_crs is not None and not file_crs.is_geographic:
            raise CRSMismatchError(
                f"{label}: 文件自带投影坐标系 {file_crs.name}，与 {hint} {source} 矛盾 / the "
                f"file carries the projected CRS {file_crs.name!r} but {hint} {source} says "
                f"its coordinates are lon/lat; leave {hint} out to use the file's CRS"
            )
        return to_wgs84(gdf, source)
    if file_crs is None:
        if default_crs is None:
            raise UnknownCRSError(
                f"{label}: 坐标系未知（缺少 .prj 或未定义）/ the CRS is unknown (no .prj or none "
                f"defined); give {hint} wgs84|cgcs2000|gcj02|bd09"
            )
        return gdf.set_crs(default_crs)
    if keep_projected and not file_crs.is_geographic:
        return gdf.set_crs(file_crs, allow_override=True)
    target = lonlat_crs(file_crs)
    if file_crs.equals(target, ignore_axis_order=True):
        return gdf.set_crs(target, allow_override=True)
    return gdf.to_crs(target)


def _check_coordinates(gdf: gpd.GeoDataFrame, label: str, where: Where) -> None:
    coords, index = shapely.get_coordinates(np.asarray(gdf.geometry.values), return_index=True)
    if len(coords) == 0:
        return
    lon, lat = coords[:, 0], coords[:, 1]
    projected = gdf.crs is not None and not CRS.from_user_input(gdf.crs).is_geographic
    not_finite = ~np.isfinite(coords).all(axis=1)
    if not_finite.any():
        k = int(np.argmax(not_finite))
        raise InputError(
            f"{label}: {where(int(index[k]))}: 坐标不是有限数 / coordinate is not a finite "
            f"number: ({lon[k]}, {lat[k]})"
        )
    if projected:  # kept in its own projected CRS: any finite x, y
        return
    bad_lat = np.abs(lat) > 90.0
    if bad_lat.any():
        k = int(np.argmax(bad_lat))
        hint = (
            "；经纬度可能填反 / lon and lat look swapped"
            if abs(lon[k]) <= 90.0 and abs(lat[k]) <= 180.0
            else "；可能是投影坐标 / these may be projected coordinates"
        )
        raise InputError(
            f"{label}: {where(int(index[k]))}: 纬度超出 ±90 / latitude out of range: "
            f"({lon[k]}, {lat[k]}){hint}"
        )
    bad_lon = np.abs(lon) > 180.0
    if bad_lon.any():
        k = int(np.argmax(bad_lon))
        raise InputError(
            f"{label}: {where(int(index[k]))}: 经度超出 ±180 / longitude out of range: "
            f"({lon[k]}, {lat[k]})"
        )


def _check_geometry_type(gdf: gpd.GeoDataFrame, label: str, kind: str, where: Where) -> None:
    allowed = _GEOMETRY_TYPES[kind]
    geoms = np.asarray(gdf.geometry.values)
    missing = pd.isna(geoms) | shapely.is_empty(geoms)
    types = pd.Series(gdf.geometry.geom_type.to_numpy())
    bad = missing | ~types.isin(allowed).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        found = "空几何 / empty geometry" if missing[i] else types.iloc[i]
        raise GeometryTypeError(
            f"{label}: {where(i)}: 几何类型为 {found}，应为 {'/'.join(allowed)} / geometry is "
            f"{found}, expected {' or '.join(allowed)} ({int(bad.sum())} of {len(bad)} "
            "features wrong)"
        )


def _check_vertices(gdf: gpd.GeoDataFrame, label: str, where: Where, max_vertices: int) -> None:
    if not len(gdf):
        return
    counts = shapely.get_num_coordinates(np.asarray(gdf.geometry.values))
    over = counts > max_vertices
    if over.any():
        i = int(np.argmax(over))
        raise InputError(
            f"{label}: {where(i)}: 几何有 {int(counts[i]):,} 个顶点，超过上限 {max_vertices:,} / "
            f"geometry has {int(counts[i]):,} vertices, more than the bound of {max_vertices:,}; "
            "simplify it (bound: max_vertices, WANGGE_MAX_VERTICES)"
        )
