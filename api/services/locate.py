"""Which grid owns a point: the public ``GET /grids/locate`` (same rule as :mod:`gis.assign`).

The point is converted from the caller's CRS (``wgs84``, ``cgcs2000`` taken as is — they agree
to centimetres — ``gcj02`` and ``bd09`` with the iterative inverses of :mod:`gis.crs`), then
:func:`api.db.dialect.grid_code_at` finds the covering grid of the divisions in effect on the
day (smallest code on a shared edge or vertex).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.dialect import grid_code_at
from api.db.models import Community, Staff, StaffGrid
from api.services.crud import grid_in_effect
from gis.crs import bd09_to_wgs84, gcj02_to_wgs84, parse_input_crs

__all__ = ["locate", "to_storage_lonlat"]


def to_storage_lonlat(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """(lon, lat) in the storage CRS from ``crs`` (any name :func:`parse_input_crs` knows)."""
    source = parse_input_crs(crs)
    if source == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    elif source == "bd09":
        lon, lat = bd09_to_wgs84(lon, lat)
    return float(lon), float(lat)


def locate(
    session: Session, *, lon: float, lat: float, crs: str = "wgs84", day: dt.date
) -> dict[str, Any]:
    """``{"grid_code", "grid_name", "community", "outside", "staff"}`` for a point.

    ``staff`` lists the active staff serving the grid (name, role, phone — the phone only
    when published); ``grid_code`` is None and ``outside`` True when no grid covers it.
    """
    x, y = to_storage_lonlat(lon, lat, crs)
    code = grid_code_at(session, x, y, on=day)
    if code is None:
        return {
            "grid_code": None,
            "grid_name": None,
            "community": None,
            "outside": True,
            "staff": [],
        }
    grid = grid_in_effect(session, code, day)
    community = session.get(Community, grid.community_id) if grid is not None else None
    staff = session.scalars(
        sa.select(Staff)
        .join(StaffGrid, StaffGrid.staff_id == Staff.id)
        .where(StaffGrid.grid_code == code, Staff.active.is_(True))
        .order_by(Staff.id)
    ).all()
    return {
        "grid_code": code,
        "grid_name": None if grid is None else grid.name,
        "community": None if community is None else community.name,
        "outside": False,
        "staff": [
            {"name": s.name, "role": s.role, "phone": s.phone if s.phone_published else None}
            for s in staff
        ],
    }
