"""Backup and restore of a whole wangge database, on either engine.

* SpatiaLite: :func:`backup` copies the file page by page with SQLite's online backup API
  (``sqlite3.Connection.backup``), which gives a consistent snapshot even while the API
  writes to the database; the copy is written beside ``out`` and renamed into place.
  :func:`restore` copies it the same way into a new (or empty) file.
* PostGIS: ``pg_dump -Fc`` and ``pg_restore`` of the server's major version (found under
  ``/usr/lib/postgresql/<major>/bin``, else the newest installed one that is not older, else
  on ``PATH``), run with the URL's user, host, port and password in the environment (never on
  the command line). :func:`restore` runs ``pg_restore --single-transaction
  --exit-on-error`` into an existing database that holds no tables.

A SpatiaLite backup can also be restored into PostGIS (rows copied table by table, as
``wangge db copy``); a PostgreSQL dump only into PostgreSQL. :func:`fingerprint` gives the
row count and an MD5 of the geometry (WKB ordered by primary key) of every table, for
checking a round trip.

Every backup writes the audit chain's head beside it (``FILE.audit-head.json``: the id and hash
of the last audit row, :func:`api.db.audit_chain.head_of`); :func:`restore` verifies the restored
audit log against it when it is there (a rewritten or shortened log does not pass).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry

from api.core.errors import ServiceUnavailable
from api.services.database_copy import TargetNotEmptyError
from gis.errors import InputError, UnreadableFileError

__all__ = [
    "AUDIT_HEAD_SUFFIX",
    "BackupError",
    "TargetNotEmptyError",
    "backup",
    "backup_kind",
    "fingerprint",
    "restore",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
AUDIT_HEAD_SUFFIX = ".audit-head.json"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(ServiceUnavailable, RuntimeError):
    """A backup or restore tool failed; the message carries its output."""


@dataclass(frozen=True)
class _Pg:
    env: dict[str, str]
    major: int
    where: str


def _url(db_url: str) -> sa.URL:
    from api.db.engine import normalise_url

    return normalise_url(db_url)


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InputError(f"{url}: 内存数据库无法备份 / an in-memory database has no file")
    return Path(url.database)


# --------------------------------------------------------------------------- PostgreSQL tools


def _pg_env(url: sa.URL) -> dict[str, str]:
    env = dict(os.environ)
    query = dict(url.query)
    values = {
        "PGHOST": url.host or query.get("host"),
        "PGPORT": str(url.port) if url.port else query.get("port"),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def _pg_major(url: sa.URL) -> int:
    from api.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000
    except sa.exc.OperationalError as exc:
        raise InputError(
            f"无法连接数据库 / cannot connect to {url.render_as_string(hide_password=True)}: "
            f"{str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    finally:
        engine.dispose()


def _pg_tool(name: str, major: int) -> str:
    """The ``name`` binary (pg_dump, pg_restore) of PostgreSQL ``major``, or newer."""
    found = []
    for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
        version = Path(path).parent.parent.name
        if version.isdigit():
            found.append((int(version), path))
    same_or_newer = sorted(v for v in found if v[0] >= major)
    if same_or_newer:
        return same_or_newer[0][1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackupError(
        f"找不到 PostgreSQL {major} 的 {name} / {name} for PostgreSQL {major} not found "
        f"(installed: {sorted(v for v, _ in found) or 'none'}); install postgresql-client-{major}"
    )


def _pg(url: sa.URL) -> _Pg:
    return _Pg(_pg_env(url), _pg_major(url), url.render_as_string(hide_password=True))


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError(
            f"{Path(cmd[0]).name} 失败 / failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )


# --------------------------------------------------------------------------- backup


def backup(db_url: str, out: str | Path) -> dict[str, Any]:
    """Write a backup of the database at ``db_url`` to ``out``; return what was written.

    SpatiaLite: a SQLite file (a consistent snapshot, safe while the database is in use).
    PostGIS: a ``pg_dump`` custom-format archive. ``out`` is replaced atomically when it
    exists. Returns ``{"engine", "file", "bytes"}``.

    Raises
    ------
    InputError
        A missing SpatiaLite file, an in-memory database, an unreachable server.
    BackupError
        ``pg_dump`` missing or failing.
    """
    url = _url(db_url)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if url.get_backend_name() == "sqlite":
            source = _sqlite_path(url)
            if not source.is_file():
                raise InputError(f"{source}: 数据库文件不存在 / database file not found")
            _sqlite_copy(source, tmp)
            engine_name = "spatialite"
        elif url.get_backend_name() == "postgresql":
            pg = _pg(url)
            # read before the dump: the dump holds at least these rows (the head is a prefix)
            head = _audit_head(db_url)
            _run(
                [_pg_tool("pg_dump", pg.major), "-Fc", "--no-owner", "--no-privileges",
                 "-f", str(tmp)],
                pg.env,
            )  # fmt: skip
            engine_name = "postgis"
        else:
            raise InputError(f"不支持的数据库 / unsupported database {url.drivername!r}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if head is None:  # SpatiaLite: the head of the copy itself
        head = _audit_head(f"sqlite:///{out}")
    head_path = out.with_name(out.name + AUDIT_HEAD_SUFFIX)
    head_path.write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    return {"engine": engine_name, "file": str(out), "bytes": out.stat().st_size,
            "audit_head": {**head, "file": str(head_path)}}  # fmt: skip


def _audit_head(db_url: str) -> dict[str, Any]:
    from api.db.audit_chain import head_of
    from api.db.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return head_of(conn)
    finally:
        engine.dispose()


def verify_restored_audit(file: Path, db_url: str) -> dict[str, Any] | None:
    """The audit chain of ``db_url`` checked against the head exported beside ``file``
    (None when the backup has no head file)."""
    from api.db.audit_chain import verify_chain
    from api.db.engine import make_engine

    head_path = file.with_name(file.name + AUDIT_HEAD_SUFFIX)
    if not head_path.is_file():
        return None
    anchor = json.loads(head_path.read_text(encoding="utf-8"))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {**verify_chain(conn, anchor=anchor).as_dict(), "head_file": str(head_path)}
    finally:
        engine.dispose()


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite database with the online backup API (readers and writers may go on)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            # one step: a snapshot under one read transaction (in WAL mode writers go on; in
            # steps, every write by another connection would restart the copy)
            src.backup(dst)
    except sqlite3.DatabaseError as exc:
        raise UnreadableFileError(
            f"{source}: 不是 SQLite 数据库 / not a SQLite database: {exc}"
        ) from exc
    finally:
        dst.close()
        src.close()


# --------------------------------------------------------------------------- restore


def backup_kind(path: str | Path) -> str:
    """Return "spatialite" or "postgis" for a backup file, by its first bytes."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: 文件不存在 / file not found")
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "spatialite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgis"
    raise UnreadableFileError(
        f"{path}: 不是 wangge 备份（SQLite 文件或 pg_dump -Fc 归档）/ not a wangge backup "
        "(a SQLite file or a pg_dump custom-format archive)"
    )


def _user_tables(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', "
                "'information_schema', 'topology', 'tiger', 'tiger_data') "
                "AND n.nspname NOT LIKE 'pg_%' AND c.relname <> 'spatial_ref_sys' "
                "ORDER BY c.relname"
            )
        )
        return [r[0] for r in rows]
    from api.db.models import Base

    present = set(sa.inspect(conn).get_table_names())
    return sorted(present & ({t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}))


def restore(file: str | Path, db_url: str) -> dict[str, Any]:
    """Restore the backup ``file`` into the empty database at ``db_url``; return its fingerprint.

    SpatiaLite target: the file must not exist or hold no wangge tables. PostGIS target: the
    database must exist and hold no tables (the ``postgis`` extension may be there); a
    SpatiaLite backup is copied into it row by row (``wangge db copy``). Returns
    ``{"engine", "source", "tables": fingerprint}``.

    Raises
    ------
    TargetNotEmptyError
        The target already holds tables.
    UnreadableFileError, InputError, BackupError
        Not a backup; a PostgreSQL dump into SpatiaLite; ``pg_restore`` failing (nothing is
        restored then: one transaction).
    """
    file = Path(file)
    kind = backup_kind(file)
    url = _url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if kind != "spatialite":
            raise InputError(
                f"{file}: PostgreSQL 备份只能恢复到 PostGIS / a PostgreSQL dump restores into "
                "PostGIS only; restore it there, then `wangge db copy` to SpatiaLite"
            )
        target = _sqlite_path(url)
        if target.exists() and target.stat().st_size > 0:
            _refuse_if_not_empty(db_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(file, target)
    elif backend == "postgresql":
        pg = _pg(url)
        _refuse_if_not_empty(db_url)
        if kind == "postgis":
            _run(
                [_pg_tool("pg_restore", pg.major), "--no-owner", "--no-privileges",
                 "--single-transaction", "--exit-on-error", "-d", url.database or "", str(file)],
                pg.env,
            )  # fmt: skip
        else:
            from api.services.database_copy import copy_database

            copy_database(f"sqlite:///{file}", db_url)
    else:
        raise InputError(f"不支持的数据库 / unsupported database {url.drivername!r}")
    return {"engine": kind, "source": str(file), "tables": fingerprint(db_url),
            "audit": verify_restored_audit(file, db_url)}  # fmt: skip


def _refuse_if_not_empty(db_url: str) -> None:
    from api.db.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            tables = _user_tables(conn)
    finally:
        engine.dispose()
    if tables:
        shown = ", ".join(tables[:8]) + (" ..." if len(tables) > 8 else "")
        raise TargetNotEmptyError(
            f"目标数据库非空 / the target database is not empty (tables: {shown}); restore "
            "into a new, empty database"
        )


# --------------------------------------------------------------------------- fingerprint


def fingerprint(db_url: str) -> dict[str, dict[str, Any]]:
    """Row count and geometry checksum of every wangge table: ``{table: {"rows", "geometry_md5"}}``.

    The checksum is the MD5 of each geometry column's WKB (``ST_AsBinary``; NULL as an empty
    value), rows ordered by primary key; None for a table without geometry. Two databases
    holding the same rows give equal fingerprints.
    """
    from api.db.engine import make_engine
    from api.db.models import Base

    engine = make_engine(db_url)
    result: dict[str, dict[str, Any]] = {}
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for table in Base.metadata.sorted_tables:
                if table.name not in present:
                    continue
                rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                geometry = [c for c in table.columns if isinstance(c.type, Geometry)]
                digest = None
                if geometry:
                    md5 = hashlib.md5(usedforsecurity=False)  # a checksum, not a secret
                    order = list(table.primary_key.columns) or list(table.columns)
                    query = sa.select(
                        *(sa.func.ST_AsBinary(c) for c in geometry)
                    ).order_by(*order)  # fmt: skip
                    for row in conn.execute(query):
                        for value in row:
                            md5.update(b"\x00" if value is None else bytes(value))
                            md5.update(b"|")
                    digest = md5.hexdigest()
                result[table.name] = {"rows": rows, "geometry_md5": digest}
            if "alembic_version" in present:
                version = conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                result["alembic_version"] = {
                    "rows": len(version.all()),
                    "geometry_md5": None,
                }
    finally:
        engine.dispose()
    return result
