"""A throw-away PostgreSQL + PostGIS cluster for the tests and the benchmarks.

Finds the newest PostgreSQL under ``/usr/lib/postgresql/<major>/bin`` (15 on Debian 12, 17 on
Debian 13), runs ``initdb`` as the ``postgres`` user when we are root (initdb refuses root),
starts the server on a free 127.0.0.1 port with its socket in the cluster folder, creates a
database with the ``postgis`` extension, and removes everything on :meth:`stop`::

    with ThrowawayPostgres() as pg:
        engine = sqlalchemy.create_engine(pg.url)
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresUnavailableError", "ThrowawayPostgres", "find_pg_bin", "postgis_version"]

_INSTALL_HINT = (
    "apt-get install postgresql postgresql-postgis (install.sh does), "
    "or set WANGGE_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db"
)


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL/PostGIS cannot be started; the message says what is missing."""


def find_pg_bin() -> Path:
    """Return the ``bin`` folder of the newest installed PostgreSQL major version."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        major = Path(initdb).parent.parent.name
        if major.isdigit():
            candidates.append((int(major), Path(initdb).parent))
    if not candidates:
        raise PostgresUnavailableError(
            "找不到 PostgreSQL (/usr/lib/postgresql/*/bin/initdb) / PostgreSQL not found: "
            + _INSTALL_HINT
        )
    return max(candidates)[1]


def postgis_version(pg_bin: Path) -> str | None:
    """Return the default PostGIS version installed for this PostgreSQL, or None."""
    share = Path("/usr/share/postgresql") / pg_bin.parent.name / "extension" / "postgis.control"
    if not share.is_file():
        return None
    match = re.search(r"default_version\s*=\s*'([^']+)'", share.read_text())
    return match.group(1) if match else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """Start a private PostgreSQL cluster with a PostGIS database; ``stop()`` deletes it."""

    def __init__(self, dbname: str = "wangge_test") -> None:
        self.bin = find_pg_bin()
        if postgis_version(self.bin) is None:
            raise PostgresUnavailableError(
                f"PostgreSQL {self.bin.parent.name} 没有 PostGIS / has no PostGIS extension: "
                + _INSTALL_HINT
            )
        self.dbname = dbname
        self.root = Path(tempfile.mkdtemp(prefix="wangge-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise PostgresUnavailableError(
                f"命令失败 / command failed ({proc.returncode}): {' '.join(cmd)}\n"
                f"{proc.stdout}\n{proc.stderr}\n{tail}"
            )
        return proc

    def start(self) -> ThrowawayPostgres:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {{port}} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        for attempt in range(3):  # another process may grab the free port before we do
            self.port = _free_port()
            try:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.root / "server.log"), "-o", options.format(port=self.port),
                    "-w", "-t", "60", "start",
                )  # fmt: skip
                break
            except PostgresUnavailableError:
                if attempt == 2:
                    raise
        self._started = True
        atexit.register(self.stop)
        self._run(
            str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
            "-c", f"CREATE DATABASE {self.dbname}",
        )  # fmt: skip
        self._run(
            str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
            "-d", self.dbname, "-v", "ON_ERROR_STOP=1", "-q",
            "-c", "CREATE EXTENSION postgis",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server (immediately) and delete the cluster folder. Safe to call twice."""
        if self._started:
            self._started = False
            with contextlib.suppress(PostgresUnavailableError):
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                    "stop",
                )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
