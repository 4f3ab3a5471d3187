"""The shared base of every table: one metadata, the storage SRID, geometry and time types.

Every model module of :mod:`api.db.models` imports from here and from nowhere else in the
package, so the model modules never import each other (relationships across them name their
target class as a string).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
from geoalchemy2 import Geometry, WKBElement
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import DateTime, LargeBinary, MetaData, TypeDecorator, func, type_coerce
from sqlalchemy.orm import DeclarativeBase

from api.core.config import get_settings
from gis.errors import InputError

__all__ = [
    "APPEND_ONLY_TABLES",
    "HASHED_RESIDENT_FIELDS",
    "NAMING_CONVENTION",
    "SENSITIVE_RESIDENT_FIELDS",
    "STORAGE_SRID",
    "Base",
    "UTCDateTime",
    "from_db_geometries",
    "from_db_geometry",
    "geometry_column",
    "to_db_geometries",
    "to_db_geometry",
    "utc_now",
    "wkb_of",
]

STORAGE_SRID: int = get_settings().storage_srid


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp, stored in UTC on every database (SQLite has no time zones).

    Naive datetimes are refused: a report time without a zone is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(f"时间缺少时区 / datetime without a time zone: {value.isoformat()}")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def geometry_column(kind: str) -> Geometry:
    """A nullable geometry column type of ``kind`` in :data:`STORAGE_SRID`, spatially indexed."""
    return Geometry(geometry_type=kind, srid=STORAGE_SRID, spatial_index=True, nullable=True)


def to_db_geometry(geom: shapely.Geometry | None, *, srid: int = STORAGE_SRID, multi: bool = False):
    """Return a GeoAlchemy2 WKB element for ``geom`` (exact doubles), or None.

    ``multi=True`` promotes a Polygon to a MultiPolygon, as the MULTIPOLYGON columns require.
    """
    if geom is None:
        return None
    if multi and geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return from_shape(geom, srid=srid)


def from_db_geometry(value: WKBElement | None) -> shapely.Geometry | None:
    """Return the shapely geometry of a stored value (None stays None)."""
    return None if value is None else to_shape(value)


def to_db_geometries(geoms, *, srid: int = STORAGE_SRID) -> list[WKBElement | None]:
    """:func:`to_db_geometry` of many geometries (one WKB encoding call for all; None stays)."""
    wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))
    return [
        None if b is None else WKBElement(memoryview(b), srid=srid, extended=False) for b in wkb
    ]


def from_db_geometries(values) -> np.ndarray:
    """:func:`from_db_geometry` of many stored values (one WKB decoding call; None stays)."""
    raw = [
        None if v is None else v.data if isinstance(v.data, str) else bytes(v.data) for v in values
    ]
    return shapely.from_wkb(np.asarray(raw, dtype=object))


def wkb_of(column):
    """``column`` (a geometry column) selected as plain WKB bytes, exact doubles.

    For reading many geometries: :func:`shapely.from_wkb` decodes them in one call, where the
    column itself gives a GeoAlchemy2 element per row, several times slower to read.
    """
    return type_coerce(func.ST_AsBinary(column), LargeBinary)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Residents' fields stored encrypted (personal information the PIPL calls sensitive: identity
# document numbers, and the phone that reaches a person), and those with a keyed hash beside.
SENSITIVE_RESIDENT_FIELDS = ("id_number", "phone", "residence_permit_no")
HASHED_RESIDENT_FIELDS = ("id_number", "phone")

# Tables whose rows are never updated or deleted (triggers on both engines raise).
APPEND_ONLY_TABLES = ("audit_log", "change_log")


class Base(DeclarativeBase):
    """Declarative base: one metadata for the whole schema (constraint names by convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
