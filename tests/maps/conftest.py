"""Fixtures for the map tests: demo layers and one headless Chromium with the network blocked."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def demo_grids() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "grids.geojson")


@pytest.fixture(scope="session")
def demo_boundary() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "boundary.geojson")


@pytest.fixture(scope="session")
def demo_roads() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "osm_bund.gpkg", layer="roads")


@pytest.fixture(scope="session")
def demo_houses() -> gpd.GeoDataFrame:
    table = pd.read_csv(DEMO / "houses.csv")
    return gpd.GeoDataFrame(
        table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326"
    )


@pytest.fixture(scope="session")
def demo_incidents() -> pd.DataFrame:
    return pd.read_csv(DEMO / "incidents.csv", dtype={"category_code": str})


@pytest.fixture(scope="session")
def demo_staff() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grid_code": ["310101002005001", "310101002005001", "310101002005002"],
            "name": ["张晓明", "李红", "王建国"],
            "role": ["网格长", "网格员", "网格长"],
            "phone": ["13800000001", "13800000002", "13800000003"],
            "phone_published": [True, False, True],
            "staff_no": ["WG001", "WG002", "WG003"],
        }
    )


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian package) driven by Playwright; never downloads one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_offline(browser):
    """Open a local HTML file, aborting every non-file request; return (page, blocked, errors)."""
    pages = []

    def _open(path: Path, *, width: int = 1000, height: int = 800):
        page = browser.new_page(viewport={"width": width, "height": height})
        pages.append(page)
        blocked: list[str] = []
        errors: list[str] = []

        def route(route):
            url = route.request.url
            if url.startswith(("file:", "data:")):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.L !== undefined", timeout=5000)
        page.wait_for_timeout(200)
        return page, blocked, errors

    yield _open
    for page in pages:
        page.close()
