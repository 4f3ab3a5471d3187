"""Engines and sessions: SpatiaLite file by default, PostGIS by URL (docs/design.md §3 "Storage").

``make_engine()`` reads ``get_settings().database_url``. SQLite URLs load ``mod_spatialite`` on
every connection, use WAL and enforce foreign keys; ``postgresql://`` URLs use psycopg 3.
``init_db(engine)`` creates the spatial metadata (SpatiaLite) or the ``postgis`` extension,
then runs the Alembic migrations up to the newest revision (:mod:`api.db.migrate`), which build
every table of ``Base.metadata`` with a spatial index on every geometry column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from api.core.errors import ServiceUnavailable
from api.db.spatialite import load_spatialite
from gis.errors import InputError

__all__ = [
    "UnmigratedDatabaseError",
    "begin_every_write",
    "begin_write",
    "database_session",
    "init_db",
    "is_sqlite",
    "make_engine",
    "normalise_url",
    "open_database",
    "session_factory",
]


class UnmigratedDatabaseError(ServiceUnavailable, RuntimeError):
    """The database has wangge tables but no Alembic revision (made before migrations)."""


def normalise_url(url: str | URL) -> URL:
    """Return ``url`` with psycopg 3 as the PostgreSQL driver (``postgresql://`` → ``+psycopg``)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgis"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(bind: Engine | sa.Connection | Session) -> bool:
    """Return True when ``bind`` talks to SQLite/SpatiaLite."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "sqlite"


def _sqlite_on_connect(dbapi_conn, connection_record) -> None:
    load_spatialite(dbapi_conn)
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _sqlite_begin):
    # the module's own implicit BEGIN breaks SAVEPOINT and transactional DDL.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        if not _is_memory(dbapi_conn):
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _is_memory(dbapi_conn) -> bool:
    row = dbapi_conn.execute("PRAGMA database_list").fetchone()
    return not row or not row[2]


_IMMEDIATE = "wangge_sqlite_begin_immediate"


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql(
        "BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN"
    )


def begin_write(session: Session) -> None:
    """Start the session's next transaction as a writer that reads before it writes.

    On SQLite in WAL mode a deferred transaction that has read cannot take the write lock
    once another writer has committed ("database is locked" at once, whatever the busy
    timeout); ``BEGIN IMMEDIATE`` takes it first and waits its turn instead. Ends the
    session's current transaction (committing it). No effect on PostgreSQL.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={_IMMEDIATE: True})


def begin_every_write(session: Session) -> None:
    """Start every transaction of ``session`` as a writer (``BEGIN IMMEDIATE``) on SQLite.

    For a session that will read, then write (a request that changes something, an audited
    read): see :func:`begin_write`. Call it before the session's first statement. Writers
    then take turns from their first read (readers still run beside them); no effect on
    PostgreSQL.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        session.bind = bind.execution_options(**{_IMMEDIATE: True})


def make_engine(url: str | URL | None = None, **kwargs) -> Engine:
    """Create an engine for ``url`` (default: ``get_settings().database_url``).

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`. PostgreSQL engines test
    each pooled connection before use (``pool_pre_ping``), so a server that was restarted is
    reconnected to instead of failing the next request.
    """
    if url is None:
        from api.core.config import get_settings

        url = get_settings().database_url
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name != "postgresql":
        raise InputError(
            f"不支持的数据库 / unsupported database {parsed.drivername!r}: "
            "use sqlite:///FILE (SpatiaLite) or postgresql+psycopg://... (PostGIS)"
        )
    return engine


def _init_spatial_metadata(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            if dbapi.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
                # 1 = in a single transaction: seconds instead of minutes.
                dbapi.execute("SELECT InitSpatialMetaData(1)")
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")


def init_db(engine: Engine) -> None:
    """Create the spatial metadata/extension, then migrate the schema to the newest revision.

    Idempotent: a database at head is left as it is (known without loading Alembic:
    :func:`api.db.revisions.at_head`), an older one is upgraded (in one transaction). A
    database whose tables were made before migrations existed (no ``alembic_version``) is
    refused with :class:`UnmigratedDatabaseError`.
    """
    from api.db.revisions import at_head

    with engine.connect() as conn:
        if at_head(conn):  # migrated, so its spatial metadata / extension exists too
            return
    from api.db.migrate import current_revision, upgrade

    _init_spatial_metadata(engine)
    with engine.connect() as conn:
        if current_revision(conn) is None and sa.inspect(conn).has_table("communities"):
            where = engine.url.render_as_string(hide_password=True)
            raise UnmigratedDatabaseError(
                f"数据库 {where} 由旧版本创建，没有迁移记录 / database {where} was created before "
                "migrations (no alembic_version table): recreate it (e.g. wangge demo into a new "
                "file) or copy its data into a fresh database"
            )
    upgrade(engine)


def open_database(url: str | URL | None = None) -> Engine:
    """An engine on ``url`` whose database is created and migrated if it is not yet."""
    engine = make_engine(url)
    init_db(engine)
    return engine


@contextlib.contextmanager
def database_session(url: str | URL | None = None, *, begin: bool = False) -> Iterator[Session]:
    """A session on ``url`` (created and migrated if need be); the engine is disposed after.

    With ``begin`` the session is one transaction, committed on success.
    """
    engine = open_database(url)
    try:
        factory = session_factory(engine)
        with factory.begin() if begin else factory() as session:
            yield session
    finally:
        engine.dispose()


def session_factory(engine: Engine, **kwargs) -> sessionmaker[Session]:
    """Return a ``sessionmaker`` bound to ``engine`` (``expire_on_commit=False`` by default)."""
    kwargs.setdefault("expire_on_commit", False)
    return sessionmaker(bind=engine, **kwargs)
