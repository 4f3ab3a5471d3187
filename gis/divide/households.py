"""Households per block: house points and footprints counted into faces.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.assign import assign_points
from gis.crs import require_crs
from gis.divide.geometry import polygonal
from gis.errors import GeometryTypeError, InputError

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


def whole_if_possible(values: np.ndarray) -> np.ndarray:
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
    households = whole_if_possible(report["households"].to_numpy(dtype=float))
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


def houses_m(
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
        geo = np.array([polygonal(g) for g in shapely.intersection(geo, boundary_m)], dtype=object)
        keep = ~shapely.is_empty(geo)
    else:
        keep = shapely.covered_by(geo, boundary_m)
    return _Houses(geo[keep], households[keep], footprints)


def households_per_face(faces: np.ndarray, houses: _Houses, crs: CRS) -> np.ndarray:
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
