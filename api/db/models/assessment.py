"""ORM models of patrol logs and the monthly assessment, on the one ``Base``.

Patrol: an uploaded GPS track (:class:`PatrolTrack`, identified by its SHA-256 so the same
file uploaded twice by one worker counts once), the time it credits per day and grid
(:class:`PatrolDay`, the output of :func:`gis.patrol.time_in_grids` with the grids in effect
on each day) and the work log (:class:`WorkLog`: what a worker registered or fed back),
linked to the patrol of the same day by worker and local date (Asia/Shanghai).

Assessment (docs/design.md §2): the recorded draw of a community's sample points for a month
(:class:`AssessmentSample`, with its seed), the five department scores
(:class:`AssessmentDeptScore`) and each sample point's field data, score and deductions
(:class:`AssessmentPoint`).

A worker is named by ``worker`` (the user name or staff name the track was filed under),
with ``user_id`` / ``staff_id`` when known (no cascade: the log outlives accounts).
Imported at the end of :mod:`api.db.models`, so the tables are always on ``Base.metadata``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db.models.base import Base, UTCDateTime, utc_now

__all__ = [
    "MANUAL_STATUSES",
    "WORK_LOG_KINDS",
    "WORK_LOG_KIND_ZH",
    "WORK_LOG_SOURCES",
    "AssessmentDeptScore",
    "AssessmentPoint",
    "AssessmentSample",
    "ManualPatrol",
    "PatrolDay",
    "PatrolTrack",
    "WorkLog",
]

WORK_LOG_KINDS = (
    "registered", "fed_back", "handled", "escalated", "visited", "other",
    "patrol", "updated", "manual_patrol",
)  # fmt: skip
"""Kinds of work-log entries: registered (登记), fed back (反馈), handled (处置), escalated
(上报), visited (走访), other, patrol (巡查, a patrol day from a GPS track), updated (变更,
a house or resident changed), manual_patrol (补录巡查, approved manual patrol hours)."""

WORK_LOG_KIND_ZH = {
    "registered": "登记", "fed_back": "反馈", "handled": "处置", "escalated": "上报",
    "visited": "走访", "other": "其他", "patrol": "巡查", "updated": "变更",
    "manual_patrol": "补录巡查",
}  # fmt: skip
"""Chinese name of each work-log kind (ledgers and the printed weekly log)."""

WORK_LOG_SOURCES = ("auto", "manual")
"""``auto``: written by the worker's own action; ``manual``: typed in by the worker."""

MANUAL_STATUSES = ("requested", "approved", "rejected")
"""States of a manual patrol-hour entry; only ``approved`` ones count."""


class PatrolTrack(Base):
    """An uploaded GPS track of a worker: file name, SHA-256, fixes, who uploaded it when."""

    __tablename__ = "patrol_tracks"
    __table_args__ = (UniqueConstraint("worker", "sha256", name="uq_patrol_tracks_worker_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    uploaded_by: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    fixes: Mapped[int] = mapped_column(Integer)
    first_fix_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_fix_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    days: Mapped[list[PatrolDay]] = relationship(
        back_populates="track", cascade="all, delete-orphan", passive_deletes=True
    )


class PatrolDay(Base):
    """Time a track credits to one grid on one day (Asia/Shanghai), in seconds."""

    __tablename__ = "patrol_days"
    __table_args__ = (
        UniqueConstraint("track_id", "date", "grid_code"),
        Index("ix_patrol_days_worker_date", "worker", "date"),
        CheckConstraint("seconds >= 0", name="seconds_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_tracks.id", ondelete="CASCADE"), index=True
    )
    worker: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    grid_code: Mapped[str] = mapped_column(String(32), index=True)
    seconds: Mapped[float] = mapped_column(Float)

    track: Mapped[PatrolTrack] = relationship(back_populates="days")


class WorkLog(Base):
    """A work-log entry (what a worker registered, fed back...), on the day of ``at``.

    ``date`` is the Asia/Shanghai day of ``at``: the same day as the patrol it belongs to.
    ``record_table``/``record_id`` point at what the entry is about (a house, an incident).
    """

    __tablename__ = "work_log"
    __table_args__ = (
        Index("ix_work_log_worker_date", "worker", "date"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in WORK_LOG_KINDS) + ")", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    record_table: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    # signature (migration 0006): who wrote it (real name when known) and when
    source: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    signed_name: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utc_now)


class ManualPatrol(Base):
    """Manual patrol hours (start, end, grid, note) of a worker without a GPS track.

    Counted apart from GPS hours, and only once a community head (or street department,
    admin) approved it (``status`` approved). ``date`` is the Asia/Shanghai day of
    ``start_at``; an entry never spans local midnight.
    """

    __tablename__ = "patrol_manual"
    __table_args__ = (
        Index("ix_patrol_manual_worker_date", "worker", "date"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{k}'" for k in MANUAL_STATUSES) + ")", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(Integer)
    grid_code: Mapped[str] = mapped_column(String(32))
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    date: Mapped[dt.date] = mapped_column(Date)
    seconds: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    entered_by: Mapped[str | None] = mapped_column(String(64))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)


class AssessmentSample(Base):
    """The recorded draw of a community's sample points for a month (seed and house keys)."""

    __tablename__ = "assessment_samples"
    __table_args__ = (UniqueConstraint("community_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    month: Mapped[str] = mapped_column(String(7))
    seed: Mapped[int] = mapped_column(BigInteger)
    house_keys: Mapped[list] = mapped_column(JSON)
    n_available: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    drawn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    drawn_by: Mapped[str | None] = mapped_column(String(64))


class AssessmentDeptScore(Base):
    """A department's score of a community for a month (0–8) with its reason."""

    __tablename__ = "assessment_dept_scores"
    __table_args__ = (UniqueConstraint("community_id", "month", "dept"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    month: Mapped[str] = mapped_column(String(7))
    dept: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    scored_by: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class AssessmentPoint(Base):
    """A sample point's field data (JSON), score and deductions (JSON list)."""

    __tablename__ = "assessment_points"
    __table_args__ = (UniqueConstraint("community_id", "month", "house_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    month: Mapped[str] = mapped_column(String(7))
    house_key: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    registered: Mapped[bool] = mapped_column(Boolean, default=True)
    field_data: Mapped[dict] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    deductions: Mapped[list] = mapped_column(JSON)
    scored_by: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
