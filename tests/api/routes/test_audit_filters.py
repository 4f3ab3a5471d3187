"""``GET /audit`` filters the audit page uses: user name, Asia/Shanghai date range, newest first.

Rows are written through the service (:func:`api.services.privacy.audit`) with times around
Shanghai midnights, out of time order; the truth is every row read back from the database and
filtered here in Python (dates by ``zoneinfo``), never the route's own output.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from api.db.engine import make_engine, session_factory
from api.db.models import AuditLog, User
from api.services.privacy import audit

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 10)
NAMES = ("alice_audit", "bob_audit")


def _seed(url: str) -> None:
    """Rows near the midnights (Shanghai) around DAY, in a shuffled time order."""
    midnight = dt.datetime.combine(DAY, dt.time(), SHANGHAI)
    offsets = [
        dt.timedelta(microseconds=-1),  # 23:59:59.999999 the day before
        dt.timedelta(0),  # 00:00 of DAY
        dt.timedelta(hours=12),
        dt.timedelta(days=1, microseconds=-1),  # last instant of DAY
        dt.timedelta(days=1),  # 00:00 the day after
        dt.timedelta(days=-1, hours=3),
        dt.timedelta(days=2, hours=20),
    ]
    rng = random.Random(20260310)
    offsets += [dt.timedelta(minutes=rng.randrange(-3 * 1440, 4 * 1440)) for _ in range(25)]
    rng.shuffle(offsets)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            users = {
                u.username: u
                for u in session.scalars(sa.select(User).where(User.role == "grid_worker"))
            }
            worker = next(iter(users.values()))
            for n, offset in enumerate(offsets):
                who = worker if n % 3 == 0 else None
                row = audit(
                    session,
                    user=who,
                    action="unmask_read" if n % 2 else "login",
                    table_name="residents" if n % 2 else None,
                    record_id=n if n % 2 else None,
                    at=(midnight + offset).astimezone(dt.UTC),
                )
                if who is None:
                    row.username = NAMES[n % 2]
    finally:
        engine.dispose()


def _truth(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.scalars(sa.select(AuditLog)).all()
            return [
                {"id": r.id, "at": r.at, "username": r.username, "action": r.action} for r in rows
            ]
    finally:
        engine.dispose()


def _read(api, **params) -> tuple[list[int], int]:
    r = api.client.get("/audit", headers=api.as_("auditor"), params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    return [row["id"] for row in body["data"]], body["count"]


def _newest_first(rows: list[dict]) -> list[int]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["at"], r["id"]), reverse=True)]


def _local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


@pytest.fixture
def seeded(demo_api):
    demo_api.as_("auditor")  # the auditor's sign-in is an audit row too
    _seed(demo_api.url)
    return demo_api


def test_newest_first_and_default_order_by_id(seeded):
    truth = _truth(seeded.url)
    assert _newest_first(truth) != sorted((r["id"] for r in truth), reverse=True)  # shuffled
    assert _read(seeded, order="desc") == (_newest_first(truth), len(truth))
    assert _read(seeded) == (sorted(r["id"] for r in truth), len(truth))
    # pages of the newest-first order add up to it; count is the total
    pages = [_read(seeded, order="desc", limit=7, offset=o) for o in range(0, len(truth), 7)]
    assert [i for ids, _ in pages for i in ids] == _newest_first(truth)
    assert {count for _, count in pages} == {len(truth)}
    r = seeded.client.get("/audit", headers=seeded.as_("auditor"), params={"order": "up"})
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (DAY, DAY),
        (DAY - dt.timedelta(days=1), DAY),
        (DAY + dt.timedelta(days=1), None),
        (None, DAY - dt.timedelta(days=1)),
        (DAY + dt.timedelta(days=1), DAY),  # empty range
        (DAY + dt.timedelta(days=30), None),  # nothing that late
    ],
)
def test_shanghai_date_range_includes_both_ends(seeded, start, end):
    truth = _truth(seeded.url)
    want = [
        r
        for r in truth
        if (start is None or _local_day(r["at"]) >= start)
        and (end is None or _local_day(r["at"]) <= end)
    ]
    params = {"order": "desc"}
    if start is not None:
        params["start"] = start.isoformat()
    if end is not None:
        params["end"] = end.isoformat()
    assert _read(seeded, **params) == (_newest_first(want), len(want))
    if (start, end) == (DAY, DAY):
        # the midnight rows: the last instant of the day before is out, 00:00 is in
        assert 0 < len(want) < len(truth)
        utc_days = {r["at"].date() for r in want}
        assert utc_days == {DAY - dt.timedelta(days=1), DAY}  # a Shanghai day spans two UTC days


def test_username_and_action_filters_combine(seeded):
    truth = _truth(seeded.url)
    for name in (*NAMES, "grid_worker", "auditor", "nobody"):
        for action in (None, "unmask_read"):
            want = [
                r
                for r in truth
                if r["username"] == name and (action is None or r["action"] == action)
            ]
            params = {"username": name, "order": "desc"}
            if action:
                params["action"] = action
            assert _read(seeded, **params) == (_newest_first(want), len(want)), params
    assert _read(seeded, username="auditor")[1] >= 1  # the sign-in
    assert _read(seeded, username="ALICE_AUDIT") == ([], 0)  # exact name


def test_bad_dates_are_refused(seeded):
    for bad in ("2026-02-30", "10/03/2026", "today"):
        r = seeded.client.get("/audit", headers=seeded.as_("auditor"), params={"start": bad})
        assert r.status_code == 422, bad
    # the last representable day does not overflow
    assert _read(seeded, end="9999-12-31")[1] == len(_truth(seeded.url))
