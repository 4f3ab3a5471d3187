"""The staff and public pages in a real headless Chromium on a phone-sized screen.

One real uvicorn on 127.0.0.1 over a copy of the demo database; every request not to it is
aborted and recorded (the pages must work offline). A grid worker signs in, registers a
resident (a wrong ID number is refused beside the field), reports an incident by tapping the
map and feeds it back; the post-responsible staff who serves that grid signs in, finds it at
the top of the inbox, starts and resolves it; the public page finds the grid of an address.
Screenshots of each step go to ``$WANGGE_TEST_ARTEFACTS/pages`` (default
``out/test-artefacts/pages``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyproj
import pytest
import sqlalchemy as sa
from shapely.ops import polylabel

from api.db.engine import make_engine, session_factory
from api.db.models import (
    Grid,
    Incident,
    Resident,
    Role,
    Staff,
    StaffGrid,
    from_db_geometry,
)
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.incidents.people import actor_of
from api.services.incidents.report import report_incident
from tests.api.routes.conftest import PASSWORD, valid_id_number
from tests.maps.browser import (
    Shots,
    first_house,
    incident_events,
    largest_part,
    offline_context,
    serve_database_copy,
    sign_in,
    tap_map,
    wait_for_js,
    wait_idle,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

ROOT = Path(__file__).resolve().parents[2]
GRID = "310101002005001"
POST = "城建管理岗"
MAJOR_CATEGORY = "0319"  # 井盖缺失或破损: major, same-day deadline, 城建管理岗
GENERAL_CATEGORY = "0302"  # 乱张贴乱悬挂乱堆放: general, 3 working days, 城建管理岗
GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "pages.db") as served:
        yield served


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    """The demo, a grid worker of GRID, and a post_staff serving GRID with one item queued."""
    path = tmp_path_factory.mktemp("pages") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        grid = session.scalars(sa.select(Grid).where(Grid.code == GRID)).first()
        staff = Staff(
            name="测试岗位责任人",
            role="post_staff",
            post=POST,
            community_id=grid.community_id,
            phone_published=False,
            active=True,
        )
        staff.grids.append(StaffGrid(grid_code=GRID, community_id=grid.community_id))
        session.add(staff)
        session.flush()
        worker = create_user(
            session, username="worker1", password=PASSWORD, role=Role.GRID_WORKER,
            grid_codes=[GRID],
        )  # fmt: skip
        create_user(
            session, username="post1", password=PASSWORD, role=Role.POST_STAFF, staff_id=staff.id
        )
        inside = polylabel(largest_part(from_db_geometry(grid.geom)), tolerance=1e-6)
        earlier = report_incident(
            session,
            category_code=GENERAL_CATEGORY,
            actor=actor_of(worker),
            description="较早的一般事项",
            lon=inside.x,
            lat=inside.y,
            reported_at=dt.datetime.now(dt.UTC),
        )
        house = first_house(session, GRID)
        info = {
            "path": path,
            "inside": (inside.x, inside.y),
            "earlier_id": earlier.id,
            "earlier_handler": earlier.handler_staff_id,
            "staff_id": staff.id,
            "house_address": house.address,
            "house_grid": house.grid_code,
            "house_owner": house.owner,
        }
    engine.dispose()
    return info


def test_worker_reports_handler_resolves_public_finds_grid(browser, server, demo_file):
    from playwright.sync_api import expect

    base, url = server
    blocked: list[str] = []
    errors: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = Shots(page, "pages", "core-flow")

    # --- the grid worker signs in and sees the worker's home
    page.goto(f"{base}/app/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    shot("sign-in")
    sign_in(page, base, "worker1", PASSWORD)
    expect(page.get_by_test_id("home-role")).to_have_text("网格员")
    expect(page.get_by_test_id("home-worker")).to_be_visible()
    shot("worker-home")

    # --- registers a resident: a wrong check character is refused beside the field
    page.get_by_test_id("home-worker").click()
    page.wait_for_url(f"{base}/app/worker")
    wait_for_js(
        page,
        "document.querySelector('[data-testid=resident-house]').options.length > 1"
        " && document.querySelector('[data-testid=report-category]').options.length > 1",
        timeout=15000,
    )
    wait_idle(page)
    expect(page.get_by_test_id("my-grids")).to_have_text(GRID)
    good_id = valid_id_number(123, birth="19790315")  # serial 123: odd, male
    wrong_check = "0" if good_id[-1] != "0" else "1"
    form = page.get_by_test_id("resident-form")
    page.get_by_test_id("resident-house").select_option(index=1)
    page.get_by_test_id("resident-name").fill("王测试")
    page.get_by_test_id("resident-id_number").fill(good_id[:17] + wrong_check)
    page.get_by_test_id("resident-gender").select_option("1")
    page.get_by_test_id("resident-birth_date").fill("1979-03-15")
    page.get_by_test_id("resident-population_type").select_option("10")
    page.get_by_test_id("resident-submit").click()
    id_error = page.get_by_test_id("resident-error-id_number")
    expect(id_error).to_contain_text("校验码", timeout=15000)
    expect(id_error).to_contain_text(good_id[-1])  # the expected check character is named
    assert form.locator("label.invalid").count() == 1
    expect(page.get_by_test_id("resident-result")).to_have_text("")
    id_error.scroll_into_view_if_needed()
    shot("resident-wrong-id")

    page.get_by_test_id("resident-id_number").fill(good_id)
    page.get_by_test_id("resident-submit").click()
    expect(page.get_by_test_id("resident-result")).to_contain_text("已登记", timeout=15000)
    expect(id_error).to_have_text("")
    shot("resident-saved")
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(Resident.id_number, Resident.gender).where(Resident.name == "王测试")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in stored] == [(good_id, "1")]
    # the page shows the masked number only
    assert good_id not in page.get_by_test_id("resident-result").inner_text()

    # --- reports an incident by tapping the map
    lon, lat = demo_file["inside"]
    page.get_by_test_id("report-category").select_option(MAJOR_CATEGORY)
    page.get_by_test_id("report-description").fill("人行道井盖缺失")
    tap_map(page, "worker-map", lon, lat)
    location = page.get_by_test_id("report-location")
    expect(location).to_contain_text("地图点选")
    tapped = (float(location.get_attribute("data-lon")), float(location.get_attribute("data-lat")))
    _, _, miss_m = GEOD.inv(lon, lat, *tapped)
    assert miss_m < 5, f"the tap landed {miss_m:.1f} m from the target"
    shot("report-tapped")
    page.get_by_test_id("report-submit").click()
    result = page.get_by_test_id("report-result")
    expect(result).to_contain_text("已上报事件", timeout=15000)
    incident_id = int(result.get_attribute("data-incident-id"))
    expect(result).to_contain_text(GRID)
    page.wait_for_selector(f"[data-testid=my-report-row][data-incident-id='{incident_id}']")
    shot("report-done")

    engine = make_engine(url)
    with session_factory(engine)() as session:
        stored = session.get(Incident, incident_id)
        assert stored.grid_code == GRID
        assert stored.category_code == MAJOR_CATEGORY
        assert stored.handler_staff_id == demo_file["staff_id"]
        point = from_db_geometry(stored.geom)
        assert GEOD.inv(point.x, point.y, *tapped)[2] < 1.0
    engine.dispose()

    # --- the worker feeds it back to the post-responsible staff
    page.get_by_test_id("report-open").click()
    page.wait_for_url(f"{base}/app/incident/{incident_id}")
    expect(page.get_by_test_id("incident-state")).to_have_attribute("data-state", "registered")
    expect(page.get_by_test_id("action-start")).to_have_count(0)  # not the worker's step
    page.get_by_test_id("action-feed_back").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "fed_back", timeout=15000
    )
    shot("fed-back")
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-form").wait_for(state="visible")

    # --- the handler signs in; the new major item is at the top of the inbox
    sign_in(page, base, "post1", PASSWORD)
    expect(page.get_by_test_id("home-role")).to_have_text("岗位责任人")
    expect(page.get_by_test_id("home-worker")).to_be_hidden()
    page.get_by_test_id("home-inbox").click()
    page.wait_for_url(f"{base}/app/inbox")
    rows = page.get_by_test_id("inbox-row")
    expect(rows.first).to_be_visible(timeout=15000)
    ids = [int(v) for v in rows.evaluate_all("els => els.map(e => e.dataset.incidentId)")]
    assert ids[0] == incident_id
    assert demo_file["earlier_id"] in ids[1:]  # the general item, due later, comes after it
    expect(rows.first).to_have_attribute("data-overdue", "false")
    shot("inbox")

    # --- start, then resolve (the post's steps of the state machine)
    rows.first.get_by_test_id("inbox-row-link").click()
    page.wait_for_url(f"{base}/app/incident/{incident_id}")
    expect(page.get_by_test_id("action-start")).to_be_visible(timeout=15000)
    expect(page.get_by_test_id("action-resolve")).to_have_count(0)  # not before starting
    page.get_by_test_id("action-start").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "in_progress", timeout=15000
    )
    page.get_by_test_id("action-note").fill("已更换井盖")
    page.get_by_test_id("action-resolve").click()
    expect(page.get_by_test_id("incident-state")).to_have_attribute(
        "data-state", "resolved", timeout=15000
    )
    expect(page.get_by_test_id("history-row")).to_have_count(4)
    shot("resolved")
    assert incident_events(url, incident_id) == [
        ("report", "worker1"),
        ("feed_back", "worker1"),
        ("start", "post1"),
        ("resolve", "post1"),
    ]

    # --- the public page (a fresh browser, no sign-in) finds the grid of an address
    public_ctx = offline_context(browser, base, blocked)
    public = public_ctx.new_page()
    public.on("pageerror", lambda exc: errors.append(str(exc)))
    public.goto(f"{base}/public")
    wait_idle(public)
    public.get_by_test_id("public-address").fill(demo_file["house_address"])
    public.get_by_test_id("public-submit").click()
    expect(public.get_by_test_id("public-result")).to_be_visible(timeout=15000)
    expect(public.get_by_test_id("public-grid-code")).to_have_text(demo_file["house_grid"])
    expect(public.get_by_test_id("public-grid-name")).not_to_be_empty()
    assert public.get_by_test_id("public-staff-row").count() >= 1
    text = public.locator("body").inner_text()
    assert demo_file["house_owner"] not in text  # never any house or resident data
    shot("public-address", public)

    public_ctx.close()
    context.close()
    assert blocked == []
    assert errors == []


def test_public_tap_on_the_map_locates_the_grid(browser, server, demo_file):
    from playwright.sync_api import expect

    base, _ = server
    blocked: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    page.goto(f"{base}/public")
    wait_for_js(page, "window.wangge.state.grids !== null", timeout=15000)
    wait_idle(page)
    lon, lat = demo_file["inside"]
    tap_map(page, "public-map", lon, lat)
    expect(page.get_by_test_id("public-grid-code")).to_have_text(GRID, timeout=15000)
    Shots(page, "pages", "public-tap")("public-tap")
    context.close()
    assert blocked == []
