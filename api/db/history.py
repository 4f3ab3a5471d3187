"""Change history of houses, residents and special-status records: who, when, old → new.

Every flush that inserts, updates or deletes a tracked record writes :class:`ChangeLog` rows
in the same transaction (so a rolled-back import leaves no history either): one row per
changed field on update, one row holding the whole record on insert and delete. Records
inserted in bulk through Core (which no flush sees) are logged the same way by
:func:`log_inserts`. Services say who acts with :func:`set_actor`; the log itself is
append-only in the database.

Residents' sensitive fields are written into the log encrypted, as in their own table
(:func:`reveal` opens them); the keyed hashes beside them are left out of the log.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Mapping, Sequence
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

__all__ = ["TRACKED", "actor_of", "log_inserts", "read_history", "reveal", "set_actor"]

TRACKED: tuple[type, ...] = (House, Resident, SpecialStatus)
_ACTOR_KEY = "wangge_actor"


def set_actor(session: Session, *, user_id: int | None, username: str | None) -> None:
    """Record who acts in ``session``: written into every change-log row it produces."""
    session.info[_ACTOR_KEY] = (user_id, username)


def actor_of(session: Session) -> tuple[int | None, str | None]:
    """Who acts in ``session`` (user id, name) as :func:`set_actor` recorded it, or (None, None)."""
    return session.info.get(_ACTOR_KEY, (None, None))


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


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
_HASH_COLUMNS = frozenset(f"{name}_hash" for name in HASHED_RESIDENT_FIELDS)


@functools.cache
def _model_columns(model: type) -> tuple[str, ...]:
    return tuple(c.key for c in sa.inspect(model).column_attrs if c.key not in _HASH_COLUMNS)


def _columns(obj) -> tuple[str, ...]:
    return _model_columns(type(obj))


def _log_context(field: str) -> str:
    return f"change_log.residents.{field}"


def _logged(obj, key: str, value: Any) -> Any:
    """The JSON value written to the log: sensitive resident fields sealed."""
    return _logged_as(type(obj), key, value)


def _logged_as(model: type, key: str, value: Any) -> Any:
    """:func:`_logged` of a value of ``model``'s column ``key``."""
    value = _json_value(value)
    if value is not None and issubclass(model, Resident) and key in SENSITIVE_RESIDENT_FIELDS:
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


def _log_row(
    at: dt.datetime, actor: tuple[int | None, str | None], table_name: str, record_id: int,
    action: str, field: str | None, old: Any, new: Any,
) -> dict[str, Any]:  # fmt: skip
    user_id, username = actor
    return {
        "at": at,
        "user_id": user_id,
        "username": username,
        "table_name": table_name,
        "record_id": record_id,
        "action": action,
        "field": field,
        "old_value": old,
        "new_value": new,
    }


def log_inserts(session: Session, model: type, records: Sequence[Mapping[str, Any]]) -> None:
    """Log records of ``model`` inserted in bulk through Core, which the flush hook never sees.

    One ``insert`` row per record holding the whole record, exactly as the hook writes it for
    a record added through the ORM, with the session's actor (:func:`set_actor`) and one
    time for all; in the session's transaction. ``records`` map column names to the values
    stored (the id included; a column left out is NULL); a geometry may be given as its WKT,
    the form the log holds.
    """
    if not records:
        return
    at, actor, name = utc_now(), actor_of(session), model.__tablename__
    sealed = SENSITIVE_RESIDENT_FIELDS if issubclass(model, Resident) else ()
    # values that are already JSON and stay in clear go as they are (most of them)
    as_is = {key: key not in sealed for key in _model_columns(model)}
    rows = []
    for record in records:
        whole = {}
        for key, clear in as_is.items():
            value = record.get(key)
            if not (clear and type(value) in _JSON_SCALARS):
                value = _logged_as(model, key, value)
            whole[key] = value
        rows.append(_log_row(at, actor, name, whole["id"], "insert", None, None, whole))
    session.connection().execute(sa.insert(ChangeLog), rows)


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
    actor = actor_of(session)
    at = utc_now()
    rows: list[dict[str, Any]] = []

    def add(obj, action: str, field: str | None, old: Any, new: Any) -> None:
        rows.append(_log_row(at, actor, obj.__tablename__, obj.id, action, field, old, new))

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
