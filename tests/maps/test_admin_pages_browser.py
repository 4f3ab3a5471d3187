"""The approvals and import pages in a real headless Chromium (Debian's).

Same set-up as ``test_worker_page_browser.py``: one real uvicorn on 127.0.0.1 over a fresh
copy of the demo database per test, a phone-sized screen, every request beyond the loopback
aborted and recorded. A grid worker files unmask requests through the API; the community head
signs in, sees them on ``/app/approvals`` with the record masked, is refused a rejection
without a reason (beside the field) and the approval of her own request (the API's message),
approves the worker's request for 2 hours; the database holds the decision and the worker's
next unmasked read works and is audited. On ``/app/import`` the head uploads a house register
with one bad row: the rejected row's number and reason are listed and nothing is written;
with "only good rows" the good rows are written, each with the grid that covers its point
(computed here with shapely on ``data/demo/grids.geojson``). A grid worker sees "没有权限" on
both pages, and the API refuses the worker (403). Screenshots go to
``$WANGGE_TEST_ARTEFACTS/pages/admin-*``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely
import sqlalchemy as sa
from openpyxl import load_workbook

from api.auth_table import POLICY
from api.db.engine import make_engine, session_factory
from api.db.models import AccessRequest, AuditLog, Community, House, Role
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.registry.templates import COLUMNS, DATA_SHEET
from maps.assets import STATIC_DIR
from tests.api.routes.conftest import PASSWORD, valid_id_number
from tests.maps.browser import (
    Shots,
    add_residents,
    bearer,
    db_session,
    first_house,
    offline_context,
    serve_database_copy,
    sign_in,
    wait_for_js,
    wait_idle,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

GRID = "310101002005001"
COMMUNITY = "310101002005"
DEMO_GRIDS = Path(__file__).resolve().parents[2] / "data" / "demo" / "grids.geojson"
IDS = [valid_id_number(311, birth="19720305"), valid_id_number(312, birth="19850611")]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    """The demo, a grid worker of GRID, two residents there, and a community head."""
    path = tmp_path_factory.mktemp("admin-pages") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        worker = create_user(
            session, username="worker1", password=PASSWORD, role=Role.GRID_WORKER,
            grid_codes=[GRID],
        )  # fmt: skip
        head = create_user(session, username="head1", password=PASSWORD, role=Role.COMMUNITY_HEAD)
        house = first_house(session, GRID)
        residents = add_residents(
            session,
            worker,
            house.id,
            [("钱甲", IDS[0], "13900001111"), ("孙乙", IDS[1], "13900002222")],
        )
        info = {
            "path": path,
            "worker_id": worker.id,
            "head_id": head.id,
            "resident_ids": [r.id for r in residents],
        }
    engine.dispose()
    return info


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "admin.db") as served:
        yield served


def _request(client: httpx.Client, who: str, resident_id: int, reason: str) -> int:
    r = client.post(
        "/access-requests",
        headers=bearer(client, who, PASSWORD),
        json={"resident_id": resident_id, "reason": reason},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _open_page(browser, base: str, blocked: list[str], errors: list[str]):
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page


def test_page_roles_are_the_api_policy():
    """The roles a page admits (data-roles-allowed, nav links, home tiles) are those the API
    lets approve a request and import a register."""
    html = (STATIC_DIR / "app" / "app.html").read_text(encoding="utf-8")

    def roles(pattern: str) -> list[set[str]]:
        return [set(m.split()) for m in re.findall(pattern, html)]

    approvers = set(POLICY[("POST", "/access-requests/{request_id}/approve")].who)
    importers = set(POLICY[("POST", "/imports/{kind}")].who)
    assert approvers == {"community_head", "street_dept"}  # not the admin: duties separated
    assert importers == {"community_head", "admin"}
    for page, want in (("approvals", approvers), ("import", importers)):
        found = roles(rf'id="page-{page}"[^>]*data-roles-allowed="([^"]+)"')
        found += roles(rf'data-roles="([^"]+)"><a href="{{{{ROOT}}}}/app/{page}"')
        found += roles(rf'href="{{{{ROOT}}}}/app/{page}" data-testid="nav-{page}" '
                       r'data-roles="([^"]+)"')  # fmt: skip
        assert found == [want, want, want], page


def test_head_approves_and_rejects_on_the_approvals_page(browser, server, demo_file):
    from playwright.sync_api import expect

    base, url = server
    first, second = demo_file["resident_ids"]
    with httpx.Client(base_url=base) as client:
        wanted = _request(client, "worker1", first, "核对低保申请材料")
        other = _request(client, "worker1", second, "走访核对联系电话")
        own = _request(client, "head1", first, "社区负责人自己的申请")
    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "admin-approvals")

    sign_in(page, base, "head1", PASSWORD)
    expect(page.get_by_test_id("nav-approvals")).to_be_visible()
    expect(page.get_by_test_id("home-import")).to_be_visible()
    page.get_by_test_id("home-approvals").click()
    page.wait_for_url(f"{base}/app/approvals")
    expect(page.get_by_test_id("approvals")).to_have_attribute("data-loaded", "3", timeout=15000)
    wait_idle(page)
    rows = page.get_by_test_id("approval-row")
    assert [int(r.get_attribute("data-request-id")) for r in rows.all()] == [wanted, other, own]
    row = page.locator(f"[data-testid=approval-row][data-request-id='{wanted}']")
    expect(row.get_by_test_id("approval-requester")).to_have_text("worker1")
    expect(row.get_by_test_id("approval-reason")).to_have_text("核对低保申请材料")
    subject = row.get_by_test_id("approval-subject")
    expect(subject).to_contain_text("钱甲")
    shown_id = re.search(r"身份证 (\S+?)，", subject.inner_text()).group(1)
    assert "*" in shown_id and shown_id[-4:] == IDS[0][-4:] and shown_id[:4] == IDS[0][:4]
    body = page.locator("body").inner_text()
    assert IDS[0] not in body and IDS[1] not in body  # only masked numbers on the page
    with db_session(url) as session:
        asked = session.get(AccessRequest, wanted).requested_at
    shanghai = asked.astimezone(dt.timezone(dt.timedelta(hours=8)))
    expect(row.get_by_test_id("approval-time")).to_contain_text(shanghai.strftime("%Y-%m-%d %H:%M"))
    expect(page.get_by_test_id("approvals-count")).to_contain_text("3")
    shot("pending")

    # --- a rejection needs a reason: refused beside the field, nothing sent
    other_row = page.locator(f"[data-testid=approval-row][data-request-id='{other}']")
    other_row.get_by_test_id("approval-reject").click()
    expect(other_row.get_by_test_id("approval-error-note")).to_contain_text("理由")
    expect(other_row.locator("label.invalid")).to_have_count(1)
    other_row.scroll_into_view_if_needed()
    shot("reject-needs-reason")

    # --- her own request: the API refuses, the row says why
    own_row = page.locator(f"[data-testid=approval-row][data-request-id='{own}']")
    expect(own_row).to_have_class(re.compile(r"\bown\b"))
    own_row.get_by_test_id("approval-approve").click()
    expect(own_row.get_by_test_id("approval-error")).to_contain_text(
        "不能审批自己的申请", timeout=15000
    )
    own_row.scroll_into_view_if_needed()
    shot("own-refused")
    with db_session(url) as session:
        assert [session.get(AccessRequest, i).status for i in (wanted, other, own)] == [
            "requested"
        ] * 3

    # --- approve the worker's request for 2 hours
    row.get_by_test_id("approval-hours").fill("2")
    row.get_by_test_id("approval-approve").click()
    decided = page.locator(f"[data-testid=approval-decided-row][data-request-id='{wanted}']")
    expect(decided).to_have_attribute("data-status", "approved", timeout=15000)
    expect(decided.get_by_test_id("approval-state")).to_contain_text("已批准")
    expect(page.get_by_test_id("approval-row")).to_have_count(2)
    # --- and reject the other with a reason
    other_row.get_by_test_id("approval-note").fill("用途不明确")
    other_row.get_by_test_id("approval-reject").click()
    rejected = page.locator(f"[data-testid=approval-decided-row][data-request-id='{other}']")
    expect(rejected).to_have_attribute("data-status", "rejected", timeout=15000)
    expect(rejected.get_by_test_id("approval-decided-facts")).to_contain_text("用途不明确")
    expect(page.get_by_test_id("approval-row")).to_have_count(1)
    wait_idle(page)
    page.get_by_test_id("approvals-decided").scroll_into_view_if_needed()
    shot("decided")

    with db_session(url) as session:
        approved = session.get(AccessRequest, wanted)
        refused = session.get(AccessRequest, other)
        assert (approved.status, approved.approved_by) == ("approved", demo_file["head_id"])
        assert approved.expires_at - approved.approved_at == dt.timedelta(hours=2)
        assert (refused.status, refused.approved_by, refused.decision_note) == (
            "rejected",
            demo_file["head_id"],
            "用途不明确",
        )
        assert refused.expires_at is None
        assert session.get(AccessRequest, own).status == "requested"

    # --- the worker's next unmasked read works, and is audited
    with httpx.Client(base_url=base) as client:
        worker = bearer(client, "worker1", PASSWORD)
        full = client.get(f"/residents/{first}?unmask=true", headers=worker)
        assert full.status_code == 200, full.text
        assert (full.json()["id_number"], full.json()["masked"]) == (IDS[0], False)
        still = client.get(f"/residents/{second}?unmask=true", headers=worker)
        assert still.status_code == 403  # the rejected one grants nothing
    with db_session(url) as session:
        audits = session.execute(
            sa.select(AuditLog.username, AuditLog.detail).where(
                AuditLog.action == "unmask_read", AuditLog.record_id == first
            )
        ).all()
    assert [(a[0], a[1]["access_request_id"]) for a in audits] == [("worker1", wanted)]

    context.close()
    assert blocked == []
    assert errors == []


def _covering_grid(grids: gpd.GeoDataFrame, point: shapely.Point) -> str:
    codes = sorted(grids.loc[grids.covers(point), "code"])
    assert len(codes) == 1, codes  # an inside point, not on a shared edge
    return codes[0]


def test_head_imports_a_house_register(browser, server, tmp_path):
    from playwright.sync_api import expect

    base, url = server
    grids = gpd.read_file(DEMO_GRIDS)
    points = [grids.geometry.iloc[k].representative_point() for k in (0, len(grids) - 1)]
    expected = {
        "导入测试路1号": _covering_grid(grids, points[0]),
        "导入测试路3号": _covering_grid(grids, points[1]),
        "导入测试路4号": None,  # no location: imported without a grid
    }
    assert expected["导入测试路1号"] != expected["导入测试路3号"]
    rows = [
        ("导入测试路1号", "86.5", f"{points[0].x:.8f}", f"{points[0].y:.8f}"),
        ("导入测试路2号", "八十", f"{points[0].x:.8f}", f"{points[0].y:.8f}"),  # bad area
        ("导入测试路3号", "", f"{points[1].x:.8f}", f"{points[1].y:.8f}"),
        ("导入测试路4号", "40", "", ""),
    ]
    register = tmp_path / "房屋登记.csv"
    with register.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["门牌号码", "房屋面积(m²)", "经度", "纬度"])
        writer.writerows(rows)
    bad_row = 3  # the header is row 1: the second data row is row 3 of the file

    def imported() -> dict[str, str | None]:
        with db_session(url) as session:
            found = session.execute(
                sa.select(House.address, House.grid_code).where(House.address.like("导入测试路%"))
            ).all()
        return {a: g for a, g in found}

    with db_session(url) as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(House))

    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "admin-import")
    sign_in(page, base, "head1", PASSWORD)
    page.get_by_test_id("home-import").click()
    page.wait_for_url(f"{base}/app/import")
    wait_for_js(
        page,
        "document.querySelector('[data-testid=import-community]').options.length > 0",
        timeout=15000,
    )
    wait_idle(page)
    expect(page.get_by_test_id("import-community")).to_have_value(COMMUNITY)
    expect(page.get_by_test_id("import-crs")).to_be_visible()

    # --- the template link gives the kind's XLSX (headers from api/services/registry/templates.py)
    page.get_by_test_id("import-kind").select_option("residents")
    expect(page.get_by_test_id("import-crs")).to_be_hidden()
    with page.expect_download() as download:
        page.get_by_test_id("import-template").click()
    saved = tmp_path / "template.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(saved, read_only=True)[DATA_SHEET["residents"]]
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))
    assert list(header) == [c.header_zh for c in COLUMNS["residents"]]
    page.get_by_test_id("import-kind").select_option("houses")

    # --- one bad row: every row refused, the bad one listed, nothing written
    page.get_by_test_id("import-submit").click()  # no file yet
    expect(page.get_by_test_id("import-error-file")).to_contain_text("请选择文件")
    page.get_by_test_id("import-file").set_input_files(str(register))
    page.get_by_test_id("import-submit").click()
    table_rows = page.get_by_test_id("import-error-row")
    expect(table_rows).to_have_count(1, timeout=15000)
    wrong = table_rows.first
    expect(wrong).to_have_attribute("data-row", str(bad_row))
    expect(wrong.locator("[data-cell=row]")).to_have_text(str(bad_row))
    expect(wrong.locator("[data-cell=column]")).to_contain_text("房屋面积")
    expect(wrong.locator("[data-cell=value]")).to_have_text("八十")
    expect(wrong.locator("[data-cell=reason]")).to_have_text("不是数字")
    expect(page.get_by_test_id("import-rejected-summary")).to_contain_text("未导入任何数据")
    expect(page.get_by_test_id("import-result")).to_be_hidden()
    page.get_by_test_id("import-errors").scroll_into_view_if_needed()
    shot("rejected")
    assert imported() == {}
    with db_session(url) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(House)) == before

    # --- only the good rows
    page.get_by_test_id("import-only-good").check()
    page.get_by_test_id("import-submit").click()
    result = page.get_by_test_id("import-result")
    expect(result).to_have_attribute("data-imported", "3", timeout=15000)
    expect(result).to_have_attribute("data-rows", "4")
    expect(result).to_have_attribute("data-outside", "1")
    expect(result).to_contain_text("已导入 3 行")
    expect(result).to_contain_text("1 处房屋不在任何网格内")
    expect(page.get_by_test_id("import-error-row")).to_have_count(1)  # the skipped one
    expect(page.get_by_test_id("import-rejected-summary")).to_contain_text("已跳过")
    wait_idle(page)
    shot("imported")
    assert imported() == expected
    with db_session(url) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(House)) == before + 3

    context.close()
    assert blocked == []
    assert errors == []


def test_grid_worker_has_no_permission(browser, server, demo_file, tmp_path):
    from playwright.sync_api import expect

    base, url = server
    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "admin-denied")
    sign_in(page, base, "worker1", PASSWORD)
    for name in ("nav-approvals", "nav-import", "home-approvals", "home-import"):
        expect(page.get_by_test_id(name)).to_be_hidden()

    page.goto(f"{base}/app/approvals")
    denied = page.get_by_test_id("approvals-denied")
    expect(denied).to_contain_text("没有权限", timeout=15000)
    expect(denied).to_contain_text("网格员")
    expect(page.get_by_test_id("approvals-pending")).to_be_hidden()
    shot("approvals")

    page.goto(f"{base}/app/import")
    denied = page.get_by_test_id("import-denied")
    expect(denied).to_contain_text("没有权限", timeout=15000)
    expect(page.get_by_test_id("import-form")).to_be_hidden()
    wait_idle(page)
    shot("import")
    context.close()
    assert blocked == []
    assert errors == []

    # the API agrees: the worker may neither decide a request nor import
    register = tmp_path / "houses.csv"
    register.write_text("门牌号码\n越权路1号\n", encoding="utf-8")
    with httpx.Client(base_url=base) as client:
        request_id = _request(client, "head1", demo_file["resident_ids"][0], "负责人核对材料")
        worker = bearer(client, "worker1", PASSWORD)
        r = client.post(f"/access-requests/{request_id}/approve", headers=worker, json={})
        assert r.status_code == 403, r.text
        r = client.post(
            "/imports/houses",
            headers=worker,
            data={"community": COMMUNITY},
            files={"file": (register.name, register.read_bytes())},
        )
        assert r.status_code == 403, r.text
    with db_session(url) as session:
        assert session.get(AccessRequest, request_id).status == "requested"
        assert session.scalar(sa.select(House.id).where(House.address == "越权路1号")) is None


def test_planner_home_links_to_each_communitys_planner_page(browser, server, demo_file):
    from playwright.sync_api import expect

    base, url = server
    with db_session(url) as session, session.begin():
        create_user(session, username="planner1", password=PASSWORD, role=Role.PLANNER)
        communities = dict(session.execute(sa.select(Community.code, Community.name)).all())
    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "planner-home")
    sign_in(page, base, "planner1", PASSWORD)
    links = page.get_by_test_id("home-planner-link")
    expect(links).to_have_count(len(communities), timeout=15000)
    shown = {a.get_attribute("data-community"): a.text_content() for a in links.all()}
    assert shown == communities
    for name in ("home-worker", "home-dashboard", "home-approvals", "home-import"):
        expect(page.get_by_test_id(name)).to_be_hidden()
    shot("home")
    page.locator(f"[data-testid=home-planner-link][data-community='{COMMUNITY}']").click()
    page.wait_for_url(f"{base}/planner/{COMMUNITY}")
    expect(page).to_have_title("网格规划 · Grid planner")
    context.close()
    assert blocked == []
    assert errors == []
