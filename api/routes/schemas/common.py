"""The shapes every resource shares: request and table-row bases, ``{data, count}``
lists, GeoJSON features and OGC API – Features pages.

Request bodies (:class:`_In`) refuse unknown fields; answers built by the services
(:class:`_Answer`) name the keys they always have, with their types, and let any other key
pass through unchanged, so that declaring a model never changes what a client receives.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "GRID_CODE",
    "DateLike",
    "Feature",
    "FeatureCollection",
    "FeaturePage",
    "Link",
    "ListOf",
    "Listing",
    "Message",
    "T",
]


T = TypeVar("T")
DateLike = dt.date | str | None
GRID_CODE = r"^\d{15}$"


class _In(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ListOf(BaseModel, Generic[T]):
    """A page of a non-spatial list: the items and how many there are in all."""

    data: list[T]
    count: int


class Message(BaseModel):
    detail: str


# The response models of the endpoints that answer plain JSON built by the services. Each
# names the keys its answer always has, with their types; keys it does not name (present
# only sometimes, or nested deeper) pass through unchanged, so that declaring a model never
# changes what a client receives.
class _Answer(BaseModel):
    """Base of the answers: the named keys are checked, any other key passes through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Link(_Answer):
    """A link of an OGC API page (``self``, ``next``, ``prev``, ``collection``)."""

    href: str
    rel: str


class Feature(_Answer):
    """A GeoJSON Feature (RFC 7946) in lon/lat; ``id`` when the thing has one."""

    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class FeatureCollection(_Answer):
    """A GeoJSON FeatureCollection in lon/lat."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


class FeaturePage(FeatureCollection):
    """A page of a spatial list, OGC API – Features style: counts, time stamp and links."""

    numberMatched: int
    numberReturned: int
    timeStamp: str
    links: list[Link]


class Listing(_Answer):
    """A non-spatial list: ``{"data": [...], "count": n}`` (the rows as the service gives
    them)."""

    data: list[Any]
    count: int
