"""Reassign a community's houses to grids when a new division takes effect.

A house's ``grid_code`` is the grid of the community's division in effect that covers its point
(the rule of :func:`gis.assign.assign_points` and :func:`api.db.dialect.assign_codes_in_db`).
When a new division takes effect (:func:`api.db.divisions.put_in_effect`), call
:func:`reassign_houses` with the community and the effective date: codes are recomputed with
``gis.assign`` on the stored grids of the division in effect on that date and set through the
ORM, so every changed code is written to the change log (who, when, old → new) in the caller's
transaction. Incidents keep the grid they were reported in (their codes are history).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.db.divisions import division_in_effect, put_in_effect
from api.db.models import STORAGE_SRID, Community, Division, House, from_db_geometry
from api.services.registry.importer import grids_in_effect
from gis.assign import assign_points
from gis.errors import InputError

__all__ = ["ReassignResult", "put_in_effect_and_reassign", "reassign_houses"]


@dataclass
class ReassignResult:
    """Houses whose code changed (id, old, new), how many kept theirs, how many are outside."""

    division: str | None
    changed: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    unchanged: int = 0
    outside: int = 0

    def as_dict(self) -> dict:
        return {
            "division": self.division,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "outside": self.outside,
        }


def reassign_houses(
    session: Session, community: Community | int, effective_date: dt.date
) -> ReassignResult:
    """Set the grid code of every house of ``community`` from the division in effect on
    ``effective_date``; return what changed. Flushes; the caller commits.

    Houses without a point, or covered by no grid of that division (or when no division is in
    effect), get NULL. Raises :class:`~gis.errors.InputError` for an unknown community id.
    """
    community_id = community.id if isinstance(community, Community) else int(community)
    if session.get(Community, community_id) is None:
        raise InputError(f"没有 id 为 {community_id} 的社区 / no community with id {community_id}")
    division = division_in_effect(session, community_id, effective_date)
    grids = grids_in_effect(session, community_id, effective_date)
    houses = list(
        session.scalars(
            sa.select(House).where(House.community_id == community_id).order_by(House.id)
        )
    )
    points = gpd.GeoSeries([from_db_geometry(h.geom) for h in houses], crs=STORAGE_SRID)
    if len(grids) and len(houses):
        codes = assign_points(points, grids).tolist()
    else:
        codes = [None] * len(houses)
    result = ReassignResult(division=None if division is None else division.label)
    for house, code in zip(houses, codes, strict=True):
        if code is None:
            result.outside += 1
        if house.grid_code == code:
            result.unchanged += 1
            continue
        result.changed.append((house.id, house.grid_code, code))
        house.grid_code = code
    session.flush()
    return result


def put_in_effect_and_reassign(
    session: Session, division: Division, effective_from: dt.date
) -> tuple[Division | None, ReassignResult]:
    """:func:`~api.db.divisions.put_in_effect`, then :func:`reassign_houses` on that date.

    Returns the replaced division (or None) and the reassignment.
    """
    replaced = put_in_effect(session, division, effective_from)
    return replaced, reassign_houses(session, division.community_id, effective_from)
