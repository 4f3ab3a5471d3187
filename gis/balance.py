"""Balance report of a division (网格均衡报告): households, residents, area, shape, staff.

:func:`balance_report` gives one row per grid and flags grids whose household count lies
outside ``target × (1 ± band)``.

Rules decided here
------------------
* **Households** come from ``houses`` when given: each house counts its
  ``households_field`` (a missing field, or an empty value, counts one), in the grid that
  covers it by :func:`gis.assign.assign_points` (a house on a shared edge goes to the grid
  whose code sorts first); footprints count at their point on surface. Houses in no grid
  are left out and counted in ``attrs["houses_outside"]``. Without ``houses`` the grids'
  own ``households_field`` column is used.
* **Residents** are counted one per row: by the row's ``grid_code`` when ``residents`` has
  that column, else by its point geometry (assigned like houses). Rows whose grid is not
  in the division (or no grid covers them) are counted in ``attrs["residents_outside"]``.
  Without ``residents`` the column is NA.
* **Area and compactness** are computed in metres (:func:`gis.crs.metric_crs` of the grids):
  ``area_m2`` and Polsby-Popper ``4πA / P²`` (1 for a disc, about 0.785 for a square).
* **Staff** are the ``name`` values of the rows of ``staff`` with the grid's ``grid_code``, in
  the order given, each followed by its ``role`` in full-width brackets when there is one,
  joined by ``、`` (empty string for a grid with none); ``staff_count`` counts them.
* **Flag**: ``"under"`` below ``(1 - band) × target``, ``"over"`` above
  ``(1 + band) × target``, else ``"ok"`` (the band's ends are in it).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.assign import assign_points
from gis.codes import require_code_field
from gis.crs import metric_crs, require_crs
from gis.defaults import DEFAULT_CODE_FIELD, DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from gis.divide import household_weights
from gis.errors import InputError

__all__ = ["BALANCE_COLUMNS", "balance_report"]

BALANCE_COLUMNS: tuple[str, ...] = (
    "code",
    "households",
    "residents",
    "area_m2",
    "compactness",
    "staff",
    "staff_count",
    "share_of_target",
    "flag",
)


def _house_counts(
    houses: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, code_field: str, households_field: str
) -> tuple[pd.Series, int]:
    require_crs(houses, "houses / 房屋")
    points = houses.geometry
    polygonal = points.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if polygonal.any():
        points = points.copy()
        points[polygonal] = points[polygonal].representative_point()
    weights = household_weights(houses, households_field)
    where = assign_points(points, grids, code_field=code_field)
    inside = where.notna()
    counts = weights[inside].groupby(where[inside]).sum()
    return counts, int((~inside).sum())


def _resident_codes(residents: pd.DataFrame, grids: gpd.GeoDataFrame, code_field: str) -> pd.Series:
    if "grid_code" in residents.columns:
        return residents["grid_code"].astype(object).where(residents["grid_code"].notna(), None)
    if isinstance(residents, gpd.GeoDataFrame):
        require_crs(residents, "residents / 居民")
        return assign_points(residents.geometry, grids, code_field=code_field)
    raise InputError(
        "居民表既无 grid_code 列也无点位 / residents have neither a grid_code column nor "
        f"point geometries; columns: {list(residents.columns)}"
    )


def _staff_text(staff: pd.DataFrame) -> dict[Any, list[str]]:
    missing = [c for c in ("grid_code", "name") if c not in staff.columns]
    if missing:
        raise InputError(
            f"人员表缺少列 {missing} / staff table lacks columns {missing}; "
            f"columns: {list(staff.columns)}"
        )
    roles = staff["role"] if "role" in staff.columns else pd.Series(None, index=staff.index)
    out: dict[Any, list[str]] = {}
    for code, name, role in zip(staff["grid_code"], staff["name"], roles, strict=True):
        if pd.isna(code) or pd.isna(name):
            continue
        role_text = "" if role is None or pd.isna(role) or not str(role).strip() else str(role)
        out.setdefault(str(code), []).append(f"{name}（{role_text}）" if role_text else str(name))
    return out


def balance_report(
    grids: gpd.GeoDataFrame,
    *,
    houses: gpd.GeoDataFrame | None = None,
    residents: pd.DataFrame | None = None,
    staff: pd.DataFrame | None = None,
    code_field: str = DEFAULT_CODE_FIELD,
    households_field: str = "households",
    target: float = DEFAULT_TARGET_HOUSEHOLDS,
    band: float = DEFAULT_HOUSEHOLD_BAND,
) -> pd.DataFrame:
    """Return one row per grid: households, residents, area, compactness, staff and a flag.

    Parameters
    ----------
    grids : GeoDataFrame
        The division (polygons, any CRS) with a unique ``code_field``.
    houses : GeoDataFrame, optional
        House points (or footprints) with ``households_field``; without them the grids'
        own ``households_field`` column is used.
    residents : DataFrame, optional
        One row per resident: a ``grid_code`` column, or point geometries.
    staff : DataFrame, optional
        ``grid_code``, ``name`` and (optional) ``role``.
    code_field, households_field : str
        Column names (see above).
    target : float, default 300
        Households per grid aimed at.
    band : float, default 0.2
        Grids within ``target × (1 ± band)`` are ``"ok"``.

    Returns
    -------
    DataFrame
        Columns :data:`BALANCE_COLUMNS` (``code``, ``households``, ``residents`` (Int64, NA
        without ``residents``), ``area_m2``, ``compactness`` (Polsby-Popper), ``staff``,
        ``staff_count``, ``share_of_target``, ``flag``), in the grids' order. ``attrs``
        holds the totals: ``grids``, ``households_total``, ``residents_total``,
        ``area_m2_total``, ``ok``, ``under``, ``over``, ``houses_outside``,
        ``residents_outside``, ``target``, ``band``, ``metric_crs``.

    Raises
    ------
    InputError
        A missing or repeated code, no household source, a bad parameter or column.

    Examples
    --------
    >>> from shapely import box
    >>> x, y = 642000, 3459000  # EPSG:4549 (CGCS2000 GK CM 120E), North Bund, Shanghai
    >>> g = gpd.GeoDataFrame({"code": ["001", "002"], "households": [230, 300]}, crs=4549,
    ...     geometry=[box(x, y, x + 100, y + 100), box(x + 100, y, x + 300, y + 100)])
    >>> r = balance_report(g)
    >>> r[["code", "households", "flag"]].values.tolist(), r["area_m2"].round(6).tolist()
    ([['001', 230.0, 'under'], ['002', 300.0, 'ok']], [10000.0, 20000.0])
    >>> round(float(r["compactness"][0]), 4)  # a square: pi / 4
    0.7854
    """
    if not target > 0:
        raise InputError(f"目标户数必须为正 / target must be > 0: {target}")
    if not 0 <= band < 1:
        raise InputError(f"band 必须在 [0, 1) / band must be in [0, 1): {band}")
    require_crs(grids, "grids / 网格")
    require_code_field(grids, code_field)
    codes = grids[code_field]
    if codes.isna().any():
        raise InputError(
            f"网格第 {codes.isna().idxmax()!r} 行缺少编码 / grid row "
            f"{codes.isna().idxmax()!r} has no {code_field}"
        )
    codes = codes.astype(str)
    if codes.duplicated().any():
        dup = codes[codes.duplicated()].iloc[0]
        raise InputError(f"网格编码重复 {dup!r} / grid code {dup!r} appears more than once")
    grids = grids.assign(**{code_field: codes})

    houses_outside = 0
    if houses is not None:
        counts, houses_outside = _house_counts(houses, grids, code_field, households_field)
        households = codes.map(counts).fillna(0.0).astype(float)
    elif households_field in grids.columns:
        households = pd.to_numeric(grids[households_field], errors="coerce").astype(float)
        if households.isna().any():
            row = households.isna().idxmax()
            raise InputError(
                f"网格第 {row!r} 行的户数不是数字 / grid row {row!r}: {households_field} is "
                "missing or not a number"
            )
    else:
        raise InputError(
            f"没有户数来源：请给出房屋或网格的 {households_field!r} 字段 / no households: "
            f"give houses, or a {households_field!r} column on the grids"
        )

    residents_outside = 0
    if residents is not None:
        where = _resident_codes(residents, grids, code_field)
        known = where.notna() & where.astype(str).isin(set(codes))
        per_grid = where[known].astype(str).value_counts()
        resident_counts = codes.map(per_grid).fillna(0).astype("Int64")
        residents_outside = int((~known).sum())
    else:
        resident_counts = pd.Series(pd.NA, index=grids.index, dtype="Int64")

    crs = metric_crs(grids)
    metric = grids.geometry.to_crs(crs).to_numpy()
    area_m2 = shapely.area(metric)
    perimeter_m = shapely.length(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        compactness = np.where(perimeter_m > 0, 4 * np.pi * area_m2 / perimeter_m**2, 0.0)

    staff_by_code = _staff_text(staff) if staff is not None else {}
    staff_lists = [staff_by_code.get(c, []) for c in codes]

    low, high = (1 - band) * target, (1 + band) * target
    h = households.to_numpy(dtype=float)
    flag = np.where(h < low - 1e-9, "under", np.where(h > high + 1e-9, "over", "ok"))
    report = pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "households": h,
            "residents": resident_counts.to_numpy(),
            "area_m2": area_m2,
            "compactness": compactness,
            "staff": ["、".join(s) for s in staff_lists],
            "staff_count": [len(s) for s in staff_lists],
            "share_of_target": h / target,
            "flag": flag,
        }
    )
    report["residents"] = report["residents"].astype("Int64")
    report.attrs.update(
        {
            "grids": len(report),
            "households_total": float(h.sum()),
            "residents_total": None if residents is None else int(resident_counts.sum()),
            "area_m2_total": float(area_m2.sum()),
            "ok": int((flag == "ok").sum()),
            "under": int((flag == "under").sum()),
            "over": int((flag == "over").sum()),
            "houses_outside": houses_outside,
            "residents_outside": residents_outside,
            "target": target,
            "band": band,
            "metric_crs": crs.to_string(),
        }
    )
    return report
