"""Incidents end to end through HTTP on SpatiaLite and PostGIS: report by address → grid and
handler → feed back → start → escalate → receive → resolve → close; the history complete and
refused UPDATE/DELETE by the database; deadlines across the National Day holiday; inboxes,
overdue and due-soon, statistics, photos, refusals."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.db.engine import make_engine, session_factory
from api.db.models import Incident
from tests.api.incident_helpers import (
    CITY_POST,
    demo_house,
    make_app,
    shared_env,
    token,
)
from tests.api.routes.conftest import ManualClock

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory, request):
    return shared_env(db_url, tmp_path_factory, request)


@pytest.fixture(scope="module")
def web(env, tmp_path_factory):
    clock = ManualClock(dt.datetime(2026, 9, 30, 8, 5, tzinfo=dt.UTC))
    app = make_app(env.url, clock)
    app.state.photo_dir = tmp_path_factory.mktemp("photos")
    with TestClient(app) as client:
        yield client, clock, _Headers(client), app


class _Headers:
    """Bearer headers signed in at the app's current (moved) clock, cached per clock time."""

    def __init__(self, client) -> None:
        self.client, self.cache = client, {}

    def __getitem__(self, user: str) -> dict[str, str]:
        key = (user, self.client.app.state.clock())
        if key not in self.cache:
            self.cache[key] = {"Authorization": f"Bearer {token(self.client, user)}"}
        return self.cache[key]


def _step(client, headers, incident_id, action, **body):
    return client.post(
        f"/incidents/{incident_id}/transitions", json={"action": action, **body}, headers=headers
    )


def test_report_by_address_through_to_close(env, web):
    client, clock, h, _ = web
    address, lon, lat, grid = demo_house(0)
    clock.now = dt.datetime(2026, 9, 30, 8, 0, tzinfo=dt.UTC)  # 16:00 Shanghai
    r = client.post(
        "/incidents",
        json={"category_code": "0303", "description": "垃圾未清运", "address": address},
        headers=h["gw"],
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["grid_code"] == grid
    assert item["handler_post"] == CITY_POST
    assert item["handler_staff_id"] == env.city_staff_id
    assert item["handler_user_id"] == env.users["post_cj"]
    assert item["severity"] == "general"
    assert item["state"] == "registered" and item["version"] == 1
    assert abs(item["lon"] - lon) < 1e-6 and abs(item["lat"] - lat) < 1e-6
    # 2026-09-30 (Wed): 10/1-10/7 National Day; counted 10/8, 10/9 and 10/10 (make-up Sat)
    assert item["due_at"] == "2026-10-10T23:59:59+08:00"
    iid = item["id"]

    steps = [
        ("gw", "feed_back", {}, "fed_back"),
        ("post_cj", "start", {"note": "已到现场"}, "in_progress"),
        ("post_cj", "escalate", {"to": "community_head", "note": "需要协调清运车"}, "escalated"),
        ("head", "receive", {}, "received"),
        ("head", "resolve", {"note": "已清运"}, "resolved"),
        ("gw", "close", {"note": "现场核查"}, "closed"),
    ]
    for minutes, (who, action, body, state) in enumerate(steps, start=1):
        clock.advance(minutes=30)
        r = _step(client, h[who], iid, action, **body)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["state"] == state
        assert r.json()["version"] == minutes + 1
    final = client.get(f"/incidents/{iid}", headers=h["gw"]).json()
    assert final["open311_status"] == "closed"
    assert final["resolved_at"] is not None and final["resolved_at"] <= final["due_at"]
    hist = final["history"]
    assert [e["seq"] for e in hist] == list(range(1, 8))
    assert [e["action"] for e in hist] == ["report"] + [s[1] for s in steps]
    assert [e["username"] for e in hist] == ["gw"] + [s[0] for s in steps]
    assert [e["to_state"] for e in hist] == ["registered"] + [s[3] for s in steps]
    assert all(a["to_state"] == b["from_state"] for a, b in itertools.pairwise(hist))
    times = [dt.datetime.fromisoformat(e["at"]) for e in hist]
    assert times == sorted(times) and times[1] - times[0] == dt.timedelta(minutes=30)
    assert hist[3]["note"] == "需要协调清运车" and hist[4]["role"] == "community_head"

    # the history cannot be edited or deleted, by anyone, in the database itself
    engine = make_engine(env.url)
    try:
        for sql in (
            f"UPDATE incident_events SET note = 'forged' WHERE incident_id = {iid}",
            f"DELETE FROM incident_events WHERE incident_id = {iid}",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
                c.exec_driver_sql(sql)
        with engine.connect() as c:
            n = c.exec_driver_sql(
                f"SELECT count(*) FROM incident_events WHERE incident_id = {iid}"
            ).scalar()
        assert n == 7
    finally:
        engine.dispose()


def test_refusals(env, web):
    client, clock, h, _ = web
    _, lon, lat, _ = demo_house(3)
    clock.now = dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC)
    r = client.post(
        "/incidents", json={"category_code": "0303", "lon": lon, "lat": lat}, headers=h["gw"]
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    assert _step(client, h["post_cj"], iid, "resolve").status_code == 409  # illegal in state
    assert _step(client, h["post_cj"], iid, "feed_back").status_code == 403  # role
    r = _step(client, h["gw"], iid, "reject", reason="  ")
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    assert _step(client, h["gw"], iid, "feed_back", version=7).status_code == 409  # stale
    assert _step(client, h["gw"], iid, "feed_back", version=1).status_code == 200
    # a post_staff of another post may not act on it (admin may); unknown action is 422
    assert _step(client, h["post_cj"], iid, "fly").status_code == 422
    r = _step(client, h["gw"], iid, "reject", reason="重复上报")
    assert r.status_code == 403  # grid worker may not reject once fed back
    r = _step(client, h["boss"], iid, "reject", reason="重复上报")
    assert r.status_code == 200 and r.json()["history"][-1]["reason"] == "重复上报"
    assert _step(client, h["boss"], iid, "start").status_code == 409  # final
    # outside every grid, unknown category, no location, vague address
    r = client.post(
        "/incidents", json={"category_code": "0303", "lon": 121.3, "lat": 31.0}, headers=h["gw"]
    )
    assert r.status_code == 422 and "outside every grid" in r.json()["detail"]
    r = client.post(
        "/incidents", json={"category_code": "9999", "lon": lon, "lat": lat}, headers=h["gw"]
    )
    assert r.status_code == 422 and "unknown incident category" in r.json()["detail"]
    r = client.post("/incidents", json={"category_code": "0303"}, headers=h["gw"])
    assert r.status_code == 422
    r = client.post(
        "/incidents", json={"category_code": "0303", "address": "火星路999号"}, headers=h["gw"]
    )
    assert r.status_code == 422
    assert client.post("/incidents", json={"category_code": "0303"}).status_code == 401
    assert (
        client.post(
            "/incidents",
            json={"category_code": "0303", "lon": lon, "lat": lat},
            headers=h["street"],
        ).status_code
        == 403
    )


def test_report_before_the_division_is_in_effect_is_outside(env, web):
    """The grid comes from the division in effect on the report day (demo: from 2026-01-01)."""
    client, _, h, _ = web
    _, lon, lat, _ = demo_house(5)
    r = client.post(
        "/incidents",
        json={
            "category_code": "0303",
            "lon": lon,
            "lat": lat,
            "reported_at": "2025-09-30T16:00:00",
        },
        headers=h["gw"],
    )
    assert r.status_code == 422 and "2025-09-30" in r.json()["detail"]


def test_major_item_is_due_the_same_day_and_inboxes_sort_overdue_first(env, web):
    client, clock, h, _ = web
    _, lon, lat, _ = demo_house(7)
    clock.now = dt.datetime(2026, 10, 2, 1, 0, tzinfo=dt.UTC)  # a holiday, 09:00 Shanghai
    made = []
    for code in ("0301", "0303"):  # major (new illegal construction), general
        r = client.post(
            "/incidents", json={"category_code": code, "lon": lon, "lat": lat}, headers=h["gw"]
        )
        assert r.status_code == 201
        made.append(r.json())
    assert made[0]["severity"] == "major" and made[0]["due_at"] == "2026-10-02T23:59:59+08:00"
    # holiday report: counted from 10/8: 10/8, 10/9, 10/10 (make-up Saturday)
    assert made[1]["due_at"] == "2026-10-10T23:59:59+08:00"
    for item in made:
        assert _step(client, h["gw"], item["id"], "feed_back").status_code == 200
    clock.now = dt.datetime(2026, 10, 2, 18, 0, tzinfo=dt.UTC)  # 10/3 02:00: major overdue
    inbox = client.get("/incidents/inbox", headers=h["post_cj"]).json()["data"]
    ids = [d["id"] for d in inbox]
    assert made[0]["id"] in ids and made[1]["id"] in ids
    flags = {d["id"]: (d["overdue"], d["due_soon"]) for d in inbox}
    assert flags[made[0]["id"]] == (True, False) and flags[made[1]["id"]] == (False, False)
    overdue_positions = [i for i, d in enumerate(inbox) if d["overdue"]]
    assert overdue_positions == list(range(len(overdue_positions)))  # overdue first
    dues = [d["due_at"] for d in inbox if not d["overdue"]]
    assert [dt.datetime.fromisoformat(x) for x in dues] == sorted(
        dt.datetime.fromisoformat(x) for x in dues
    )
    clock.now = dt.datetime(2026, 10, 10, 3, 0, tzinfo=dt.UTC)  # 11:00 on the due day
    listed = client.get("/incidents?due_soon=true", headers=h["gw"]).json()["data"]
    assert made[1]["id"] in [d["id"] for d in listed]
    listed = client.get("/incidents?overdue=true", headers=h["gw"]).json()["data"]
    assert made[0]["id"] in [d["id"] for d in listed]
    assert made[1]["id"] not in [d["id"] for d in listed]
    # the grid worker sees what they reported; the street department sees no escalations yet
    mine = client.get("/incidents/inbox", headers=h["gw"]).json()["data"]
    assert {m["id"] for m in made} <= {d["id"] for d in mine}
    street = client.get("/incidents/inbox", headers=h["street"]).json()["data"]
    assert not ({m["id"] for m in made} & {d["id"] for d in street})


def test_no_handler_goes_to_the_community_head_and_escalation_to_the_street(env, web):
    client, clock, h, _ = web
    _, lon, lat, _ = demo_house(9)
    engine = make_engine(env.url)
    with engine.begin() as c:  # nobody holds the social-affairs post any more
        c.exec_driver_sql("UPDATE staff SET active = false WHERE post = '社会事务岗'")
    clock.now = dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC)
    r = client.post(
        "/incidents", json={"category_code": "0504", "lon": lon, "lat": lat}, headers=h["gw"]
    )
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE staff SET active = true WHERE post = '社会事务岗'")
    engine.dispose()
    assert r.status_code == 201
    item = r.json()
    assert item["handler_staff_id"] is None and item["handler_post"] == "社会事务岗"
    head = client.get("/incidents/inbox", headers=h["head"]).json()["data"]
    assert item["id"] in [d["id"] for d in head]
    # the escalation path on to a street department
    iid = item["id"]
    assert _step(client, h["gw"], iid, "feed_back").status_code == 200
    assert _step(client, h["boss"], iid, "escalate").status_code == 200
    assert _step(client, h["head"], iid, "receive").status_code == 200
    r = _step(client, h["head"], iid, "escalate", to="street_dept")
    assert r.status_code == 200 and r.json()["escalated_to"] == "street_dept"
    street = client.get("/incidents/inbox", headers=h["street"]).json()["data"]
    assert iid in [d["id"] for d in street]
    assert _step(client, h["street"], iid, "receive").status_code == 200
    assert _step(client, h["street"], iid, "resolve").status_code == 200


def test_photos_are_stored_with_limits(env, web, monkeypatch):
    client, _, h, app = web
    _, lon, lat, _ = demo_house(11)
    r = client.post(
        "/incidents", json={"category_code": "0302", "lon": lon, "lat": lat}, headers=h["gw"]
    )
    iid = r.json()["id"]
    r = client.post(
        f"/incidents/{iid}/photos", files={"file": ("a.png", PNG, "image/png")}, headers=h["gw"]
    )
    assert r.status_code == 201, r.text
    photo = r.json()
    import hashlib

    assert photo["sha256"] == hashlib.sha256(PNG).hexdigest() and photo["size_bytes"] == len(PNG)
    assert (app.state.photo_dir / str(iid) / f"{photo['sha256']}.png").read_bytes() == PNG
    assert client.get(photo["url"]).content == PNG
    r = client.post(
        f"/incidents/{iid}/photos",
        files={"file": ("a.jpg", b"<html>not an image</html>", "image/jpeg")},
        headers=h["gw"],
    )
    assert r.status_code == 422
    import api.routes.incidents as routes

    monkeypatch.setattr(routes, "PHOTO_MAX_BYTES", 32)
    r = client.post(
        f"/incidents/{iid}/photos", files={"file": ("b.png", PNG, "image/png")}, headers=h["gw"]
    )
    assert r.status_code == 413
    assert len(client.get(f"/incidents/{iid}", headers=h["gw"]).json()["photos"]) == 1


def test_statistics_and_daily_summary_agree_with_the_rows(env, web):
    """Statistics per category recomputed by hand from the stored rows (the demo's run)."""
    client, clock, h, _ = web
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    clock.now = now
    start, end = "2026-08-01T00:00:00+08:00", "2026-09-01T00:00:00+08:00"
    rows = client.get(
        f"/incidents/stats?by=category&start={start}&end={end}".replace("+", "%2B"),
        headers=h["head"],  # reads every incident: the counts cover every stored row
    ).json()["data"]
    engine = make_engine(env.url)
    with session_factory(engine)() as s:
        stored = s.scalars(
            sa.select(Incident).where(
                Incident.reported_at >= dt.datetime.fromisoformat(start),
                Incident.reported_at < dt.datetime.fromisoformat(end),
            )
        ).all()
    engine.dispose()
    assert sum(r["count"] for r in rows) == len(stored) > 50
    got = {r["category_code"]: r for r in rows}
    for code in {i.category_code for i in stored}:
        mine = [i for i in stored if i.category_code == code]
        hours = sorted(
            (i.resolved_at - i.reported_at).total_seconds() / 3600 for i in mine if i.resolved_at
        )
        if hours:
            mid = len(hours) // 2
            median = hours[mid] if len(hours) % 2 else (hours[mid - 1] + hours[mid]) / 2
            assert got[code]["median_handling_hours"] == pytest.approx(median)
        assert got[code]["count"] == len(mine)
    shares = [r["on_time_share"] for r in rows if r["on_time_share"] is not None]
    assert shares and min(shares) >= 0 and max(shares) <= 1
    assert any(s < 1 for s in shares)  # the demo has late items
    day = client.get("/incidents/summary?day=2026-08-15", headers=h["head"]).json()["data"]
    demo = next(d for d in day if d["reported"])
    reported = [
        i
        for i in stored
        if i.reported_at.astimezone(SHANGHAI).date() == dt.date(2026, 8, 15)
        and i.community_id is not None
    ]
    assert demo["reported"] == len(reported)


def test_demo_run_has_every_kind_of_outcome(env):
    engine = make_engine(env.url)
    with engine.connect() as c:
        states = dict(
            c.exec_driver_sql(
                "SELECT state, count(*) FROM incidents WHERE substr(external_id, 1, 2) <> 'SJ' "
                "GROUP BY state"
            ).all()
        )
        escalated = c.exec_driver_sql(
            "SELECT count(DISTINCT incident_id) FROM incident_events WHERE action = 'escalate'"
        ).scalar()
        late = c.exec_driver_sql(
            "SELECT count(*) FROM incidents WHERE resolved_at > due_at "
            "AND substr(external_id, 1, 2) <> 'SJ'"
        ).scalar()
        gaps = c.exec_driver_sql(
            "SELECT count(*) FROM incidents i WHERE i.version <> "
            "(SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id)"
        ).scalar()
    engine.dispose()
    assert sum(states.values()) == 400
    assert states.get("closed", 0) > 200 and states.get("rejected", 0) > 0
    assert sum(states.get(s, 0) for s in ("fed_back", "in_progress", "received")) > 0
    assert escalated > 10 and late > 10
    assert gaps == 0


def test_cli_inbox_and_stats(env, web):
    import json

    from typer.testing import CliRunner

    from api.cli import app as cli

    runner = CliRunner()
    result = runner.invoke(
        cli, ["incidents", "inbox", "--user", "post_cj", "--db", env.url, "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["user"] == "post_cj" and data["count"] == len(data["data"]) > 0
    assert {d["handler_staff_id"] for d in data["data"]} == {env.city_staff_id}
    assert {d["state"] for d in data["data"]} <= {"registered", "fed_back", "in_progress"}
    overdue = [d["overdue"] for d in data["data"]]
    assert overdue == sorted(overdue, reverse=True)
    result = runner.invoke(cli, ["incidents", "inbox", "--user", "nobody", "--db", env.url])
    assert result.exit_code == 2
    result = runner.invoke(cli, ["incidents", "stats", "--by", "grid", "--db", env.url, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["data"]
    assert {r["grid_code"] for r in rows if r["grid_code"]} <= set(env.grid_codes)
    assert (
        runner.invoke(cli, ["incidents", "stats", "--by", "colour", "--db", env.url]).exit_code == 2
    )


def test_report_by_road_address_needs_the_road_inside_one_grid(env, web):
    """A report by a road name alone is filed only when every door plate of that road lies in
    one grid; a road crossing grids is refused with its candidate grids (computed here from
    the demo files with gis.assign, independently of the database)."""
    import geopandas as gpd
    import pandas as pd

    from gis.assign import assign_points
    from tests.api.incident_helpers import DATA

    client, _, h, _ = web
    houses = pd.read_csv(DATA / "houses.csv")
    grids = gpd.read_file(DATA / "grids.geojson")
    points = gpd.GeoDataFrame(
        houses, geometry=gpd.points_from_xy(houses.lon, houses.lat), crs=4326
    ).to_crs(grids.crs)
    houses["grid"] = assign_points(points, grids).to_numpy()
    grids_of_road = (
        houses.dropna(subset=["grid"]).groupby("road")["grid"].agg(lambda g: sorted(set(g)))
    )
    crossing = sorted(r for r, g in grids_of_road.items() if len(g) > 1)
    inside_one = sorted(r for r, g in grids_of_road.items() if len(g) == 1)
    assert crossing and inside_one

    refused = client.post(
        "/incidents", json={"category_code": "0303", "address": crossing[0]}, headers=h["gw"]
    )
    assert refused.status_code == 422, refused.text
    detail = refused.json()
    assert "crosses grids" in detail["detail"]
    assert detail["errors"][0]["grid_candidates"] == grids_of_road[crossing[0]]

    filed = client.post(
        "/incidents", json={"category_code": "0303", "address": inside_one[0]}, headers=h["gw"]
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["grid_code"] == grids_of_road[inside_one[0]][0]
