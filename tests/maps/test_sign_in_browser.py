"""Second-factor sign-in on the staff pages, in a real headless Chromium.

One real uvicorn on 127.0.0.1 over a copy of the demo database, admins required to give a
TOTP code, the server's clock in the test's hand. An admin who has not enrolled signs in with
the right password, is shown the enrolment form with a new secret, adds it to "the app"
(pyotp here) and confirms with its code: signed in, without the console. Signing in again
asks for the code; the code already used is refused (good once), the next step's code is
accepted. The planner page asks an admin for the code as well. The pages are watched for CSP
violations throughout.
"""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest

from api.db.engine import make_engine, session_factory
from api.db.models import Role
from api.services.crud import create_user
from api.services.demo import load_demo
from tests.api.routes.conftest import PASSWORD, ManualClock
from tests.maps.browser import offline_context, serve_database_copy, wait_for_js, wait_idle

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("totp") / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        create_user(session, username="root1", password=PASSWORD, role=Role.ADMIN)
    engine.dispose()
    return path


def _submit_login(page, code: str | None = None) -> None:
    page.get_by_test_id("login-username").fill("root1")
    page.get_by_test_id("login-password").fill(PASSWORD)
    if code is not None:
        page.get_by_test_id("login-otp").fill(code)
    page.get_by_test_id("login-submit").click()


def test_an_admin_enrols_from_the_page_then_signs_in_with_codes(browser, demo_path, tmp_path):
    clock = ManualClock(dt.datetime.now(dt.UTC))
    with serve_database_copy(
        demo_path, tmp_path, "totp.db", clock=clock, second_factor_roles=["admin"]
    ) as (base, _url):
        blocked: list[str] = []
        context = offline_context(browser, base, blocked, screen="desktop")
        context.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " function (e) { window.__csp.push(e.violatedDirective); });"
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/app/")
            _submit_login(page)
            page.get_by_test_id("enrol").wait_for(state="visible", timeout=15000)
            secret = page.get_by_test_id("enrol-secret").text_content()
            uri = page.get_by_test_id("enrol-uri").get_attribute("href")
            assert pyotp.parse_uri(uri).secret == secret and len(secret) >= 16
            totp = pyotp.TOTP(secret)
            page.get_by_test_id("enrol-code").fill("000000" if totp.at(clock()) != "000000"
                                                   else "111111")  # fmt: skip
            page.get_by_test_id("enrol-submit").click()
            wait_for_js(page, "document.querySelector('[data-testid=enrol-error]').textContent")
            first = totp.at(clock())
            page.get_by_test_id("enrol-code").fill(first)
            page.get_by_test_id("enrol-submit").click()
            page.get_by_test_id("home").wait_for(state="visible", timeout=15000)
            wait_idle(page)
            assert page.get_by_test_id("user-name").text_content().startswith("root1")

            # sign out; signing in again asks for the code, and the used one is refused
            page.get_by_test_id("logout").click()
            page.get_by_test_id("login-username").wait_for(state="visible", timeout=15000)
            _submit_login(page)
            page.get_by_test_id("login-otp").wait_for(state="visible", timeout=15000)
            _submit_login(page, first)
            wait_for_js(page, "document.querySelector('[data-testid=login-error]')"
                              ".textContent.includes('incorrect TOTP')")  # fmt: skip
            assert not page.get_by_test_id("home").is_visible()
            clock.advance(seconds=30)
            _submit_login(page, totp.at(clock()))
            page.get_by_test_id("home").wait_for(state="visible", timeout=15000)

            # the planner page asks for the code too (admin passes the planner's gate)
            page.goto(f"{base}/planner/外滩源社区")
            _submit_login(page)
            page.get_by_test_id("login-otp").wait_for(state="visible", timeout=15000)
            clock.advance(seconds=30)
            _submit_login(page, totp.at(clock()))
            wait_for_js(page, "window.planner && window.planner.state.grids !== null")
            assert page.evaluate("planner.grids().features.length") > 0
            assert page.evaluate("window.__csp") == [] and errors == [] and blocked == []
        finally:
            context.close()
