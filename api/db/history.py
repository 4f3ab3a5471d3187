"""Change history of houses, residents and special-status records: who, when, old → new.

Every flush that inserts, updates or deletes a tracked record writes :class:`ChangeLog` rows
in the same transaction (so a rolled-back import leaves no history either): one row per
changed field on update, one row holding the whole record on insert and delete. Services
say who acts with :func:`set_actor`; the log itself is append-only in the database.

Residents' sensitive fields are written into the log encrypted, as in their own table
(:func:`reveal` opens them); the keyed hashes beside them are left out of the log.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import sqlalchemy as sa
from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.core.crypto import is_ciphertext, keyring
from api.db.models import (
    HASHED_RESIDENT_FIELDS,
    SENSITIVE_RESIDENT_FIELDS,
    ChangeLog,
    House,
    Resident,
    SpecialStatus,
    utc_now,
)

__all__ = ["TRACKED", "read_history", "reveal", "set_actor"]

TRACKED: tuple[type, ...] = (House, Resident, SpecialStatus)
_ACTOR_KEY = "wangge_actor"


def set_actor(session: Session, *, user_id: int | None, username: str | None) -> None:
    """Record who acts in ``session``: written into every change-log row it produces."""
    session.info[_ACTOR_KEY] = (user_id, username)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, WKBElement):
        return to_shape(value).wkt
    if isinstance(value, WKTElement):
        return value.data.split(";", 1)[-1]
    if isinstance(value, dict | list):
        return value
    return str(value)


_HASH_COLUMNS = frozenset(f"{name}_hash" for name in HASHED_RESIDENT_FIELDS)


def _columns(obj) -> list[str]:
    return [c.key for c in sa.inspect(type(obj)).column_attrs if c.key not in _HASH_COLUMNS]


def _log_context(field: str) -> str:
    return f"change_log.residents.{field}"


def _logged(obj, key: str, value: Any) -> Any:
    """The JSON value written to the log: sensitive resident fields sealed."""
    value = _json_value(value)
    if value is not None and isinstance(obj, Resident) and key in SENSITIVE_RESIDENT_FIELDS:
        return keyring().encrypt(str(value), context=_log_context(key))
    return value


def reveal(field: str | None, value: Any) -> Any:
    """A residents log value (a field's, or a whole record when ``field`` is None) in clear."""
    if field is not None:
        return (
            keyring().decrypt(value, context=_log_context(field)) if is_ciphertext(value) else value
        )
    if isinstance(value, dict):
        return {k: reveal(k, v) if k in SENSITIVE_RESIDENT_FIELDS else v for k, v in value.items()}
    return value


def _record(obj) -> dict[str, Any]:
    return {key: _logged(obj, key, getattr(obj, key)) for key in _columns(obj)}


def _changed_fields(obj) -> list[tuple[str, Any, Any]]:
    state = sa.inspect(obj)
    changes = []
    for key in _columns(obj):
        hist = state.attrs[key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if _json_value(old) != _json_value(new):
            changes.append((key, _logged(obj, key, old), _logged(obj, key, new)))
    return changes


@event.listens_for(Session, "after_flush")
def _write_change_log(session: Session, flush_context) -> None:
    # after_flush still sees the pre-flush new/dirty/deleted sets and attribute history,
    # and new rows have their ids; rows go in through Core since the flush is under way.
    user_id, username = session.info.get(_ACTOR_KEY, (None, None))
    at = utc_now()
    rows: list[dict[str, Any]] = []

    def add(obj, action: str, field: str | None, old: Any, new: Any) -> None:
        rows.append(
            {
                "at": at,
                "user_id": user_id,
                "username": username,
                "table_name": obj.__tablename__,
                "record_id": obj.id,
                "action": action,
                "field": field,
                "old_value": old,
                "new_value": new,
            }
        )

    for obj in session.new:
        if isinstance(obj, TRACKED):
            add(obj, "insert", None, None, _record(obj))
    for obj in session.dirty:
        if isinstance(obj, TRACKED) and session.is_modified(obj, include_collections=False):
            for field, old, new in _changed_fields(obj):
                add(obj, "update", field, old, new)
    for obj in session.deleted:
        if isinstance(obj, TRACKED):
            add(obj, "delete", None, _record(obj), None)
    if rows:
        session.connection().execute(sa.insert(ChangeLog), rows)


def read_history(session: Session, table_name: str, record_id: int) -> list[ChangeLog]:
    """Return the change-log rows of one record, oldest first."""
    return list(
        session.scalars(
            sa.select(ChangeLog)
            .where(ChangeLog.table_name == table_name, ChangeLog.record_id == record_id)
            .order_by(ChangeLog.at, ChangeLog.id)
        )
    )
