"""The resident's rating page and the survey phone page in a real headless Chromium, offline
(every request not to the app aborted), on a phone-sized screen, both databases.

A closed incident gets a one-time link; the page shows its public facts (the phone number
in the description masked), the resident picks 基本满意 and sends it; the stored record is
read back from the database; opening the link again shows it was rated and offers no form.
A survey is answered on its phone page (grid chosen, two questions); the stored response is
anonymous (no user) and from the phone.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.db.engine import make_engine
from tests.api.incident_helpers import demo_house, make_app, shared_env, token
from tests.api.routes.conftest import ManualClock
from tests.maps.browser import LISTEN_CSP as CSP_LISTEN
from tests.maps.browser import Shots, offline_context, serve_in_thread

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory, request):
    return shared_env(db_url, tmp_path_factory, request)


def _closed_incident_link(client, clock) -> tuple[int, str]:
    def auth(user):
        return {"Authorization": f"Bearer {token(client, user)}"}

    address, *_ = demo_house(5)
    r = client.post(
        "/incidents",
        headers=auth("gw"),
        json={
            "category_code": "0303",
            "description": "垃圾堆放，电话13712345678",
            "address": address,
        },
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    for user, action in (
        ("gw", "feed_back"),
        ("post_cj", "start"),
        ("post_cj", "resolve"),
        ("gw", "close"),
    ):
        clock.advance(minutes=20)
        step = client.post(
            f"/incidents/{iid}/transitions", headers=auth(user), json={"action": action}
        )
        assert step.status_code == 200, step.text
    link = client.post(f"/incidents/{iid}/satisfaction/link", headers=auth("head"))
    assert link.status_code == 201, link.text
    return iid, link.json()["path"]


def test_resident_rates_once_on_the_phone_page(env, browser, request):
    clock = ManualClock(dt.datetime(2026, 11, 4, 10, 0, tzinfo=SHANGHAI))
    app = make_app(env.url, clock)
    with TestClient(app) as client:
        iid, path = _closed_incident_link(client, clock)
    blocked: list[str] = []
    with serve_in_thread(make_app(env.url, clock)) as base:
        context = offline_context(browser, base, blocked)
        context.add_init_script(CSP_LISTEN)
        page = context.new_page()
        shots = Shots(page, "opinion", request.node.name)
        page.goto(base + path)
        facts = page.get_by_test_id("rate-facts")
        facts.get_by_text("已结案").wait_for(timeout=15000)
        assert "0303" in facts.inner_text()
        assert "13712345678" not in page.content()
        shots("facts")
        page.get_by_text("基本满意").click()
        page.get_by_test_id("rate-submit").click()
        message = page.get_by_test_id("rate-message")
        message.get_by_text("感谢").wait_for(timeout=15000)
        shots("rated")
        engine = make_engine(env.url)
        with engine.connect() as conn:
            level, source = conn.execute(
                sa.text("SELECT level, source FROM satisfaction WHERE incident_id = :i"),
                {"i": iid},
            ).one()
        engine.dispose()
        assert (level, source) == ("basic", "resident")
        page.goto(base + path)
        message.get_by_text("已评价").wait_for(timeout=15000)
        assert page.get_by_test_id("rate-form").is_hidden()
        shots("again")
        assert page.evaluate("window.__csp") == []  # the page works under the CSP
        context.close()
    assert blocked == []


def test_survey_answered_anonymously_on_the_phone_page(env, browser, request):
    clock = ManualClock(dt.datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI))
    with TestClient(make_app(env.url, clock)) as client:
        head = {"Authorization": f"Bearer {token(client, 'head')}"}
        r = client.post(
            "/surveys",
            headers=head,
            json={"community": "310101002005", "title": "手机测评页测试",
                  "opens_on": "2026-11-01", "closes_on": "2026-11-30"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
    grid = env.grid_codes[1]
    blocked: list[str] = []
    with serve_in_thread(make_app(env.url, clock)) as base:
        context = offline_context(browser, base, blocked)
        context.add_init_script(CSP_LISTEN)
        page = context.new_page()
        shots = Shots(page, "opinion", request.node.name)
        page.goto(f"{base}/survey/{sid}")
        page.get_by_test_id("survey-title").get_by_text("手机测评页测试").wait_for(timeout=15000)
        page.get_by_test_id("survey-grid").select_option(grid)
        page.locator('input[name="overall"][value="dissatisfied"]').check()
        page.locator('input[name="safety"][value="basic"]').check()
        shots("filled")
        page.get_by_test_id("survey-submit").click()
        page.get_by_test_id("survey-message").get_by_text("感谢").wait_for(timeout=15000)
        shots("sent")
        assert page.evaluate("window.__csp") == []  # the page works under the CSP
        context.close()
    assert blocked == []
    engine = make_engine(env.url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT grid_code, answers, source, entered_by FROM survey_responses "
                    "WHERE survey_id = :s"), {"s": sid},
        ).all()  # fmt: skip
    engine.dispose()
    assert len(rows) == 1
    grid_code, answers, source, entered_by = rows[0]
    answers = answers if isinstance(answers, dict) else json.loads(answers)
    assert (grid_code, source, entered_by) == (grid, "phone", None)
    assert answers == {"overall": "dissatisfied", "safety": "basic"}
