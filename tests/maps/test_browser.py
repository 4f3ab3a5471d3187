"""The offline HTML in a real headless Chromium with every network request aborted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from maps.base import BACKGROUND
from maps.incidents import render_incident_heatmap
from maps.web import FILL_OPACITY, render_division_map, save_html

pytestmark = pytest.mark.slow  # runs in CI (not skipped): needs Debian's chromium


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_division_map_draws_offline(tmp_path, demo_grids, open_offline):
    m = render_division_map(demo_grids)
    path = save_html(m, tmp_path / "division.html")
    page, blocked, errors = open_offline(path)
    assert blocked == [] and errors == []
    assert page.evaluate("typeof window.L.map") == "function"
    fills = page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-overlay-pane svg path'))"
        ".map(p => p.getAttribute('fill')).filter(f => f && f !== 'none')"
    )
    assert len(fills) == len(demo_grids)
    labels = page.evaluate(
        "Array.from(document.querySelectorAll('.wangge-label')).map(e => e.textContent)"
    )
    assert sorted(labels) == sorted(
        n + c for n, c in zip(demo_grids["name"], demo_grids["code"], strict=True)
    )

    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), dtype=float)
    background = _rgb(BACKGROUND)
    for colour in set(fills):
        expected = FILL_OPACITY * _rgb(colour) + (1 - FILL_OPACITY) * background
        close = (np.abs(shot - expected) <= 6).all(axis=2)
        assert close.sum() > 300, f"grid colour {colour} not visible in the screenshot"


def test_division_map_with_osm_data_works_offline_and_credits(
    tmp_path, demo_grids, demo_roads, open_offline
):
    path = save_html(render_division_map(demo_grids, roads=demo_roads), tmp_path / "roads.html")
    page, blocked, errors = open_offline(path)
    assert blocked == [] and errors == []
    text = page.inner_text(".leaflet-control-attribution")
    assert "© OpenStreetMap contributors" in text


def test_heatmap_with_time_slider_offline(tmp_path, demo_grids, demo_incidents, open_offline):
    m = render_incident_heatmap(demo_incidents, grids=demo_grids, time_slider=True, freq="M")
    page, blocked, errors = open_offline(save_html(m, tmp_path / "heat.html"))
    assert blocked == [] and errors == []
    assert (
        page.evaluate("typeof L.TimeDimension") == "object"
        or page.evaluate("typeof L.TimeDimension") == "function"
    )
    assert page.locator("canvas").count() >= 1
    assert page.locator(".timecontrol-play").count() >= 1
