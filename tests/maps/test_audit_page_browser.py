"""The audit-log page ``/app/audit`` (the auditor only) in a real headless Chromium (Debian's).

Same set-up as ``test_admin_pages_browser.py``: one real uvicorn on 127.0.0.1 over a fresh copy
of the demo database per test, a phone-sized screen, every request beyond the loopback aborted
and recorded. Audit rows come from real use of the API — the admin creates the auditor
(``POST /users``), a grid worker asks to see two residents unmasked, the community head
approves one and rejects the other, the worker reads the approved one unmasked twice, someone
fails to sign in — and, for dates in the past, from the service :func:`api.services.privacy.audit`
at instants around Asia/Shanghai midnights. The auditor's page must show exactly the rows read
here from the database (sorted here, newest first), page by page; the action filter
``unmask_read`` exactly the two reads with the worker and the access request; date filters
exactly the rows of those Shanghai days (computed here with ``zoneinfo``). A grid worker sees
"没有权限" and the API refuses him (403). Screenshots go to
``$WANGGE_TEST_ARTEFACTS/pages/audit-*``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from api.auth_table import POLICY
from api.db.engine import make_engine, session_factory
from api.db.models import AuditLog, Role
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.privacy import audit
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
    wait_idle,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRID = "310101002005001"
IDS = [valid_id_number(321, birth="19690412"), valid_id_number(322, birth="19911130")]
PAST_DAY = dt.date(2026, 1, 15)  # the day the date-filter test picks
PAGE_SIZE = 50  # audit.js


def _past_instants() -> list[dt.datetime]:
    """Instants (UTC) around PAST_DAY in Shanghai: its two midnights exactly and a microsecond
    off, then one every 7 h 13 min over four weeks (enough rows for two pages)."""
    midnight = dt.datetime.combine(PAST_DAY, dt.time(), SHANGHAI)
    edges = [midnight, midnight + dt.timedelta(days=1)]
    near = [t + dt.timedelta(microseconds=d) for t in edges for d in (-1, 0)]
    spread = [
        midnight - dt.timedelta(days=14) + k * dt.timedelta(hours=7, minutes=13) for k in range(60)
    ]
    return [t.astimezone(dt.UTC) for t in near + spread]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    """The demo; a grid worker of GRID, two residents there, a community head, an admin; past
    audit rows written through the service (sign-ins, a user update, failed sign-ins)."""
    path = tmp_path_factory.mktemp("audit-page") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        worker = create_user(
            session, username="worker1", password=PASSWORD, role=Role.GRID_WORKER,
            grid_codes=[GRID],
        )  # fmt: skip
        head = create_user(session, username="head1", password=PASSWORD, role=Role.COMMUNITY_HEAD)
        admin = create_user(session, username="admin1", password=PASSWORD, role=Role.ADMIN)
        house = first_house(session, GRID)
        residents = add_residents(
            session,
            worker,
            house.id,
            [("周丙", IDS[0], "13900003333"), ("吴丁", IDS[1], "13900004444")],
        )
        for k, at in enumerate(_past_instants()):
            kind = k % 4
            if kind == 0:
                audit(session, user=worker, action="login", at=at)
            elif kind == 1:
                audit(session, user=head, action="login", at=at)
            elif kind == 2:
                audit(session, user=admin, action="user_update", table_name="users",
                      record_id=worker.id, detail={"fields": ["password"]}, at=at)  # fmt: skip
            else:
                audit(session, user=None, action="login_failed",
                      detail={"username": f"ghost{k}"}, at=at)  # fmt: skip
        info = {
            "path": path,
            "worker_id": worker.id,
            "resident_ids": [r.id for r in residents],
        }
    engine.dispose()
    return info


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "audit.db") as served:
        yield served


def _open_page(browser, base: str, blocked: list[str], errors: list[str]):
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page


def _local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI)


def _db_rows(url: str, keep=lambda row: True) -> list[tuple]:
    """Audit rows as the page should list them, sorted here newest first (time, then id):
    (id, Shanghai time to the second, user name, action, detail)."""
    with db_session(url) as session:
        rows = [r for r in session.scalars(sa.select(AuditLog)).all() if keep(r)]
    rows.sort(key=lambda r: (r.at, r.id), reverse=True)
    return [
        (r.id, _local(r.at).strftime("%Y-%m-%d %H:%M:%S"), r.username or "", r.action, r.detail)
        for r in rows
    ]


def _shown_rows(page) -> list[tuple]:
    raw = page.eval_on_selector_all(
        "[data-testid=audit-row]",
        "els => els.map(e => [e.dataset.auditId, e.querySelector('[data-cell=time]').textContent,"
        " e.dataset.username, e.dataset.action, e.dataset.detail])",
    )
    return [(int(i), t, u, a, json.loads(d) if d else None) for i, t, u, a, d in raw]


def _written_actions() -> set[str]:
    """Every action an ``audit(...)`` call in api/ writes, read from the source (its syntax
    tree: each string literal in the ``action=`` argument of a call named ``audit``)."""
    found: set[str] = set()
    for path in (ROOT / "api").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and _called_name(call.func) == "audit"):
                continue
            for keyword in call.keywords:
                if keyword.arg != "action":
                    continue
                expr = ast.unparse(keyword.value)
                for literal in re.findall(r"""['"](\w+)['"]""", expr):
                    if literal.endswith("_") and "request.status" in expr:
                        found |= {literal + s for s in ("approved", "rejected")}  # decide_access
                    else:
                        found.add(literal)
    return found


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _apply(page, expect, section, query: str) -> None:
    page.get_by_test_id("audit-submit").click()
    expect(section).to_have_attribute("data-query", query, timeout=15000)
    wait_idle(page)


def test_page_roles_are_the_api_policy_and_the_page_is_its_own():
    """The audit section, nav link and home tile admit exactly the roles GET /audit admits."""
    html = (STATIC_DIR / "app" / "app.html").read_text(encoding="utf-8")
    readers = set(POLICY[("GET", "/audit")].who)
    assert readers == {"auditor"}  # separation of duties: not the admin
    patterns = (
        r'id="page-audit"[^>]*data-roles-allowed="([^"]+)"',
        r'data-roles="([^"]+)"><a href="\{\{ROOT\}\}/app/audit"',
        r'href="\{\{ROOT\}\}/app/audit" data-testid="nav-audit" data-roles="([^"]+)"',
    )
    found = [set(m.split()) for p in patterns for m in re.findall(p, html)]
    assert found == [readers, readers, readers]
    # audit.js is loaded from the audit section only
    section = re.search(r"<!--page:audit-->(.*?)<!--/page:audit-->", html, re.S).group(1)
    assert "/static/app/audit.js" in section
    assert html.count("/static/app/audit.js") == 1


def test_auditor_reads_and_filters_the_audit_log(browser, server, demo_file):
    from playwright.sync_api import expect

    base, url = server
    first, second = demo_file["resident_ids"]
    with httpx.Client(base_url=base) as client:
        made = client.post(
            "/users",
            headers=bearer(client, "admin1", PASSWORD),
            json={"username": "auditor1", "password": PASSWORD, "role": "auditor"},
        )
        assert made.status_code == 201, made.text
        worker, head = bearer(client, "worker1", PASSWORD), bearer(client, "head1", PASSWORD)
        asked = [
            client.post(
                "/access-requests", headers=worker, json={"resident_id": rid, "reason": reason}
            )
            for rid, reason in ((first, "核对独居老人联系电话"), (second, "走访核实身份"))
        ]
        assert [a.status_code for a in asked] == [201, 201]
        granted, refused = (a.json()["id"] for a in asked)
        ok = client.post(
            f"/access-requests/{granted}/approve", headers=head, json={"valid_hours": 24}
        )
        assert ok.status_code == 200, ok.text
        no = client.post(
            f"/access-requests/{refused}/reject", headers=head, json={"note": "用途不明"}
        )
        assert no.status_code == 200, no.text
        for _ in range(2):
            read = client.get(f"/residents/{first}", headers=worker, params={"unmask": True})
            assert read.status_code == 200 and read.json()["id_number"] == IDS[0]
        failed = client.post("/auth/token", data={"username": "nobody", "password": "x" * 10})
        assert failed.status_code == 401

    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "audit-log")
    sign_in(page, base, "auditor1", PASSWORD)
    expect(page.get_by_test_id("nav-audit")).to_be_visible()
    for other in ("home-approvals", "home-import", "home-worker", "home-dashboard"):
        expect(page.get_by_test_id(other)).to_be_hidden()
    page.get_by_test_id("home-audit").click()
    page.wait_for_url(f"{base}/app/audit")
    expect(page).to_have_title("审计日志")
    section = page.get_by_test_id("audit")
    expect(section).to_have_attribute("data-loaded", str(PAGE_SIZE), timeout=15000)
    wait_idle(page)

    # --- every row, newest first, as the database holds them (the auditor's sign-in too)
    everything = _db_rows(url)
    assert len(everything) > PAGE_SIZE
    assert everything[0][2:4] == ("auditor1", "login")
    expect(section).to_have_attribute("data-query", "order=desc")
    expect(section).to_have_attribute("data-count", str(len(everything)))
    assert _shown_rows(page) == everything[:PAGE_SIZE]
    expect(page.get_by_test_id("audit-count")).to_contain_text(f"共 {len(everything)} 条")
    shot("newest")
    more = page.get_by_test_id("audit-more")
    while more.is_visible():
        more.click()
        wait_idle(page)
    expect(section).to_have_attribute("data-loaded", str(len(everything)))
    assert _shown_rows(page) == everything
    # every action the API writes can be chosen; every one met here is among them
    options = page.eval_on_selector_all(
        "[data-testid=audit-action] option", "os => os.map(o => o.value)"
    )
    assert options[0] == "" and set(options[1:]) == _written_actions()
    assert {row[3] for row in everything} <= set(options)
    created = page.locator("[data-testid=audit-row][data-action=user_create]")
    expect(created.locator("[data-cell=detail]")).to_have_text("用户名：auditor1；角色：审计人员")
    expect(created.locator("[data-cell=record]")).to_contain_text("用户 #")

    # --- the two unmasked reads: the worker, the resident, the access request that allowed them
    page.get_by_test_id("audit-action").select_option("unmask_read")
    _apply(page, expect, section, "order=desc&action=unmask_read")
    reads = _db_rows(url, lambda r: r.action == "unmask_read")
    assert len(reads) == 2 and _shown_rows(page) == reads
    rows = page.get_by_test_id("audit-row")
    for k in range(2):
        row = rows.nth(k)
        expect(row.locator("[data-cell=user]")).to_have_text(
            f"worker1（#{demo_file['worker_id']}）"
        )
        expect(row.locator("[data-cell=action]")).to_have_text("查看完整居民信息 unmask_read")
        expect(row.locator("[data-cell=record]")).to_have_text(f"居民 #{first}（residents）")
        expect(row.locator("[data-cell=detail]")).to_have_text(
            f"依据查阅申请 #{granted}；字段：身份证号码、联系电话"
        )
    assert {r[4]["access_request_id"] for r in reads} == {granted}
    expect(page.get_by_test_id("audit-count")).to_have_text("共 2 条")
    expect(page.get_by_test_id("audit-more")).to_be_hidden()
    shot("unmask-reads")
    assert IDS[0] not in page.locator("body").inner_text()  # the log names, never shows, them

    # --- a date range ending yesterday (Shanghai) has none of today's reads
    today = _local(max(r.at for r in _audit_rows(url, "unmask_read"))).date()
    page.get_by_test_id("audit-end").fill((today - dt.timedelta(days=1)).isoformat())
    _apply(
        page, expect, section, f"order=desc&action=unmask_read&end={today - dt.timedelta(days=1)}"
    )
    expect(page.get_by_test_id("audit-row")).to_have_count(0)
    expect(page.get_by_test_id("audit-empty")).to_be_visible()
    expect(section).to_have_attribute("data-count", "0")
    shot("none-before-today")
    # ... and none of any action after today
    page.get_by_test_id("audit-clear").click()
    expect(section).to_have_attribute("data-query", "order=desc", timeout=15000)
    wait_idle(page)
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    page.get_by_test_id("audit-start").fill(tomorrow)
    _apply(page, expect, section, f"order=desc&start={tomorrow}")
    expect(page.get_by_test_id("audit-empty")).to_be_visible()
    expect(page.get_by_test_id("audit-row")).to_have_count(0)

    # --- one past Shanghai day: exactly its rows, both midnights handled
    day = PAST_DAY.isoformat()
    page.get_by_test_id("audit-start").fill(day)
    page.get_by_test_id("audit-end").fill(day)
    _apply(page, expect, section, f"order=desc&start={day}&end={day}")
    that_day = _db_rows(url, lambda r: _local(r.at).date() == PAST_DAY)
    assert 0 < len(that_day) < PAGE_SIZE
    assert _shown_rows(page) == that_day
    times = [row[1] for row in that_day]
    assert f"{day} 00:00:00" in times and f"{day} 23:59:59" in times  # the day's two edges
    day_before = (PAST_DAY - dt.timedelta(days=1)).isoformat()
    assert not any(t.startswith(day_before) for t in times)
    shot("one-day")

    # --- the user name narrows it further; a last date before the first is refused here
    page.get_by_test_id("audit-username").fill("head1")
    _apply(page, expect, section, f"order=desc&username=head1&start={day}&end={day}")
    heads = [row for row in that_day if row[2] == "head1"]
    assert heads and _shown_rows(page) == heads
    page.get_by_test_id("audit-end").fill(day_before)
    page.get_by_test_id("audit-submit").click()
    expect(page.get_by_test_id("audit-error-end")).to_contain_text("不能早于起始日期")
    expect(section).to_have_attribute(
        "data-query", f"order=desc&username=head1&start={day}&end={day}"
    )
    assert _shown_rows(page) == heads
    shot("refused-range")

    context.close()
    assert blocked == []
    assert errors == []


def _audit_rows(url: str, action: str) -> list[AuditLog]:
    with db_session(url) as session:
        rows = session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()
        session.expunge_all()
        return list(rows)


def test_grid_worker_has_no_permission(browser, server):
    from playwright.sync_api import expect

    base, _url = server
    blocked: list[str] = []
    errors: list[str] = []
    context, page = _open_page(browser, base, blocked, errors)
    shot = Shots(page, "pages", "audit-denied")
    sign_in(page, base, "worker1", PASSWORD)
    for name in ("nav-audit", "home-audit"):
        expect(page.get_by_test_id(name)).to_be_hidden()
    page.goto(f"{base}/app/audit")
    denied = page.get_by_test_id("audit-denied")
    expect(denied).to_contain_text("没有权限", timeout=15000)
    expect(denied).to_contain_text("网格员")
    expect(page.get_by_test_id("audit-rows")).to_be_hidden()
    expect(page.get_by_test_id("audit-form")).to_be_hidden()
    wait_idle(page)
    shot("worker")
    context.close()
    assert blocked == []
    assert errors == []

    # the API agrees: 403 for the worker, the community head and the admin (who manages
    # accounts: separation of duties)
    with httpx.Client(base_url=base) as client:
        for who, status in (("worker1", 403), ("head1", 403), ("admin1", 403)):
            r = client.get("/audit", headers=bearer(client, who, PASSWORD))
            assert r.status_code == status, (who, r.text)
