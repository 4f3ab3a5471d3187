"""Many server processes on one database (PostGIS and one SpatiaLite file) agree.

Two ``wangge serve`` processes run as separate OS processes on loopback ports: one with
``--workers 2`` (uvicorn's process manager), one single. A division loaded by the CLI (a third
process) and a division loaded through one server are located by every server once the
documented bound (``WANGGE_LOCATE_CACHE_S``, at most 30 s) has passed — polled on state,
never slept on; a token signed by one process is accepted by the others (shared
``WANGGE_SECRET_KEY``), and a report made through each server lands exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db.engine import make_engine

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
WANGGE = str(Path(sys.executable).parent / "wangge")
CACHE_S = 2.0  # the bound under test (the setting allows at most 30 s)
PATIENCE_S = 30.0  # the largest bound the setting allows: longer than that is a failure
PASSWORD = "multi-process-pass-9"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``wangge serve`` in a process of its own, on a free loopback port."""

    def __init__(self, db: str, env: dict[str, str], *extra: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [WANGGE, "serve", "--db", db, "--port", str(self.port), "--log-level", "warning",
             *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def servers(fresh_db_url, tmp_path) -> Iterator[tuple[Server, Server]]:
    env = os.environ | {
        "WANGGE_SECRET_KEY": "multi-process-" + os.urandom(8).hex(),
        "WANGGE_LOCATE_CACHE_S": str(CACHE_S),
        "WANGGE_PHOTO_DIR": str(tmp_path / "photos"),
        "WANGGE_STAFF_PHOTO_DIR": str(tmp_path / "staff_photos"),
    }
    started: list[Server] = []
    try:
        # the first migrates the database; the second starts on a migrated one
        for extra in (("--workers", "2"), ()):
            server = Server(fresh_db_url, env, *extra)
            started.append(server)
            server.wait_ready()
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def _locate(server: Server, where: dict[str, float]) -> dict:
    r = httpx.get(f"{server.base}/grids/locate", params=where, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _until(server: Server, where: dict[str, float], wanted) -> dict:
    """Poll the server (several requests: each worker answers some) until ``wanted(answer)``
    holds for ten answers in a row, within :data:`PATIENCE_S`."""
    deadline = time.monotonic() + PATIENCE_S
    streak, answer = 0, None
    while time.monotonic() < deadline:
        answer = _locate(server, where)
        streak = streak + 1 if wanted(answer) else 0
        if streak >= 10:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"{server.base} still answers {answer} after {PATIENCE_S} s")


def _count(url: str, sql: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def test_two_servers_agree_on_divisions_and_reports(servers, fresh_db_url, tmp_path):
    one, two = servers
    grids = gpd.read_file(DEMO / "grids.geojson")
    point = grids.geometry.iloc[3].representative_point()
    where = {"lon": point.x, "lat": point.y}
    # the truth from shapely, not from wangge: the grids covering the point
    [code] = grids.loc[grids.geometry.covers(point), "code"].tolist()
    for server in servers:  # both hold "outside" in memory before anything is loaded
        assert _locate(server, where)["outside"] is True
    # 1. a division loaded by the CLI, a third process
    loaded = runner.invoke(
        cli_app,
        ["load", "division", str(DEMO / "grids.geojson"), "--boundary",
         str(DEMO / "boundary.geojson"), "--community", "外滩源社区", "--effective-date",
         "2026-01-01", "--db", fresh_db_url, "--json"],
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    name = grids.loc[grids["code"] == code, "name"].iloc[0]
    for server in servers:
        found = _until(server, where, lambda a: not a["outside"])
        assert (found["grid_code"], found["grid_name"]) == (code, name)
    # 2. a new division (renamed grids) loaded through one server, located by the other
    for user, role in (("planner1", "planner"), ("worker1", "grid_worker")):
        made = runner.invoke(
            cli_app,
            ["user", "create", user, "--role", role, "--password-stdin", "--db", fresh_db_url,
             *(["--grids", code] if role == "grid_worker" else [])],
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert made.exit_code == 0, made.output
    planner = _sign_in(two, "planner1")
    renamed = json.loads((DEMO / "grids.geojson").read_text(encoding="utf-8"))
    for feature in renamed["features"]:
        feature["properties"]["name"] = "二版" + str(feature["properties"]["name"])
    body = {
        "grids": renamed,
        "boundary": json.loads((DEMO / "boundary.geojson").read_text(encoding="utf-8")),
        "community": "外滩源社区",
        "effective_date": dt.date.today().isoformat(),
    }
    r = httpx.post(f"{two.base}/divisions", json=body, headers=planner, timeout=120)
    assert r.status_code == 201, r.text
    for server in (one, two):
        found = _until(server, where, lambda a: a["grid_name"] == "二版" + name)
        assert found["grid_code"] == code
    # 3. a report through each server, with a token signed by the other: each lands once
    category = _count(
        fresh_db_url,
        "SELECT code FROM incident_categories WHERE parent IS NOT NULL ORDER BY code LIMIT 1",
    )[0][0]
    ids = []
    for server, signer in ((one, two), (two, one)):
        token = _sign_in(signer, "worker1")
        r = httpx.post(
            f"{server.base}/incidents",
            json={"category_code": category, "description": f"via {server.port}",
                  "lon": point.x, "lat": point.y},
            headers=token,
            timeout=30,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    rows = _count(fresh_db_url, "SELECT id, description, grid_code FROM incidents ORDER BY id")
    assert sorted(ids) == [row[0] for row in rows]
    assert sorted(row[1] for row in rows) == sorted(f"via {s.port}" for s in (one, two))
    assert {row[2] for row in rows} == {code}


def _sign_in(server: Server, user: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.base}/auth/token", data={"username": user, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_more_than_one_worker_needs_a_secret_key(fresh_db_url):
    env = {k: v for k, v in os.environ.items() if k != "WANGGE_SECRET_KEY"}
    done = subprocess.run(
        [WANGGE, "serve", "--db", fresh_db_url, "--port", str(_free_port()), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert "WANGGE_SECRET_KEY" in text and "签名密钥" in text


def test_the_coherence_bound_is_at_most_thirty_seconds():
    from pydantic import ValidationError

    from api.core.config import Settings

    assert Settings(locate_cache_s=30).locate_cache_s == 30
    with pytest.raises(ValidationError):
        Settings(locate_cache_s=31)


def test_writes_to_watched_tables_move_the_change_counter(fresh_db_url):
    """Triggers bump the counter in the writing transaction, whoever writes (plain SQL here);
    a rolled-back write leaves it where it was; other tables do not move it."""
    from api.db.engine import open_database

    engine = open_database(fresh_db_url)
    counter = sa.text("SELECT value FROM change_counters WHERE name = 'locate'")
    try:
        with engine.connect() as conn:
            before = conn.execute(counter).scalar_one()
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO streets (code, name) VALUES ('310101002', '街')"))
            conn.execute(
                sa.text("INSERT INTO communities (code, name, street_id) SELECT '310101002099',"
                        " '社区', id FROM streets WHERE code = '310101002'")
            )  # fmt: skip
            inside = conn.execute(counter).scalar_one()
        with engine.connect() as conn:
            assert conn.execute(counter).scalar_one() == inside > before
        with engine.connect() as conn:
            conn.execute(sa.text("UPDATE communities SET name = '改' WHERE code = '310101002099'"))
            assert conn.execute(counter).scalar_one() > inside
            conn.rollback()
            assert conn.execute(counter).scalar_one() == inside
            conn.execute(sa.text("UPDATE streets SET name = '又一街'"))
            conn.commit()
            assert conn.execute(counter).scalar_one() == inside
    finally:
        engine.dispose()
