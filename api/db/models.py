"""ORM models (SQLAlchemy 2 typed mappings + GeoAlchemy2): community, grid, house, incident.

Geometry is stored lon/lat in one SRID per deployment, :data:`STORAGE_SRID`
(``get_settings().storage_srid``: 4326 WGS84 or 4490 CGCS2000), each geometry column with a
spatial index (SpatiaLite R*Tree ``idx_<table>_geom`` / PostGIS GiST). Everything lives on
one :data:`Base.metadata`.
"""

from __future__ import annotations

import datetime as dt

import shapely
from geoalchemy2 import Geometry, WKBElement
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from api.config import get_settings

__all__ = [
    "STORAGE_SRID",
    "Base",
    "Community",
    "Grid",
    "House",
    "Incident",
    "UTCDateTime",
    "from_db_geometry",
    "to_db_geometry",
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
            raise ValueError(f"时间缺少时区 / datetime without a time zone: {value.isoformat()}")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _geometry(kind: str) -> Geometry:
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


class Base(DeclarativeBase):
    """Declarative base: one metadata for the whole schema."""


class Community(Base):
    """A community (社区): 12-digit code (6 division + 3 street + 3 community) and boundary."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_name: Mapped[str | None] = mapped_column(Text)
    district_name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(_geometry("MULTIPOLYGON"))

    grids: Mapped[list[Grid]] = relationship(back_populates="community")


class Grid(Base):
    """A grid (网格) of one division of a community; 15-digit code unique within the division."""

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("division", "code", name="uq_grids_division_code"),
        Index("ix_grids_community_division", "community_id", "division"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    division: Mapped[str] = mapped_column(String(64), default="current")
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(_geometry("MULTIPOLYGON"))

    community: Mapped[Community] = relationship(back_populates="grids")


class House(Base):
    """A house (房屋): door plate, owner, area, type, use; a point and its grid code."""

    __tablename__ = "houses"
    __table_args__ = (
        UniqueConstraint("community_id", "house_key", name="uq_houses_community_key"),
        Index("ix_houses_grid_code", "grid_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    house_key: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    road: Mapped[str | None] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(64))
    households: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    house_type: Mapped[str | None] = mapped_column(String(64))
    use: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(_geometry("POINT"))
    grid_code: Mapped[str | None] = mapped_column(String(32))


class Incident(Base):
    """An incident (事件) reported in a community: category, time (UTC), point, grid code."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("community_id", "external_id", name="uq_incidents_community_external"),
        Index("ix_incidents_grid_code", "grid_code"),
        Index("ix_incidents_category_reported", "category_code", "reported_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(_geometry("POINT"))
    grid_code: Mapped[str | None] = mapped_column(String(32))
