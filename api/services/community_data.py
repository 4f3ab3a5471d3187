"""Read one community out of the database as GeoDataFrames, for maps, printouts and reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.communities import find_community
from api.db.divisions import division_in_effect, divisions_in_effect
from api.db.models import (
    Community,
    Grid,
    House,
    Incident,
    Staff,
    StaffGrid,
    from_db_geometry,
)
from api.services.incidents.publication import public_clause
from api.services.registry.codes import code_table
from api.services.staff_photos import resolve_staff_photo, staff_photo_dir

__all__ = [
    "CommunityData",
    "find_community",
    "read_community",
    "read_door_plates",
    "read_grids_in_effect",
    "read_plate_numbers",
    "read_stored_community",
]


@dataclass(frozen=True)
class CommunityData:
    """A community with its division in effect, houses, incidents and staff (lon/lat)."""

    code: str
    name: str
    boundary: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame  # code, name, households, geometry
    houses: gpd.GeoDataFrame  # house_key, address, households, grid_code, geometry
    incidents: pd.DataFrame  # external_id, category_code, reported_at, lon, lat, grid_code
    # grid_code, name, role, phone, phone_published, duties, staff_no, post, photo (a file)
    staff: pd.DataFrame
    division_label: str | None


def _frame(rows: list[dict], geom_key: str, columns: list[str], srid: int) -> gpd.GeoDataFrame:
    geoms = [from_db_geometry(r.pop(geom_key)) for r in rows]
    return gpd.GeoDataFrame(rows, columns=columns, geometry=geoms, crs=srid)


def _with_photo(row: dict, photo_dir) -> dict:
    """The row with ``photo``: the file of its ``photo_path`` in ``photo_dir``, or None."""
    found = resolve_staff_photo(photo_dir, row.pop("photo_path"))
    return row | {"photo": None if found is None else str(found[0])}


def read_community(
    session: Session, community: str, *, on: dt.date | None = None, public_only: bool = False
) -> CommunityData:
    """Read ``community`` (code or name) with the division in effect ``on`` (default today);
    ``public_only`` keeps only incidents of public categories (for pages served without
    sign-in; see :mod:`api.services.incidents.publication`)."""
    c = find_community(session, community)
    srid = Community.geom.type.srid
    boundary = gpd.GeoDataFrame(
        {"code": [c.code], "name": [c.name]}, geometry=[from_db_geometry(c.geom)], crs=srid
    )
    division = division_in_effect(session, c.id, on)
    grid_rows = (
        session.execute(
            sa.select(Grid.code, Grid.name, Grid.households, Grid.geom)
            .where(Grid.division_id == division.id)
            .order_by(Grid.code)
        )
        .mappings()
        .all()
        if division is not None
        else []
    )
    grids = _frame([dict(r) for r in grid_rows], "geom", ["code", "name", "households"], srid)
    house_rows = session.execute(
        sa.select(House.house_key, House.address, House.households, House.grid_code, House.geom)
        .where(House.community_id == c.id)
        .order_by(House.id)
    ).mappings()
    houses = _frame(
        [dict(r) for r in house_rows],
        "geom",
        ["house_key", "address", "households", "grid_code"],
        srid,
    )
    inc_rows = session.execute(
        sa.select(
            Incident.external_id,
            Incident.category_code,
            Incident.reported_at,
            Incident.grid_code,
            Incident.geom,
        )
        .where(Incident.community_id == c.id, public_clause() if public_only else sa.true())
        .order_by(Incident.id)
    ).mappings()
    inc = _frame(
        [dict(r) for r in inc_rows],
        "geom",
        ["external_id", "category_code", "reported_at", "grid_code"],
        srid,
    )
    incidents = pd.DataFrame(inc.drop(columns="geometry"))
    incidents["lon"], incidents["lat"] = inc.geometry.x, inc.geometry.y
    staff_rows = session.execute(
        sa.select(
            StaffGrid.grid_code,
            Staff.name,
            Staff.role,
            Staff.phone,
            Staff.phone_published,
            Staff.duties,
            Staff.staff_no,
            Staff.post,
            Staff.photo_path,
        )
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(StaffGrid.community_id == c.id, Staff.active.is_(True))
        .order_by(StaffGrid.grid_code, Staff.id)
    ).mappings()
    photo_dir = staff_photo_dir(session.get_bind().engine.url)
    staff = pd.DataFrame(
        [_with_photo(dict(r), photo_dir) for r in staff_rows],
        columns=[
            "grid_code",
            "name",
            "role",
            "phone",
            "phone_published",
            "duties",
            "staff_no",
            "post",
            "photo",
        ],
    )
    roles = code_table("staff_role")
    staff["role"] = staff["role"].map(lambda r: roles.name_zh(r) if r in roles.codes else r)
    return CommunityData(
        code=c.code,
        name=c.name,
        boundary=boundary,
        grids=grids,
        houses=houses,
        incidents=incidents,
        staff=staff,
        division_label=division.label if division is not None else None,
    )


def read_stored_community(
    db_url: str | None, community: str, *, on: dt.date | None = None
) -> CommunityData:
    """:func:`read_community` on the database at ``db_url`` (created and migrated if need be)."""
    from api.db.engine import database_session

    with database_session(db_url) as session:
        return read_community(session, community, on=on)


def read_door_plates(session: Session, community: str | None = None) -> gpd.GeoDataFrame:
    """Door plates (houses with an address) as points, of one community or of all."""
    query = sa.select(House.house_key, House.address, House.community_id, House.geom).where(
        House.address.is_not(None), House.geom.is_not(None)
    )
    if community is not None:
        query = query.where(House.community_id == find_community(session, community).id)
    rows = [dict(r) for r in session.execute(query.order_by(House.id)).mappings()]
    return _frame(rows, "geom", ["house_key", "address", "community_id"], House.geom.type.srid)


def read_plate_numbers(session: Session, community: str | None = None) -> gpd.GeoDataFrame:
    """Door plates (``number``, ``street``) of the registry's houses, lon/lat points.

    Only the door plate: the house's number and road (what the offline base map shows).
    ``community`` (code or name) limits them to one community; without it every community's
    houses are read.
    """
    query = sa.select(House.number, House.road, House.geom).where(
        House.geom.is_not(None), House.number.is_not(None)
    )
    if community:
        query = query.where(House.community_id == find_community(session, community).id)
    rows = session.execute(query.order_by(House.id)).all()
    srid = House.geom.type.srid
    return gpd.GeoDataFrame(
        {"number": [r.number for r in rows], "street": [r.road for r in rows]},
        geometry=[from_db_geometry(r.geom) for r in rows],
        crs=srid,
    ).to_crs("EPSG:4326")


def read_grids_in_effect(session: Session, on: dt.date | None = None) -> gpd.GeoDataFrame:
    """The grids of every community's division in effect ``on`` (default today)."""
    ids = [d.id for d in divisions_in_effect(session, on)]
    rows = [
        dict(r)
        for r in session.execute(
            sa.select(Grid.code, Grid.name, Grid.community_id, Grid.geom)
            .where(Grid.division_id.in_(ids))
            .order_by(Grid.code)
        ).mappings()
    ]
    return _frame(rows, "geom", ["code", "name", "community_id"], Grid.geom.type.srid)
