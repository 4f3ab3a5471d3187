"""The tamper-evident audit log: every audit row carries a SHA-256 hash chained to the last.

``row_hash = SHA-256(prev_hash + "\\n" + canonical(row))`` where ``canonical`` is the row's
content (time to the microsecond in UTC, user id and name, action, table, record, detail) as
compact JSON with sorted keys, and ``prev_hash`` is the ``row_hash`` of the row before (the
first row follows :data:`GENESIS`). The row id is not hashed (PostgreSQL sequences may skip
numbers); the order is. ``audit_chain_head`` (one row) holds the id and hash of the last row.

Rows are hashed and written at the end of their transaction: an audit row added to a session
(however) is held back by the flushes before commit and written by the commit (or by
:func:`seal`), after everything else the transaction writes. Writing them locks the head row
first (``UPDATE audit_chain_head ... WHERE id = 1`` — a row lock on PostgreSQL that a second
writer waits for, then reads the new head; SQLite serialises writers already), so concurrent
writers keep the chain linear; and since the head is the last lock a transaction takes
(:mod:`api.db.lock_order`), no writer holding it ever waits for another: two transactions that
each audit and update the same rows cannot deadlock. A row added in a savepoint that is rolled
back is not written. The database's append-only triggers forbid edits; the chain shows edits
by whoever can drop them: :func:`verify_chain` recomputes every hash and names the first row
that does not hold. Deleting rows at the end is seen against the head row, and against an
exported head (:func:`head_of`, written beside every backup) even when the head row was
rewritten too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db.models import AuditChainHead, AuditLog, utc_now

__all__ = [
    "GENESIS",
    "ChainReport",
    "canonical",
    "chain_hash",
    "head_of",
    "seal",
    "verify_chain",
]

GENESIS = "0" * 64
HEAD_ID = 1
_FIELDS = ("at", "user_id", "username", "action", "table_name", "record_id", "detail")


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Any) -> bytes:
    """The hashed content of an audit row (an ORM row or a mapping of its columns)."""
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
    values = {name: get(name) for name in _FIELDS}
    values["at"] = _utc_text(values["at"])
    # the detail as the database gives it back (tuples become lists, keys strings)
    values["detail"] = json.loads(json.dumps(values["detail"]))
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, row: Any) -> str:
    """``row_hash`` of ``row`` following ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(row)).hexdigest()


def _lock_head(session: Session) -> str:
    """Lock the chain head (until commit) and return the last hash."""
    table = AuditChainHead.__table__
    locked = session.execute(
        sa.update(table).where(table.c.id == HEAD_ID).values(last_hash=table.c.last_hash)
    )
    if locked.rowcount == 0:  # a database made before the chain: start it
        session.execute(sa.insert(table).values(id=HEAD_ID, last_id=None, last_hash=GENESIS))
        return GENESIS
    return session.execute(sa.select(table.c.last_hash).where(table.c.id == HEAD_ID)).scalar_one()


_HELD = "audit_chain_held"  # session.info: [(row, the savepoint it was added in, or None)]
_SEALING = "audit_chain_sealing"
_OWNER = "_audit_chain_savepoint"  # on a row: the savepoint it was added in, or None


@event.listens_for(Session, "transient_to_pending")
def _note_savepoint(session: Session, instance) -> None:
    if isinstance(instance, AuditLog):
        setattr(instance, _OWNER, session.get_nested_transaction())


@event.listens_for(Session, "before_flush")
def _chain_new_rows(session: Session, flush_context, instances) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditLog)]
    if not new:
        return
    new.sort(key=lambda obj: sa.inspect(obj).insert_order)  # the order they were added
    if not session.info.get(_SEALING):  # not yet: they go last, at commit (or seal)
        held = session.info.setdefault(_HELD, [])
        for row in new:
            session.expunge(row)
            held.append((row, getattr(row, _OWNER, None)))
        return
    prev = _lock_head(session)
    for row in new:
        if row.at is None:
            row.at = utc_now()
        row.prev_hash = prev
        row.row_hash = prev = chain_hash(prev, row)
    session.info.setdefault("audit_chain_tail", []).append((new[-1], prev))


def seal(session: Session) -> None:
    """Write the audit rows the session holds now: everything else pending first, then the
    rows, under the chain head's lock (held until the transaction ends).

    The commit does this; call it only when the rows' ids are needed before the commit, and
    only after the transaction's last other write (the head must stay its last lock).
    """
    session.flush()  # everything else; the audit rows pending are held by it
    held = session.info.pop(_HELD, [])
    if not held:
        return
    session.info[_SEALING] = True
    try:
        session.add_all([row for row, _ in held])
        session.flush()
    finally:
        session.info.pop(_SEALING, None)


@event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    if session.info.get(_HELD) or any(isinstance(o, AuditLog) for o in session.new):
        seal(session)


def _within(owner, savepoint) -> bool:
    """Was ``owner`` (a savepoint, or None for the transaction) opened inside ``savepoint``?"""
    while owner is not None:
        if owner is savepoint:
            return True
        owner = owner.parent if owner.nested else None
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction) -> None:
    """Rows added in a transaction, or in a savepoint, that was rolled back are not written
    (those of a savepoint released inside it included)."""
    held = session.info.get(_HELD)
    if not held:
        return
    if previous_transaction.parent is None:  # the whole transaction: every row goes
        session.info.pop(_HELD, None)
    elif previous_transaction.nested:  # a savepoint (not a flush's own inner transaction)
        session.info[_HELD] = [(r, o) for r, o in held if not _within(o, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    """A finished transaction (committed: written; rolled back: dropped) holds no rows; a
    flush's own inner transaction and a savepoint end inside it."""
    if transaction.parent is None:
        session.info.pop(_HELD, None)


@event.listens_for(Session, "after_flush")
def _move_head(session: Session, flush_context) -> None:
    for row, last_hash in session.info.pop("audit_chain_tail", []):
        table = AuditChainHead.__table__
        move = sa.update(table).where(table.c.id == HEAD_ID)
        session.execute(move.values(last_id=row.id, last_hash=last_hash))


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found: ``ok``, rows read, the last row, the first problem."""

    ok: bool
    rows: int
    last_id: int | None
    last_hash: str
    broken_row: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _columns():
    table = AuditLog.__table__
    return [table.c.id, table.c.prev_hash, table.c.row_hash, *(table.c[n] for n in _FIELDS)]


def verify_chain(
    connection: sa.Connection | Session, *, anchor: Mapping[str, Any] | None = None
) -> ChainReport:
    """Recompute the chain over every audit row in id order; report the first row that breaks.

    A row breaks when its ``prev_hash`` is not the hash of the row before (rows deleted
    between them, or the row before rewritten with a new hash) or when its ``row_hash`` is
    not the hash of its content (the row edited). Then the head row must name the last row,
    and ``anchor`` (an exported head: ``last_id``, ``last_hash``) must be a row of the chain.
    """
    prev, prev_id, count = GENESIS, None, 0
    anchor_seen = anchor is None or anchor.get("last_id") is None
    bind = connection.connection() if isinstance(connection, Session) else connection
    if not sa.inspect(bind).has_table(AuditLog.__tablename__):  # a database without tables
        if anchor_seen:
            return ChainReport(True, 0, None, GENESIS)
        missing = "没有审计日志 / no audit log"
        return ChainReport(False, 0, None, GENESIS, anchor["last_id"], missing)
    result = connection.execute(sa.select(*_columns()).order_by(AuditLog.__table__.c.id))
    for row in result.mappings():
        count += 1
        if row["prev_hash"] != prev:
            after = "the start of the log" if prev_id is None else f"row {prev_id}"
            return ChainReport(
                False, count, prev_id, prev, row["id"],
                f"审计日志第 {row['id']} 行与前一行（{after}）断链：其间的行被删除或前一行被改动 / "
                f"row {row['id']} does not follow {after}: rows between them were deleted or "
                f"{after} was altered",
            )  # fmt: skip
        expected = chain_hash(prev, row)
        if row["row_hash"] != expected:
            return ChainReport(
                False, count, prev_id, prev, row["id"],
                f"审计日志第 {row['id']} 行内容被改动 / row {row['id']} was altered after it was "
                "written (its content does not match its hash)",
            )  # fmt: skip
        if not anchor_seen and row["id"] == anchor["last_id"]:
            if row["row_hash"] != anchor["last_hash"]:
                return ChainReport(
                    False, count, row["id"], expected, row["id"],
                    f"审计日志第 {row['id']} 行与导出的链头不符 / row {row['id']} differs from "
                    "the exported chain head: the log was rewritten",
                )  # fmt: skip
            anchor_seen = True
        prev, prev_id = row["row_hash"], row["id"]
    if not anchor_seen:
        return ChainReport(
            False, count, prev_id, prev, anchor["last_id"],
            f"导出的链头第 {anchor['last_id']} 行已不存在 / row {anchor['last_id']} of the "
            "exported chain head is gone: rows were deleted",
        )  # fmt: skip
    table = AuditChainHead.__table__
    head = connection.execute(
        sa.select(table.c.last_id, table.c.last_hash).where(table.c.id == HEAD_ID)
    ).first()
    if head is not None and (head.last_id, head.last_hash) != (prev_id, prev):
        return ChainReport(
            False, count, prev_id, prev, head.last_id,
            f"链头记录第 {head.last_id} 行，日志止于第 {prev_id} 行：末尾的行被删除 / "
            f"the chain head records row {head.last_id} but the log ends at row {prev_id}: "
            "rows at the end were deleted",
        )  # fmt: skip
    return ChainReport(True, count, prev_id, prev)


def head_of(connection: sa.Connection | Session) -> dict[str, Any]:
    """The chain head to export (``last_id``, ``last_hash``, ``rows``, ``intact``), read by
    verifying the chain (so it is the end of the rows present, not only the head row)."""
    report = verify_chain(connection)
    return {"last_id": report.last_id, "last_hash": report.last_hash, "rows": report.rows,
            "intact": report.ok}  # fmt: skip
