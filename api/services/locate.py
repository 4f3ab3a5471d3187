"""Which grid owns a point: the public ``GET /grids/locate`` (same rule as :mod:`gis.assign`).

The point is converted from the caller's CRS (``wgs84``, ``cgcs2000`` taken as is — they agree
to centimetres — ``gcj02`` and ``bd09`` with the iterative inverses of :mod:`gis.crs`), then the
covering grid of the divisions in effect on the day is found (smallest code on a shared edge or
vertex) in an in-memory :class:`gis.assign.GridIndex` of those grids, the same predicate as
:func:`api.db.dialect.grid_code_at`.

:class:`GridLocator` keeps, per day, the index and each grid's public answer (code, name,
community, active staff with published phones and photo URLs) in memory, so a look-up costs
the framework's time and no database query:

* a commit in this process that touches ``staff``, ``staff_grids``, ``grids``, ``divisions``
  or ``communities`` (through a SQLAlchemy session: unit of work or ORM bulk statement) makes
  the next look-up check the database, so edits made through the API show at once;
* edits made by another process (a second server worker, another host on the same PostGIS,
  the CLI, plain SQL) show within ``max_age_s`` (``WANGGE_LOCATE_CACHE_S``, default 5 s, at
  most 30 s): after that long the ``change_counters`` row ``locate`` is read (one row).
  Triggers bump it in the same transaction as any write to those tables (migration
  ``0014_change_counters``), so when it has not moved nothing is read again; when it has, the
  divisions in effect are checked again (the index is rebuilt only if they changed) and each
  grid's answer is read again.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db.divisions import in_effect_clause
from api.db.models import (
    STORAGE_SRID,
    ChangeCounter,
    Community,
    Division,
    Grid,
    Staff,
    StaffGrid,
    from_db_geometry,
)
from api.services.staff_photos import resolve_staff_photo
from gis.assign import GridIndex
from gis.crs import lonlat_to_wgs84

__all__ = [
    "LOCATE_COUNTER",
    "OUTSIDE",
    "GridLocator",
    "change_counter",
    "staff_photo_url",
    "to_storage_lonlat",
    "write_generation",
]

LOCATE_COUNTER = "locate"  # the row of change_counters the look-up watches


def to_storage_lonlat(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """(lon, lat) in the storage CRS from ``crs`` (any name :func:`parse_input_crs` knows)."""
    lon, lat = lonlat_to_wgs84(lon, lat, crs)
    return float(lon), float(lat)


def staff_photo_url(staff_id: int) -> str:
    """The public URL of a staff member's photo (``GET /staff/{id}/photo``)."""
    return f"/staff/{staff_id}/photo"


OUTSIDE: Mapping[str, Any] = {
    "grid_code": None,
    "grid_name": None,
    "community": None,
    "outside": True,
    "staff": [],
}

# --------------------------------------------------------------------------- invalidation

_WATCHED_TABLES = frozenset(t.__tablename__ for t in (Staff, StaffGrid, Grid, Division, Community))
_TOUCHED = "wangge_locate_touched"
_generation = itertools.count(1)
_current = 0


def write_generation() -> int:
    """A number that changes after each commit in this process touching what locate answers."""
    return _current


def _bump() -> None:
    global _current
    _current = next(_generation)


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context) -> None:
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in _WATCHED_TABLES:
            session.info[_TOUCHED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _WATCHED_TABLES:
            state.session.info[_TOUCHED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_TOUCHED, False):
        _bump()


# --------------------------------------------------------------------------- the locator


@dataclass
class _Day:
    """The grids in effect on one day: their index and the answers read so far.

    ``current`` is False once the database changed: the divisions in effect are then checked
    again (the index is kept when they are the same) and the answers read again.
    """

    stamp: tuple
    index: GridIndex | None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: bool = True


class GridLocator:
    """The public grid look-up of one database, answered from memory when it can be.

    ``sessions`` opens a session on the database; ``photo_dir`` is the staff photo folder
    (a staff member gets a ``photo_url`` only when the file there is an image);
    ``max_age_s`` bounds how stale an answer may be for edits made outside this process:
    after that long the database's change counter (one row, bumped by triggers in the same
    transaction as any write to the watched tables) is read again, and everything held is
    dropped if it moved. :meth:`from_memory` never touches the database (call it on the event
    loop); :meth:`locate` may (call it in a worker thread).
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        *,
        photo_dir: Path | None = None,
        max_age_s: float = 5.0,
        max_days: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions, self.photo_dir = sessions, photo_dir
        self.max_age_s, self.max_days, self.clock = max_age_s, max_days, clock
        self._days: OrderedDict[dt.date, _Day] = OrderedDict()
        self._lock = threading.Lock()
        self._seen: tuple[int, int | None] | None = None  # (this process, the database)
        self._checked_at = 0.0

    def _fresh(self) -> bool:
        return (
            self._seen is not None
            and self._seen[0] == _current
            and self.clock() - self._checked_at < self.max_age_s
        )

    def from_memory(self, x: float, y: float, day: dt.date) -> Mapping[str, Any] | None:
        """The answer for storage lon/lat ``(x, y)`` on ``day`` if memory holds a fresh one."""
        known = self._days.get(day)
        if known is None or not known.current or not self._fresh():
            return None
        code = None if known.index is None else known.index.locate(x, y)
        if code is None:
            return OUTSIDE
        return known.answers.get(code)

    def locate(self, x: float, y: float, day: dt.date) -> Mapping[str, Any]:
        """``{"grid_code", "grid_name", "community", "outside", "staff"}`` for a point.

        ``staff`` lists the active staff serving the grid (name, role, phone — the phone only
        when published — and ``photo_url``); ``grid_code`` is None and ``outside`` True when no
        grid covers it. Reads the database for whatever memory does not hold fresh.
        """
        found = self.from_memory(x, y, day)
        if found is not None:
            return found
        # one reader at a time: a burst of look-ups reads once
        with self._lock, self.sessions() as session:
            self._check_changes(session)
            known = self._day(session, day)
            code = None if known.index is None else known.index.locate(x, y)
            if code is None:
                return OUTSIDE
            answer = known.answers.get(code)
            if answer is None:
                answer = known.answers[code] = self._read_answer(session, code, day)
            return answer

    def _check_changes(self, session: Session) -> None:
        """Drop what memory holds if this process or the database wrote since the last look."""
        if self._fresh():
            return
        # read before the data: a write committed after this read moves the counter again
        seen = (_current, change_counter(session))
        if seen != self._seen:
            for known in self._days.values():
                known.current = False
                known.answers = {}
        self._seen, self._checked_at = seen, self.clock()

    def _day(self, session: Session, day: dt.date) -> _Day:
        known = self._days.get(day)
        if known is not None and known.current:
            return known
        stamp = _in_effect_stamp(session, day)
        if known is None or known.stamp != stamp:
            known = _Day(stamp, _build_index(session, day))
        else:  # same grids: keep the index
            known.current = True
        self._days[day] = known
        self._days.move_to_end(day)
        while len(self._days) > self.max_days:
            self._days.popitem(last=False)
        return known

    def _read_answer(self, session: Session, code: str, day: dt.date) -> dict[str, Any]:
        grid_name, community_name = session.execute(
            sa.select(Grid.name, Community.name)
            .join(Division, Grid.division_id == Division.id)
            .join(Community, Grid.community_id == Community.id)
            .where(Grid.code == code, in_effect_clause(day))
            .order_by(Division.effective_from.desc())
            .limit(1)
        ).one()
        staff = session.execute(
            sa.select(Staff.id, Staff.name, Staff.role, Staff.phone, Staff.phone_published,
                      Staff.photo_path)
            .join(StaffGrid, StaffGrid.staff_id == Staff.id)
            .where(StaffGrid.grid_code == code, Staff.active.is_(True))
            .order_by(Staff.id)
        ).all()  # fmt: skip
        return {
            "grid_code": code,
            "grid_name": grid_name,
            "community": community_name,
            "outside": False,
            "staff": [
                {
                    "name": s.name,
                    "role": s.role,
                    "phone": s.phone if s.phone_published else None,
                    "photo_url": self._photo_url(s.id, s.photo_path),
                }
                for s in staff
            ],
        }

    def _photo_url(self, staff_id: int, photo_path: str | None) -> str | None:
        if self.photo_dir is None or resolve_staff_photo(self.photo_dir, photo_path) is None:
            return None
        return staff_photo_url(staff_id)


def change_counter(session: Session) -> int | None:
    """The database's ``locate`` change counter (None on a database without the table)."""
    return session.execute(
        sa.select(ChangeCounter.value).where(ChangeCounter.name == LOCATE_COUNTER)
    ).scalar_one_or_none()


def _in_effect_stamp(session: Session, day: dt.date) -> tuple:
    """Identifies the set of divisions in effect on ``day`` (their grids never change shape:
    an edited division is a new division)."""
    in_effect = sa.select(Division.id).where(in_effect_clause(day)).subquery()
    return tuple(
        session.execute(
            sa.select(
                sa.func.count(in_effect.c.id),
                sa.func.sum(in_effect.c.id),
                sa.func.sum(in_effect.c.id * in_effect.c.id),
            )
        ).one()
    )


def _build_index(session: Session, day: dt.date) -> GridIndex | None:
    rows = session.execute(
        sa.select(Grid.code, Grid.geom)
        .join(Division, Grid.division_id == Division.id)
        .where(in_effect_clause(day))
        .order_by(Grid.code)
    ).all()
    if not rows:
        return None
    grids = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows]},
        geometry=[from_db_geometry(r[1]) for r in rows],
        crs=STORAGE_SRID,
    )
    return GridIndex(grids)
