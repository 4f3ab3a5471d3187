"""Which grid owns a point: the public ``GET /grids/locate`` (same rule as :mod:`gis.assign`).

The point is converted from the caller's CRS (``wgs84``, ``cgcs2000`` taken as is — they agree
to centimetres — ``gcj02`` and ``bd09`` with the iterative inverses of :mod:`gis.crs`), then the
covering grid of the divisions in effect on the day is found (smallest code on a shared edge or
vertex) in an in-memory :class:`gis.assign.GridIndex` of those grids, the same predicate as
:func:`api.db.dialect.grid_code_at`. The index is built once per database and day and rebuilt
when a division is added or its dates change (a one-row query on ``divisions`` and ``grids``
per request tells), so a look-up costs the framework's time, not a spatial query.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.divisions import in_effect_clause
from api.db.models import (
    STORAGE_SRID,
    Community,
    Division,
    Grid,
    Staff,
    StaffGrid,
    from_db_geometry,
)
from gis.assign import GridIndex
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


_INDEX_CACHE_SIZE = 8
_indexes: OrderedDict[tuple, _DayIndex] = OrderedDict()
_lock = threading.Lock()


class _DayIndex:
    """The grids in effect on one day, as a GridIndex."""

    def __init__(self, session: Session, day: dt.date) -> None:
        rows = session.execute(
            sa.select(Grid.code, Grid.geom)
            .join(Division, Grid.division_id == Division.id)
            .where(in_effect_clause(day))
            .order_by(Grid.code)
        ).all()
        grids = gpd.GeoDataFrame(
            {"code": [r[0] for r in rows]},
            geometry=[from_db_geometry(r[1]) for r in rows],
            crs=STORAGE_SRID,
        )
        self.index = GridIndex(grids) if len(grids) else None

    def locate(self, x: float, y: float) -> str | None:
        return None if self.index is None else self.index.locate(x, y)


def _day_index(session: Session, day: dt.date) -> _DayIndex:
    # identifies the set of divisions in effect that day (their grids never change shape:
    # an edited division is a new division)
    in_effect = sa.select(Division.id).where(in_effect_clause(day)).subquery()
    stamp = session.execute(
        sa.select(
            sa.func.count(in_effect.c.id),
            sa.func.sum(in_effect.c.id),
            sa.func.sum(in_effect.c.id * in_effect.c.id),
        )
    ).one()
    key = (str(session.get_bind().url), day, tuple(stamp))
    with _lock:
        found = _indexes.get(key)
        if found is not None:
            _indexes.move_to_end(key)
            return found
    built = _DayIndex(session, day)
    with _lock:
        _indexes[key] = built
        while len(_indexes) > _INDEX_CACHE_SIZE:
            _indexes.popitem(last=False)
    return built


def locate(
    session: Session, *, lon: float, lat: float, crs: str = "wgs84", day: dt.date
) -> dict[str, Any]:
    """``{"grid_code", "grid_name", "community", "outside", "staff"}`` for a point.

    ``staff`` lists the active staff serving the grid (name, role, phone — the phone only
    when published); ``grid_code`` is None and ``outside`` True when no grid covers it.
    """
    x, y = to_storage_lonlat(lon, lat, crs)
    day_index = _day_index(session, day)
    code = day_index.locate(x, y)
    if code is None:
        return {
            "grid_code": None,
            "grid_name": None,
            "community": None,
            "outside": True,
            "staff": [],
        }
    grid_name, community_name = session.execute(
        sa.select(Grid.name, Community.name)
        .join(Division, Grid.division_id == Division.id)
        .join(Community, Grid.community_id == Community.id)
        .where(Grid.code == code, in_effect_clause(day))
        .order_by(Division.effective_from.desc())
        .limit(1)
    ).one()
    staff = session.scalars(
        sa.select(Staff)
        .join(StaffGrid, StaffGrid.staff_id == Staff.id)
        .where(StaffGrid.grid_code == code, Staff.active.is_(True))
        .order_by(Staff.id)
    ).all()
    return {
        "grid_code": code,
        "grid_name": grid_name,
        "community": community_name,
        "outside": False,
        "staff": [
            {"name": s.name, "role": s.role, "phone": s.phone if s.phone_published else None}
            for s in staff
        ],
    }
