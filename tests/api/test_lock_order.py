"""The lock order of :mod:`api.db.lock_order` on SpatiaLite and PostGIS: writers that audit and
update the same rows in opposite orders do not deadlock, and many concurrent writers of mixed
kinds (unmasked reads, sign-ins, account edits, access requests and their approval, incident
reports and transitions, staff edits that move the change counter) through a real uvicorn all
succeed or get a clean 409; afterwards the audit chain verifies and holds exactly one row per
audited success, every incident's history is numbered 1..version without a gap, incident
numbers are unique, and the change counter moved once per staff edit.

Every wait is on state (events, the server's answers, PostgreSQL's own view of who waits for
a lock), with generous deadlines, never a sleep.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict

import httpx
import pytest
import sqlalchemy as sa

from api.db.audit_chain import verify_chain
from api.db.engine import begin_write, is_sqlite, make_engine, session_factory
from api.db.models import House, Staff, User
from api.services.crud import create_user
from api.services.privacy import audit
from tests.api.incident_helpers import LiveServer, build_env, demo_house, make_app, token
from tests.api.routes.conftest import PASSWORD, valid_id_number
from tests.maps.browser import db_session  # a session on a URL, engine disposed after

PATIENCE_S = 120.0  # far beyond any honest wait on a loaded machine
THREADS = 8
ROUNDS = 6  # operations per thread


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory):
    gen = build_env(db_url, tmp_path_factory)
    yield next(gen)
    next(gen, None)


def _until(what: str, ready) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not ready():
        assert time.monotonic() < deadline, f"still waiting after {PATIENCE_S:g} s: {what}"
        time.sleep(0.01)


def _waits_for_a_lock(engine, pid: int) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            ).scalar()
            == "Lock"
        )


def _run(*targets) -> list[BaseException]:
    """Run the targets in threads; return what they raised."""
    raised: list[BaseException] = []

    def guarded(target):
        try:
            target()
        except BaseException as exc:  # reported by the test
            raised.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PATIENCE_S)
    assert not any(t.is_alive() for t in threads), "a writer never finished"
    return raised


def _interleave(url: str, a_first, b_steps, a_then) -> None:
    """Two writers, A and B, in the order that deadlocks when their locks are taken in
    opposite orders: A runs ``a_first(session)`` and keeps its locks; B runs each of
    ``b_steps`` (flushing after each), the last one waiting for A; once B waits (PostgreSQL:
    its backend waits for a lock; SQLite: B waits for A's write lock at its start), A runs
    ``a_then`` and commits, then B commits. Raises what either raised."""
    engine, watcher = make_engine(url), make_engine(url)
    sessions = session_factory(engine)
    a_holds, b_waits = threading.Event(), threading.Event()
    b_pid: list[int] = []

    def a() -> None:
        with sessions() as s:
            begin_write(s)
            a_first(s)
            s.flush()
            a_holds.set()
            _until("B waiting", b_waits.is_set)
            if b_pid:  # PostgreSQL: until B really waits for one of A's locks
                _until("B waits for a lock of A", lambda: _waits_for_a_lock(watcher, b_pid[0]))
            a_then(s)
            s.commit()

    def b() -> None:
        _until("A holds its locks", a_holds.is_set)
        with sessions() as s:
            if is_sqlite(s):
                b_waits.set()  # waits for A's write lock in begin_write
            else:
                b_pid.append(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar())
            begin_write(s)
            for k, step in enumerate(b_steps):
                step(s)
                if k == len(b_steps) - 1:
                    b_waits.set()
                s.flush()
            s.commit()

    try:
        raised = _run(a, b)
    finally:
        engine.dispose()
        watcher.dispose()
    assert raised == []


def test_audit_then_row_against_row_then_audit_does_not_deadlock(env):
    """A updates a user row, then audits; B audits first, then updates the same row. With the
    chain head locked where the audit row is flushed, B would hold the head while waiting for
    A's row and A would wait for the head (PostgreSQL aborts one: deadlock detected); with the
    head taken last, at commit, A finishes and B follows."""
    target = env.users["street"]
    with db_session(env.url) as s:
        before = verify_chain(s)
    assert before.ok

    def set_step(value: int):
        return lambda s: setattr(s.get(User, target), "totp_last_step", value)

    def audited(tag: str):
        return lambda s: audit(s, user=None, action=f"lock_order_{tag}", table_name="users",
                               record_id=target)  # fmt: skip

    _interleave(env.url, set_step(1), [audited("b"), set_step(2)], audited("a"))
    with db_session(env.url) as s:
        after = verify_chain(s)
        actions = s.scalars(
            sa.text("SELECT action FROM audit_log WHERE id > :last ORDER BY id"),
            {"last": before.last_id or 0},
        ).all()
        assert s.get(User, target).totp_last_step == 2  # B wrote after A
    assert after.ok, after.problem
    assert actions == ["lock_order_a", "lock_order_b"]


def test_staff_rows_in_opposite_orders_wait_at_the_change_counter(env):
    """A edits staff member X, then Y; B edits Y. The counter's trigger runs after each
    statement, so without taking the counter first B would hold Y while waiting for the
    counter (held by A since X) and A would wait for Y; taking it at the start of the flush,
    B waits at the counter holding nothing, and A finishes."""
    with db_session(env.url) as s:
        x, y = s.scalars(sa.select(Staff.id).order_by(Staff.id).limit(2)).all()
    counter = _counter(env.url)

    def duties(staff_id: int, text: str):
        return lambda s: setattr(s.get(Staff, staff_id), "duties", text)

    _interleave(env.url, duties(x, "甲一"), [duties(y, "乙")], duties(y, "甲二"))
    with db_session(env.url) as s:
        assert [s.get(Staff, i).duties for i in (x, y)] == ["甲一", "乙"]  # B after A
    # each UPDATE moved the counter once (a statement on PostgreSQL, a row on SQLite)
    assert _counter(env.url) - counter == 3


# --------------------------------------------------------------------------- many writers


def _setup(env, client) -> dict:
    """A resident in the grid worker's grid with an approved grant, spare accounts to edit,
    pending access requests and open incidents to race on."""
    auth = {u: {"Authorization": f"Bearer {token(client, u)}"} for u in env.users}
    engine = make_engine(env.url)
    try:
        with session_factory(engine).begin() as s:
            house = s.scalars(
                sa.select(House.id).where(House.grid_code == env.grid_codes[0]).order_by(House.id)
            ).first()
            spares = [
                create_user(s, username=f"spare{k}", password=PASSWORD, role="grid_worker",
                            grid_codes=[env.grid_codes[0]])
                for k in range(2)
            ]  # fmt: skip
            s.flush()
            spare_ids = [u.id for u in spares]
    finally:
        engine.dispose()
    r = client.post(
        "/residents",
        headers=auth["head"],
        json={"house_id": house, "name": "并发测试", "id_number": valid_id_number(901),
              "gender": "1", "population_type": "10", "phone": "13900009001",
              "ethnicity": "汉族"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    resident = r.json()["id"]
    grant = client.post("/access-requests", headers=auth["gw"],
                        json={"resident_id": resident, "reason": "并发测试"})  # fmt: skip
    assert grant.status_code == 201, grant.text
    ok = client.post(f"/access-requests/{grant.json()['id']}/approve", headers=auth["head"])
    assert ok.status_code == 200, ok.text
    pending = []
    for _ in range(3):
        r = client.post("/access-requests", headers=auth["gw"],
                        json={"resident_id": resident, "reason": "待审批"})  # fmt: skip
        assert r.status_code == 201, r.text
        pending.append(r.json()["id"])
    _, lon, lat, _ = demo_house(30)
    incidents = []
    for _ in range(2):
        r = client.post("/incidents", json={"category_code": "0303", "lon": lon, "lat": lat},
                        headers=auth["gw"])  # fmt: skip
        assert r.status_code == 201, r.text
        incidents.append(r.json()["id"])
    return {"auth": auth, "resident": resident, "spares": spare_ids, "pending": pending,
            "incidents": incidents, "point": (lon, lat)}  # fmt: skip


# kind -> (answers that count as done, answers that are a clean refusal, writes an audit row)
KINDS = {
    "unmask": ({200}, set(), True),
    "sign_in": ({200}, set(), True),
    "account": ({200}, set(), True),
    "request": ({201}, set(), True),
    "approve": ({200}, {409}, True),
    "report": ({201}, set(), False),
    "transition": ({200}, {409}, False),
    "staff": ({200}, set(), False),
}


def _operation(kind: str, n: int, s: dict, env, client: httpx.Client) -> httpx.Response:
    auth = s["auth"]
    if kind == "unmask":
        return client.get(f"/residents/{s['resident']}", params={"unmask": True},
                          headers=auth["gw"])  # fmt: skip
    if kind == "sign_in":
        return client.post("/auth/token", data={"username": "gw", "password": PASSWORD})
    if kind == "account":
        return client.patch(f"/users/{s['spares'][n % 2]}", headers=auth["boss"],
                            json={"grid_codes": [env.grid_codes[n % 2]]})  # fmt: skip
    if kind == "request":
        return client.post("/access-requests", headers=auth["gw"],
                           json={"resident_id": s["resident"], "reason": f"并发 {n}"})  # fmt: skip
    if kind == "approve":
        return client.post(f"/access-requests/{s['pending'][n % 3]}/approve",
                           headers=auth["head"])  # fmt: skip
    if kind == "report":
        lon, lat = s["point"]
        return client.post("/incidents", headers=auth["gw"],
                           json={"category_code": "0303", "lon": lon, "lat": lat,
                                 "description": f"并发 {n}"})  # fmt: skip
    if kind == "transition":
        iid = s["incidents"][n % 2]
        return client.post(
            f"/incidents/{iid}/transitions", headers=auth["boss"], json={"action": "feed_back"}
        )
    if kind == "staff":
        return client.patch(f"/staff/{env.city_staff_id}", headers=auth["boss"],
                            json={"duties": f"并发值守 {n}"})  # fmt: skip
    raise AssertionError(kind)


def _counter(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT value FROM change_counters WHERE name = 'locate'")
            ).scalar_one()
    finally:
        engine.dispose()


def test_many_mixed_writers_succeed_or_get_409_and_leave_every_number_whole(env):
    app = make_app(env.url)
    kinds = list(KINDS)
    with LiveServer(app) as server, httpx.Client(base_url=server.base, timeout=PATIENCE_S) as c:
        s = _setup(env, c)
        engine = make_engine(env.url)
        with session_factory(engine)() as session:
            chain_before = verify_chain(session)
        counter_before = _counter(env.url)
        barrier = threading.Barrier(THREADS)
        answers: dict[int, list[tuple[str, int, str]]] = defaultdict(list)

        def writer(t: int) -> None:
            with httpx.Client(base_url=server.base, timeout=PATIENCE_S) as client:
                barrier.wait(PATIENCE_S)
                for k in range(ROUNDS):
                    n = t * ROUNDS + k
                    kind = kinds[(t + k) % len(kinds)]  # every kind in every round
                    r = _operation(kind, n, s, env, client)
                    answers[t].append((kind, r.status_code, r.text[:300]))

        assert _run(*(lambda t=t: writer(t) for t in range(THREADS))) == []
        done = Counter()
        for t, rows in answers.items():
            assert len(rows) == ROUNDS, t
            for kind, status, text in rows:
                ok, refused, _ = KINDS[kind]
                assert status in ok | refused, (kind, status, text)
                if status in ok:
                    done[kind] += 1
        with session_factory(engine)() as session:
            chain = verify_chain(session)
            histories = session.execute(
                sa.text("SELECT incident_id, seq FROM incident_events ORDER BY incident_id, seq")
            ).all()
            versions = dict(session.execute(sa.text("SELECT id, version FROM incidents")).all())
            numbers = session.scalars(sa.text("SELECT external_id FROM incidents")).all()
        engine.dispose()
    assert chain.ok, chain.problem
    audited = sum(n for kind, n in done.items() if KINDS[kind][2])
    assert chain.rows - chain_before.rows == audited
    assert done["approve"] == 3  # each pending request approved once, the rest refused
    assert done["transition"] == 2  # each incident fed back once
    by_incident = {
        iid: [seq for _, seq in rows]
        for iid, rows in itertools.groupby(histories, key=lambda row: row[0])
    }
    assert by_incident.keys() == versions.keys()
    for iid, seqs in by_incident.items():
        assert seqs == list(range(1, versions[iid] + 1)), iid
    assert len(numbers) == len(set(numbers)) and None not in numbers
    assert _counter(env.url) - counter_before == done["staff"] > 0
