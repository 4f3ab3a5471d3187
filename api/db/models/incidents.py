"""ORM models of the incident workflow (migrations 0003, 0005, 0006): history, photos, categories,
API keys, posts, street departments and escalation rules; what an Open311 client sent with a
report.

The workflow columns of an incident itself (state, severity, due time, handler, version...)
are on :class:`api.db.models.Incident`. ``incident_events`` is append-only: the database
refuses UPDATE, and DELETE while the incident exists (see the migration).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db.encrypted import EncryptedText
from api.db.models.base import Base, UTCDateTime, utc_now

__all__ = [
    "INCIDENT_APPEND_ONLY_TABLES",
    "ApiKey",
    "Department",
    "EscalationRule",
    "IncidentCategory",
    "IncidentEvent",
    "IncidentPhoto",
    "Open311Submission",
    "Post",
]

INCIDENT_APPEND_ONLY_TABLES = ("incident_events",)


class IncidentEvent(Base):
    """One step of an incident's history: who (user id, username, role), when, from → to,
    the action, a note and (for ``reject``) the reason. ``seq`` runs 1, 2, 3... per incident
    without gaps (``seq`` = the incident's version after the step)."""

    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class IncidentPhoto(Base):
    """A photo of an incident: the stored file's path (under the photo folder), type, size
    and SHA-256."""

    __tablename__ = "incident_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    uploaded_by: Mapped[str | None] = mapped_column(String(64))


class IncidentCategory(Base):
    """A category of the incident taxonomy (``data/codes/incident_categories.csv``, loaded by
    the migration): two levels, default severity, handling post, GB/T 30428.2-style class, and
    whether its incidents may be published (``public``; see
    :mod:`api.services.incidents.publication`)."""

    __tablename__ = "incident_categories"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(8))
    post: Mapped[str | None] = mapped_column(String(32))
    gbt_class: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())


class ApiKey(Base):
    """An Open311 API key: its name and the SHA-256 of the key (the key is shown once)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Post(Base):
    """A post (岗位) of the community: a name staff and categories refer to (城建管理岗...)
    and an optional code. Seeded from the posts of the category table."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class Department(Base):
    """A department of the street office (一办四中心...): code, name, the street it belongs
    to; its members are the staff whose ``department_id`` is its id."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_id: Mapped[int | None] = mapped_column(
        ForeignKey("streets.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class EscalationRule(Base):
    """Routing of escalations: incidents of ``category_code`` (a second-level code, or a top
    code for its whole group) escalated to the street go to ``department_id``."""

    __tablename__ = "escalation_rules"

    category_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )


class Open311Submission(Base):
    """What an Open311 client sent with a report beyond the incident itself: the client (API
    key name), the reporter's account id, e-mail, names, phone and device, and ``media_url``.

    The reporter's details are kept for the staff who handle the report and never appear in
    an Open311 answer; e-mail, names and phone are personal data, stored encrypted under the
    data key (:class:`~api.db.encrypted.EncryptedText`). ``media_url`` is the request's public
    media link.
    """

    __tablename__ = "open311_submissions"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    api_key_name: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(EncryptedText("open311_submissions.email"))
    first_name: Mapped[str | None] = mapped_column(EncryptedText("open311_submissions.first_name"))
    last_name: Mapped[str | None] = mapped_column(EncryptedText("open311_submissions.last_name"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("open311_submissions.phone"))
    device_id: Mapped[str | None] = mapped_column(String(128))
    media_url: Mapped[str | None] = mapped_column(Text)
