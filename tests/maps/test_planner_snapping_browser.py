"""The planner page snaps drawn boundaries to the real world, in a real headless Chromium.

The server runs with the demo's offline base map (cut from the Bund OSM extract, as
``wangge demo`` does). The test draws a split line with real mouse clicks a few pixels off a
road of the demo; snapping moves the vertices onto the road, the split division is saved,
and the saved version validates: by the project's validator and independently (union area
equals the community's, the areas add up, so no gap and no overlap), with every new vertex
on the road's centreline (read here from the OSM extract) within 1 cm. Holding Alt, the same
clicks do not snap. Screenshots go to ``$WANGGE_TEST_ARTEFACTS/planner-snap``.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from api.app import create_app
from gis.coverage import validate
from gis.osm import read_osm_layers
from maps.basemap import build_basemap
from tests.maps import test_planner_browser as planner_tests
from tests.maps.browser import Shots, serve_in_thread, wait_for_js
from tests.maps.test_planner_browser import _grids, _idle, _pixel, _sign_in, _wait_message

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

# the planner page tests' fixtures; ``server`` below replaces theirs (it serves the base map)
demo_file = planner_tests.demo_file
planner_page = planner_tests.planner_page

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "demo" / "osm_bund.gpkg"
METRIC = 4549  # CGCS2000 Gauss-Krüger zone 40, metres around Shanghai
ROAD = "金陵东路"
GRID = "310101002005007"
OFF_PX = 4  # the clicks miss the road by this many screen pixels (snapping reaches 15)
AHEAD_M = 12.0  # the line starts and ends this far (along the road) outside the grid


@pytest.fixture(scope="module")
def basemap_file(tmp_path_factory) -> Path:
    """The demo's base map, cut from the Bund extract as the demo does."""
    path = tmp_path_factory.mktemp("basemap") / "basemap.pmtiles"
    build_basemap(read_osm_layers([OSM]), path, processes=1)
    return path


@pytest.fixture
def server(demo_file, basemap_file, tmp_path):
    """A real uvicorn over a fresh copy of the demo database, serving the base map."""
    path = tmp_path / "planner.db"
    shutil.copyfile(demo_file, path)
    app = create_app(
        f"sqlite:///{path}",
        secret_key="browser-test-secret-0123456789abcdef",
        basemap=basemap_file,
    )
    with serve_in_thread(app) as base:
        yield base


def _road_m() -> shapely.Geometry:
    """The road's centreline (every way of that name, merged), in metres, from the extract."""
    roads = gpd.read_file(OSM, layer="roads")
    ways = roads.loc[roads["name"] == ROAD].to_crs(METRIC).geometry.to_numpy()
    return shapely.line_merge(shapely.union_all(ways))


def _stations(grid_m: shapely.Geometry, road_m: shapely.Geometry) -> list[shapely.Point]:
    """Points on the road where the split line's vertices go: AHEAD_M before the road
    enters the grid, the road's own vertices from there until it leaves, AHEAD_M beyond."""
    for line in shapely.get_parts(road_m):
        for part in shapely.get_parts(line.intersection(grid_m)):
            if part.geom_type != "LineString" or part.length < 40:
                continue
            if part.interpolate(0.5, normalized=True).distance(grid_m.boundary) < 5:
                continue  # along the outline, not across the grid
            s0, s1 = sorted(line.project(shapely.Point(part.coords[i])) for i in (0, -1))
            if s0 < 2 * AHEAD_M or s1 > line.length - 2 * AHEAD_M:
                continue
            vertices = [line.project(shapely.Point(xy)) for xy in line.coords]
            inner = [s for s in vertices if s0 - 1e-6 <= s <= s1 + 1e-6]
            return [line.interpolate(s) for s in [s0 - AHEAD_M, *inner, s1 + AHEAD_M]]
    raise AssertionError(f"{ROAD} does not cross grid {GRID}")


def _click_points(page, grid_m, road_m) -> list[tuple[float, float]]:
    """Page pixels OFF_PX beside the road's stations (across the road's direction on screen),
    at zoom 19 (or the map's highest)."""
    stations = gpd.GeoSeries(_stations(grid_m, road_m), crs=METRIC).to_crs(4326)
    mid = stations.union_all().centroid
    page.evaluate(
        f"planner.map.setView([{mid.y}, {mid.x}], Math.min(19, planner.map.getMaxZoom()),"
        " {animate: false})"
    )
    assert page.evaluate("planner.map.getZoom()") >= 18
    pixels = np.array([_pixel(page, pt.x, pt.y) for pt in stations])
    along = pixels[-1] - pixels[0]
    across = np.array([along[1], -along[0]]) / np.hypot(*along) * OFF_PX
    return [tuple(xy + across) for xy in pixels]


def _click_split_line(page, grid_m, road_m) -> list[list[float]]:
    """In split mode, click the line's vertices OFF_PX beside the road with the mouse;
    return the vertices placed (lon/lat), the line not yet finished."""
    page.get_by_test_id("split").click()
    wait_for_js(page, "planner.map.pm.Draw.Line.enabled()")
    points = _click_points(page, grid_m, road_m)
    for n, (x, y) in enumerate(points, start=1):
        page.mouse.click(x, y)
        wait_for_js(
            page, "n => planner.map.pm.Draw.Line._layer.getLatLngs().length === n", arg=n
        )
    return page.evaluate(
        "planner.map.pm.Draw.Line._layer.getLatLngs().map(p => [p.lng, p.lat])"
    )


def _to_metric(lonlat: list[list[float]]) -> np.ndarray:
    return gpd.GeoSeries(shapely.points(lonlat), crs=4326).to_crs(METRIC).to_numpy()


def _metres_per_px(page) -> float:
    """Metres on the ground per screen pixel at the map's centre."""
    return page.evaluate(
        "(() => { const m = planner.map, c = m.getSize().divideBy(2);"
        " return m.containerPointToLatLng(c).distanceTo(m.containerPointToLatLng(c.add([1, 0])));"
        " })()"
    )


def _new_vertices(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> np.ndarray:
    """Vertices of ``after`` (metres) that no grid of ``before`` has."""
    old = {tuple(xy) for xy in shapely.get_coordinates(before.geometry.to_numpy())}
    fresh = [xy for xy in shapely.get_coordinates(after.geometry.to_numpy())
             if tuple(xy) not in old]  # fmt: skip
    lonlat = gpd.GeoSeries(shapely.points(np.array(fresh).reshape(-1, 2)), crs=4326)
    return shapely.get_coordinates(lonlat.to_crs(METRIC).to_numpy())


def _grid_m(grids: gpd.GeoDataFrame) -> shapely.Geometry:
    return grids.to_crs(METRIC).set_index("code").geometry[GRID]


def test_a_boundary_drawn_near_a_road_snaps_onto_it_and_saves_valid(planner_page, server):
    page, blocked, errors = planner_page
    shots = Shots(page, "planner-snap", "snap-to-road")
    _sign_in(page)
    assert "按住 Alt" in page.get_by_test_id("snap-help").inner_text()
    before = _grids(page)
    road_m = _road_m()
    # the snap layer holds the community's roads and buildings
    counts = page.evaluate(
        "[planner.snapLayer.getLayers().length,"
        " planner.state.data.roads.features.length + planner.state.data.buildings.features.length]"
    )
    assert counts[0] == counts[1] > 0
    shots("before")
    placed = _click_split_line(page, _grid_m(before), road_m)
    assert shapely.distance(_to_metric(placed), road_m).max() <= 0.01  # snapped onto the road
    page.mouse.click(*_click_points(page, _grid_m(before), road_m)[-1])  # the last vertex again
    wait_for_js(page, "!planner.map.pm.Draw.Line.enabled()")
    _idle(page)
    after = _grids(page)
    assert len(after) == len(before) + 1, page.get_by_test_id("message").inner_text()
    assert page.get_by_test_id("status").inner_text().startswith("通过")
    shots("split-on-road")

    # every vertex the split added lies on the road's centreline (within 1 cm)
    fresh = _new_vertices(before, after)
    assert len(fresh) >= 2
    off = shapely.distance(shapely.points(fresh), road_m)
    assert off.max() <= 0.01, off

    # save it; the stored version validates
    page.get_by_test_id("save").click()
    _wait_message(page, "ok", "已保存")
    version = page.get_by_test_id("division-label").get_attribute("data-version")
    saved_fc = page.evaluate(
        "v => fetch(`/planner/${encodeURIComponent(WANGGE_PLANNER.community)}/versions/${v}`,"
        " {headers: {Authorization: 'Bearer ' + localStorage.getItem('wangge.planner.token')}})"
        ".then(r => r.json()).then(d => d.grids)",
        version,
    )
    saved = gpd.GeoDataFrame.from_features(saved_fc["features"], crs=4326)
    assert sorted(saved["code"]) == sorted(after["code"])
    boundary = gpd.GeoDataFrame.from_features(
        [page.evaluate("planner.state.data.boundary")], crs=4326
    )
    assert validate(saved, boundary, code_field="code").empty
    # independently: the grids cover the community (no gap) and do not overlap
    saved_m, outline_m = saved.to_crs(METRIC), boundary.to_crs(METRIC).geometry.iloc[0]
    union = shapely.union_all(saved_m.geometry.to_numpy())
    assert abs(union.area - outline_m.area) < 1.0
    assert abs(saved_m.area.sum() - union.area) < 1.0
    assert shapely.symmetric_difference(union, outline_m).area < 1.0
    shots("saved")
    assert blocked == [] and errors == []


def test_holding_alt_draws_without_snapping(planner_page, server):
    page, blocked, errors = planner_page
    shots = Shots(page, "planner-snap", "alt-holds-snapping-off")
    _sign_in(page)
    before = _grids(page)
    road_m = _road_m()
    page.keyboard.down("Alt")
    try:
        placed = _click_split_line(page, _grid_m(before), road_m)
    finally:
        page.keyboard.up("Alt")
    shots("clicked-beside-road")
    # the vertices stay where the pointer was: OFF_PX pixels (about 1 m at zoom 19) away
    metres_per_px = _metres_per_px(page)
    off = shapely.distance(_to_metric(placed), road_m)
    assert off.min() > 0.5 * OFF_PX * metres_per_px, (off, metres_per_px)
    page.keyboard.press("Escape")
    wait_for_js(page, "!planner.map.pm.Draw.Line.enabled()")
    assert len(_grids(page)) == len(before)
    assert blocked == [] and errors == []


def _building_edge_point(grid_m, grids_m) -> shapely.Point:
    """The midpoint of a building edge in the grid, at least 8 m from roads and grids'
    outlines (so the building is the only thing to snap to there)."""
    buildings = gpd.read_file(OSM, layer="buildings").to_crs(METRIC)
    roads = shapely.union_all(gpd.read_file(OSM, layer="roads").to_crs(METRIC).geometry.to_numpy())
    outlines = shapely.union_all(shapely.boundary(grids_m.geometry.to_numpy()))
    for outline in shapely.boundary(buildings.geometry[buildings.within(grid_m)].to_numpy()):
        coords = shapely.get_coordinates(outline)
        for a, b in itertools.pairwise(coords):
            mid = shapely.Point((a + b) / 2)
            if np.hypot(*(b - a)) > 12 and mid.distance(roads) > 8 and mid.distance(outlines) > 8:
                return mid
    raise AssertionError(f"no building edge in grid {GRID} stands clear of roads")


def test_a_vertex_drawn_near_a_building_lands_on_its_outline(planner_page, server):
    page, blocked, errors = planner_page
    _sign_in(page)
    grids_m = _grids(page).to_crs(METRIC)
    grid_m = grids_m.set_index("code").geometry[GRID]
    target = gpd.GeoSeries([_building_edge_point(grid_m, grids_m)], crs=METRIC)
    point = target.to_crs(4326).iloc[0]
    page.get_by_test_id("draw").click()
    wait_for_js(page, "planner.map.pm.Draw.Polygon.enabled()")
    page.evaluate(
        f"planner.map.setView([{point.y}, {point.x}], Math.min(19, planner.map.getMaxZoom()),"
        " {animate: false})"
    )
    x, y = _pixel(page, point.x, point.y)
    metres_per_px = _metres_per_px(page)
    page.mouse.click(x + OFF_PX * 0.6, y + OFF_PX * 0.8)  # OFF_PX pixels from the edge's middle
    wait_for_js(page, "planner.map.pm.Draw.Polygon._layer.getLatLngs().length === 1")
    ll = page.evaluate("(() => { const p = planner.map.pm.Draw.Polygon._layer.getLatLngs()[0];"
                       " return [p.lng, p.lat]; })()")  # fmt: skip
    vertex = gpd.GeoSeries(shapely.points([ll]), crs=4326).to_crs(METRIC).iloc[0]
    buildings = gpd.read_file(OSM, layer="buildings").to_crs(METRIC)
    assert shapely.distance(vertex, shapely.boundary(buildings.geometry).union_all()) <= 0.01
    assert vertex.distance(target.iloc[0]) <= OFF_PX * metres_per_px  # where the click was
    page.keyboard.press("Escape")
    wait_for_js(page, "!planner.map.pm.Draw.Polygon.enabled()")
    assert blocked == [] and errors == []


def test_split_along_a_road_with_two_clicks(planner_page, server):
    page, blocked, errors = planner_page
    shots = Shots(page, "planner-snap", "split-along-road")
    _sign_in(page)
    before = _grids(page)
    road_m = _road_m()
    grid_m = _grid_m(before)
    stations = _stations(grid_m, road_m)
    # a point of the grid 30 m from the road, and a point on the road inside the grid
    on_road = shapely.LineString([stations[1], stations[-2]]).interpolate(0.5, normalized=True)
    away = next(p for p in (shapely.Point(on_road.x + dx, on_road.y + dy)
                            for dx, dy in ((0, 30), (0, -30), (30, 0), (-30, 0)))
                if grid_m.contains(p.buffer(5)) and p.distance(road_m) > 20)  # fmt: skip
    away_ll, road_ll = gpd.GeoSeries([away, on_road], crs=METRIC).to_crs(4326)
    page.get_by_test_id("split-road").click()
    wait_for_js(page, "planner.state.mode === 'split-road'")
    page.mouse.click(*_pixel(page, away_ll.x, away_ll.y))
    wait_for_js(page, "code => planner.state.roadSplit && planner.state.roadSplit.code === code",
                arg=GRID)  # fmt: skip
    assert GRID in page.get_by_test_id("mode-hint").inner_text()
    x, y = _pixel(page, road_ll.x, road_ll.y)
    page.mouse.click(x + 3, y + 3)  # near the road, not on it
    _wait_message(page, "ok", "沿道路")
    _idle(page)
    after = _grids(page)
    assert len(after) == len(before) + 1
    assert page.get_by_test_id("status").inner_text().startswith("通过")
    off = shapely.distance(shapely.points(_new_vertices(before, after)), road_m)
    assert len(off) >= 2 and off.max() <= 0.01, off
    area = after.to_crs(METRIC).area
    assert abs(area.sum() - before.to_crs(METRIC).area.sum()) < 0.01
    shots("split")
    assert blocked == [] and errors == []
