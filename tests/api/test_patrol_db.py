"""``wangge patrol hours --db`` and the patrol API on both databases, against hand-computed
figures.

A planted community of two 100 m squares (A = [0,100]², B = [100,200]×[0,100], metres from
``tests.common.ORIGIN_M``) is stored with its division in effect from 2024-01-01; from
2024-05-07 a second division replaces it with A = [0,50]×[0,100] (B takes the rest). Tracks
are walked at 1 m/s along y = 50 with a fix every 40 s, so a crossing of a grid edge falls
between fixes and time inside a grid equals the metres walked inside it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
import sqlalchemy as sa
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli.patrol import app as patrol_app
from api.db.divisions import put_in_effect
from api.db.engine import init_db, make_engine, session_factory
from api.db.models import Community, Division, Grid, Role, Staff, to_db_geometry
from api.routes import patrol as patrol_routes
from api.services.crud import create_user
from tests.api.routes.conftest import _module_database
from tests.common import rect_m, to_lonlat
from tests.gis.test_patrol import CODE_A, CODE_B, gpx_text, walk

app = typer.Typer()
app.add_typer(patrol_app, name="patrol")
runner = CliRunner()
MAY6 = dt.datetime(2024, 5, 6, 0, 0, tzinfo=dt.UTC)  # Monday 08:00 Asia/Shanghai
MAY7 = MAY6 + dt.timedelta(days=1)
# In and out of A three times: west of A → into B → back west of A → middle of A.
ZIGZAG = [(-50, 50), (150, 50), (-50, 50), (50, 50)]
PASSWORD = "correct-horse-42"


def _division(session, community, label, version, start, cut_m):
    division = Division(community_id=community.id, label=label, version=version)
    session.add(division)
    put_in_effect(session, division, start)
    geoms = to_lonlat([rect_m(0, 0, cut_m, 100), rect_m(cut_m, 0, 200, 100)])
    for code, geom in zip((CODE_A, CODE_B), geoms, strict=True):
        session.add(Grid(community_id=community.id, division_id=division.id, division=label,
                         code=code, geom=to_db_geometry(geom, multi=True)))  # fmt: skip


@pytest.fixture(scope="module")
def url(db_url, tmp_path_factory):
    """One database per module and engine (tests store tracks of different workers)."""
    gen = _module_database(db_url, tmp_path_factory)
    url = next(gen)
    engine = make_engine(url)
    init_db(engine)
    with session_factory(engine).begin() as session:
        community = Community(code="310101002099", name="巡查测试社区",
                              geom=to_db_geometry(to_lonlat([rect_m(0, 0, 200, 100)])[0],
                                                  multi=True))  # fmt: skip
        session.add(community)
        session.flush()
        _division(session, community, "v1", 1, dt.date(2024, 1, 1), 100)
        _division(session, community, "v2", 2, dt.date(2024, 5, 7), 50)
        staff = Staff(name="张三", role="grid_worker", community_id=community.id)
        staff.grid_codes = [CODE_A, CODE_B]
        session.add(staff)
        session.flush()
        create_user(session, username="wangwu", password=PASSWORD, role=Role.GRID_WORKER,
                    grid_codes=[CODE_A])  # fmt: skip
        create_user(session, username="lisi", password=PASSWORD, role=Role.GRID_WORKER,
                    grid_codes=[], staff_id=staff.id)  # fmt: skip
        create_user(session, username="head", password=PASSWORD, role=Role.COMMUNITY_HEAD)
    engine.dispose()
    yield url
    next(gen, None)


def hours(*args):
    result = runner.invoke(app, ["patrol", "hours", *map(str, args)])
    report = json.loads(result.stdout)
    short = any(week["under_15h"] for week in report["weeks"])
    assert result.exit_code == (1 if short else 0), result.output  # a short week: finding
    return report


def by_day(report) -> dict[tuple[str, str], float]:
    return {(d["date"], d["grid_code"]): d["hours"] for d in report["days"]}


def test_db_grids_per_day_and_worker_hand_computed(url, tmp_path):
    track = tmp_path / "zigzag.gpx"
    track.write_text(gpx_text([walk(MAY6, ZIGZAG), walk(MAY7, ZIGZAG)]), encoding="utf-8")
    # wangwu serves A only. May 6 (A = 100 m wide): 100 + 100 + 50 m inside A = 250 s.
    # May 7 (division v2, A = 50 m wide): 50 + 50 + 50 = 150 s.
    mine = hours(track, "--worker", "wangwu", "--db", url, "--json")
    assert by_day(mine) == {("2024-05-06", CODE_A): round(250 / 3600, 3),
                            ("2024-05-07", CODE_A): round(150 / 3600, 3)}  # fmt: skip
    assert mine["weeks"] == [
        {"week_start": "2024-05-06", "hours": round(400 / 3600, 3), "under_15h": True,
         "gps_hours": round(400 / 3600, 3), "manual_hours": 0.0}
    ]  # fmt: skip
    # 张三 (staff record) serves A and B: B gets 50 + 50 m on May 6, 150 + 150 m on May 7
    # less nothing (the walk turns at x = 150); a user linked to the staff record (lisi)
    # has the same grids.
    staff = hours(track, "--worker", "张三", "--db", url, "--json")
    expected = {("2024-05-06", CODE_A): 250, ("2024-05-06", CODE_B): 100,
                ("2024-05-07", CODE_A): 150, ("2024-05-07", CODE_B): 200}  # fmt: skip
    assert by_day(staff) == {k: round(s / 3600, 3) for k, s in expected.items()}
    assert by_day(hours(track, "--worker", "lisi", "--db", url, "--json")) == by_day(staff)


def test_gap_and_jump_handled_as_documented(url, tmp_path):
    # East 80 m inside A (80 s); a fix 10 s later 833 m away (300 km/h: dropped as
    # implausible); at 100 s back on the spot (standing 20 s, credited); west 80 m (80 s);
    # then no fix for 2 hours (over the 600 s cap: nothing credited, the worker could have
    # been anywhere); then 40 m east (40 s). Total 80 + 20 + 80 + 40 = 220 s in A.
    east = walk(MAY6, [(10, 50), (90, 50)])
    jump = [(MAY6 + dt.timedelta(seconds=90), 90 + 833.4, 50)]
    west = walk(MAY6 + dt.timedelta(seconds=100), [(90, 50), (10, 50)])
    after = walk(MAY6 + dt.timedelta(seconds=180 + 7200), [(10, 50), (50, 50)])
    track = tmp_path / "gap.gpx"
    track.write_text(gpx_text([east + jump + west + after]), encoding="utf-8")
    report = hours(track, "--worker", "wangwu", "--db", url, "--json")
    assert by_day(report) == {("2024-05-06", CODE_A): round(220 / 3600, 3)}
    # With no gap cap the two hours standing/walking between (10,50) and (10,50) count.
    uncapped = hours(track, "--worker", "wangwu", "--db", url, "--json", "--max-gap-s", 9000)
    assert by_day(uncapped) == {("2024-05-06", CODE_A): round((220 + 7200) / 3600, 3)}


def test_store_once_and_bad_input(url, tmp_path):
    track = tmp_path / "zigzag.gpx"
    track.write_text(gpx_text([walk(MAY6, ZIGZAG)]), encoding="utf-8")
    first = runner.invoke(app, ["patrol", "hours", str(track), "--worker", "张三", "--db",
                                url, "--store", "--json"])  # fmt: skip
    assert first.exit_code == 1 and "stored track" in first.stderr
    again = runner.invoke(app, ["patrol", "hours", str(track), "--worker", "张三", "--db",
                                url, "--store"])  # fmt: skip
    assert again.exit_code == 1 and "already stored" in again.stderr
    for args, message in [
        (("--worker", "nobody", "--db", url), "no user or staff member"),
        (("--worker", "head", "--db", url), "serves no grids"),
        (("--worker", "wangwu", "--db", url, "--grids", track), "not both"),
        (("--worker", "wangwu", "--grids", track, "--store"), "--store needs --db"),
    ]:
        result = runner.invoke(app, ["patrol", "hours", str(track), *map(str, args)])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.stderr.split())


def test_api_upload_read_and_roles(url, tmp_path):
    api = create_app(url, secret_key="patrol-test-secret-0123456789abcdef")
    if not any(getattr(r, "path", "") == "/patrol/tracks" for r in api.routes):
        api.include_router(patrol_routes.router)
    content = gpx_text([walk(MAY6, ZIGZAG), walk(MAY7, ZIGZAG)]).encode()
    with TestClient(api) as client:

        def auth(user):
            token = client.post("/auth/token", data={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {token.json()['access_token']}"}

        up = client.post("/patrol/tracks", headers=auth("wangwu"),
                         files={"track": ("zigzag.gpx", content)})  # fmt: skip
        assert up.status_code == 201, up.text
        body = up.json()
        assert body["stored"] is True
        assert by_day(body) == {("2024-05-06", CODE_A): round(250 / 3600, 3),
                                ("2024-05-07", CODE_A): round(150 / 3600, 3)}  # fmt: skip
        # The same file again credits nothing more.
        dup = client.post("/patrol/tracks", headers=auth("wangwu"),
                          files={"track": ("again.gpx", content)})  # fmt: skip
        assert dup.status_code == 201 and dup.json()["stored"] is False
        log = client.post("/patrol/work-log", headers=auth("wangwu"),
                          json={"kind": "registered", "at": "2024-05-06T23:30:00+08:00",
                                "record_table": "houses", "record_id": 1})  # fmt: skip
        assert log.status_code == 201 and log.json()["date"] == "2024-05-06"
        read = client.get("/patrol/workers/wangwu?start=2024-05-06&end=2024-05-12",
                          headers=auth("head"))  # fmt: skip
        assert read.status_code == 200, read.text
        got = read.json()
        assert by_day(got) == by_day(body)
        assert got["weeks"] == [{"week_start": "2024-05-06", "hours": round(400 / 3600, 3),
                                 "gps_hours": round(400 / 3600, 3), "manual_hours": 0.0,
                                 "under_15h": True}]  # fmt: skip
        may6 = next(d for d in got["dates"] if d["date"] == "2024-05-06")
        assert may6["hours"] == round(250 / 3600, 3)
        # the manual entry and the patrol day the stored track wrote, both signed
        kinds = {(e["kind"], e["source"]) for e in may6["work_log"]}
        assert kinds == {("registered", "manual"), ("patrol", "auto")}
        assert all(e["signed_name"] and e["signed_at"] for e in may6["work_log"])
        # A grid worker sees only their own log; a bad track is a 4xx with the reason.
        assert client.get("/patrol/workers/张三", headers=auth("wangwu")).status_code == 403
        assert client.get("/patrol/workers/wangwu", headers=auth("wangwu")).status_code == 200
        bad = client.post("/patrol/tracks", headers=auth("wangwu"),
                          files={"track": ("t.csv", b"time,lon,lat\nx,1,2\n")})  # fmt: skip
        assert bad.status_code == 422 and "row 2" in bad.json()["detail"]


MAY13 = dt.datetime(2024, 5, 13, 0, 0, tzinfo=dt.UTC)  # Monday 08:00 Asia/Shanghai


def test_manual_hours_need_approval_and_count_apart(url, tmp_path):
    """Manual hours (8 h + 7 h) count only once the community head of the grid's community
    approves them, apart from the GPS hours, and flip the week (and the exit code) to
    compliant; the weekly log PDF prints both."""
    api = create_app(url, secret_key="patrol-test-secret-0123456789abcdef")
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        community_id = session.scalar(
            sa.select(Community.id).where(Community.code == "310101002099")
        )
        head_staff = Staff(name="赵主任", role="grid_leader", community_id=community_id)
        session.add(head_staff)
        session.flush()
        create_user(session, username="head2", password=PASSWORD, role=Role.COMMUNITY_HEAD,
                    staff_id=head_staff.id)  # fmt: skip
    engine.dispose()
    track = tmp_path / "may13.gpx"
    track.write_text(gpx_text([walk(MAY13, ZIGZAG)]), encoding="utf-8")  # 250 s in A (v2: 150)
    stored = hours(track, "--worker", "wangwu", "--db", url, "--json", "--store")
    gps_h = stored["weeks"][0]["gps_hours"]
    assert gps_h == round(150 / 3600, 3) and stored["weeks"][0]["under_15h"] is True
    with TestClient(api) as client:

        def auth(user):
            token = client.post("/auth/token", data={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {token.json()['access_token']}"}

        def enter(start, end, grid=CODE_A):
            return client.post("/patrol/manual", headers=auth("wangwu"),
                               json={"grid_code": grid, "start": start, "end": end,
                                     "note": "无手机，纸质巡查记录"})  # fmt: skip

        first = enter("2024-05-13T08:00:00+08:00", "2024-05-13T16:00:00+08:00")
        second = enter("2024-05-14T08:00:00+08:00", "2024-05-14T15:00:00+08:00")
        assert first.status_code == 201 and second.status_code == 201, first.text
        assert (first.json()["hours"], second.json()["status"]) == (8.0, "requested")
        # bad entries: overlapping, another's grid, across midnight, end before start
        for start, end, grid in (
            ("2024-05-13T15:00:00+08:00", "2024-05-13T17:00:00+08:00", CODE_A),
            ("2024-05-15T08:00:00+08:00", "2024-05-15T09:00:00+08:00", CODE_B),
            ("2024-05-15T22:00:00+08:00", "2024-05-16T01:00:00+08:00", CODE_A),
            ("2024-05-15T09:00:00+08:00", "2024-05-15T08:00:00+08:00", CODE_A),
        ):
            assert enter(start, end, grid).status_code == 422, (start, grid)

        def week():
            got = client.get("/patrol/workers/wangwu?start=2024-05-13&end=2024-05-19",
                             headers=auth("head2")).json()  # fmt: skip
            return got["weeks"][0]

        assert week()["manual_hours"] == 0.0 and week()["under_15h"] is True
        # nobody approves their own; a head of no community may not; the community's may
        ids = first.json()["id"], second.json()["id"]
        assert client.post(f"/patrol/manual/{ids[0]}/approve",
                           headers=auth("wangwu")).status_code == 403  # fmt: skip
        assert client.post(f"/patrol/manual/{ids[0]}/approve",
                           headers=auth("head")).status_code == 403  # fmt: skip
        ok = client.post(f"/patrol/manual/{ids[0]}/approve", headers=auth("head2"))
        assert ok.status_code == 200 and ok.json()["decided_by"] == "head2"
        assert client.post(f"/patrol/manual/{ids[0]}/approve",
                           headers=auth("head2")).status_code == 409  # fmt: skip
        assert week()["manual_hours"] == 8.0 and week()["under_15h"] is True
        assert client.post(f"/patrol/manual/{ids[1]}/approve",
                           headers=auth("head2")).status_code == 200  # fmt: skip
        got = week()
        assert (got["gps_hours"], got["manual_hours"]) == (gps_h, 15.0)
        assert got["hours"] == round(gps_h + 15.0, 3) and got["under_15h"] is False
        log = client.get("/patrol/workers/wangwu?start=2024-05-13&end=2024-05-19",
                         headers=auth("head2")).json()  # fmt: skip
        manual = [e for d in log["dates"] for e in d["work_log"] if e["kind"] == "manual_patrol"]
        assert len(manual) == 2 and all(e["signed_name"] == "wangwu" for e in manual)
        pdf = client.get("/patrol/workers/wangwu/week.pdf?week=2024-05-15",
                         headers=auth("head2"))  # fmt: skip
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    out = tmp_path / "week.pdf"
    out.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True,
                          check=True, text=True).stdout  # fmt: skip
    assert "网格员工作日志" in text and "2024-05-13" in text and "2024-05-19" in text
    assert "补录巡查 8.00 小时" in text and "补录巡查 7.00 小时" in text
    assert "达到 15 小时要求" in text
    # The CLI counts the approved hours too: the week is no longer short (exit 0).
    after = hours(track, "--worker", "wangwu", "--db", url, "--json")["weeks"][0]
    assert after["manual_hours"] == 15.0 and after["under_15h"] is False


def test_cli_manual_add_approve_and_week(url, tmp_path):
    def cli(*args):
        return runner.invoke(app, ["patrol", *map(str, args)])

    added = cli("manual", "add", "--worker", "张三", "--grid", CODE_B, "--db", url,
                "--start", "2024-05-20T09:00+08:00", "--end", "2024-05-20T12:30+08:00",
                "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    entry = json.loads(added.stdout)
    assert entry["hours"] == 3.5 and entry["status"] == "requested"
    naive = cli("manual", "add", "--worker", "张三", "--grid", CODE_B, "--db", url,
                "--start", "2024-05-21T09:00", "--end", "2024-05-21T10:00")  # fmt: skip
    assert naive.exit_code == 2 and "+08:00" in naive.stderr
    approved = cli("manual", "approve", entry["id"], "--by", "head2", "--db", url, "--json")
    assert approved.exit_code == 0 and json.loads(approved.stdout)["status"] == "approved"
    assert cli("manual", "approve", entry["id"], "--by", "head2", "--db", url).exit_code == 2
    pdf = tmp_path / "w.pdf"
    week = cli("week", "--worker", "张三", "--week", "2024-05-22", "--out", pdf, "--db", url,
               "--json")  # fmt: skip
    assert week.exit_code == 1, week.output  # 3.5 h: short
    got = json.loads(week.stdout)
    assert (got["manual_hours"], got["gps_hours"], got["under_15h"]) == (3.5, 0.0, True)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert cli("week", "--worker", "张三", "--week", "May", "--out", pdf,
               "--db", url).exit_code == 2  # fmt: skip
