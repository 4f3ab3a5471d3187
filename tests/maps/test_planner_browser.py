"""The planners' drawing page in a real headless Chromium, served by a real uvicorn.

Every request not to the local test server is aborted and recorded: the page must work
offline. Screenshots of each step are kept in ``$WANGGE_TEST_ARTEFACTS/planner`` (default
``out/test-artefacts/planner``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from api.app import create_app
from api.db.models import Role
from api.services.demo import load_demo
from gis.edit import split_grid
from maps.assets import remote_links
from tests.api.routes.conftest import PASSWORD, add_users
from tests.maps.browser import Shots, serve_in_thread, wait_for_js

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

COMMUNITY = "外滩源社区"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    """A SpatiaLite file with the demo and a planner, built once and copied by each test."""
    path = tmp_path_factory.mktemp("planner") / "demo.db"
    load_demo(db_url=f"sqlite:///{path}")
    add_users(f"sqlite:///{path}", {"planner1": (Role.PLANNER, [])})
    return path


@pytest.fixture
def server(demo_file, tmp_path):
    """A real uvicorn on 127.0.0.1 over a fresh copy of the demo database."""
    path = tmp_path / "planner.db"
    shutil.copyfile(demo_file, path)
    app = create_app(f"sqlite:///{path}", secret_key="browser-test-secret-0123456789abcdef")
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
def planner_page(browser, server):
    """Open the page with every non-local request aborted; return (page, blocked, errors)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    blocked: list[str] = []
    errors: list[str] = []

    def route(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/planner/{COMMUNITY}")
    yield page, blocked, errors
    page.close()


def _idle(page) -> None:
    wait_for_js(page, "window.planner && window.planner.idle()", timeout=15000)


def _wait_message(page, kind: str, text: str) -> None:
    wait_for_js(
        page,
        "([kind, text]) => { const m = document.querySelector('#message');"
        " return m.className === kind && m.textContent.includes(text); }",
        arg=[kind, text],
        timeout=15000,
    )


def _kinds(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=findings-list] > *", "els => els.map(e => e.dataset.kind)"
    )


def _pixel(page, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on the main map."""
    box = page.locator("#map").bounding_box()
    xy = page.evaluate(f"(() => {{ const p = planner.map.latLngToContainerPoint([{lat}, {lon}]);"
                       " return [p.x, p.y]; })()")  # fmt: skip
    return box["x"] + xy[0], box["y"] + xy[1]


def _grids(page) -> gpd.GeoDataFrame:
    fc = page.evaluate("planner.grids()")
    return gpd.GeoDataFrame.from_features(fc["features"], crs=4326)


def _sign_in(page) -> None:
    page.get_by_test_id("login-username").fill("planner1")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    wait_for_js(page, "window.planner.state.grids !== null", timeout=15000)
    _idle(page)


def _split_line(grids: gpd.GeoDataFrame, code: str) -> list[list[float]]:
    """A straight line across the grid (3 m past its outline) that cuts it in exactly two."""
    metric = grids.to_crs(4549)
    geom = metric.loc[metric["code"] == code].geometry.iloc[0]
    centre = np.array(geom.point_on_surface().coords[0])
    for angle in np.linspace(0, np.pi, 12, endpoint=False):
        d = np.array([np.cos(angle), np.sin(angle)]) * 2000
        inside = shapely.LineString([centre - d, centre + d]).intersection(geom)
        if inside.geom_type != "LineString":
            continue
        a, b = np.asarray(inside.coords)[[0, -1]]
        step = (b - a) / np.linalg.norm(b - a) * 3.0
        line_m = shapely.LineString([a - step, b + step])
        try:
            split_grid(metric, code, line_m)
        except ValueError:
            continue
        line = gpd.GeoSeries([line_m], crs=4549).to_crs(4326).iloc[0]
        return [list(xy) for xy in line.coords]
    raise AssertionError(f"no straight line cuts grid {code} in two")


def test_page_is_offline_and_refuses_without_sign_in(planner_page, server):
    page, blocked, errors = planner_page
    html = page.content()
    assert remote_links(html) == []
    assert page.get_by_test_id("login").is_visible()
    for testid in (
        "login-username", "login-password", "login-submit", "draw", "split", "merge",
        "move-boundary", "validate", "findings-list", "household-balance", "repair", "divide",
        "preview-accept", "preview-discard", "effective-date", "save", "versions-list",
        "undo", "redo",
    ):  # fmt: skip
        assert page.get_by_test_id(testid).count() == 1, testid
    page.get_by_test_id("login-username").fill("planner1")
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    wait_for_js(page, "document.querySelector('#login-error').textContent.length > 0")
    assert page.get_by_test_id("login").is_visible()
    assert page.evaluate("typeof L.PM") == "object"  # Geoman loaded from /static/vendor
    assert blocked == [] and errors == []


def test_draw_overlap_refused_fix_save_reload_restore(planner_page, server):
    page, blocked, errors = planner_page
    shots = Shots(page, "planner", "draw-fix-save")
    _sign_in(page)
    before = _grids(page)
    assert len(before) == 12
    assert page.get_by_test_id("status").inner_text().startswith("通过")
    assert _kinds(page) == []
    rows = page.locator("[data-testid=household-balance] tbody tr")
    assert rows.count() == 12
    shots("signed-in")

    # 1. draw a square (real mouse clicks through Geoman) inside grid 003: it overlaps it
    target = before.loc[before["code"] == "310101002005003"].geometry.iloc[0]
    p = target.representative_point()
    cx, cy = _pixel(page, p.x, p.y)
    page.get_by_test_id("draw").click()
    corners = [(cx - 25, cy - 25), (cx + 25, cy - 25), (cx + 25, cy + 25), (cx - 25, cy + 25)]
    for x, y in corners:
        page.mouse.click(x, y)
        page.wait_for_timeout(60)
    page.mouse.click(*corners[0])  # clicking the first vertex closes the polygon
    _idle(page)
    drawn = _grids(page)
    assert len(drawn) == 13
    new_code = (set(drawn["code"]) - set(before["code"])).pop()
    assert new_code == "310101002005013"  # the next free sequence under the community code
    overlaps = page.locator("[data-testid=findings-list] > [data-kind=overlap]")
    assert overlaps.count() >= 1
    assert new_code in overlaps.first.inner_text()
    assert "310101002005003" in " ".join(overlaps.all_inner_texts())
    assert page.get_by_test_id("status").inner_text().startswith("未通过")
    shots("overlap-drawn")

    # 2. saving it is refused, with the findings shown; nothing is stored
    page.get_by_test_id("save").click()
    _wait_message(page, "error", "拒绝")
    assert "拒绝" in page.get_by_test_id("message").inner_text()
    assert "overlap" in _kinds(page)
    assert page.locator("[data-testid=versions-list] > li").count() == 1
    shots("save-refused")

    # 3. undo / redo
    page.get_by_test_id("undo").click()
    _idle(page)
    assert len(_grids(page)) == 12 and _kinds(page) == []
    page.get_by_test_id("redo").click()
    _idle(page)
    assert len(_grids(page)) == 13 and "overlap" in _kinds(page)

    # 4. fix it: repair, preview beside the map, accept
    page.get_by_test_id("repair").click()
    page.get_by_test_id("preview").wait_for(state="visible")
    assert page.locator("#preview-info [data-action=resolve_overlap]").count() >= 1
    shots("repair-preview")
    page.get_by_test_id("preview-accept").click()
    _idle(page)
    assert page.get_by_test_id("preview").is_hidden()
    fixed = _grids(page)
    assert len(fixed) == 13 and _kinds(page) == []
    # the repaired division still covers the community: total area unchanged (1 m² slack)
    area = fixed.to_crs(4549).area.sum()
    assert abs(area - before.to_crs(4549).area.sum()) < 1.0
    assert page.get_by_test_id("status").inner_text().startswith("通过")
    shots("repaired")

    # 5. save with today's date (the page's default): version 2, in effect
    assert page.get_by_test_id("effective-date").input_value() == dt.date.today().isoformat()
    page.get_by_test_id("save").click()
    _wait_message(page, "ok", "已保存")
    assert page.locator("[data-testid=versions-list] > li").count() == 2
    shots("saved")

    # 6. reload: still signed in (token kept), the saved version is the one shown
    page.reload()
    wait_for_js(page, "window.planner && window.planner.state.grids !== null")
    _idle(page)
    assert page.get_by_test_id("login").is_hidden()
    assert page.get_by_test_id("division-label").get_attribute("data-version") == "2"
    reloaded = _grids(page)
    assert sorted(reloaded["code"]) == sorted(fixed["code"])
    assert page.locator("[data-testid=versions-list] > li[data-version='2'].in-effect").count() == 1
    assert _kinds(page) == []
    shots("reloaded")

    # 7. view version 1 beside the current one, discard; restore it from tomorrow
    v1 = page.locator("[data-testid=versions-list] > li[data-version='1']")
    v1.get_by_test_id("version-view").click()
    page.get_by_test_id("preview").wait_for(state="visible")
    assert page.evaluate("planner.state.preview.grids.features.length") == 12
    page.get_by_test_id("preview-discard").click()
    assert page.get_by_test_id("preview").is_hidden()
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    page.get_by_test_id("effective-date").fill(tomorrow)
    v1.get_by_test_id("restore").click()
    wait_for_js(page, "document.querySelectorAll('#versions-list > li').length === 3")
    assert page.locator("#versions-list > li[data-version='3'].scheduled").count() == 1
    shots("restored")
    assert blocked == [] and errors == []


def test_split_merge_move_boundary_and_vertex_through_the_page(planner_page, server):
    page, blocked, errors = planner_page
    shots = Shots(page, "planner", "edits")
    _sign_in(page)
    start = _grids(page)
    total_m2 = start.to_crs(4549).area.sum()

    # moving one vertex of one grid (its neighbour does not follow) shows a defect at once
    code = "310101002005005"
    ring = np.asarray(start.loc[start["code"] == code].geometry.iloc[0].exterior.coords)
    centre = np.asarray(start.loc[start["code"] == code].geometry.iloc[0].centroid.coords[0])
    moved = ring[1] + (ring[1] - centre) * 0.3  # outwards: over the neighbour or the outside
    assert page.evaluate(f"planner.moveVertex({json.dumps(code)}, 1, {json.dumps(moved.tolist())})")
    _idle(page)
    assert {"overlap", "outside"} & set(_kinds(page))
    shots("vertex-moved")
    page.get_by_test_id("undo").click()
    _idle(page)
    assert _kinds(page) == []

    # split grid 010 with a line (page API), then merge the two halves back with clicks
    line = _split_line(start, "310101002005010")
    assert page.evaluate(f"planner.split({json.dumps(line)})")
    _idle(page)
    split = _grids(page)
    assert len(split) == 13 and _kinds(page) == []
    assert abs(split.to_crs(4549).area.sum() - total_m2) < 1.0
    halves = split[split["code"].isin(["310101002005010", "310101002005013"])]
    assert len(halves) == 2
    shots("split")
    page.get_by_test_id("merge").click()
    for geom in halves.geometry:
        point = geom.representative_point()
        page.mouse.click(*_pixel(page, point.x, point.y))
    _idle(page)
    merged = _grids(page)
    assert len(merged) == 12 and _kinds(page) == []
    back = merged.loc[merged["code"] == "310101002005010"].to_crs(4549).area.iloc[0]
    orig = start.loc[start["code"] == "310101002005010"].to_crs(4549).area.iloc[0]
    assert abs(back - orig) < 0.5
    shots("merged")

    # move a shared boundary: a straight line between the ends of a shared edge
    pair, new_line = _straight_shared_edge(merged)
    assert page.evaluate(f"planner.moveBoundary({json.dumps(new_line)})")
    _idle(page)
    after = _grids(page)
    assert _kinds(page) == []
    area = after.to_crs(4549).set_index("code").area
    before_area = merged.to_crs(4549).set_index("code").area
    assert abs(area[list(pair)].sum() - before_area[list(pair)].sum()) < 0.5
    assert abs(area[pair[0]] - before_area[pair[0]]) > 1.0  # the edge really moved
    others = [c for c in merged["code"] if c not in pair]
    assert np.allclose(area[others], before_area[others], atol=1e-6)
    shots("boundary-moved")
    assert blocked == [] and errors == []


def _straight_shared_edge(grids: gpd.GeoDataFrame) -> tuple[tuple[str, str], list]:
    """Two neighbours whose shared edge, replaced by the straight line between its ends,
    stays in the two grids and changes their areas by more than 10 m²; and that line."""
    geoms, codes = list(grids.geometry), list(grids["code"])
    transformer = pyproj.Transformer.from_crs(4326, 4549, always_xy=True)

    def to_m(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(*xy.T)))

    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            shared = shapely.line_merge(geoms[i].boundary.intersection(geoms[j].boundary))
            if shared.geom_type != "LineString" or len(shared.coords) < 3:
                continue
            ends = [list(shared.coords[0]), list(shared.coords[-1])]
            shared_m = to_m(shared)
            straight_m = shapely.LineString(to_m(shapely.LineString(ends)))
            pair_m = to_m(geoms[i].union(geoms[j]))
            if straight_m.difference(pair_m.buffer(0.001)).length > 0:
                continue
            swept = shapely.Polygon([*shared_m.coords, shared_m.coords[0]])
            if shared_m.length < 50 or not swept.is_valid or swept.area < 10:
                continue
            return (codes[i], codes[j]), ends
    raise AssertionError("no shared edge to straighten in the demo")
