"""The one order in which a writing transaction takes the database's locks.

PostgreSQL locks rows as they are written and keeps them to the end of the transaction; two
transactions that take the same two locks in opposite orders deadlock (one is aborted). Every
writer of wangge takes them in this order:

1. **the change counter** (row ``locate`` of ``change_counters``), before any row of the
   tables it watches (staff, staff_grids, grids, divisions, communities). The triggers bump it
   after each statement that writes them, that is after the statement's own row locks; so
   the ORM takes it at the start of any flush that writes one of those tables
   (:func:`lock_change_counter`, from this module's ``before_flush`` hook), and a Core
   statement writing them takes it by calling :func:`lock_change_counter` first. A
   transaction that has it waits for no other writer of those tables.
2. **the rows written**, in the order the flushes write them (the ORM: by table dependency,
   then primary key): an incident through the conditional ``UPDATE`` of a transition (one
   incident per transaction; its history row ``seq`` is the new version, so the row lock
   also serialises the numbering of its history), a user, an access request, houses...
3. **the audit chain head**, last: audit rows are written at commit
   (:mod:`api.db.audit_chain`), after everything else; a transaction holding the head waits
   for no other lock, so it never closes a cycle.

Nothing takes ``SELECT ... FOR UPDATE`` or advisory locks. Numbers: an incident's number
(``external_id``) is made from its row id (a sequence, no lock: unique, not gap-free on
PostgreSQL, where a rolled-back insert uses an id); its history ``seq`` is gap-free per
incident (the version); the audit chain is linear. SQLite has one writer at a time (a writer
that read first starts with ``BEGIN IMMEDIATE``: :func:`api.db.engine.begin_write`), so
nothing here waits there; a writer that waits too long gets 503 (database busy), never a
deadlock.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db.engine import is_sqlite
from api.db.models import ChangeCounter

__all__ = ["WATCHED_TABLES", "lock_change_counter"]

# the tables whose writes move the change counter ``locate`` (migration 0014's triggers)
WATCHED_TABLES = frozenset({"staff", "staff_grids", "grids", "divisions", "communities"})
_LOCKED = "lock_order_counter_locked"  # session.info: the transaction holding the counter


def lock_change_counter(session: Session) -> None:
    """Take the change counter's row lock (until the transaction ends) without moving it.

    Step 1 of the order: call it before writing the watched tables outside the ORM's flush.
    No effect on SQLite (one writer at a time).
    """
    if is_sqlite(session):
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOCKED) is transaction:
        return
    table = ChangeCounter.__table__
    session.execute(sa.update(table).where(table.c.name == "locate").values(value=table.c.value))
    session.info[_LOCKED] = session.get_transaction()


def _writes_watched(session: Session) -> bool:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        if table is not None and table.name in WATCHED_TABLES:
            return True
    return False


@event.listens_for(Session, "before_flush")
def _counter_first(session: Session, flush_context, instances) -> None:
    if _writes_watched(session):
        lock_change_counter(session)
