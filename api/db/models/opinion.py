"""ORM models of supervision and public opinion (migration 0006): satisfaction with handled
incidents, one-time rating links, public-opinion surveys and their answers, and the rewards
and accountability records of the monthly appraisal.

- :class:`Satisfaction`: one per incident (unique ``incident_id``): a staff call-back
  (``source='callback'``, who called and when) or the resident's own rating through a
  one-time link (``source='resident'``); ``level`` is a code of
  ``data/codes/satisfaction_level.csv`` (satisfied 满意 / basic 基本满意 / dissatisfied 不满意).
- :class:`SatisfactionLink`: the SHA-256 of an incident's rating token (the token itself is
  printed once, on the feedback slip); issuing a new link replaces the unused one.
- :class:`Survey` / :class:`SurveyResponse`: a survey of a community (or one grid) from a
  questionnaire template of ``data/codes/survey_questions.csv``; each response names its
  grid, is anonymous (no user, no address) and came from the phone page or from paper
  (``entered_by``).
- :class:`AppraisalRecord`: a reward (奖励) or an accountability finding (问责) for a staff
  member: why, decided by whom, on which date, recorded by whom.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models.base import Base, UTCDateTime, utc_now

__all__ = [
    "APPRAISAL_RECORD_KINDS",
    "SATISFACTION_LEVELS",
    "SATISFACTION_SOURCES",
    "AppraisalRecord",
    "Satisfaction",
    "SatisfactionLink",
    "Survey",
    "SurveyResponse",
]

SATISFACTION_LEVELS = ("satisfied", "basic", "dissatisfied")
SATISFACTION_SOURCES = ("callback", "resident")
APPRAISAL_RECORD_KINDS = ("reward", "accountability")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Satisfaction(Base):
    """The satisfaction record of one incident (at most one)."""

    __tablename__ = "satisfaction"
    __table_args__ = (
        CheckConstraint(_in("level", SATISFACTION_LEVELS), name="level"),
        CheckConstraint(_in("source", SATISFACTION_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    level: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    called_by: Mapped[str | None] = mapped_column(String(64))  # call-back: who called
    called_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SatisfactionLink(Base):
    """The one-time rating link of an incident: SHA-256 of its token only."""

    __tablename__ = "satisfaction_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    issued_by: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Survey(Base):
    """A public-opinion survey of a community (``grid_code`` set: of that grid only)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    grid_code: Mapped[str | None] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SurveyResponse(Base):
    """One anonymous answer sheet: the grid it speaks of and ``{question code: level}``."""

    __tablename__ = "survey_responses"
    __table_args__ = (CheckConstraint(_in("source", ("phone", "paper")), name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(32), index=True)
    answers: Mapped[dict] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(8))
    entered_by: Mapped[str | None] = mapped_column(String(64))  # paper: the staff user
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)


class AppraisalRecord(Base):
    """A reward (奖励) or accountability record (问责) of a staff member."""

    __tablename__ = "appraisal_records"
    __table_args__ = (CheckConstraint(_in("kind", APPRAISAL_RECORD_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[dt.date] = mapped_column(Date, index=True)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
