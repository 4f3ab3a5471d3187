"""Geocoding: one address, a batch, and the reverse look-up."""

from __future__ import annotations

from typing import Any

from api.routes.schemas.common import _Answer

__all__ = ["GeocodeBatchAnswer", "GeocodeOneAnswer", "ReverseAnswer"]


class GeocodeOneAnswer(_Answer):
    """GET answer of ``geocode.geocode_one``."""

    lon: int | float | None
    lat: int | float | None
    match_level: str | None
    score: int | float | None
    interpolated: bool | None
    matched_address: str | None
    road: str | None
    candidates: list[Any]
    reason: str | None
    unresolved: Any
    grid_code: str | None
    grid_candidates: list[str]
    confident: bool | None


class ReverseAnswer(_Answer):
    """GET answer of ``geocode.reverse``."""

    lon: int | float | None
    lat: int | float | None
    grid_code: str | None
    door_plates: list[dict[str, Any]]


class GeocodeBatchAnswer(_Answer):
    """POST answer of ``geocode.geocode_batch``."""

    data: list[dict[str, Any]]
    count: int
    by_level: dict[str, Any] | None
