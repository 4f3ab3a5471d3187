"""The worker page's registry and patrol parts in a real headless Chromium.

Same set-up as ``test_pages_browser.py``: one real uvicorn on 127.0.0.1 over a copy of the
demo database, a phone-sized screen, every request beyond the loopback aborted and recorded.
A grid worker registers a house (a bad floor area and household count refused beside their
fields, then accepted; the stored grid is the grid that covers the tapped point), edits it,
edits a resident (the masked ID number and phone are not written back), adds a special-status
record (a missing and a wrong enumeration refused beside the field), sees this week's patrol
hours equal to the tracks uploaded through the API beforehand, asks to see the full record;
a community head approves through the API; the page shows the full ID number and says the
read is audited, and the audit row is there. Screenshots go to
``$WANGGE_TEST_ARTEFACTS/pages/worker-registry``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from shapely.ops import polylabel

from api.db.engine import make_engine, session_factory
from api.db.models import (
    AuditLog,
    Grid,
    House,
    Resident,
    Role,
    SpecialStatus,
    from_db_geometry,
)
from api.services.crud import create_resident, create_user
from api.services.demo import load_demo
from tests.api.routes.conftest import PASSWORD, valid_id_number
from tests.maps.browser import (
    Shots,
    bearer,
    db_session,
    first_house,
    largest_part,
    offline_context,
    serve_database_copy,
    tap_map,
    wait_for_js,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

GRID = "310101002005001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
GEOD = pyproj.Geod(ellps="WGS84")
RESIDENT_ID = valid_id_number(457, birth="19650704")  # serial 457: odd, male
RESIDENT_PHONE = "13912345678"


PATIENCE_MS = 120_000
"""How long a wait on the page's state may last before the test gives up: every wait here is
on state (an element's text, value or attribute, the API idle), so a loaded machine only makes
it slower; the bound is for a page that never gets there."""


@pytest.fixture
def patient():
    """Playwright's assertions wait up to :data:`PATIENCE_MS` (restored afterwards)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "worker.db") as served:
        yield served


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    """The demo, a grid worker of GRID with one resident, and a community head."""
    path = tmp_path_factory.mktemp("worker-page") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        grid = session.scalars(sa.select(Grid).where(Grid.code == GRID)).first()
        grid_geom = from_db_geometry(grid.geom)
        worker = create_user(
            session, username="worker1", password=PASSWORD, role=Role.GRID_WORKER,
            grid_codes=[GRID],
        )  # fmt: skip
        create_user(session, username="head1", password=PASSWORD, role=Role.COMMUNITY_HEAD)
        house = first_house(session, GRID)
        resident = create_resident(
            session,
            user=worker,
            data={"house_id": house.id, "name": "赵原名", "id_number": RESIDENT_ID,
                  "gender": "1", "birth_date": "1965-07-04", "population_type": "10",
                  "phone": RESIDENT_PHONE},
        )  # fmt: skip
        info = {
            "path": path,
            "grid_geom": grid_geom,
            "inside": polylabel(largest_part(grid_geom), tolerance=1e-7),
            "house_id": house.id,
            "resident_id": resident.id,
        }
    engine.dispose()
    return info


def _walk_csv(start: dt.datetime, minutes: int, centre: shapely.Point, step_s: int = 30) -> str:
    """A walk round a 2 m square at ``centre``: a fix every ``step_s`` seconds for ``minutes``."""
    rows = ["time,lon,lat"]
    for k in range(minutes * 60 // step_s + 1):
        corner = k % 4
        lon = centre.x + (0.00002 if corner in (1, 2) else 0.0)
        lat = centre.y + (0.00002 if corner in (2, 3) else 0.0)
        rows.append(f"{(start + dt.timedelta(seconds=k * step_s)).isoformat()},{lon:.8f},{lat:.8f}")
    return "\n".join(rows) + "\n"


def _upload_patrol(base: str, demo_file: dict) -> tuple[dict[str, float], float]:
    """Two walks inside GRID this ISO week (Shanghai), uploaded as worker1; return the hours
    per day and the week's total, known by construction (every fix inside, 30 s apart)."""
    today = dt.datetime.now(SHANGHAI).date()
    monday = today - dt.timedelta(days=today.weekday())
    walks = [(dt.datetime.combine(monday, dt.time(9, 0), SHANGHAI), 90)]
    second_day = today if today != monday else monday
    second_start = dt.time(7, 0) if today != monday else dt.time(14, 0)
    walks.append((dt.datetime.combine(second_day, second_start, SHANGHAI), 45))
    centre = demo_file["inside"]
    square = shapely.box(centre.x, centre.y, centre.x + 0.00002, centre.y + 0.00002)
    assert demo_file["grid_geom"].contains(square)  # every fix lies inside the grid
    expected: dict[str, float] = {}
    with httpx.Client(base_url=base) as client:
        auth = bearer(client, "worker1", PASSWORD)
        for k, (start, minutes) in enumerate(walks):
            up = client.post(
                "/patrol/tracks",
                headers=auth,
                files={"track": (f"walk{k}.csv", _walk_csv(start, minutes, centre).encode())},
            )
            assert up.status_code == 201, up.text
            key = start.date().isoformat()
            expected[key] = expected.get(key, 0.0) + minutes / 60
    return expected, sum(expected.values())


def test_worker_registers_house_edits_resident_statuses_patrol_unmask(
    browser, server, demo_file, patient
):
    from playwright.sync_api import expect

    base, url = server
    hours_by_day, week_hours = _upload_patrol(base, demo_file)
    blocked: list[str] = []
    errors: list[str] = []
    gps = demo_file["inside"]  # the phone's (emulated) position
    context = offline_context(browser, base, blocked, permissions=["geolocation"],
                               geolocation={"longitude": gps.x, "latitude": gps.y})  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)  # clicks, fills, selectors: on state, not a clock
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = Shots(page, "pages", "worker-registry")

    page.goto(f"{base}/app/worker")
    page.get_by_test_id("login-username").fill("worker1")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    wait_for_js(
        page,
        "document.querySelector('[data-testid=house-pick]').options.length > 1"
        " && document.querySelector('[data-testid=house-use]').options.length > 1"
        " && document.querySelectorAll('[data-testid=patrol-day-row]').length === 7",
        timeout=PATIENCE_MS,
    )
    wait_for_js(page, "window.wangge && window.wangge.idle()", timeout=PATIENCE_MS)

    # --- this week's patrol hours: the uploaded walks, per day and in total, against 15 h
    hours = page.get_by_test_id("patrol-week-hours")
    assert float(hours.get_attribute("data-hours")) == pytest.approx(week_hours, abs=1e-3)
    expect(hours).to_have_text(f"{week_hours:.2f}")
    expect(page.get_by_test_id("patrol-week-required")).to_have_text("15")
    expect(page.get_by_test_id("patrol-week-status")).to_have_attribute("data-under", "true")
    shown = {
        row.get_attribute("data-date"): float(row.get_attribute("data-hours"))
        for row in page.get_by_test_id("patrol-day-row").all()
    }
    monday = min(shown)
    assert dt.date.fromisoformat(monday).weekday() == 0
    assert {d: h for d, h in shown.items() if h} == pytest.approx(hours_by_day, abs=1e-3)
    page.get_by_test_id("patrol-week").scroll_into_view_if_needed()
    shot("patrol-week")

    # --- register a house: bad area and household count refused beside their fields
    form = page.get_by_test_id("house-form")
    page.get_by_test_id("house-address").fill("测试路88号")
    page.get_by_test_id("house-road").fill("测试路")
    page.get_by_test_id("house-number").fill("88号")
    page.get_by_test_id("house-owner").fill("钱产权")
    page.get_by_test_id("house-floor_area_m2").fill("-20")
    page.get_by_test_id("house-households").fill("2.5")
    page.get_by_test_id("house-house_type").select_option("01")
    page.get_by_test_id("house-use").select_option("02")
    page.get_by_test_id("house-submit").click()  # no location yet: said beside the location
    expect(page.get_by_test_id("house-error-lon")).to_contain_text("定位")
    # the phone's GPS gives a location; a tap on the map then replaces it
    page.get_by_test_id("house-gps").click()
    where = page.get_by_test_id("house-location")
    # "手机定位：lon, lat" once the fix arrives (the hint before it mentions 手机定位 too)
    expect(where).to_contain_text("手机定位：")
    assert float(where.get_attribute("data-lon")) == pytest.approx(gps.x, abs=1e-9)
    assert float(where.get_attribute("data-lat")) == pytest.approx(gps.y, abs=1e-9)
    target = shapely.Point(gps.x + 0.00005, gps.y - 0.00003)  # about 5 m off the GPS fix
    assert demo_file["grid_geom"].contains(target)
    page.get_by_test_id("house-map").click()
    expect(page.get_by_test_id("map-target")).to_have_value("house")
    tap_map(page, "worker-map", target.x, target.y)
    expect(where).to_contain_text("地图点选：")
    tapped = shapely.Point(float(where.get_attribute("data-lon")),
                           float(where.get_attribute("data-lat")))  # fmt: skip
    assert GEOD.inv(target.x, target.y, tapped.x, tapped.y)[2] < 5
    assert page.get_by_test_id("report-location").get_attribute("data-lon") is None
    page.get_by_test_id("house-submit").click()
    expect(page.get_by_test_id("house-error-floor_area_m2")).to_contain_text("之间")
    expect(page.get_by_test_id("house-error-households")).to_contain_text("整数")
    expect(page.get_by_test_id("house-error-lon")).to_have_text("")
    assert form.locator("label.invalid").count() == 2
    expect(page.get_by_test_id("house-result")).to_have_text("")
    page.get_by_test_id("house-error-floor_area_m2").scroll_into_view_if_needed()
    shot("house-refused")
    with db_session(url) as session:
        assert session.scalar(sa.select(House.id).where(House.address == "测试路88号")) is None

    page.get_by_test_id("house-floor_area_m2").fill("86.5")
    page.get_by_test_id("house-households").fill("2")
    page.get_by_test_id("house-submit").click()
    result = page.get_by_test_id("house-result")
    expect(result).to_contain_text("已登记房屋")
    assert form.locator("label.invalid").count() == 0
    house_id = int(result.get_attribute("data-house-id"))
    # the grid from the spatial join is the one grid whose polygon covers the tapped point
    with db_session(url) as session:
        grids = session.execute(sa.select(Grid.code, Grid.geom)).all()
        covering = {code for code, geom in grids if from_db_geometry(geom).covers(tapped)}
        house = session.get(House, house_id)
        stored = (house.address, house.owner, house.floor_area_m2, house.households,
                  house.house_type, house.use, house.grid_code)  # fmt: skip
        point = from_db_geometry(house.geom)
    assert covering == {GRID}
    assert stored == ("测试路88号", "钱产权", 86.5, 2, "01", "02", GRID)
    assert GEOD.inv(point.x, point.y, tapped.x, tapped.y)[2] < 0.01
    expect(result).to_have_attribute("data-grid-code", GRID)
    expect(page.get_by_test_id("house-pick")).to_have_value(str(house_id))  # now editing it
    shot("house-saved")

    # --- edit it: only what changed is sent
    page.get_by_test_id("house-owner").fill("孙新主")
    page.get_by_test_id("house-households").fill("3")
    page.get_by_test_id("house-submit").click()
    expect(result).to_contain_text("已修改房屋")
    with db_session(url) as session:
        house = session.get(House, house_id)
        assert (house.owner, house.households, house.floor_area_m2, house.grid_code) == (
            "孙新主",
            3,
            86.5,
            GRID,
        )
    shot("house-edited")

    # --- edit a resident: the masked ID number and phone are shown and not written back
    page.get_by_test_id("resident-house").select_option(str(demo_file["house_id"]))
    page.wait_for_selector(
        f"[data-testid=resident-form-pick] option[value='{demo_file['resident_id']}']",
        state="attached",
    )  # fmt: skip
    page.get_by_test_id("resident-form-pick").select_option(str(demo_file["resident_id"]))
    id_field = page.get_by_test_id("resident-id_number")
    expect(page.get_by_test_id("resident-name")).to_have_value("赵原名")
    masked_id = id_field.input_value()
    assert "*" in masked_id and masked_id != RESIDENT_ID and masked_id[-4:] == RESIDENT_ID[-4:]
    assert "*" in page.get_by_test_id("resident-phone").input_value()
    expect(page.get_by_test_id("resident-form-masked")).to_be_visible()
    page.get_by_test_id("resident-name").fill("赵新名")
    page.get_by_test_id("resident-submit").click()
    expect(page.get_by_test_id("resident-result")).to_contain_text("已修改")
    with db_session(url) as session:
        person = session.get(Resident, demo_file["resident_id"])
        assert (person.name, person.id_number, person.phone) == (
            "赵新名",
            RESIDENT_ID,
            RESIDENT_PHONE,
        )
    expect(page.get_by_test_id("resident-name")).to_have_value("赵新名")
    shot("resident-edited")

    # --- special-status record: a missing, then a wrong enumeration refused beside the field
    status_form = page.get_by_test_id("status-form")
    expect(status_form).to_be_visible()
    expect(page.get_by_test_id("status-empty")).to_be_visible()
    page.get_by_test_id("status-category").select_option("special_group")
    kind = status_form.locator("[data-testid=status-field][data-field=group_kind]")
    kind_error = status_form.locator("[data-testid=status-field-error]"
                                     "[data-error-for='fields.group_kind']")  # fmt: skip
    page.get_by_test_id("status-start_date").fill("2023-03-01")
    page.get_by_test_id("status-submit").click()
    expect(kind_error).to_contain_text("必填")
    # an enumeration value the code table does not have (an out-of-date form)
    kind.evaluate("s => s.add(new Option('不存在的类别', '不存在的类别'))")
    kind.select_option("不存在的类别")
    page.get_by_test_id("status-submit").click()
    expect(kind_error).to_contain_text("应为")
    expect(kind_error).to_contain_text("吸毒人员")  # the allowed values are named
    expect(page.get_by_test_id("status-row")).to_have_count(0)
    kind_error.scroll_into_view_if_needed()
    shot("status-refused")
    kind.select_option("重点青少年")
    status_form.locator("[data-testid=status-field][data-field=control_level]").select_option("中")
    page.get_by_test_id("status-submit").click()
    expect(page.get_by_test_id("status-row")).to_have_count(1)
    expect(page.get_by_test_id("status-row")).to_have_attribute("data-category", "special_group")
    expect(page.get_by_test_id("status-row")).to_contain_text("重点青少年")
    expect(kind_error).to_have_count(0)  # the form was reset
    with db_session(url) as session:
        records = session.execute(
            sa.select(SpecialStatus.category, SpecialStatus.fields, SpecialStatus.start_date)
            .where(SpecialStatus.resident_id == demo_file["resident_id"])
        ).all()  # fmt: skip
    assert [tuple(r) for r in records] == [
        ("special_group", {"group_kind": "重点青少年", "control_level": "中"}, dt.date(2023, 3, 1))
    ]
    shot("status-added")

    # --- ask to see the full record; a community head approves through the API
    unmask = page.get_by_test_id("unmask-form")
    expect(unmask).to_be_visible()
    state = page.get_by_test_id("unmask-state")
    expect(state).to_have_attribute("data-status", "none")
    page.get_by_test_id("unmask-request").click()
    expect(page.get_by_test_id("unmask-error")).to_contain_text("用途")  # a reason is required
    page.get_by_test_id("unmask-reason").fill("核对特殊人群帮扶材料")
    page.get_by_test_id("unmask-request").click()
    expect(state).to_have_attribute("data-status", "requested")
    request_id = int(state.get_attribute("data-request-id"))
    expect(page.get_by_test_id("unmask-show")).to_be_hidden()
    unmask.scroll_into_view_if_needed()
    shot("unmask-requested")
    with httpx.Client(base_url=base) as client:
        # the worker cannot read it unmasked yet
        early = client.get(f"/residents/{demo_file['resident_id']}?unmask=true",
                           headers=bearer(client, "worker1", PASSWORD))  # fmt: skip
        assert early.status_code == 403
        head = bearer(client, "head1", PASSWORD)
        approved = client.post(
            f"/access-requests/{request_id}/approve", headers=head, json={"valid_hours": 2}
        )
        assert approved.status_code == 200, approved.text
    page.get_by_test_id("unmask-refresh").click()
    expect(state).to_have_attribute("data-status", "approved")
    page.get_by_test_id("unmask-show").click()
    expect(id_field).to_have_value(RESIDENT_ID)
    expect(page.get_by_test_id("resident-phone")).to_have_value(RESIDENT_PHONE)
    expect(page.get_by_test_id("unmask-audit")).to_contain_text("审计")
    expect(page.get_by_test_id("resident-form-masked")).to_be_hidden()
    shot("unmasked")
    with db_session(url) as session:
        rows = session.execute(
            sa.select(AuditLog.username, AuditLog.detail).where(
                AuditLog.action == "unmask_read",
                AuditLog.table_name == "residents",
                AuditLog.record_id == demo_file["resident_id"],
            )
        ).all()
    assert [(r[0], r[1]["access_request_id"]) for r in rows] == [("worker1", request_id)]

    context.close()
    assert blocked == []
    assert errors == []
