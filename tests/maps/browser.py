"""What the browser tests share: a real uvicorn in a thread, and numbered screenshots."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("WANGGE_TEST_ARTEFACTS", ROOT / "out" / "test-artefacts"))


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


class Shots:
    """Numbered screenshots of the steps of one test, kept as artefacts."""

    def __init__(self, page, folder: str, name: str) -> None:
        self.page, self.folder, self.n = page, ARTEFACTS / folder / name, 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str, page=None) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{step}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


# ---------------------------------------------------------------- the staff and public pages

VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
              "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}  # fmt: skip


def largest_part(geom):
    """The largest polygon of a (multi)polygon."""
    return max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)


def offline_context(browser, base: str, blocked: list[str], screen: str = "phone", **kwargs):
    """A browser context that reaches only ``base``; every other request is aborted and its
    URL appended to ``blocked`` (the pages must work without the Internet)."""
    context = browser.new_context(locale="zh-CN", **VIEWPORTS[screen], **kwargs)

    def route(route):
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return context


def wait_for_js(page, expression: str, *, arg=None, timeout: float = 30000) -> None:
    """Wait until ``expression`` (or the function ``expression`` of ``arg``) is truthy.

    Polled through ``page.evaluate``, which the page's Content-Security-Policy does not
    govern; Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside
    the page, which a CSP without ``'unsafe-eval'`` (ours) refuses.
    """
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as exc:  # the page navigating meanwhile: ask again
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"still false after {timeout:g} ms: {expression}"
        page.wait_for_timeout(50)


def wait_basemap_drawn(page, map_expr: str, *, labels: bool = True) -> None:
    """Wait until the offline base layer of the Leaflet map ``map_expr`` is the one shown and
    has loaded every tile in view (and, with ``labels``, placed its labels)."""
    wait_for_js(
        page,
        f"(() => {{ const m = {map_expr}; if (!m || !m.wanggeBasemap) return false;"
        " const b = m.wanggeBasemap, l = b.layers.offline;"
        " return b.current === 'offline' && l._loading === false"
        " && Object.keys(l._tiles).length > 0"
        + (" && b.labels().length > 0" if labels else "")
        + "; })()",
    )


# Installed before any page script runs (an init script, which the CSP does not govern).
LISTEN_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' +
    e.lineNumber);
});
"""


def watched_page(browser, base: str, blocked: list[str], screen: str = "desktop"):
    """An offline page (see :func:`offline_context`) that records CSP violations (read them
    with :func:`csp_violations`), console errors and page errors (the returned list)."""
    context = offline_context(browser, base, blocked, screen=screen)
    context.add_init_script(LISTEN_CSP)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error"
            else None)  # fmt: skip
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    return context, page, problems


def csp_violations(page) -> list[str]:
    """The ``securitypolicyviolation`` events of a :func:`watched_page` so far."""
    return page.evaluate("window.__csp || []")


def wait_idle(page) -> None:
    """Wait until the page has no API request in flight."""
    wait_for_js(page, "window.wangge && window.wangge.idle()", timeout=15000)


def sign_in(page, base: str, username: str, password: str) -> None:
    """Sign in on ``/app/`` and wait for the role's home."""
    page.goto(f"{base}/app/")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("home").wait_for(state="visible", timeout=15000)


def tap_map(page, map_id: str, lon: float, lat: float) -> None:
    """Click the Leaflet map ``map_id`` where (lon, lat) is drawn."""
    page.locator(f"#{map_id}").scroll_into_view_if_needed()
    box = page.locator(f"#{map_id}").bounding_box()
    x, y = page.evaluate(
        "([id, lat, lon]) => { const p = wangge.maps[id].latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [map_id, lat, lon],
    )
    assert 0 < x < box["width"] and 0 < y < box["height"], "the point is off the map"
    page.mouse.click(box["x"] + x, box["y"] + y)


def incident_events(url: str, incident_id: int) -> list[tuple[str, str | None]]:
    """(action, username) of an incident's history, in order, read from the database."""
    import sqlalchemy as sa

    from api.db.engine import make_engine
    from api.db.models.incidents import IncidentEvent

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(IncidentEvent.action, IncidentEvent.username)
                .where(IncidentEvent.incident_id == incident_id)
                .order_by(IncidentEvent.seq)
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1]) for r in rows]


@contextlib.contextmanager
def serve_database_copy(
    source: Path, folder: Path, name: str, **app_options
) -> Iterator[tuple[str, str]]:
    """A real uvicorn over a fresh copy of the SQLite file ``source`` (and of the staff photos
    beside it, if any), the app made with ``app_options``; yield (base URL, database URL)."""
    import shutil

    from api.app import create_app

    path = folder / name
    shutil.copyfile(source, path)
    photos = source.parent / "staff_photos"
    if photos.is_dir() and not (folder / "staff_photos").exists():
        shutil.copytree(photos, folder / "staff_photos")
    url = f"sqlite:///{path}"
    app = create_app(url, secret_key="browser-test-secret-0123456789abcdef", **app_options)
    with serve_in_thread(app) as base:
        yield base, url


@contextlib.contextmanager
def db_session(url: str):
    """A session on the database at ``url`` (its engine disposed afterwards)."""
    from api.db.engine import make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def bearer(client, username: str, password: str) -> dict[str, str]:
    """The Authorization header of ``username`` signed in through ``POST /auth/token``."""
    answer = client.post("/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def first_house(session, grid_code: str):
    """The first house (by id) with a door plate in ``grid_code``."""
    import sqlalchemy as sa

    from api.db.models import House

    return session.scalars(
        sa.select(House)
        .where(House.grid_code == grid_code, House.address.is_not(None))
        .order_by(House.id)
    ).first()


def add_residents(session, worker, house_id: int, people) -> list:
    """Register ``people`` — (name, ID number, phone) — in a house, as ``worker`` would."""
    from api.services.crud import create_resident

    return [
        create_resident(
            session,
            user=worker,
            data={
                "house_id": house_id,
                "name": name,
                "id_number": number,
                "population_type": "10",
                "phone": phone,
            },
        )
        for name, number, phone in people
    ]
