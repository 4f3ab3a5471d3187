"""The dashboard, the incident inbox and one incident drawn over the offline base map, in a real
headless Chromium, under the pages' Content-Security-Policy.

One real uvicorn serves a copy of the demo database (a community head and escalations of
this month added) and the demo's base map (cut from its OSM extract by ``maps.basemap``);
every request not to it is aborted and recorded. Each page, signed in as the community head,
must fetch ``/tiles/base/...`` (answered 200 or 204), draw them (the layer has loaded every
tile in view and its canvases carry colours other than the background), show the incidents
(the heat layer's points, the inbox's markers, the incident's marker: each at the point the
database holds, read here with shapely) and "© OpenStreetMap contributors", with no CSP
violation, console error or page error. Screenshots go to
``$WANGGE_TEST_ARTEFACTS/staff-basemap``.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from shapely.ops import polylabel

from api.app import create_app
from api.db.engine import make_engine, session_factory
from api.db.models import Community, Grid, Incident, Role, from_db_geometry
from api.services.crud import create_user
from api.services.demo import load_demo
from api.services.incidents.people import actor_of
from api.services.incidents.report import report_incident
from api.services.incidents.transitions import transition
from gis.osm import read_osm_layers
from maps.basemap import build_basemap
from maps.basemap_style import COLOURS
from tests.api.routes.conftest import PASSWORD
from tests.maps.browser import (
    Shots,
    csp_violations,
    db_session,
    largest_part,
    serve_in_thread,
    sign_in,
    wait_basemap_drawn,
    wait_for_js,
    wait_idle,
    watched_page,
)
from tests.osm_fixture import DEMO_GPKG

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRID = "310101002005001"
OSM = "© OpenStreetMap contributors"
NEAR_M = 0.5  # a marker is where the database says when within this (Web Mercator rounding)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """The demo, a community head and an admin, three items escalated to the head this month,
    and the demo's base map archive."""
    folder = tmp_path_factory.mktemp("staff-basemap")
    path = folder / "demo.db"
    url = f"sqlite:///{path}"
    load_demo(db_url=url)
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    # this month in Shanghai, and never in the future
    start_of_month = now.astimezone(SHANGHAI).replace(day=1, hour=0, minute=0, second=0,
                                                      microsecond=0)  # fmt: skip
    with session_factory(engine)() as session:
        community = session.scalars(sa.select(Community)).one()
        codes = list(session.scalars(sa.select(Grid.code).where(Grid.community_id == community.id)))
        create_user(session, username="head1", password=PASSWORD, role=Role.COMMUNITY_HEAD,
                    grid_codes=codes)  # fmt: skip
        admin = create_user(session, username="admin1", password=PASSWORD, role=Role.ADMIN)
        session.commit()
        actor = actor_of(admin)
        grid = session.scalars(sa.select(Grid).where(Grid.code == GRID)).first()
        inside = polylabel(largest_part(from_db_geometry(grid.geom)), tolerance=1e-6)
        escalated = []
        for k, (category, note) in enumerate((("0302", "楼道堆物"), ("0319", "井盖缺失"),
                                              ("0302", "乱张贴"))):  # fmt: skip
            at = max(now - dt.timedelta(minutes=30 - k), start_of_month.astimezone(dt.UTC))
            item = report_incident(
                session, category_code=category, actor=actor, description=note,
                lon=inside.x + 0.0004 * (k - 1), lat=inside.y, reported_at=at,
            )  # fmt: skip
            transition(session, item.id, "feed_back", actor, at=at)
            transition(session, item.id, "escalate", actor, to="community_head", note=note,
                           at=at)  # fmt: skip
            escalated.append(item.id)
        session.commit()
        info = {"db": path, "community": community.id, "escalated": escalated}
    engine.dispose()
    info["archive"] = build_basemap(
        read_osm_layers([DEMO_GPKG]), folder / "base.pmtiles", processes=1
    ).path
    return info


@pytest.fixture
def server(demo, tmp_path):
    path = tmp_path / "staff.db"
    shutil.copyfile(demo["db"], path)
    url = f"sqlite:///{path}"
    app = create_app(url, secret_key="browser-test-secret-0123456789abcdef",
                     basemap=demo["archive"])  # fmt: skip
    with serve_in_thread(app) as base:
        yield base, url


def _points(url: str, where) -> dict[int, tuple[float, float]]:
    """(lon, lat) of the incidents kept by ``where`` (a SQL condition), read with shapely."""
    with db_session(url) as session:
        rows = session.scalars(sa.select(Incident).where(where)).all()
        return {
            r.id: (p.x, p.y)
            for r in rows
            if r.geom is not None and (p := from_db_geometry(r.geom)) is not None
        }


def _ink(page, map_expr: str) -> int:
    """Pixels of the offline layer's canvases that are not the background colour."""
    background = [int(COLOURS["background"][i : i + 2], 16) for i in (1, 3, 5)]
    return page.evaluate(
        """([bg]) => { const l = MAP.wanggeBasemap.layers.offline; let ink = 0;
             for (const c of l.getContainer().querySelectorAll('canvas')) {
               if (!c.width || !c.height) continue;
               const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
               for (let i = 0; i < d.length; i += 4) {
                 if (d[i + 3] > 0 && Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1])
                     + Math.abs(d[i + 2] - bg[2]) > 12) ink += 1;
               }
             }
             return ink; }""".replace("MAP", map_expr),
        [background],
    )


def _attribution(page, map_id: str) -> str:
    return page.evaluate(
        f"(document.querySelector('#{map_id} .leaflet-control-attribution') || {{}})"
        ".textContent || ''"
    )


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two lon/lat points on the sphere (haversine), in metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)  # fmt: skip
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def _open_signed_in(browser, base: str, path: str):
    blocked: list[str] = []
    context, page, problems = watched_page(browser, base, blocked, screen="phone")
    tiles: list[tuple[str, int]] = []
    page.on("response", lambda r: tiles.append((r.url, r.status)) if "/tiles/" in r.url else None)
    sign_in(page, base, "head1", PASSWORD)
    page.goto(base + path)
    return context, page, problems, blocked, tiles


def _check_base_map(page, map_id: str, base: str, tiles, blocked, problems) -> None:
    """The offline layer drew the tiles it fetched from this server, with OSM's credit, and
    the page logged no error and broke no CSP rule."""
    map_expr = f"wangge.maps['{map_id}']"
    wait_basemap_drawn(page, map_expr, labels=False)
    assert _ink(page, map_expr) > 0, "the base tiles are blank"
    assert tiles, "the page asked for no base tile"
    assert all(url.startswith(base + "/tiles/base/") for url, _ in tiles), tiles
    assert any(status == 200 for _, status in tiles), tiles
    assert all(status in (200, 204, 304) for _, status in tiles), tiles
    assert OSM in _attribution(page, map_id)
    assert blocked == [] and problems == [] and csp_violations(page) == []


def test_dashboard_draws_the_heat_layer_over_the_base_map(browser, server, demo):
    base, url = server
    context, page, problems, blocked, tiles = _open_signed_in(browser, base, "/app/dashboard")
    try:
        page.wait_for_selector("[data-testid=dashboard][data-loaded]", timeout=30000)
        wait_idle(page)
        month = page.get_attribute("[data-testid=dashboard]", "data-loaded").split()[0]
        year, mon = (int(v) for v in month.split("-"))
        start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
        end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=SHANGHAI)
        located = _points(url, sa.and_(Incident.community_id == demo["community"],
                                       Incident.reported_at >= start,
                                       Incident.reported_at < end))  # fmt: skip
        assert set(demo["escalated"]) <= set(located)
        heat = page.evaluate(
            "(() => { const d = wangge.dashboard, m = wangge.maps['dashboard-map'];"
            " return {on: !!d.heat && m.hasLayer(d.heat), points: d.heat._latlngs.map("
            " p => [p[1], p[0]])}; })()"
        )
        assert heat["on"]
        assert sorted(map(tuple, heat["points"])) == sorted(located.values())
        _check_base_map(page, "dashboard-map", base, tiles, blocked, problems)
        Shots(page, "staff-basemap", "dashboard")("heat-over-base-map")
    finally:
        context.close()


def test_inbox_marks_its_items_over_the_base_map(browser, server, demo):
    base, url = server
    context, page, problems, blocked, tiles = _open_signed_in(browser, base, "/app/inbox")
    try:
        page.get_by_test_id("inbox-row").first.wait_for(state="visible", timeout=30000)
        wait_idle(page)
        listed = page.get_by_test_id("inbox-row").evaluate_all(
            "els => els.map(e => Number(e.dataset.incidentId))"
        )
        assert set(demo["escalated"]) <= set(listed)
        wait_for_js(page, "wangge.state.inboxMarkers !== null")
        markers = page.evaluate(
            "(() => { const m = wangge.maps['inbox-map'];"
            " return wangge.state.inboxMarkers.getLayers().filter(l => m.hasLayer(l))"
            ".map(l => [l.options.incidentId, l.getLatLng().lng, l.getLatLng().lat]); })()"
        )
        expected = _points(url, Incident.id.in_(listed))
        assert sorted(i for i, _, _ in markers) == sorted(expected)
        for incident_id, lon, lat in markers:
            assert _metres((lon, lat), expected[incident_id]) < NEAR_M, incident_id
        # the markers are in view: the map was fitted to them
        inside = page.evaluate(
            "(() => { const m = wangge.maps['inbox-map'], b = m.getBounds();"
            " return wangge.state.inboxMarkers.getLayers().every(l => b.contains(l.getLatLng()));"
            " })()"
        )
        assert inside
        _check_base_map(page, "inbox-map", base, tiles, blocked, problems)
        Shots(page, "staff-basemap", "inbox")("markers-over-base-map")
        # a marker opens its item
        first = demo["escalated"][0]
        page.evaluate(
            "(id) => wangge.state.inboxMarkers.getLayers()"
            ".find(l => l.options.incidentId === id).fire('click')",
            first,
        )
        page.wait_for_url(f"{base}/app/incident/{first}")
    finally:
        context.close()


def test_incident_page_marks_the_item_over_the_base_map(browser, server, demo):
    base, url = server
    incident_id = demo["escalated"][1]
    context, page, problems, blocked, tiles = _open_signed_in(
        browser, base, f"/app/incident/{incident_id}"
    )
    try:
        wait_for_js(page, f"wangge.state.incident && wangge.state.incident.id === {incident_id}")
        wait_idle(page)
        marker = page.evaluate(
            "(() => { const m = wangge.maps['incident-map'], k = wangge.state.incidentMarker;"
            " return k && m.hasLayer(k) ? [k.getLatLng().lng, k.getLatLng().lat] : null; })()"
        )
        assert marker is not None
        [point] = _points(url, Incident.id == incident_id).values()
        assert _metres(tuple(marker), point) < NEAR_M
        _check_base_map(page, "incident-map", base, tiles, blocked, problems)
        Shots(page, "staff-basemap", "incident")("marker-over-base-map")
    finally:
        context.close()
