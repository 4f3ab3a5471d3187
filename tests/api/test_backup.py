"""``wangge backup`` / ``wangge restore`` on both engines: round trips keep every row and every
geometry; SpatiaLite is copied consistently while another connection writes; bad targets and
files are refused with exit 2."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid

import pytest
import shapely
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine
from api.db.models import Role
from api.services.backup import fingerprint
from api.services.demo import load_demo
from tests.api.routes.conftest import add_users

runner = CliRunner()


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The real `wangge` command, as users run it."""
    return cli_app


def _rows(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def _grid_shapes(url: str) -> dict[str, shapely.Geometry]:
    sql = "SELECT code || '@' || division_id, ST_AsBinary(geom) FROM grids"
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in _rows(url, sql)}


def test_round_trip_keeps_every_row_and_geometry(cli, fresh_db_url, empty_target, tmp_path):
    load_demo(db_url=fresh_db_url)
    add_users(fresh_db_url, {"ada": (Role.ADMIN, []), "gw": (Role.GRID_WORKER, [])})
    out = tmp_path / "wangge.backup"

    made = runner.invoke(cli, ["backup", "--db", fresh_db_url, "--out", str(out), "--json"])
    assert made.exit_code == 0, made.output
    info = json.loads(made.stdout)
    assert info["bytes"] == out.stat().st_size > 0
    assert info["engine"] == ("spatialite" if fresh_db_url.startswith("sqlite") else "postgis")

    done = runner.invoke(cli, ["restore", str(out), "--db", empty_target, "--json"])
    assert done.exit_code == 0, done.output
    before, after = fingerprint(fresh_db_url), fingerprint(empty_target)
    assert after == before == json.loads(done.stdout)["tables"]
    # the fingerprint is not vacuous: rows and geometry are there
    assert before["grids"]["rows"] > 0 and before["houses"]["rows"] > 0
    assert before["users"]["rows"] == 2 and before["grids"]["geometry_md5"] is not None
    # independently of the fingerprint: counts by SQL, shapes vertex for vertex
    for table in ("communities", "grids", "houses", "users", "change_log", "audit_log"):
        sql = f"SELECT count(*) FROM {table}"
        assert _rows(empty_target, sql) == _rows(fresh_db_url, sql)
    src, dst = _grid_shapes(fresh_db_url), _grid_shapes(empty_target)
    assert src.keys() == dst.keys() and len(src) > 0
    assert all(src[k].equals_exact(dst[k], 0) for k in src)
    # the restored database works: it is at the same migration and takes new rows
    assert _rows(empty_target, "SELECT version_num FROM alembic_version") == _rows(
        fresh_db_url, "SELECT version_num FROM alembic_version"
    )
    engine = make_engine(empty_target)
    with engine.begin() as conn:
        new_id = conn.execute(
            sa.text("INSERT INTO streets (code, name) VALUES ('999999999', 'x') RETURNING id")
        ).scalar_one()
    engine.dispose()
    assert new_id > max(i for (i,) in _rows(fresh_db_url, "SELECT id FROM streets"))

    # restoring again into the now non-empty database is refused, and changes nothing
    again = runner.invoke(cli, ["restore", str(out), "--db", empty_target])
    assert again.exit_code == 2
    assert "not empty" in " ".join(again.output.split())
    assert _rows(empty_target, "SELECT count(*) FROM streets") == [(before["streets"]["rows"] + 1,)]


def test_spatialite_backup_is_consistent_while_another_connection_writes(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    add_users(url, {"ada": (Role.ADMIN, [])})  # creates and migrates the database
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO streets (code, name) VALUES ('310101002', 'a')"))
    with engine.connect() as conn:
        (n0,) = conn.execute(sa.text("SELECT count(*) FROM streets")).one()
    engine.dispose()

    # a writer holds an open transaction with uncommitted rows during the backup
    writer = sqlite3.connect(tmp_path / "live.db", isolation_level=None, timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO streets (code, name) VALUES ('900000001', 'uncommitted')")
    out = tmp_path / "snap.backup"
    made = runner.invoke(cli, ["backup", "--db", url, "--out", str(out)])
    assert made.exit_code == 0, made.output
    writer.execute("COMMIT")  # the writer was not blocked or broken by the backup

    # meanwhile a thread keeps committing rows; a second backup is taken in the middle
    stop = threading.Event()

    def keep_writing() -> None:
        conn = sqlite3.connect(tmp_path / "live.db", isolation_level=None, timeout=30)
        i = 0
        while not stop.is_set():
            i += 1
            conn.execute(f"INSERT INTO streets (code, name) VALUES ('8{i:08d}', 'w')")
        conn.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        out2 = tmp_path / "busy.backup"
        busy = runner.invoke(cli, ["backup", "--db", url, "--out", str(out2)])
    finally:
        stop.set()
        thread.join()
    writer.close()
    assert busy.exit_code == 0, busy.output

    snap = sqlite3.connect(out)
    assert snap.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert snap.execute("SELECT count(*) FROM streets").fetchone() == (n0,)  # not the open txn
    snap.close()
    copy = sqlite3.connect(out2)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (n_busy,) = copy.execute("SELECT count(*) FROM streets").fetchone()
    copy.close()
    live = sqlite3.connect(tmp_path / "live.db")
    (n_end,) = live.execute("SELECT count(*) FROM streets").fetchone()
    live.close()
    assert n0 + 1 <= n_busy <= n_end  # a committed state between the start and the end


def test_spatialite_backup_restores_into_postgis(cli, tmp_path, postgres_url):
    source = f"sqlite:///{tmp_path / 'src.db'}"
    add_users(source, {"ada": (Role.ADMIN, [])})
    out = tmp_path / "src.backup"
    assert runner.invoke(cli, ["backup", "--db", source, "--out", str(out)]).exit_code == 0
    name = f"cross_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    target = server.set(database=name).render_as_string(hide_password=False)
    try:
        with make_engine(target).begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION postgis")
        done = runner.invoke(cli, ["restore", str(out), "--db", target])
        assert done.exit_code == 0, done.output
        src, dst = fingerprint(source), fingerprint(target)
        assert {t: v["rows"] for t, v in dst.items()} == {t: v["rows"] for t, v in src.items()}
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_bad_files_and_targets_are_refused(cli, tmp_path, postgres_url):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    target = f"sqlite:///{tmp_path / 't.db'}"
    r = runner.invoke(cli, ["restore", str(junk), "--db", target])
    assert r.exit_code == 2 and "not a wangge backup" in " ".join(r.output.split())
    r = runner.invoke(cli, ["restore", str(tmp_path / "missing.backup"), "--db", target])
    assert r.exit_code == 2 and "not found" in r.output
    r = runner.invoke(cli, ["backup", "--db", f"sqlite:///{tmp_path / 'nope.db'}", "--out",
                            str(tmp_path / "x.backup")])  # fmt: skip
    assert r.exit_code == 2 and "not found" in r.output
    assert not (tmp_path / "x.backup").exists()
    # a PostgreSQL dump cannot go into SpatiaLite
    dump = tmp_path / "pg.backup"
    made = runner.invoke(cli, ["backup", "--db", postgres_url, "--out", str(dump)])
    assert made.exit_code == 0, made.output
    assert dump.read_bytes()[:5] == b"PGDMP"
    r = runner.invoke(cli, ["restore", str(dump), "--db", target])
    assert r.exit_code == 2 and "PostGIS only" in " ".join(r.output.split())
    # an unreachable server
    r = runner.invoke(
        cli, ["backup", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x", "--out", str(dump)]
    )
    assert r.exit_code == 2 and "cannot connect" in " ".join(r.output.split())
