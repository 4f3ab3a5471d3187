"""A bounded load test of the API on loopback.

:func:`run_load` starts ``wangge serve`` over a demo database (the demo community plus a grid
worker and the post-responsible staff member who handles its reports), then drives it with a
small async client: a fixed number of requests, a fixed concurrency and a time cap, mixing
``GET /grids/locate``, ``POST /incidents`` (points inside the demo grids) and transitions on the
incidents the client reported (feed_back → start → resolve → close, each naming the version the
client saw). Some transitions are sent twice at once with the same version: a deliberate race
that must give one 200 and one 409 (counted as ``conflicts``, not errors).

Afterwards the database is checked: every acknowledged report (201) exists exactly once (each
report carries a unique description), nothing unacknowledged was stored, and each incident's
history is gapless (``seq`` 1..version), chained, ends in the incident's state, and its version
is the one the client saw. Latency percentiles are per kind of request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

__all__ = ["LoadUsers", "prepare_database", "run_load", "serve", "verify_incidents"]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
PASSWORD = "load-test-密码-1"
CATEGORY = "0303"  # handled by the 城建管理岗 post (the demo's city staff member)
CITY_POST = "城建管理岗"
# the workflow the client drives on each incident it reports: (action, who)
CHAIN = (("feed_back", "gw"), ("start", "post"), ("resolve", "post"), ("close", "gw"))
KINDS = ("locate", "report", "transition")
RETRIES_503 = 5


@dataclass(frozen=True)
class LoadUsers:
    """Usernames of the reporting grid worker and of the handling post staff member."""

    grid_worker: str = "load_gw"
    post_staff: str = "load_post"


def prepare_database(db_url: str, users: LoadUsers = LoadUsers()) -> LoadUsers:
    """Load the demo into ``db_url`` and add the two users (grid worker on every grid)."""
    import sqlalchemy as sa

    from api.db.engine import make_engine, session_factory
    from api.db.models import Role, Staff
    from api.services.crud import create_user
    from api.services.demo import load_demo

    load_demo(db_url=db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            city = session.scalar(
                sa.select(Staff).where(Staff.role == "post_staff", Staff.post == CITY_POST)
            )
            grids = sorted(
                session.scalars(sa.text("SELECT code FROM grids WHERE division = 'current'"))
            )
            create_user(session, username=users.grid_worker, password=PASSWORD,
                        role=Role.GRID_WORKER, grid_codes=grids)  # fmt: skip
            create_user(session, username=users.post_staff, password=PASSWORD,
                        role=Role.POST_STAFF, staff_id=city.id)  # fmt: skip
    finally:
        engine.dispose()
    return users


def inside_points() -> list[tuple[float, float]]:
    """(lon, lat) of the demo door plates that lie in a demo grid (by :mod:`gis.assign`)."""
    import geopandas as gpd
    import pandas as pd

    from gis.assign import assign_points

    houses = pd.read_csv(DEMO / "houses.csv")
    grids = gpd.read_file(DEMO / "grids.geojson")
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(houses.lon, houses.lat), crs=4326)
    inside = assign_points(points.to_crs(grids.crs), grids).notna().to_numpy()
    return list(zip(houses.lon[inside].astype(float), houses.lat[inside].astype(float),
                    strict=True))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db_url: str, port: int | None = None, *, secret_key: str | None = None,
          log: Path | None = None):  # fmt: skip
    """Start ``wangge serve --db URL --port P`` as a process; return (process, base URL).

    Waits until ``/health`` answers; the caller ends the process. The server's output goes
    to ``log`` when given.
    """
    import httpx

    port = port or _free_port()
    env = {**os.environ, "WANGGE_SECRET_KEY": secret_key or secrets.token_hex(32)}
    wangge = Path(sys.executable).parent / "wangge"
    sink = subprocess.DEVNULL if log is None else log.open("ab")
    proc = subprocess.Popen(
        [str(wangge), "serve", "--db", db_url, "--port", str(port)],
        cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if log is not None:
        sink.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wangge serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code < 500:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"wangge serve did not answer {base}/health in 60 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class _Tracked:
    """An incident the client reported: its id, the version it saw, the next step."""

    id: int
    version: int = 1
    step: int = 0
    busy: bool = False


@dataclass
class _Run:
    budget: int
    deadline: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # 503 still after the retries
    acked: dict[str, int] = field(default_factory=dict)  # description → id (201 answers)
    unacked: list[str] = field(default_factory=list)  # reports without a 201
    tracked: list[_Tracked] = field(default_factory=list)
    capped: bool = False

    def take(self, n: int) -> bool:
        if time.monotonic() > self.deadline:
            self.capped = True
            return False
        if self.budget < n:
            return False
        self.budget -= n
        return True


async def _timed(run: _Run, kind: str, send):
    """Send (``send()`` makes the request), retrying a 503 (busy/unavailable: the server did
    nothing) a few times as a client honouring ``Retry-After`` would; each retry is counted.
    Every attempt's latency is recorded (and counts in ``sent``)."""
    for attempt in range(RETRIES_503 + 1):
        start = time.perf_counter()
        try:
            response = await send()
        except Exception as exc:  # a refused or dropped connection is an error of the run
            run.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        run.latencies[kind].append(time.perf_counter() - start)
        if response.status_code != 503 or attempt == RETRIES_503:
            return response
        run.counts[f"{kind} 503 retried"] += 1
        await asyncio.sleep(0.02 * (attempt + 1))
    return response


def _bad(run: _Run, kind: str, response) -> None:
    """Record an unexpected answer: a 503 (busy, nothing done) apart from real errors."""
    text = f"{kind} {response.status_code}: {response.text[:200]}"
    (run.unavailable if response.status_code == 503 else run.errors).append(text)
    run.counts[f"{kind} {response.status_code}"] += 1


async def _worker(run: _Run, client, auth: dict, points, rng, prefix: str, race_p: float):
    while True:
        ready = [t for t in run.tracked if not t.busy and t.step < len(CHAIN)]
        roll = rng.random()
        if roll < 0.3:
            kind = "locate"
        elif roll < 0.55 or not ready:
            kind = "report"
        else:
            kind = "transition"
        race = kind == "transition" and rng.random() < race_p
        if not run.take(2 if race else 1):
            return
        if kind == "locate":
            lon, lat = points[int(rng.integers(len(points)))]
            r = await _timed(
                run, kind, partial(client.get, "/grids/locate", params={"lon": lon, "lat": lat})
            )
            if r is not None and r.status_code == 200:
                run.counts["locate 200"] += 1
            elif r is not None:
                _bad(run, kind, r)
        elif kind == "report":
            lon, lat = points[int(rng.integers(len(points)))]
            description = f"{prefix}{uuid.uuid4().hex}"
            body = {"category_code": CATEGORY, "lon": lon, "lat": lat, "description": description}
            r = await _timed(
                run, kind, partial(client.post, "/incidents", json=body, headers=auth["gw"])
            )
            if r is not None and r.status_code == 201:
                run.counts["report 201"] += 1
                run.acked[description] = r.json()["id"]
                run.tracked.append(_Tracked(id=r.json()["id"]))
            else:
                run.unacked.append(description)
                if r is not None:
                    _bad(run, kind, r)
        else:
            item = ready[int(rng.integers(len(ready)))]
            item.busy = True
            action, who = CHAIN[item.step]
            body = {"action": action, "version": item.version, "note": "load"}
            url = f"/incidents/{item.id}/transitions"
            headers = auth[who]
            calls = [partial(client.post, url, json=body, headers=headers)] * (2 if race else 1)
            answers = await asyncio.gather(*(_timed(run, kind, c) for c in calls))
            codes = sorted(a.status_code for a in answers if a is not None)
            if len(codes) == len(calls) and codes[0] == 200 and codes[1:] in ([], [409]):
                run.counts["transition 200"] += 1
                run.counts["transition 409 (race)"] += len(codes) - 1
                item.version += 1
                item.step += 1
            else:
                for a in answers:
                    if a is not None and a.status_code != 200:
                        _bad(run, kind, a)
                if 200 in codes:  # the step was taken even if its twin misbehaved
                    item.version += 1
                    item.step += 1
                    run.counts["transition 200"] += 1
                elif codes:
                    # nothing taken, so the client no longer knows the version: stop driving it
                    item.step = len(CHAIN)
            item.busy = False


async def _drive(base: str, users: LoadUsers, *, requests: int, concurrency: int,
                 seconds_cap: float, seed: int, race_p: float, prefix: str) -> _Run:  # fmt: skip
    import httpx

    points = inside_points()
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        auth = {}
        for key, name in (("gw", users.grid_worker), ("post", users.post_staff)):
            r = await client.post("/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            auth[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        run = _Run(budget=requests, deadline=time.monotonic() + seconds_cap)
        rngs = np.random.default_rng(seed).spawn(concurrency)
        start = time.perf_counter()
        await asyncio.gather(
            *(_worker(run, client, auth, points, rng, prefix, race_p) for rng in rngs)
        )
        run.counts["seconds"] = time.perf_counter() - start
    return run


def verify_incidents(db_url: str, prefix: str, acked: dict[str, int], unacked: list[str],
                     versions: dict[int, int]) -> dict:  # fmt: skip
    """Check the stored incidents of a run against what the client was told.

    Returns ``lost`` (acknowledged, not stored), ``duplicated`` (stored more than once),
    ``unacknowledged_stored``, ``wrong_id``, ``bad_histories`` (incident id → reason) and
    ``version_mismatch`` (the stored version differs from the one the client last saw).
    """
    import sqlalchemy as sa

    from api.db.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, description, state, version FROM incidents "
                        "WHERE description LIKE :p"),
                {"p": prefix + "%"},
            ).all()  # fmt: skip
            ids = [r.id for r in rows]
            events: dict[int, list] = {i: [] for i in ids}
            for e in conn.execute(
                sa.text("SELECT incident_id, seq, from_state, to_state FROM incident_events "
                        "ORDER BY incident_id, seq, id")
            ):  # fmt: skip
                if e.incident_id in events:
                    events[e.incident_id].append(e)
    finally:
        engine.dispose()
    stored = Counter(r.description for r in rows)
    by_description = {r.description: r.id for r in rows}
    bad: dict[int, str] = {}
    for r in rows:
        history = events[r.id]
        seqs = [e.seq for e in history]
        if seqs != list(range(1, r.version + 1)):
            bad[r.id] = f"seq {seqs} for version {r.version}"
        elif history[-1].to_state != r.state:
            bad[r.id] = f"last to_state {history[-1].to_state} but state {r.state}"
        elif any(a.to_state != b.from_state for a, b in itertools.pairwise(history)):
            bad[r.id] = "history not chained (to_state ≠ next from_state)"
    return {
        "stored": len(rows),
        "lost": sorted(d for d in acked if d not in stored),
        "duplicated": sorted(d for d, n in stored.items() if n > 1),
        "unacknowledged_stored": sorted(d for d in unacked if d in stored),
        "wrong_id": sorted(d for d, i in acked.items() if by_description.get(d, i) != i),
        "bad_histories": bad,
        "version_mismatch": {
            r.id: (r.version, versions[r.id])
            for r in rows
            if r.id in versions and r.version != versions[r.id]
        },
    }


def _percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    ms = np.array(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"n": len(ms), "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99)}


def run_load(
    db_url: str,
    *,
    requests: int = 2000,
    concurrency: int = 16,
    seconds_cap: float = 120.0,
    seed: int = 11,
    race_p: float = 0.15,
    prepare: bool = True,
    log: Path | None = None,
) -> dict:
    """Load the API served over ``db_url`` and check the database afterwards.

    ``db_url`` must be an empty database (``prepare=True`` loads the demo and the users) or one
    made by :func:`prepare_database`. At most ``requests`` requests are sent by
    ``concurrency`` workers; none is started after ``seconds_cap`` seconds.

    Returns ``counts`` (by kind and status; ``transition 409 (race)`` are the deliberate
    races' losers, ``… 503 retried`` the busy answers retried), ``errors`` (unexpected
    answers and failed connections), ``unavailable`` (503 still after the retries), ``latency``
    (per kind: n, p50/p95/p99 in ms), ``seconds``, ``capped`` and ``check`` (see
    :func:`verify_incidents`).
    """
    users = prepare_database(db_url) if prepare else LoadUsers()
    prefix = f"load-{uuid.uuid4().hex[:8]}-"
    proc, base = serve(db_url, log=log)
    try:
        run = asyncio.run(
            _drive(base, users, requests=requests, concurrency=concurrency,
                   seconds_cap=seconds_cap, seed=seed, race_p=race_p, prefix=prefix)
        )  # fmt: skip
    finally:
        _stop(proc)
    seconds = run.counts.pop("seconds")
    versions = {t.id: t.version for t in run.tracked}
    check = verify_incidents(db_url, prefix, run.acked, run.unacked, versions)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "sent": sum(len(v) for v in run.latencies.values()),
        "seconds": seconds,
        "capped": run.capped,
        "counts": dict(run.counts),
        "errors": run.errors,
        "unavailable": run.unavailable,
        "latency": {k: _percentiles(v) for k, v in run.latencies.items()},
        "check": check,
    }


def load_both(*, requests: int, concurrency: int, seconds_cap: float = 120.0) -> dict:
    """:func:`run_load` on a SpatiaLite file and on a throw-away PostGIS cluster."""
    import tempfile

    from bench.pg import ThrowawayPostgres

    out = {}
    with tempfile.TemporaryDirectory(prefix="wangge-load-") as tmp:
        out["SpatiaLite"] = run_load(f"sqlite:///{Path(tmp) / 'load.db'}", requests=requests,
                                     concurrency=concurrency, seconds_cap=seconds_cap)  # fmt: skip
    pg = ThrowawayPostgres(dbname="wangge_load").start()
    try:
        out["PostGIS"] = run_load(pg.url, requests=requests, concurrency=concurrency,
                                  seconds_cap=seconds_cap)  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            pg.stop()
    return out
