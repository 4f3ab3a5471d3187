"""Dry runs: do a whole job for real inside one transaction, report what it wrote, roll back.

A command given ``--dry-run`` runs the same code as without it, on the same database, so the
dry run meets the same constraints, triggers and checks as the real run and counts exactly
what the real run would write; only the end differs: the outer transaction is rolled back
instead of committed, and files are written into a temporary folder that is then removed.

:func:`write_scope` gives a job its sessions and connections. Without ``dry_run`` they are
the usual ones (a migrated engine; each session commits as it always did). With it, every
session and every ``begin()`` shares one connection inside one outer transaction (their
commits are savepoints), the rows of every table are counted before and after, UPDATE and
DELETE statements are tallied per table (small tables are also compared row by row, which
counts the rows triggers change), and the outer transaction is rolled back.

A database that does not exist yet is not created by a dry run: a SpatiaLite file that is
missing (or not migrated yet) is worked on as a temporary copy; a PostGIS database is
migrated inside the outer transaction (PostgreSQL's DDL is transactional), so the rollback
undoes that too.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from api.core.write_plan import FileWrite, OutputPlan, TableChange, WriteReport, output_plan

__all__ = [
    "FileWrite",
    "OutputPlan",
    "TableChange",
    "WriteReport",
    "WriteScope",
    "output_plan",
    "write_scope",
]


class WriteScope:
    """Sessions, connections and output paths for one job (see :func:`write_scope`)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        real_url: URL,
        connection: sa.Connection | None = None,
        report: WriteReport | None = None,
    ) -> None:
        self.engine = engine
        self.dry_run = connection is not None  # a dry run shares one connection
        self.real_url = real_url  # the database asked for (a dry run may work on a copy)
        self.url = real_url.render_as_string(hide_password=True)
        self.report = report if report is not None else WriteReport()
        self.outputs = OutputPlan(self.dry_run, self.report)
        self._connection = connection
        self._sessions: sessionmaker[Session] | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        """A ``sessionmaker``: the engine's, or one joined to the dry run's transaction."""
        if self._sessions is None:
            from api.db.engine import session_factory

            if self._connection is None:
                self._sessions = session_factory(self.engine)
            else:
                self._sessions = sessionmaker(
                    bind=self._connection,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                )
        return self._sessions

    @contextlib.contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed on success (a savepoint in a dry run)."""
        if self._connection is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._connection.begin_nested():
                yield self._connection

    def output(self, real: Path) -> Path:
        """The path to write ``real`` to (see :class:`OutputPlan`)."""
        return self.outputs.path(real)


def _tables():
    from api.db.models import Base

    return Base.metadata.sorted_tables


def _counts(conn: sa.Connection) -> dict[str, int]:
    present = set(sa.inspect(conn).get_table_names())
    return {
        t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in _tables()
        if t.name in present
    }


# Tables this small are also compared row by row, so that rows changed by triggers (the
# change counters, the audit chain's head), which no UPDATE statement of the job shows, count.
_COMPARED_ROWS = 1000


def _small_tables(conn: sa.Connection, counts: dict[str, int]) -> dict[str, dict]:
    """The rows of every table holding at most :data:`_COMPARED_ROWS`, by primary key."""
    rows: dict[str, dict] = {}
    for table in _tables():
        if table.name not in counts or counts[table.name] > _COMPARED_ROWS:
            continue
        key = list(table.primary_key.columns) or list(table.columns)
        width = len(key)
        # the values as stored: no type processing (sealed columns are not opened)
        stored = [sa.type_coerce(c, sa.types.NullType()) for c in (*key, *table.columns)]
        rows[table.name] = {
            tuple(row[:width]): tuple(row[width:])
            for row in conn.execute(sa.select(*stored).select_from(table))
        }
    return rows


def _rows_changed(before: dict, after: dict) -> int:
    return sum(1 for k, v in before.items() if k in after and after[k] != v)


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _at_head(engine: sa.Engine) -> bool:
    from api.db.migrate import current_revision, head_revision
    from api.db.revisions import at_head

    with engine.connect() as conn:
        return at_head(conn) or current_revision(conn) == head_revision()


@contextlib.contextmanager
def _dry_engine(url: URL, report: WriteReport) -> Iterator[sa.Engine]:
    """An engine for the dry run: on ``url``, or on a temporary copy of a SpatiaLite file
    that is missing or not migrated yet (so that the dry run creates no file)."""
    from api.db.engine import make_engine, open_database

    path = _sqlite_file(url)
    if path is None:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    if path.is_file() and path.stat().st_size > 0:
        engine = make_engine(url)
        try:
            if _at_head(engine):
                yield engine
                return
        finally:
            engine.dispose()
    folder = Path(tempfile.mkdtemp(prefix="wangge-dry-run-db-"))
    copy = folder / path.name
    try:
        if path.is_file():
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            report.database_created = True
        engine = open_database(url.set(database=str(copy)))
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _migrate_in(conn: sa.Connection) -> None:
    """Bring a PostGIS database to the newest schema inside ``conn``'s transaction."""
    from api.db.revisions import at_head

    if at_head(conn):
        return
    from alembic import command

    from api.db.migrate import alembic_config, current_revision, head_revision

    if current_revision(conn) == head_revision():
        return
    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    command.upgrade(alembic_config(conn), "head")


@contextlib.contextmanager
def write_scope(db: str | URL | None, *, dry_run: bool) -> Iterator[WriteScope]:
    """Open the database ``db`` (default: the configured one) for a job that writes.

    Without ``dry_run``: the database is created and migrated if need be, the scope's
    ``sessions``/``begin()`` are the engine's own, and the engine is disposed afterwards.
    With ``dry_run``: the job runs inside one outer transaction that is rolled back at the
    end; ``scope.report`` then says per table how many rows the job inserted, updated and
    deleted, and which files it wrote (through :meth:`WriteScope.output`). An exception from
    the job rolls back and propagates in both modes.
    """
    from api.db.engine import normalise_url, open_database

    if db is None:
        from api.core.config import get_settings

        db = get_settings().database_url
    url = normalise_url(db)
    if not dry_run:
        engine = open_database(url)
        scope = WriteScope(engine, real_url=url)
        try:
            yield scope
        finally:
            engine.dispose()
        return
    report = WriteReport()
    with _dry_engine(url, report) as engine, engine.connect() as conn:
        outer = conn.begin()
        try:
            if conn.dialect.name == "postgresql":
                _migrate_in(conn)
            before = _counts(conn)
            small = _small_tables(conn, before)
            updated: dict[str, int] = {}
            deleted: dict[str, int] = {}

            def tally(connection, clause, multiparams, params, options, result) -> None:
                if isinstance(clause, sa.Update | sa.Delete) and result.rowcount > 0:
                    into = updated if isinstance(clause, sa.Update) else deleted
                    name = getattr(clause.table, "name", None)  # None: a join, not one table
                    if name is not None:
                        into[name] = into.get(name, 0) + result.rowcount

            event.listen(conn, "after_execute", tally)
            scope = WriteScope(engine, real_url=url, connection=conn, report=report)
            try:
                yield scope
                after = _counts(conn)
                for name, rows in _small_tables(conn, dict.fromkeys(small, 0)).items():
                    changed = _rows_changed(small[name], rows)
                    updated[name] = max(updated.get(name, 0), changed)
            finally:
                event.remove(conn, "after_execute", tally)
                scope.outputs.finish()
            for name, n_after in after.items():
                n_before = before.get(name, 0)
                change = TableChange(n_before, n_after, updated.get(name, 0), deleted.get(name, 0))
                if change.inserted or change.updated or change.deleted:
                    report.tables[name] = change
        finally:
            outer.rollback()
