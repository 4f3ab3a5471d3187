"""The offline base map on the public, worker and planner pages, in a real headless Chromium.

One real uvicorn serves a copy of the demo database and the demo's base map (cut from its OSM
extract by ``maps.basemap``); every request not to it is aborted and recorded. On a phone
screen each page must fetch ``/tiles/base/...`` (200s), draw streets under the grids and put
Chinese road names on them. What is drawn is checked against the tiles decoded by GDAL (not by
the plugin that draws them): the names the plugin placed are names of features of those tiles,
a named road's name is among them, and the canvas has road colours where the decoded tiles
have a road. Screenshots go to ``$WANGGE_TEST_ARTEFACTS/basemap`` (default
``out/test-artefacts/basemap``; the run's closing summary names the folder).
"""

from __future__ import annotations

import base64
import shutil
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from api.app import create_app
from api.db.models import Role
from api.services.demo import load_demo
from gis.osm import read_osm_layers
from maps.basemap import build_basemap
from maps.basemap_style import COLOURS, ROAD_CLASSES
from tests.api.routes.conftest import PASSWORD, add_users
from tests.maps.browser import (
    ARTEFACTS,
    Shots,
    offline_context,
    serve_in_thread,
    sign_in,
    tap_map,
    wait_basemap_drawn,
    wait_for_js,
    wait_idle,
)
from tests.mvt import gdal_tile
from tests.osm_fixture import DEMO_GPKG
from tests.reports import add_report

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

COMMUNITY = "外滩源社区"
GRID = "310101002005001"
ROAD_COLOURS = [COLOURS[k] for k in ("road_major", "road_minor", "road_casing")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """The demo database (a planner and a grid worker added) and its base map archive."""
    folder = tmp_path_factory.mktemp("basemap-pages")
    path = folder / "demo.db"
    load_demo(db_url=f"sqlite:///{path}")
    add_users(
        f"sqlite:///{path}",
        {"planner1": (Role.PLANNER, []), "worker1": (Role.GRID_WORKER, [GRID])},
    )
    archive = build_basemap(read_osm_layers([DEMO_GPKG]), folder / "base.pmtiles", processes=1).path
    return {"db": path, "archive": archive}


@pytest.fixture
def server(demo, tmp_path):
    path = tmp_path / "pages.db"
    shutil.copyfile(demo["db"], path)
    app = create_app(
        f"sqlite:///{path}",
        secret_key="browser-test-secret-0123456789abcdef",
        basemap=demo["archive"],
    )
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture(scope="module", autouse=True)
def report_folder():
    yield
    add_report("base map screenshots", f"screenshots of the pages: {ARTEFACTS / 'basemap'}")


def _shoot(page, name: str, selector: str) -> None:
    """The whole page, then the map alone (its streets and names legible), as artefacts."""
    Shots(page, "basemap", name)("streets-under-grids")
    folder = ARTEFACTS / "basemap" / name
    page.locator(selector).screenshot(path=str(folder / "02-map.png"))


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _open(browser, base: str, path: str):
    """A phone-sized page at ``path`` recording the base tiles' answers and blocked requests."""
    blocked: list[str] = []
    context = offline_context(browser, base, blocked)
    page = context.new_page()
    tiles: list[tuple[str, int]] = []
    errors: list[str] = []
    page.on(
        "response",
        lambda r: tiles.append((r.url, r.status)) if "/tiles/base/" in r.url else None,
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}{path}")
    return context, page, tiles, blocked, errors


def _zoom_in(page, map_expr: str, zoom: int = 16) -> None:
    """Zoom to ``zoom`` at the map's centre (as a user spreading two fingers; road names show
    from the style's zoom 14, Leaflet's 15), then wait until the base map is drawn."""
    wait_for_js(page, f"!{map_expr}._animatingZoom")
    page.evaluate(f"{map_expr}.setZoom({zoom}, {{animate: false}})")
    wait_basemap_drawn(page, map_expr)


def _decoded(base: str, tiles: list[tuple[str, int]], folder: Path) -> gpd.GeoDataFrame:
    """The roads of every base tile the page fetched, decoded by GDAL, in lon/lat."""
    frames = []
    for url, status in dict.fromkeys(tiles):
        if status != 200:
            continue
        z, x, y = (int(v) for v in url.split("/tiles/base/")[1].removesuffix(".mvt").split("/"))
        with urllib.request.urlopen(url) as answer:
            layers = gdal_tile(answer.read(), z, x, y, folder)
        if "roads" in layers and len(layers["roads"]):
            frames.append(layers["roads"].to_crs(4326))
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)


def _road_pixels(page, map_expr: str, points: list[tuple[float, float]]) -> list[bool]:
    """For each lon/lat: does the offline layer's canvas show a road colour within 2 px?"""
    return page.evaluate(
        """([points, colours]) => {
          const map = MAP;
          const layer = map.wanggeBasemap.layers.offline;
          const canvases = Array.from(layer.getContainer().querySelectorAll('canvas'));
          return points.map(([lon, lat]) => {
            const p = map.latLngToContainerPoint([lat, lon]);
            const box = map.getContainer().getBoundingClientRect();
            const x = box.left + p.x, y = box.top + p.y;
            for (const c of canvases) {
              const r = c.getBoundingClientRect();
              if (x < r.left || x >= r.right || y < r.top || y >= r.bottom) continue;
              const s = c.width / r.width;
              const cx = Math.floor((x - r.left) * s), cy = Math.floor((y - r.top) * s);
              const d = c.getContext('2d')
                .getImageData(cx - 2 * s, cy - 2 * s, 4 * s + 1, 4 * s + 1).data;
              for (let i = 0; i < d.length; i += 4) {
                for (const [R, G, B] of colours) {
                  const off = Math.abs(d[i] - R) + Math.abs(d[i + 1] - G) + Math.abs(d[i + 2] - B);
                  if (off < 12) return true;
                }
              }
              return false;
            }
            return false;
          });
        }""".replace("MAP", map_expr),
        [points, [_hex(c) for c in ROAD_COLOURS]],
    )


def _check_drawn(page, map_expr: str, base: str, tiles, folder: Path) -> set[str]:
    """The page drew streets with their Chinese names from the tiles it fetched; return the
    road names it placed."""
    ok = [t for t in tiles if t[1] == 200]
    assert ok, f"no base tile answered 200: {tiles}"
    assert all(status in (200, 204, 304) for _, status in tiles), tiles
    return _check_roads(page, map_expr, _decoded(base, tiles, folder))


def _check_roads(page, map_expr: str, roads: gpd.GeoDataFrame) -> set[str]:
    """The page placed Chinese names of ``roads`` (decoded tiles) and drew road colours on
    them; return the road names it placed."""
    named = roads[
        roads["name"].notna() & roads["kind"].isin(ROAD_CLASSES["major"] + ROAD_CLASSES["minor"])
    ]
    placed = set(page.evaluate(f"{map_expr}.wanggeBasemap.labels()"))
    road_names = placed & set(named["name"])
    assert road_names, f"no road name among the labels placed: {sorted(placed)[:20]}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in road_names)
    # the canvas is road-coloured on the roads of the decoded tiles inside the view
    bounds = page.evaluate(f"{map_expr}.getBounds().toBBoxString()")
    view = shapely.box(*(float(v) for v in bounds.split(",")))
    inner = shapely.affinity.scale(view, 0.8, 0.8)
    lines = named.geometry.intersection(inner)
    lines = lines[~lines.is_empty]
    assert len(lines), "no named road inside the view"
    points = []
    for line in lines:
        for f in (0.25, 0.5, 0.75):
            pt = line.interpolate(f, normalized=True)
            points.append((pt.x, pt.y))
    hits = _road_pixels(page, map_expr, points)
    assert np.mean(hits) > 0.8, f"road colours at {np.mean(hits):.0%} of points on named roads"
    # and away from every road the canvas is not all road: the colours mean roads
    return road_names


def test_public_page_draws_streets_with_chinese_names(browser, server, tmp_path):
    context, page, tiles, blocked, errors = _open(browser, server, "/public")
    try:
        # the grids arrive, the map fits them; zoom until road names show
        wait_for_js(page, "window.wangge && window.wangge.maps['public-map'] !== undefined")
        wait_for_js(page, "wangge.maps['public-map'].getZoom() < 15")  # fitted to the grids
        wait_idle(page)
        _zoom_in(page, "wangge.maps['public-map']")
        names = _check_drawn(page, "wangge.maps['public-map']", server, tiles, tmp_path)
        _shoot(page, "public", "#public-map")
        assert blocked == [] and errors == []
        assert names
    finally:
        context.close()


def test_worker_page_draws_streets_with_chinese_names(browser, server, tmp_path):
    context, page, tiles, blocked, errors = _open(browser, server, "/app/")
    try:
        sign_in(page, server, "worker1", PASSWORD)
        page.goto(f"{server}/app/worker")
        wait_for_js(page, "window.wangge && window.wangge.maps['worker-map'] !== undefined")
        wait_for_js(page, "window.wangge.state.ownGrids.length > 0")
        wait_idle(page)
        _zoom_in(page, "wangge.maps['worker-map']")
        page.locator("#worker-map").scroll_into_view_if_needed()
        _shoot(page, "worker", "#worker-map")
        assert _check_drawn(page, "wangge.maps['worker-map']", server, tiles, tmp_path)
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_planner_page_draws_streets_with_chinese_names(browser, server, tmp_path):
    context, page, tiles, blocked, errors = _open(browser, server, f"/planner/{COMMUNITY}")
    try:
        page.get_by_test_id("login-username").fill("planner1")
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        wait_for_js(page, "window.planner && window.planner.state.grids !== null")
        wait_for_js(page, "window.planner.idle()")
        _zoom_in(page, "planner.map")
        page.locator("#map").scroll_into_view_if_needed()
        _shoot(page, "planner", "#map")
        assert _check_drawn(page, "planner.map", server, tiles, tmp_path)
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_layer_switch_offers_offline_none_and_draws_nothing_without_a_base_map(
    browser, demo, tmp_path
):
    """With no base map and no online source the page asks nothing of /tiles and shows no
    switch; with one, 无底图 removes the drawn base layer."""
    path = tmp_path / "bare.db"
    shutil.copyfile(demo["db"], path)
    app = create_app(f"sqlite:///{path}", secret_key="browser-test-secret-0123456789abcdef")
    with serve_in_thread(app) as base:
        context, page, tiles, blocked, errors = _open(browser, base, "/public")
        try:
            wait_for_js(page, "window.wangge && window.wangge.maps['public-map'] !== undefined")
            wait_idle(page)
            switch = page.evaluate(
                "(() => { const b = wangge.maps['public-map'].wanggeBasemap;"
                " return [b.current, Object.keys(b.layers), b.control === null]; })()"
            )
            assert switch == ["none", ["none"], True]
            assert tiles == [] and blocked == [] and errors == []
        finally:
            context.close()


def test_js_gcj02_agrees_with_published_converters(browser, server):
    """basemap.js's WGS84 -> GCJ-02 matches coord-convert's (a published implementation) and
    gis.crs's; its inverse brings coord-convert's GCJ-02 back to the WGS84 point within 0.5 m."""
    from coord_convert.transform import wgs2gcj
    from pyproj import Geod

    from gis.crs import wgs84_to_gcj02

    rng = np.random.default_rng(20261207)
    points = np.column_stack([rng.uniform(73.5, 135.0, 400), rng.uniform(18.0, 53.5, 400)])
    points = np.vstack([points, [[121.4856, 31.2410], [2.35, 48.85], [116.39, 39.91]]])
    context, page, _, _, _ = _open(browser, server, "/public")
    try:
        wait_for_js(page, "window.wanggeBasemap !== undefined")
        forward, back = page.evaluate(
            """(pts) => [pts.map(([x, y]) => wanggeBasemap.wgs84ToGcj02(x, y)),
                         pts.map(([x, y]) => wanggeBasemap.gcj02ToWgs84(...(
                           wanggeBasemap.wgs84ToGcj02(x, y))))]""",
            points.tolist(),
        )
        published = [wgs2gcj(x, y) for x, y in points]
        inverted = page.evaluate(
            "(pts) => pts.map(([x, y]) => wanggeBasemap.gcj02ToWgs84(x, y))", published
        )
    finally:
        context.close()
    forward, back, inverted = np.array(forward), np.array(back), np.array(inverted)
    ours_lon, ours_lat = wgs84_to_gcj02(points[:, 0], points[:, 1])
    geod = Geod(ellps="WGS84")
    _, _, to_published = geod.inv(forward[:, 0], forward[:, 1], *np.array(published).T)
    _, _, to_python = geod.inv(forward[:, 0], forward[:, 1], ours_lon, ours_lat)
    _, _, round_trip = geod.inv(back[:, 0], back[:, 1], points[:, 0], points[:, 1])
    _, _, inverse = geod.inv(inverted[:, 0], inverted[:, 1], points[:, 0], points[:, 1])
    assert to_published.max() < 0.01 and to_python.max() < 0.001
    assert round_trip.max() < 0.5 and inverse.max() < 0.5, (round_trip.max(), inverse.max())
    moved = np.hypot(*(forward - points).T) > 1e-4  # inside China the offset is 100-700 m
    assert moved.sum() >= 400 and not moved[-2]  # Paris is not shifted


def test_a_gcj02_source_shifts_the_display_not_the_data(browser, demo, tmp_path, monkeypatch):
    """With Amap chosen the grids are drawn where GCJ-02 puts them, and a tap comes back as the
    WGS84 point tapped (the grid look-up is asked for WGS84 within 0.5 m)."""
    from pyproj import Geod

    from api.core.config import get_settings
    from gis.crs import wgs84_to_gcj02

    monkeypatch.setenv("WANGGE_TILES", "amap,osm")
    get_settings.cache_clear()
    path = tmp_path / "gcj.db"
    shutil.copyfile(demo["db"], path)
    try:
        app = create_app(
            f"sqlite:///{path}",
            secret_key="browser-test-secret-0123456789abcdef",
            basemap=demo["archive"],
        )
    finally:  # the app took its sources at start; later tests must not see this setting
        monkeypatch.undo()
        get_settings.cache_clear()
    with serve_in_thread(app) as base:
        context, page, _, blocked, errors = _open(browser, base, "/public")
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/grids/locate" in r.url else None)
        try:
            csp = page.evaluate(
                "fetch('/public').then(r => r.headers.get('content-security-policy'))"
            )
            assert "https://webrd01.is.autonavi.com" in csp
            wait_for_js(page, "window.wangge && window.wangge.maps['public-map'] !== undefined")
            wait_idle(page)
            names = page.evaluate(
                "Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
                ".map(l => l.textContent.trim())"
            )
            assert names == ["离线底图", "无底图", "高德地图", "OpenStreetMap"]
            page.locator(".leaflet-control-layers").hover()
            page.get_by_text("高德地图").click()
            wait_for_js(page, "wangge.maps['public-map'].wanggeBasemap.gcj02()")
            lon, lat = 121.4856, 31.2410
            gcj = wgs84_to_gcj02(lon, lat)
            drawn, expected = page.evaluate(
                """([lon, lat, glon, glat]) => { const m = wangge.maps['public-map'];
                   return [m.project([lat, lon], 16), L.CRS.EPSG3857.latLngToPoint(
                     L.latLng(glat, glon), 16)]; }""",
                [lon, lat, *gcj],
            )
            assert abs(drawn["x"] - expected["x"]) < 0.05 and abs(drawn["y"] - expected["y"]) < 0.05
            wait_for_js(page, "!wangge.maps['public-map']._animatingZoom")
            page.evaluate(
                "([lat, lon]) => { wangge.maps['public-map']"
                ".setView([lat, lon], 18, {animate: false}); }",
                [lat, lon],
            )
            wait_for_js(page, "wangge.maps['public-map'].getZoom() === 18")
            tap_map(page, "public-map", lon, lat)
            wait_for_js(page, "window.wangge.idle()")
            assert asked, "the tap asked no grid look-up"
            query = dict(p.split("=") for p in asked[-1].split("?")[1].split("&"))
            _, _, metres = Geod(ellps="WGS84").inv(
                float(query["lon"]), float(query["lat"]), lon, lat
            )
            # a click lands on a whole CSS pixel (0.5 m at zoom 18 here): 0.5 m + its diagonal
            pixel_m = 156543.03 * np.cos(np.radians(lat)) / 2**18
            assert metres < 0.5 + np.sqrt(2) * pixel_m, metres
            # back to the offline map: plain Web Mercator again
            page.locator(".leaflet-control-layers").hover()
            page.get_by_text("离线底图").click()
            wait_for_js(page, "!wangge.maps['public-map'].wanggeBasemap.gcj02()")
            assert errors == []
            assert all("autonavi.com" in url or "openstreetmap" in url for url in blocked), blocked
        finally:
            context.close()


FOLIUM_MAP = "window[document.querySelector('.leaflet-container').id]"


@pytest.mark.parametrize("kind", ["division", "incidents"])
def test_a_saved_map_embeds_its_base_map_and_draws_it_offline(demo, open_offline, tmp_path, kind):
    """``wangge map … --basemap`` writes one HTML file that, opened from disk with every
    request but file:/data: aborted, draws the streets and names of the embedded tiles."""
    from typer.testing import CliRunner

    from api.cli import app
    from maps.basemap_config import embedded_offline
    from maps.tile_archive import open_archive

    out = tmp_path / f"{kind}.html"
    answer = CliRunner().invoke(
        app,
        ["map", kind, "--community", COMMUNITY, "--db", f"sqlite:///{demo['db']}",
         "--basemap", str(demo["archive"]), "--out", str(out)],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    page, blocked, errors = open_offline(out, width=390, height=844)
    wait_basemap_drawn(page, FOLIUM_MAP, labels=False)
    _zoom_in(page, FOLIUM_MAP)
    Shots(page, "basemap", f"saved-{kind}")("streets-under-grids")
    # the tiles the page drew from are the archive's, as GDAL decodes them
    archive = open_archive(demo["archive"])
    try:
        bounds = page.evaluate(f"{FOLIUM_MAP}.getBounds().toBBoxString()")
        embedded = embedded_offline(archive, tuple(float(v) for v in bounds.split(",")))
    finally:
        archive.close()
    frames = []
    for key, b64 in embedded["embedded"].items():
        z, x, y = (int(v) for v in key.split("/"))
        if z != embedded["maxzoom"]:
            continue
        layers = gdal_tile(base64.b64decode(b64), z, x, y, tmp_path)
        if "roads" in layers and len(layers["roads"]):
            frames.append(layers["roads"].to_crs(4326))
    roads = gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs=4326)
    _check_roads(page, FOLIUM_MAP, roads)
    assert blocked == [] and errors == []


def test_a_served_map_page_draws_the_base_map_under_its_csp(browser, server, tmp_path):
    """``/maps/division/…`` (folium, scripts allowed by hash) joins the base layers to its
    layer switch and draws the served tiles with their names."""
    context, page, tiles, blocked, errors = _open(browser, server, f"/maps/division/{COMMUNITY}")
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    try:
        wait_basemap_drawn(page, FOLIUM_MAP, labels=False)
        names = page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
            ".map(l => l.textContent.trim())"
        )
        assert names == ["离线底图", "无底图"]
        _zoom_in(page, FOLIUM_MAP)
        Shots(page, "basemap", "served-division")("streets-under-grids")
        assert _check_drawn(page, FOLIUM_MAP, server, tiles, tmp_path)
        assert blocked == [] and errors == [] and violations == []
    finally:
        context.close()
