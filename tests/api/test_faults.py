"""Faults: the server killed with SIGKILL in the middle of transitions leaves
every incident's history consistent; ``wangge import`` or the server under ``POST
/imports/houses`` killed with SIGKILL while the rows are written leaves none of them (and the
same import run again stores all of them); PostGIS stopped under the running API gives 503
while it is down and answers again after its restart, the API untouched."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.db.engine import make_engine, session_factory
from api.db.models import Role
from api.services.crud import create_user
from bench.load import CATEGORY, PASSWORD, LoadUsers, inside_points, prepare_database, serve
from bench.pg import ThrowawayPostgres
from tests.api.test_import import COMMUNITY


def _tokens(base: str, users: LoadUsers) -> dict[str, dict]:
    out = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for key, name in (("gw", users.grid_worker), ("post", users.post_staff)):
            r = client.post("/auth/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            out[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return out


def _histories_consistent(url: str) -> list[str]:
    """Problems found: seq not 1..version, last to_state ≠ state, a broken chain."""
    engine = make_engine(url)
    problems = []
    with engine.connect() as conn:
        incidents = conn.execute(sa.text("SELECT id, state, version FROM incidents")).all()
        events: dict[int, list] = {}
        for e in conn.execute(
            sa.text("SELECT incident_id, seq, from_state, to_state FROM incident_events "
                    "ORDER BY incident_id, seq, id")
        ):  # fmt: skip
            events.setdefault(e.incident_id, []).append(e)
    engine.dispose()
    for i in incidents:
        h = events.get(i.id, [])
        if [e.seq for e in h] != list(range(1, i.version + 1)):
            problems.append(f"{i.id}: seq {[e.seq for e in h]} for version {i.version}")
        elif h[-1].to_state != i.state:
            problems.append(f"{i.id}: last to_state {h[-1].to_state}, state {i.state}")
        elif any(a.to_state != b.from_state for a, b in itertools.pairwise(h)):
            problems.append(f"{i.id}: history not chained")
    return problems


def test_kill_9_mid_transition_leaves_histories_consistent(fresh_db_url):
    users = prepare_database(fresh_db_url)
    proc, base = serve(fresh_db_url)
    points = inside_points()
    auth = _tokens(base, users)
    taken = []
    stop = threading.Event()

    def drive() -> None:
        # report, then walk each incident through its steps, until the server dies
        chain = (("feed_back", "gw"), ("start", "post"), ("resolve", "post"), ("close", "gw"))
        with httpx.Client(base_url=base, timeout=10) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                lon, lat = points[n % len(points)]
                try:
                    body = {"category_code": CATEGORY, "lon": lon, "lat": lat}
                    r = client.post("/incidents", headers=auth["gw"], json=body)
                    iid = r.json()["id"]
                    for version, (action, who) in enumerate(chain, start=1):
                        r = client.post(f"/incidents/{iid}/transitions", headers=auth[who],
                                        json={"action": action, "version": version})  # fmt: skip
                        assert r.status_code == 200, r.text
                        taken.append(iid)
                except (httpx.HTTPError, ValueError, KeyError):
                    return  # the server is gone

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while len(taken) < 15 and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert len(taken) >= 15, "transitions did not get going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    # restart on the same database: it serves, and every history is whole
    proc, base = serve(fresh_db_url)
    try:
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        assert _histories_consistent(fresh_db_url) == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pg_ctl(pg: ThrowawayPostgres, *args: str) -> None:
    pg._run(str(pg.bin / "pg_ctl"), "-D", str(pg.data), *args)


@pytest.fixture
def own_postgres():
    pg = ThrowawayPostgres(dbname="wangge_fault").start()
    yield pg
    pg.stop()


def test_postgis_down_gives_503_and_recovers_without_api_restart(own_postgres):
    pg = own_postgres
    prepare_database(pg.url)
    proc, base = serve(pg.url)
    lon, lat = inside_points()[0]
    params = {"lon": lon, "lat": lat}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            grids = {"limit": 1}  # a public read that asks the database every time
            assert client.get("/grids", params=grids).status_code == 200
            assert client.get("/grids/locate", params=params).status_code == 200
            _pg_ctl(pg, "-m", "fast", "-w", "stop")
            down = [client.get("/grids", params=grids) for _ in range(3)]
            assert [r.status_code for r in down] == [503] * 3, [r.text for r in down]
            # locate answers from its in-memory snapshot until that is due for a check
            assert client.get("/grids/locate", params=params).status_code in (200, 503)
            assert "数据库" in down[0].json()["detail"] and "database" in down[0].json()["detail"]
            assert down[0].headers["Retry-After"]
            options = f"-p {pg.port} -k {pg.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            _pg_ctl(pg, "-l", str(pg.root / "server.log"), "-o", options, "-w", "-t", "60",
                    "start")  # fmt: skip
            up = [client.get("/grids", params=grids) for _ in range(3)]
            assert [r.status_code for r in up] == [200] * 3, [r.text for r in up]
            assert client.get("/grids/locate", params=params).status_code == 200
            assert proc.poll() is None  # the same API process throughout
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# ---------------------------------------------------------------- kill -9 mid-import

IMPORT_ROWS = 20_000


def _houses_file(path, n: int) -> int:
    """A CSV of ``n`` new door plates at demo door-plate positions (every one inside a grid)."""
    points = inside_points()
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("门牌号码,经度,纬度\n")
        for i in range(n):
            lon, lat = points[i % len(points)]
            f.write(f"断电测试路{i + 1}号,{lon},{lat}\n")
    return n


def _writer_active(url: str) -> bool:
    """Whether another connection holds an open write transaction on ``houses``."""
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return True
        else:
            con.execute("ROLLBACK")
            return False
        finally:
            con.close()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'houses' AND l.mode = 'RowExclusiveLock' "
                        "AND l.pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _written_bytes(url: str) -> int:
    """Bytes written so far for ``houses``: the SQLite WAL file, the PostgreSQL heap file.

    Both grow while a transaction writes rows, before it commits: the measure tells that the
    import is in the middle of writing, not just holding its lock while it reads the file.
    """
    if url.startswith("sqlite"):
        wal = Path(url.removeprefix("sqlite:///") + "-wal")
        return wal.stat().st_size if wal.exists() else 0
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT pg_relation_size('houses')")).scalar_one()
    finally:
        engine.dispose()


def _counts(url: str) -> tuple[int, int]:
    """(houses, change-log rows about houses)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        houses = conn.execute(sa.text("SELECT count(*) FROM houses")).scalar_one()
        logged = conn.execute(
            sa.text("SELECT count(*) FROM change_log WHERE table_name = 'houses'")
        ).scalar_one()
    engine.dispose()
    return houses, logged


def _import(url: str, path) -> subprocess.Popen:
    wangge = Path(sys.executable).parent / "wangge"
    args = [str(wangge), "import", "houses", str(path), "--community", COMMUNITY, "--db", url]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_while_writing(url: str, proc: subprocess.Popen, written_before: int) -> None:
    """SIGKILL ``proc`` once its transaction is open and more than 1 MiB of rows is written."""
    deadline = time.monotonic() + 300
    while not (_writer_active(url) and _written_bytes(url) > written_before + 2**20):
        assert proc.poll() is None, "the import ended before it was killed"
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _assert_nothing_written(url: str, before: tuple[int, int]) -> None:
    if url.startswith("sqlite"):  # the WAL's uncommitted frames are ignored on the next open
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        engine.dispose()
    deadline = time.monotonic() + 60
    while _writer_active(url):  # PostgreSQL ends the dead client's backend on its own
        assert time.monotonic() < deadline, "the killed import's transaction is still open"
        time.sleep(0.05)
    assert _counts(url) == before  # none of it: no house and no change-log row


def test_kill_9_mid_cli_import_leaves_all_or_nothing(fresh_db_url, tmp_path):
    url = fresh_db_url
    prepare_database(url)
    n = _houses_file(tmp_path / "houses.csv", IMPORT_ROWS)
    before = _counts(url)

    proc = _import(url, tmp_path / "houses.csv")
    _kill_while_writing(url, proc, _written_bytes(url))
    proc.stderr.close()
    _assert_nothing_written(url, before)

    # the same file again, to the end: all of it, once
    proc = _import(url, tmp_path / "houses.csv")
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr.decode()
    houses, logged = _counts(url)
    assert houses == before[0] + n
    assert logged >= before[1] + n


def test_kill_9_server_mid_http_import_leaves_all_or_nothing(fresh_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("WANGGE_REQUEST_TIMEOUT_S", "600")  # a slow machine must not cut it short
    url = fresh_db_url
    prepare_database(url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        create_user(session, username="head", password=PASSWORD, role=Role.COMMUNITY_HEAD)
    engine.dispose()
    path = tmp_path / "houses.csv"
    n = _houses_file(path, IMPORT_ROWS)
    before = _counts(url)

    def upload(base: str) -> httpx.Response:
        token = httpx.post(
            f"{base}/auth/token", data={"username": "head", "password": PASSWORD}, timeout=30
        ).json()["access_token"]
        return httpx.post(
            f"{base}/imports/houses",
            headers={"Authorization": f"Bearer {token}"},
            data={"community": COMMUNITY},
            files={"file": (path.name, path.read_bytes())},
            timeout=600,
        )

    proc, base = serve(url)
    outcome: list = []

    def upload_until_killed() -> None:
        try:
            outcome.append(upload(base))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=upload_until_killed, daemon=True)
    thread.start()
    _kill_while_writing(url, proc, _written_bytes(url))
    thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError), outcome
    _assert_nothing_written(url, before)

    proc, base = serve(url)  # restarted on the same database: the same upload, to the end
    try:
        r = upload(base)
        assert r.status_code == 201, r.text
        assert r.json()["imported"] == n
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    houses, logged = _counts(url)
    assert houses == before[0] + n
    assert logged >= before[1] + n
