"""Geocoding against the stored door plates: one cached gazetteer for the API and the incidents.

The gazetteer, the grid index of the division in effect and the :class:`gis.geocode.GridLookup`
are built from the database and kept until the houses change (their count or newest id) or
the day turns (a division may take effect). A lane or road that crosses grids is never a
place to file anything: its answer carries no grid code and is not confident.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.core.errors import Unprocessable
from api.db.models import House
from api.services.community_data import find_community, read_door_plates, read_grids_in_effect
from gis.assign import GridIndex
from gis.geocode import CONFIDENCE_THRESHOLD, Gazetteer, GeocodeResult, GridLookup

__all__ = ["Geocoder", "geocode_answer", "geocoder_for", "locate_address"]


@dataclass(frozen=True)
class Geocoder:
    """The door plates of one community (or all) and the grids they fall in."""

    gazetteer: Gazetteer
    index: GridIndex | None
    lookup: GridLookup | None


_CACHE: dict[tuple, Geocoder] = {}


def geocoder_for(session: Session, community: str | None) -> Geocoder:
    """The (cached) geocoder of ``community`` (name or code), or of every community."""
    community_id = find_community(session, community).id if community else None
    query = sa.select(sa.func.count(House.id), sa.func.max(House.id))
    if community_id is not None:
        query = query.where(House.community_id == community_id)
    stamp = (
        str(session.get_bind().url),
        community_id,
        *session.execute(query).one(),
        dt.date.today(),
    )
    if stamp not in _CACHE:
        plates = read_door_plates(session, community)
        if plates.empty:
            raise Unprocessable("库中没有门牌，无法按地址定位 / no door plates to geocode against")
        grids = read_grids_in_effect(session)
        gazetteer = Gazetteer.from_frame(plates, address_column="address")
        index = GridIndex(grids) if len(grids) else None
        lookup = GridLookup(gazetteer, index) if index is not None else None
        _CACHE.clear()  # one community's door plates at a time: they are rebuilt in ~0.1 s
        _CACHE[stamp] = Geocoder(gazetteer, index, lookup)
    return _CACHE[stamp]


def geocode_answer(result: GeocodeResult, lookup: GridLookup | None) -> dict[str, Any]:
    """The result with its grid: a lane or road crossing grids gets none, and its candidates."""
    out = result.to_dict()
    code, candidates = lookup.grids([result])[0] if lookup is not None else (None, [])
    out["grid_code"] = code
    out["grid_candidates"] = candidates
    # a lane or road crossing grids is no place to file anything: not confident, so the pages
    # ask for a point on the map instead of using the road's representative point
    out["confident"] = (
        result.match_level != "none" and result.score >= CONFIDENCE_THRESHOLD and not candidates
    )
    return out


def locate_address(session: Session, address: str, community: str | None) -> tuple[float, float]:
    """The point of ``address`` for filing something there; 422 unless confident.

    Refused: no match, a score under the threshold, and a lane or road that crosses grids
    (its representative point would put the item in one of them by chance).
    """
    found = geocoder_for(session, community)
    result = found.gazetteer.geocode(address)
    answer = geocode_answer(result, found.lookup)
    if not answer["confident"] or result.lon is None:
        candidates = [c.get("address") for c in result.candidates[:5]]
        crossing = (
            f"；跨越网格 {answer['grid_candidates']} / crosses grids {answer['grid_candidates']}"
            if answer["grid_candidates"]
            else ""
        )
        raise Unprocessable(
            f"地址 {address!r} 无法可靠定位（匹配级别 {result.match_level}，得分 "
            f"{result.score:.2f}{crossing}）；请给出坐标或更准确的地址 / address {address!r} "
            f"could not be located reliably (match level {result.match_level}, score "
            f"{result.score:.2f}); give a point or a more precise address; candidates: "
            f"{candidates}",
            errors=[
                {
                    "field": "address",
                    "candidates": result.candidates[:5],
                    "grid_candidates": answer["grid_candidates"],
                }
            ],
        )
    return float(result.lon), float(result.lat)
