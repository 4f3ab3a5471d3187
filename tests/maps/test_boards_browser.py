"""The printed notice boards of the demo, end to end: ``wangge print boards`` with
``WANGGE_PUBLIC_URL`` pointing at a real server; each page names every active staff member of
its grid (as stored); its QR code, decoded by zxing-cpp from the rendered page, is that grid's
public URL; opened in a real headless Chromium, that URL shows that grid."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.core.config import get_settings
from api.db.models import Staff, StaffGrid
from api.services.demo import load_demo
from tests.maps.browser import db_session, offline_context, serve_database_copy, wait_idle
from tests.maps.test_boards import decode_qr, page_png, page_text, pages

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium, poppler

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("boards") / "demo.db"
    load_demo(db_url=f"sqlite:///{path}")
    return path


@pytest.fixture
def server(demo_db, tmp_path):
    with serve_database_copy(demo_db, tmp_path, "served.db") as served:
        yield served


def print_boards_cli(db_url: str, out, env: dict[str, str]):
    get_settings.cache_clear()
    try:
        return runner.invoke(
            app, ["print", "boards", "-c", "外滩源社区", "--db", db_url, "--out", str(out),
                  "--json"], env=env,
        )  # fmt: skip
    finally:
        get_settings.cache_clear()


def staff_by_grid(db_url: str) -> dict[str, list[str]]:
    with db_session(db_url) as session:
        rows = session.execute(
            sa.select(StaffGrid.grid_code, Staff.name)
            .join(Staff, Staff.id == StaffGrid.staff_id)
            .where(Staff.active.is_(True))
        ).all()
    out: dict[str, list[str]] = {}
    for code, name in rows:
        out.setdefault(code, []).append(name)
    return out


def test_boards_name_all_staff_and_qr_opens_the_grid(browser, server, tmp_path):
    from playwright.sync_api import expect

    base, db_url = server
    out = tmp_path / "boards.pdf"
    result = print_boards_cli(db_url, out, {"WANGGE_PUBLIC_URL": base})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == []
    people = staff_by_grid(db_url)
    codes = sorted(people)
    assert pages(out) == len(codes) == 12
    assert min(len(v) for v in people.values()) >= 3  # several staff on every board
    for page, code in enumerate(codes, start=1):
        text = page_text(out, page)
        assert code in text
        for name in people[code]:
            assert name in text, (code, name)
        assert "待填" not in text

    blocked: list[str] = []
    context = offline_context(browser, base, blocked)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    for page in (1, 7, 12):
        code = codes[page - 1]
        found = decode_qr(page_png(out, page, tmp_path))
        assert [text for text, _ in found] == [f"{base}/public?grid={code}"]
        tab.goto(found[0][0])
        wait_idle(tab)
        expect(tab.get_by_test_id("public-grid-code")).to_have_text(code, timeout=15000)
        expect(tab.get_by_test_id("public-result")).to_be_visible()
        shown = tab.get_by_test_id("public-result").inner_text()
        for name in people[code]:
            assert name in shown
    context.close()
    assert blocked == [] and errors == []


def test_without_public_url_boards_warn_and_have_no_qr(demo_db, tmp_path, monkeypatch):
    monkeypatch.delenv("WANGGE_PUBLIC_URL", raising=False)
    out = tmp_path / "plain.pdf"
    result = print_boards_cli(f"sqlite:///{demo_db}", out, {})
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert len(warnings) == 1 and "WANGGE_PUBLIC_URL" in warnings[0]
    assert decode_qr(page_png(out, 1, tmp_path)) == []
