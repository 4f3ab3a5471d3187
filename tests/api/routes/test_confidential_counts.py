"""Counts do not give away confidential incidents: a report of a non-public category changes
``/incidents/stats`` and ``/incidents/summary`` only for the roles that read it in full
(managers, the grid worker of its grid who reported it), never for a grid worker of another
grid or a post-responsible person of another post, in no group and no total; anonymous
callers get no statistics at all and the public Open311 list does not change. A public
report made next to it does change the other worker's counts (so the comparison can fail).
On SpatiaLite and PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.db.engine import make_engine, session_factory
from api.db.models import House, Role, User, from_db_geometry
from api.services.crud import create_user
from tests.api.incident_helpers import make_app, shared_env, token
from tests.api.routes.conftest import PASSWORD, ManualClock

CONFIDENTIAL, PUBLIC = "0604", "0303"  # 社区矫正 (stability: not public), 垃圾 (public)
NOW = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
DAY = "2026-12-03"
STATS = [f"/incidents/stats?by={by}" for by in ("category", "grid", "community", "grid,category")]
FULL = ("head", "street", "boss", "gw")  # gw serves the grid and reports the incident
BLIND = ("far", "post_cj")  # another grid's worker; the post of 0303, not of 0604


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory, request):
    return shared_env(db_url, tmp_path_factory, request)


@pytest.fixture(scope="module")
def web(env):
    engine = make_engine(env.url)
    with session_factory(engine).begin() as session:
        house = session.scalar(
            sa.select(House).where(House.grid_code == env.grid_codes[0]).order_by(House.id)
        )
        point = from_db_geometry(house.geom)
        far = f"gw_counts_{env.grid_codes[-1]}"
        if session.scalar(sa.select(User.id).where(User.username == far)) is None:
            create_user(
                session,
                username=far,
                password=PASSWORD,
                role=Role.GRID_WORKER,
                grid_codes=[env.grid_codes[-1]],
            )
    engine.dispose()
    app = make_app(env.url, ManualClock(NOW))
    with TestClient(app) as client:
        names = {"far": far, **{u: u for u in FULL + BLIND if u != "far"}}
        headers = {
            who: {"Authorization": f"Bearer {token(client, name)}"} for who, name in names.items()
        }
        yield client, headers, (point.x, point.y)


def _counts(client, headers) -> dict[str, dict]:
    """Every counting answer the caller gets, by URL."""
    urls = [*STATS, f"/incidents/summary?day={DAY}"]
    out = {}
    for url in urls:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.text)
        out[url] = r.json()
    return out


def _total(answer: dict) -> int:
    return sum(row["count"] for row in answer["data"])


def _reported(answer: dict) -> int:
    return sum(row["reported"] for row in answer["data"])


def _category_count(answer: dict, code: str) -> int:
    return sum(row["count"] for row in answer["data"] if row["category_code"] == code)


def _report(client, headers, code: str, lonlat: tuple[float, float]) -> int:
    r = client.post(
        "/incidents",
        json={"category_code": code, "description": "计数测试", "lon": lonlat[0], "lat": lonlat[1]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_confidential_report_counts_only_for_those_who_read_it(web):
    client, headers, lonlat = web
    before = {who: _counts(client, h) for who, h in headers.items()}
    public_open311 = client.get("/open311/v2/requests.json").json()
    assert client.get(STATS[0]).status_code == 401
    assert client.get(f"/incidents/summary?day={DAY}").status_code == 401

    _report(client, headers["gw"], CONFIDENTIAL, lonlat)
    after = {who: _counts(client, h) for who, h in headers.items()}
    for who in BLIND:
        assert after[who] == before[who], who  # no group, no total, no median moved
    for who in FULL:
        for url in STATS:
            assert _total(after[who][url]) == _total(before[who][url]) + 1, (who, url)
        category = STATS[0]
        assert (
            _category_count(after[who][category], CONFIDENTIAL)
            == _category_count(before[who][category], CONFIDENTIAL) + 1
        ), who
        summary = f"/incidents/summary?day={DAY}"
        assert _reported(after[who][summary]) == _reported(before[who][summary]) + 1, who
    assert client.get("/open311/v2/requests.json").json() == public_open311

    # a public report in the same place is counted for everyone signed in
    _report(client, headers["gw"], PUBLIC, lonlat)
    last = {who: _counts(client, h) for who, h in headers.items()}
    for who in (*FULL, *BLIND):
        for url in STATS:
            assert _total(last[who][url]) == _total(after[who][url]) + 1, (who, url)
        assert (
            _category_count(last[who][STATS[0]], PUBLIC)
            == _category_count(after[who][STATS[0]], PUBLIC) + 1
        ), who
