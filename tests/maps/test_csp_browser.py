"""Every page under the Content-Security-Policy, in a real headless Chromium; idle sign-out.

One real uvicorn on 127.0.0.1 over a copy of the demo database, every request beyond it
aborted. Each page — the staff pages ``/app/*`` signed in as a role that uses them, the public
page, the planner, and the folium maps ``/maps/*`` — is loaded with a listener for
``securitypolicyviolation`` events installed before any page script runs (an init script,
which the CSP does not govern), and every console error and page error is collected. A page
passes when it drew what it draws (its section or map is visible, its API calls finished),
no violation was reported and nothing was logged as an error. The answer of each page carries
the headers of :mod:`api.routes.headers`.

The idle sign-out: the page's clock is Playwright's (installed before the page loads), so the
test moves time past ``idle_timeout`` instead of waiting; the page must then show the
sign-in form, have forgotten its token, and the server must refuse that token (it was
revoked by ``POST /auth/logout``).
"""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import pytest
import sqlalchemy as sa
from shapely.ops import polylabel

from api.db.engine import make_engine, session_factory
from api.db.models import Grid, Role, from_db_geometry
from api.routes.headers import inline_script_hashes
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.incidents.people import actor_of
from api.services.incidents.report import report_incident
from tests.api.routes.conftest import PASSWORD
from tests.maps.browser import (
    csp_violations,
    largest_part,
    serve_database_copy,
    sign_in,
    wait_for_js,
    wait_idle,
    watched_page,
)

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

COMMUNITY = "外滩源社区"
GRID = "310101002005001"
ROLES = {
    "worker1": Role.GRID_WORKER,
    "head1": Role.COMMUNITY_HEAD,
    "auditor1": Role.AUDITOR,
    "planner1": Role.PLANNER,
}


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> dict:
    """The demo with a user of each page's role and one incident."""
    path = tmp_path_factory.mktemp("csp") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        users = {
            name: create_user(session, username=name, password=PASSWORD, role=role,
                              grid_codes=[GRID] if role == Role.GRID_WORKER else [])
            for name, role in ROLES.items()
        }  # fmt: skip
        grid = session.scalars(sa.select(Grid).where(Grid.code == GRID)).first()
        inside = polylabel(largest_part(from_db_geometry(grid.geom)), tolerance=1e-6)
        incident = report_incident(
            session,
            category_code="0302",
            actor=actor_of(users["worker1"]),
            description="CSP 测试事件",
            lon=inside.x,
            lat=inside.y,
            reported_at=dt.datetime.now(dt.UTC),
        )
        info = {"path": path, "incident": incident.id}
    engine.dispose()
    return info


@pytest.fixture
def server(demo_file, tmp_path):
    with serve_database_copy(demo_file["path"], tmp_path, "csp.db") as served:
        yield served


STAFF_PAGES = [
    # (user, path, what must be visible once drawn)
    ("worker1", "/app/", "[data-testid=home]"),
    ("worker1", "/app/worker", "#page-worker"),
    ("worker1", "/app/inbox", "#page-inbox"),
    ("worker1", "/app/incident/{incident}", "#page-incident"),
    ("head1", "/app/dashboard", "#page-dashboard"),
    ("head1", "/app/approvals", "#page-approvals"),
    ("head1", "/app/import", "#page-import"),
    ("auditor1", "/app/audit", "#page-audit"),
]


def test_every_staff_page_works_under_the_csp(browser, server, demo_file):
    base, _url = server
    blocked: list[str] = []
    context, page, problems = watched_page(browser, base, blocked)
    try:
        signed_in = None
        for user, path, shown in STAFF_PAGES:
            if user != signed_in:
                page.evaluate("window.localStorage.clear()") if signed_in else None
                sign_in(page, base, user, PASSWORD)
                signed_in = user
            answer = page.goto(base + path.format(incident=demo_file["incident"]))
            assert answer.headers["content-security-policy"].startswith("default-src 'self'")
            assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
            page.locator(shown).wait_for(state="visible", timeout=15000)
            wait_idle(page)
            assert csp_violations(page) == [], path
        assert problems == [] and blocked == []
    finally:
        context.close()


def test_public_page_planner_and_maps_work_under_the_csp(browser, server):
    base, _url = server
    blocked: list[str] = []
    context, page, problems = watched_page(browser, base, blocked)
    try:
        page.goto(base + "/public")
        page.locator("#page-public").wait_for(state="visible", timeout=15000)
        wait_idle(page)
        assert csp_violations(page) == []

        page.goto(f"{base}/planner/{COMMUNITY}")
        page.get_by_test_id("login-username").fill("planner1")
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        wait_for_js(page, "window.planner && window.planner.state.grids !== null")
        wait_for_js(page, "window.planner.idle()")
        assert page.evaluate("planner.grids().features.length") > 0
        assert csp_violations(page) == []

        maps = [
            f"/maps/division/{COMMUNITY}",
            f"/maps/validation/{COMMUNITY}",
            *(f"/maps/incidents?community={COMMUNITY}&style={s}"
              for s in ("heatmap", "choropleth", "hotspots")),
        ]  # fmt: skip
        for path in maps:
            answer = page.goto(base + path)
            html = answer.text()
            policy = answer.headers["content-security-policy"]
            hashes = inline_script_hashes(html)
            # the policy lists exactly the page's own inline scripts, and no unsafe script
            assert hashes and all(f"'{h}'" in policy for h in hashes)
            script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
            assert script_src.split()[1:] == ["'self'", *(f"'{h}'" for h in hashes)]
            # the map was set up by its inline script: Leaflet drew its panes and layers
            page.locator(".leaflet-container .leaflet-overlay-pane").first.wait_for(
                state="attached", timeout=15000
            )
            assert page.evaluate("document.querySelectorAll('.leaflet-container').length") >= 1
            assert csp_violations(page) == [], path
        assert problems == [] and blocked == []
    finally:
        context.close()


def test_an_injected_inline_script_is_refused_and_reported(browser, server, caplog):
    """The policy is enforced, not only sent: an inline script added to a page does not run,
    is reported as a violation in the page, and the browser's report reaches the server's
    log through ``POST /csp-report``."""
    caplog.set_level(logging.WARNING, logger="api.csp")
    base, _url = server
    blocked: list[str] = []
    context, page, _problems = watched_page(browser, base, blocked)
    try:
        page.goto(base + "/public")
        page.locator("#page-public").wait_for(state="visible", timeout=15000)
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__ran = true'; document.body.appendChild(s); }"
        )
        wait_for_js(page, "window.__csp.length > 0")
        assert page.evaluate("window.__ran === undefined")
        assert any(v.startswith("script-src") for v in csp_violations(page))
        for _ in range(300):  # bounded: the report is sent by the browser in the background
            reports = [r.getMessage() for r in caplog.records if r.name == "api.csp"]
            if reports:
                break
            page.wait_for_timeout(50)
        assert len(reports) == 1 and "script-src" in reports[0] and "/public" in reports[0]
    finally:
        context.close()


def test_pages_sign_out_after_the_idle_time(browser, demo_file, tmp_path):
    idle = dt.timedelta(minutes=2)
    with serve_database_copy(demo_file["path"], tmp_path, "idle.db", idle_timeout=idle) as (
        base,
        _url,
    ):
        blocked: list[str] = []
        context, page, problems = watched_page(browser, base, blocked)
        try:
            page.clock.install()
            sign_in(page, base, "worker1", PASSWORD)
            wait_idle(page)
            token = page.evaluate("window.localStorage.getItem('wangge.app.token')")
            me = httpx.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            # use keeps the session: a key press just before the limit restarts the count
            page.clock.fast_forward(int(idle.total_seconds() * 1000) - 5000)
            page.keyboard.press("Shift")
            page.clock.fast_forward(10_000)
            assert page.get_by_test_id("home").is_visible()
            assert page.evaluate("window.localStorage.getItem('wangge.app.token')") == token
            # then the full idle time without use: signed out, here and on the server
            with page.expect_request(lambda r: r.url.endswith("/auth/logout")) as logout:
                page.clock.fast_forward(int(idle.total_seconds() * 1000) + 1000)
            assert logout.value.method == "POST"
            page.locator("#login").wait_for(state="visible", timeout=15000)
            assert "长时间未操作" in page.get_by_test_id("login-error").text_content()
            assert page.evaluate("window.localStorage.getItem('wangge.app.token')") is None
            wait_for_js(page, "window.wangge.idle()")
            logout.value.response()  # the server answered the sign-out
            me = httpx.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 401
            assert problems == [] and csp_violations(page) == []
        finally:
            context.close()
