"""The dashboard, the escalation inbox and the public staff photo in a
real headless Chromium (Debian's), on a phone-sized and a desktop screen.

One real uvicorn on 127.0.0.1 over a copy of the demo database; every request not to it is
aborted and recorded (the pages must work offline). The module's database adds to the demo:
a community head, a street-department user, a grid worker and an admin; incidents escalated
to the head and to the street (one of each already overdue); patrol hours and a complete
monthly assessment for the demo's last month.

Every number the page shows is compared with one computed here from the database rows (or by
construction: planted patrol hours, the assessment's scoring rules), never with the API's
own answer. Screenshots go to ``$WANGGE_TEST_ARTEFACTS/dashboard`` (default
``out/test-artefacts/dashboard``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import struct
import zlib
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from shapely.ops import polylabel

from api.db.engine import make_engine, session_factory
from api.db.models import (
    Community,
    Grid,
    House,
    Incident,
    Role,
    Staff,
    StaffGrid,
    from_db_geometry,
)
from api.db.models.assessment import PatrolDay, PatrolTrack
from api.services.assessment import service as assessment
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.incidents.people import actor_of
from api.services.incidents.report import report_incident
from api.services.incidents.transitions import transition
from tests.api.routes.conftest import PASSWORD
from tests.maps.browser import (
    Shots,
    incident_events,
    largest_part,
    offline_context,
    serve_database_copy,
    sign_in,
    wait_for_js,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = {"registered", "fed_back", "in_progress", "escalated", "received"}  # docs/workflow.md
GENERAL = "0302"  # 乱张贴乱悬挂乱堆放: general, 3 working days
MAJOR = "0319"  # 井盖缺失或破损: major, same day
GRID = "310101002005001"
DEPT_POINTS = {"office": 8.0, "social_affairs": 7.5, "economy": 6.0,
               "urban_management": 8.0, "stability": 7.0}  # fmt: skip
WRONG_OWNER_DEDUCTION = 0.5  # docs/design.md §2: each wrong house field
POINT_MAX = 6.0
# planted patrol hours of the target month: (demo grid worker #, week #, hours in that week)
PATROL = [(0, 0, 16.0), (0, 1, 16.0), (1, 2, 15.0), (2, 3, 14.9)]
WEEKLY_HOURS = 15.0


def _png_1x1() -> bytes:
    """A valid 1×1 RGB PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter 0, one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _month_of(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def _month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    year, mon = (int(p) for p in month.split("-"))
    start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def _escalate(session, actor, *, category, reported_at, to, inside, note):
    """Report an item, feed it back and escalate it (as an admin), at past times."""
    item = report_incident(
        session, category_code=category, actor=actor, description=note, lon=inside.x,
        lat=inside.y, reported_at=reported_at,
    )  # fmt: skip
    transition(session, item.id, "feed_back", actor, at=reported_at + dt.timedelta(minutes=5))
    transition(
        session, item.id, "escalate", actor, to=to, note=note,
        at=reported_at + dt.timedelta(minutes=10),
    )  # fmt: skip
    return item.id


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "dashboard.db") as served:
        yield served


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("dashboard")
    path = folder / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    # today's items are reported a quarter of an hour ago (their steps then lie in the past),
    # but never before midnight in Shanghai (a same-day item must not be overdue yet)
    midnight = dt.datetime.combine(now.astimezone(SHANGHAI).date(), dt.time(), SHANGHAI)
    recent = max(now - dt.timedelta(minutes=15), midnight.astimezone(dt.UTC))
    with session_factory(engine)() as session:
        community = session.scalars(sa.select(Community)).one()
        codes = list(session.scalars(sa.select(Grid.code).where(Grid.community_id == community.id)))
        create_user(session, username="head1", password=PASSWORD, role=Role.COMMUNITY_HEAD,
                    grid_codes=codes)  # fmt: skip
        create_user(session, username="street1", password=PASSWORD, role=Role.STREET_DEPT)
        create_user(session, username="worker1", password=PASSWORD, role=Role.GRID_WORKER,
                    grid_codes=[GRID])  # fmt: skip
        admin = create_user(session, username="admin1", password=PASSWORD, role=Role.ADMIN)
        session.commit()
        actor = actor_of(admin)
        grid = session.scalars(sa.select(Grid).where(Grid.code == GRID)).first()
        inside = polylabel(largest_part(from_db_geometry(grid.geom)), tolerance=1e-6)
        days = dt.timedelta(days=1)
        head_items = {
            "overdue": _escalate(session, actor, category=GENERAL, reported_at=now - 12 * days,
                                 to="community_head", inside=inside, note="久拖未决的堆放"),
            "major": _escalate(session, actor, category=MAJOR, reported_at=recent,
                               to="community_head", inside=inside, note="井盖缺失，需社区协调"),
            "general": _escalate(session, actor, category=GENERAL, reported_at=recent,
                                 to="community_head", inside=inside, note="楼道堆物"),
        }  # fmt: skip
        street_items = {
            "overdue": _escalate(session, actor, category=MAJOR, reported_at=now - 3 * days,
                                 to="street_dept", inside=inside, note="重大隐患，街道处置"),
            "general": _escalate(session, actor, category=GENERAL, reported_at=recent,
                                 to="street_dept", inside=inside, note="跨社区的乱张贴"),
        }  # fmt: skip

        # the demo's last month: patrol hours and a complete assessment
        reported = session.scalars(
            sa.select(Incident.reported_at).where(Incident.reporter_user_id.is_(None))
        ).all()
        month = max(_month_of(r) for r in reported)
        first, _ = _month_bounds(month)
        mondays = [first.date() + dt.timedelta(days=k) for k in range(31)]
        mondays = [
            d
            for d in mondays
            if d.weekday() == 0
            and _month_of(dt.datetime.combine(d, dt.time(12), SHANGHAI)) == month
        ]
        workers = session.scalars(
            sa.select(Staff).where(Staff.community_id == community.id,
                                   Staff.role == "grid_worker", Staff.active.is_(True))
            .order_by(Staff.id)
        ).all()  # fmt: skip
        for n, (who, week, hours) in enumerate(PATROL):
            staff = workers[who]
            track = PatrolTrack(worker=staff.name, staff_id=staff.id, file_name=f"t{n}.gpx",
                                sha256=f"{n:064d}", fixes=10)  # fmt: skip
            session.add(track)
            session.flush()
            staff_grid = session.scalars(
                sa.select(StaffGrid.grid_code).where(StaffGrid.staff_id == staff.id)
            ).first()
            for day in range(2):  # the week's hours over its Monday and Tuesday
                session.add(PatrolDay(
                    track_id=track.id, worker=staff.name, staff_id=staff.id,
                    date=mondays[week] + dt.timedelta(days=day), grid_code=staff_grid,
                    seconds=hours * 3600 / 2,
                ))  # fmt: skip
        drawn = assessment.draw(session, community.code, month, seed=7)
        for dept, points in DEPT_POINTS.items():
            assessment.set_department_score(session, community.code, month, dept=dept,
                                            points=points, reason="测试评分")  # fmt: skip
        keys = [h["house_key"] for h in drawn["households"]]
        field = {k: assessment.registry_record(session, community.id, k) for k in keys}
        wrong = next(k for k in keys if field[k].owner)  # the field check finds another owner
        field[wrong] = dataclasses.replace(field[wrong], owner=field[wrong].owner + "某")
        assessment.score_field_data(session, community.code, month, field)

        # a photo for one of GRID's staff, none for the others
        grid_staff = session.scalars(
            sa.select(Staff).join(StaffGrid, StaffGrid.staff_id == Staff.id)
            .where(StaffGrid.grid_code == GRID, Staff.active.is_(True)).order_by(Staff.id)
        ).all()  # fmt: skip
        for person in grid_staff:  # whatever the demo gives them
            person.photo_path = None
        with_photo = grid_staff[0]
        with_photo.photo_path = "p1.png"
        house = session.scalars(
            sa.select(House).where(House.grid_code == GRID).order_by(House.id)
        ).first()
        house_point = from_db_geometry(house.geom)
        session.commit()
        info = {
            "path": path,
            "community": community.code,
            "community_id": community.id,
            "grid_codes": codes,
            "month": month,
            "mondays": mondays,
            "workers": len(workers),
            "worker_ids": [w.id for w in workers],
            "active_staff": session.scalar(
                sa.select(sa.func.count())
                .select_from(Staff)
                .where(Staff.community_id == community.id, Staff.active.is_(True))
            ),
            "head_items": head_items,
            "street_items": street_items,
            "sample_size": len(keys),
            "photo_staff": with_photo.name,
            "house_point": (house_point.x, house_point.y),
        }
    engine.dispose()
    (folder / "staff_photos").mkdir(exist_ok=True)
    (folder / "staff_photos" / "p1.png").write_bytes(_png_1x1())
    return info


def _token(page) -> str:
    return page.evaluate("localStorage.getItem('wangge.app.token')")


def _incidents(url: str) -> list[dict]:
    """Every incident row, read with the ORM (times aware, UTC)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.scalars(sa.select(Incident).order_by(Incident.id)).all()
            return [
                {
                    "id": r.id, "community_id": r.community_id, "grid_code": r.grid_code,
                    "state": r.state, "reported_at": r.reported_at, "due_at": r.due_at,
                    "resolved_at": r.resolved_at, "escalated_to": r.escalated_to,
                    "handler": r.handler_staff_id or r.handler_user_id,
                    "has_point": r.geom is not None,
                }
                for r in rows
            ]  # fmt: skip
    finally:
        engine.dispose()


def _on_time_share(rows: list[dict], now: dt.datetime) -> float | None:
    """Resolved by the deadline ÷ (resolved + open and past due); rejected ones left out."""
    resolved = [r for r in rows if r["resolved_at"] is not None]
    late_open = [r for r in rows if r["state"] in OPEN and r["due_at"] < now]
    on_time = [r for r in resolved if r["resolved_at"] <= r["due_at"]]
    known = len(resolved) + len(late_open)
    return len(on_time) / known if known else None


def _pct(share: float | None) -> str:
    return "暂无数据" if share is None else f"{share * 100:.1f}%"


def _wait_loaded(page, month: str, community: str) -> None:
    page.wait_for_selector(f"[data-testid=dashboard][data-loaded='{month} {community}']",
                           timeout=20000)  # fmt: skip
    wait_for_js(page, "window.wangge.idle()", timeout=15000)


def check_month(page, url: str, info: dict, month: str) -> dict:
    """The page's counts per grid, on-time shares and heat points equal the DB's for month."""
    start, end = _month_bounds(month)
    now = dt.datetime.now(dt.UTC)
    rows = [
        r for r in _incidents(url)
        if r["community_id"] == info["community_id"] and start <= r["reported_at"] < end
    ]  # fmt: skip
    expected = Counter(r["grid_code"] for r in rows)
    shown = {
        row["code"]: row
        for row in page.get_by_test_id("dashboard-grid-row").evaluate_all(
            """els => els.map(e => ({code: e.dataset.gridCode, count: Number(e.dataset.count),
                 onTime: e.querySelector('[data-cell=on_time]').dataset.value,
                 onTimeText: e.querySelector('[data-cell=on_time]').textContent}))"""
        )
    }
    # every grid of the community has a row (zero included), and nothing else
    assert set(shown) == set(info["grid_codes"]) | {c or "" for c in expected}
    assert {c: r["count"] for c, r in shown.items()} == {c: expected.get(c, 0) for c in shown}
    listed = page.get_by_test_id("dashboard-grid-row").evaluate_all(
        "els => els.map(e => Number(e.dataset.count))"
    )
    assert listed == sorted(listed, reverse=True)  # the busiest grids first
    for code, row in shown.items():
        share = _on_time_share([r for r in rows if r["grid_code"] == code], now)
        assert row["onTimeText"] == _pct(share), code
        if share is not None:
            assert math.isclose(float(row["onTime"]), share, abs_tol=1e-12), code
    total = page.get_by_test_id("dashboard-grid-total")
    assert total.locator("[data-cell=count]").inner_text() == str(len(rows))
    share = _on_time_share(rows, now)
    on_time = page.get_by_test_id("dashboard-on-time")
    assert on_time.inner_text() == _pct(share)
    if share is not None:
        assert math.isclose(float(on_time.get_attribute("data-value")), share, abs_tol=1e-12)
    assert page.get_by_test_id("dashboard-incidents").get_attribute("data-value") == str(len(rows))
    # the heat-map: a Leaflet.heat layer on the map with one point per located incident
    heat = page.evaluate(
        """() => { const d = wangge.dashboard, m = wangge.maps['dashboard-map'];
             const c = document.querySelector('#dashboard-map canvas.leaflet-heatmap-layer');
             let ink = 0;
             if (c) { const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      for (let i = 3; i < px.length; i += 4) ink += px[i] > 0 ? 1 : 0; }
             return {isHeat: d.heat instanceof L.HeatLayer, onMap: m.hasLayer(d.heat),
                     points: d.heat._latlngs.length, canvas: !!c, ink: ink}; }"""
    )
    located = sum(r["has_point"] for r in rows)
    assert heat["isHeat"] and heat["onMap"] and heat["canvas"]
    assert heat["points"] == located
    assert (heat["ink"] > 0) == (located > 0)  # something is drawn when there is something
    # the grids are shaded by count: darkest for the busiest, the "none" colour for zero
    fills = page.evaluate(
        "() => Object.fromEntries(Object.entries(wangge.dashboard.gridLayers)"
        ".map(([k, l]) => [k, l.options.fillColor]))"
    )
    assert set(fills) == set(info["grid_codes"])
    top = max(expected.get(c, 0) for c in fills)
    for code, colour in fills.items():
        if expected.get(code, 0) == 0:
            assert colour == "#f4f6f8", code
        elif expected[code] == top:
            assert colour == "#bd0026", code
    by_count = sorted(fills, key=lambda c: expected.get(c, 0))
    palette = ["#f4f6f8", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    ranks = [palette.index(fills[c]) for c in by_count]
    assert ranks == sorted(ranks)  # more incidents, never a lighter shade
    return {"rows": rows, "located": located}


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_head_and_street_see_the_dashboard(browser, server, demo_file, screen):
    from playwright.sync_api import expect

    base, url = server
    info = demo_file
    blocked: list[str] = []
    errors: list[str] = []
    context = offline_context(browser, base, blocked, screen)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = Shots(page, "dashboard", f"dashboard-{screen}")

    sign_in(page, base, "head1", PASSWORD)
    expect(page.get_by_test_id("home-dashboard")).to_be_visible()
    expect(page.get_by_test_id("nav-dashboard")).to_be_visible()
    page.get_by_test_id("home-dashboard").click()
    page.wait_for_url(f"{base}/app/dashboard")
    this_month = _month_of(dt.datetime.now(dt.UTC))
    _wait_loaded(page, this_month, info["community"])
    expect(page.get_by_test_id("dashboard-month")).to_have_value(this_month)
    expect(page.get_by_test_id("dashboard-community")).to_have_value(info["community"])
    now_month = check_month(page, url, info, this_month)
    assert now_month["rows"], "the escalations planted this month are counted"
    # no assessment this month: the score says what is missing
    expect(page.get_by_test_id("dashboard-score")).to_have_text("未完成")
    expect(page.get_by_test_id("dashboard-score")).to_have_attribute("data-value", "")
    expect(page.get_by_test_id("dashboard-score-note")).to_contain_text("样本点未抽取")
    shot("head-this-month")

    # the month picker: the demo's last month, with its patrol hours and assessment
    month = info["month"]
    page.get_by_test_id("dashboard-month").fill(month)
    page.get_by_test_id("dashboard-month").dispatch_event("change")
    _wait_loaded(page, month, info["community"])
    checked = check_month(page, url, info, month)
    assert len(checked["rows"]) > 50 and checked["located"] > 50

    # score by construction: department points + 6 per sample point − one wrong owner
    score = sum(DEPT_POINTS.values()) + POINT_MAX * info["sample_size"] - WRONG_OWNER_DEDUCTION
    score_box = page.get_by_test_id("dashboard-score")
    assert math.isclose(float(score_box.get_attribute("data-value")), score, abs_tol=1e-9)
    expect(score_box).to_have_text(f"{score:.1f} 分")

    # patrol compliance by construction: worker-weeks = (demo grid workers + worker1) × weeks
    # that ended before today; compliant = planted weeks with at least 15 h
    today = dt.datetime.now(SHANGHAI).date()
    weeks = [m for m in info["mondays"] if m + dt.timedelta(days=6) < today]
    worker_weeks = (info["workers"] + 1) * len(weeks)
    compliant = sum(hours >= WEEKLY_HOURS for _, week, hours in PATROL if week < len(weeks))
    patrol = page.get_by_test_id("dashboard-patrol")
    # the API rounds the share to 4 decimals; the note carries the exact counts
    assert math.isclose(
        float(patrol.get_attribute("data-value")), compliant / worker_weeks, abs_tol=5e-5
    )
    expect(patrol).to_have_text(_pct(compliant / worker_weeks))
    expect(page.get_by_test_id("dashboard-patrol-note")).to_contain_text(
        f"{compliant} / {worker_weeks}"
    )
    rows = page.get_by_test_id("dashboard-community-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-community-code", info["community"])
    # the appraisal: one row per active staff member; grid worker #0 (no incidents, no
    # ratings) by the default formula over the components it has: 40 % score, 20 % patrol
    expect(page.get_by_test_id("dashboard-appraisal-row")).to_have_count(info["active_staff"])
    own = sum(hours >= WEEKLY_HOURS for who, week, hours in PATROL
              if who == 0 and week < len(weeks))  # fmt: skip
    expected = (40 * score + 20 * 100 * own / len(weeks)) / 60
    row0 = f'[data-testid="dashboard-appraisal-row"][data-staff-id="{info["worker_ids"][0]}"]'
    cell = page.locator(f'{row0} [data-cell="score"]')
    assert math.isclose(float(cell.get_attribute("data-value")), expected, abs_tol=0.005)
    page.get_by_test_id("dashboard-map").scroll_into_view_if_needed()
    shot("head-last-month")
    page.get_by_test_id("dashboard-grid-table").scroll_into_view_if_needed()
    shot("head-grid-table")
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-form").wait_for(state="visible")

    # the street department sees the same
    sign_in(page, base, "street1", PASSWORD)
    page.goto(f"{base}/app/dashboard")
    _wait_loaded(page, this_month, info["community"])
    page.get_by_test_id("dashboard-month").fill(month)
    page.get_by_test_id("dashboard-month").dispatch_event("change")
    _wait_loaded(page, month, info["community"])
    check_month(page, url, info, month)
    assert math.isclose(
        float(page.get_by_test_id("dashboard-score").get_attribute("data-value")), score
    )
    shot("street-last-month")

    context.close()
    assert blocked == []
    assert errors == []


def test_grid_worker_is_refused_the_dashboard(browser, server, demo_file):
    from playwright.sync_api import expect

    base, _ = server
    blocked: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    sign_in(page, base, "worker1", PASSWORD)
    expect(page.get_by_test_id("home-dashboard")).to_be_hidden()
    expect(page.get_by_test_id("nav-dashboard")).to_be_hidden()
    page.goto(f"{base}/app/dashboard")
    denied = page.get_by_test_id("dashboard-denied")
    expect(denied).to_be_visible(timeout=15000)
    expect(denied).to_contain_text("没有权限")
    expect(denied).to_contain_text("网格员")
    expect(page.get_by_test_id("dashboard-grid-table")).to_be_hidden()
    assert page.get_by_test_id("dashboard-grid-row").count() == 0
    Shots(page, "dashboard", "worker-refused")("worker-refused")
    headers = {"Authorization": f"Bearer {_token(page)}"}
    answer = page.request.get(f"{base}/dashboard/data?month={demo_file['month']}",
                              headers=headers)  # fmt: skip
    assert answer.status == 403
    assert answer.json()["detail"]
    context.close()
    assert blocked == []


def test_dashboard_page_is_served_offline_with_its_own_part(server):
    """``/app/dashboard``: sign-in and the dashboard section only; every asset local."""
    import re

    import httpx

    from maps.assets import remote_links

    base, _ = server
    with httpx.Client(base_url=base) as client:
        html = client.get("/app/dashboard").text
        assert remote_links(html) == [] and "{{" not in html
        assert '"page": "dashboard"' in html
        for name in ("login-form", "dashboard", "dashboard-map", "dashboard-grid-table"):
            assert f'data-testid="{name}"' in html, name
        for other in ("resident-form", "inbox-list", "action-form", "public-form"):
            assert f'data-testid="{other}"' not in html, other
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert "/static/app/dashboard.js" in assets
        assert "/static/vendor/leaflet.heat/leaflet_heat.min.js" in assets
        for src in assets:
            assert client.get(src).status_code == 200, src
        # the other pages do not load the dashboard's scripts
        for path in ("/app/", "/app/inbox", "/public"):
            assert "/static/app/dashboard.js" not in client.get(path).text, path


def test_incident_list_filters_by_report_time(server, demo_file):
    """``GET /incidents?start=&end=`` (added for the heat-map) keeps [start, end) only."""
    import httpx

    base, url = server
    month = demo_file["month"]
    start, end = _month_bounds(month)
    with httpx.Client(base_url=base) as client:
        token = client.post("/auth/token", data={"username": "head1", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # without an offset the times are read as Asia/Shanghai: same answer
        for s, e in (
            (start.isoformat(), end.isoformat()),
            (start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")),
        ):
            got = client.get("/incidents", headers=headers,
                             params={"start": s, "end": e, "limit": 1000}).json()  # fmt: skip
            ids = sorted(d["id"] for d in got["data"])
            expected = sorted(r["id"] for r in _incidents(url) if start <= r["reported_at"] < end)
            assert got["count"] == len(expected) and ids == expected


def _inbox(page) -> list[dict]:
    return page.get_by_test_id("inbox-row").evaluate_all(
        """els => els.map(e => ({id: Number(e.dataset.incidentId), state: e.dataset.state,
             overdue: e.dataset.overdue === 'true', marked: e.classList.contains('overdue'),
             tag: e.querySelector('.tag.overdue') !== null}))"""
    )


def _queue(url: str, keep) -> list[int]:
    """Open items kept by ``keep``, overdue first, then by deadline (then id)."""
    now = dt.datetime.now(dt.UTC)
    rows = [r for r in _incidents(url) if r["state"] in OPEN and keep(r)]
    rows.sort(key=lambda r: (not r["due_at"] < now, r["due_at"], r["id"]))
    return [r["id"] for r in rows]


def _check_inbox(page, url: str, keep) -> list[dict]:
    rows = page.get_by_test_id("inbox-row")
    rows.first.wait_for(state="visible", timeout=15000)
    wait_for_js(page, "window.wangge.idle()", timeout=15000)
    shown = _inbox(page)
    assert [r["id"] for r in shown] == _queue(url, keep)
    now = dt.datetime.now(dt.UTC)
    due = {r["id"]: r["due_at"] for r in _incidents(url)}
    for row in shown:
        late = due[row["id"]] < now
        assert row["overdue"] == late and row["marked"] == late and row["tag"] == late
    assert shown[0]["state"] in ("escalated", "received")  # escalations on top
    return shown


def _open_row(page, base: str, incident_id: int) -> None:
    page.locator(f"[data-testid=inbox-row][data-incident-id='{incident_id}']").get_by_test_id(
        "inbox-row-link"
    ).click()
    page.wait_for_url(f"{base}/app/incident/{incident_id}")


def test_head_and_street_handle_escalations_from_the_inbox(browser, server, demo_file):
    from playwright.sync_api import expect

    base, url = server
    info = demo_file
    blocked: list[str] = []
    errors: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = Shots(page, "dashboard", "escalation-inbox")

    # --- the community head: escalations to the head (and unhandled items) of the community
    sign_in(page, base, "head1", PASSWORD)
    page.get_by_test_id("home-inbox").click()
    page.wait_for_url(f"{base}/app/inbox")
    shown = _check_inbox(
        page, url,
        lambda r: r["community_id"] == info["community_id"] and (
            (r["state"] in ("escalated", "received") and r["escalated_to"] == "community_head")
            or (r["state"] in ("registered", "fed_back", "in_progress") and not r["handler"])),
    )  # fmt: skip
    ids = [r["id"] for r in shown]
    items = info["head_items"]
    assert set(items.values()) <= set(ids)
    assert ids.index(items["overdue"]) < ids.index(items["major"]) < ids.index(items["general"])
    assert next(r for r in shown if r["id"] == items["overdue"])["overdue"]
    shot("head-inbox")

    # reject without a reason: refused, and the page says why (nothing stored)
    _open_row(page, base, items["general"])
    expect(page.get_by_test_id("incident-state")).to_have_attribute("data-state", "escalated")
    expect(page.get_by_test_id("action-receive")).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("action-resolve")).to_have_count(0)  # not before receipt
    page.get_by_test_id("action-reject").click()
    expect(page.get_by_test_id("action-error")).to_contain_text("理由")
    shot("head-reject-without-reason")
    before = incident_events(url, items["general"])
    assert before[-1][0] == "escalate"

    # receive, then resolve
    page.get_by_test_id("action-receive").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "received", timeout=15000
    )
    page.get_by_test_id("action-note").fill("已协调物业清理")
    page.get_by_test_id("action-resolve").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "resolved", timeout=15000
    )
    shot("head-resolved")
    assert incident_events(url, items["general"]) == [
        *before,
        ("receive", "head1"),
        ("resolve", "head1"),
    ]

    # a stale page: the item was received meanwhile (another device); the API refuses the
    # second receipt and the page shows its reason, then the item as it now is
    page.goto(f"{base}/app/inbox")
    _check_inbox(
        page, url,
        lambda r: r["community_id"] == info["community_id"] and (
            (r["state"] in ("escalated", "received") and r["escalated_to"] == "community_head")
            or (r["state"] in ("registered", "fed_back", "in_progress") and not r["handler"])),
    )  # fmt: skip
    _open_row(page, base, items["major"])
    expect(page.get_by_test_id("action-receive")).to_be_visible(timeout=15000)
    version = page.evaluate("wangge.state.incident.version")
    headers = {"Authorization": f"Bearer {_token(page)}"}
    elsewhere = page.request.post(
        f"{base}/incidents/{items['major']}/transitions", headers=headers,
        data={"action": "receive", "version": version},
    )  # fmt: skip
    assert elsewhere.ok
    page.get_by_test_id("action-receive").click()
    error = page.get_by_test_id("action-error")
    expect(error).not_to_be_empty(timeout=15000)
    again = page.request.post(
        f"{base}/incidents/{items['major']}/transitions", headers=headers,
        data={"action": "receive", "version": version},
    )  # fmt: skip
    assert again.status == 409
    expect(error).to_have_text(again.json()["detail"])
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "received", timeout=15000
    )
    expect(page.get_by_test_id("action-resolve")).to_be_visible()
    shot("head-refused-stale")
    assert [e for e in incident_events(url, items["major"]) if e[0] == "receive"] == [
        ("receive", "head1")
    ]
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-form").wait_for(state="visible")

    # --- the street department: escalations to street departments
    sign_in(page, base, "street1", PASSWORD)
    expect(page.get_by_test_id("home-dashboard")).to_be_visible()
    page.get_by_test_id("home-inbox").click()
    page.wait_for_url(f"{base}/app/inbox")
    street = info["street_items"]
    shown = _check_inbox(
        page, url, lambda r: r["state"] in ("escalated", "received")
        and r["escalated_to"] == "street_dept",
    )  # fmt: skip
    ids = [r["id"] for r in shown]
    assert ids.index(street["overdue"]) < ids.index(street["general"])
    assert next(r for r in shown if r["id"] == street["overdue"])["overdue"]
    assert not next(r for r in shown if r["id"] == street["general"])["overdue"]
    assert not set(info["head_items"].values()) & set(ids)  # the head's are not the street's
    shot("street-inbox")
    _open_row(page, base, street["overdue"])
    expect(page.get_by_test_id("incident-facts")).to_contain_text("已超期")
    page.get_by_test_id("action-receive").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "received", timeout=15000
    )
    expect(page.get_by_test_id("action-escalate")).to_have_count(0)  # only the head passes on
    page.get_by_test_id("action-resolve").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "resolved", timeout=15000
    )
    shot("street-resolved")
    assert incident_events(url, street["overdue"])[-2:] == [
        ("receive", "street1"),
        ("resolve", "street1"),
    ]
    page.goto(f"{base}/app/inbox")
    page.get_by_test_id("inbox-row").first.wait_for(state="visible", timeout=15000)
    wait_for_js(page, "window.wangge.idle()", timeout=15000)
    assert street["overdue"] not in [r["id"] for r in _inbox(page)]  # handled: gone

    context.close()
    assert blocked == []
    assert errors == []


def test_public_page_shows_the_staff_photo_or_a_placeholder(browser, server, demo_file):
    from playwright.sync_api import expect

    base, _ = server
    lon, lat = demo_file["house_point"]
    blocked: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    answer = page.request.get(f"{base}/grids/locate?lon={lon}&lat={lat}&crs=wgs84").json()
    assert answer["staff"] and all("photo_url" in s for s in answer["staff"])
    assert answer["grid_code"] == GRID
    staff = answer["staff"]
    with_photo = [s for s in staff if s["photo_url"]]
    assert [s["name"] for s in with_photo] == [demo_file["photo_staff"]]

    page.goto(f"{base}/public")
    wait_for_js(page, "window.wangge.state.grids !== null", timeout=15000)
    page.evaluate("([lon, lat]) => wangge.maps['public-map'].fire('click', "
                  "{latlng: L.latLng(lat, lon)})", [lon, lat])  # fmt: skip
    expect(page.get_by_test_id("public-grid-code")).to_have_text(GRID, timeout=15000)
    rows = page.get_by_test_id("public-staff-row")
    expect(rows).to_have_count(len(staff))
    photo = page.get_by_test_id("public-staff-photo")
    expect(photo).to_have_count(1)
    expect(rows.filter(has=photo)).to_contain_text(demo_file["photo_staff"])
    assert photo.get_attribute("src") == with_photo[0]["photo_url"]
    none = page.get_by_test_id("public-staff-photo-none")
    expect(none).to_have_count(len(staff) - 1)
    shown = rows.evaluate_all(
        """els => els.map(e => ({text: e.textContent,
             photo: e.querySelector('[data-testid=public-staff-photo]') !== null,
             none: e.querySelector('[data-testid=public-staff-photo-none]')?.textContent}))"""
    )
    for row in shown:  # each row: the photo, or the placeholder, never both
        has_photo = demo_file["photo_staff"] in row["text"]
        assert row["photo"] == has_photo
        assert row["none"] == (None if has_photo else "暂无照片")

    served = page.request.get(base + with_photo[0]["photo_url"])
    assert served.status == 200 and served.body() == _png_1x1()
    wait_for_js(
        page,
        "document.querySelector('[data-testid=public-staff-photo]').complete && "
        "document.querySelector('[data-testid=public-staff-photo]').naturalWidth === 1",
        timeout=15000,
    )  # the page's image was served and decoded
    Shots(page, "dashboard", "public-photo")("public-photo")
    context.close()
    assert blocked == []
