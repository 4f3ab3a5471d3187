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


_RECTS = """sel => Array.from(document.querySelectorAll(sel))
  .map(e => e.getBoundingClientRect()).map(r => [r.left, r.top, r.right, r.bottom])"""


_TEXT_RECTS = """() => Array.from(document.querySelectorAll('.wangge-label')).map(e => {
  const range = document.createRange(); range.selectNodeContents(e);
  const r = range.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1000, 800)], ids=["phone", "desktop"])
@pytest.mark.parametrize("dense", [False, True], ids=["demo", "dense"])
def test_labels_and_legend_do_not_collide_on_screen(
    tmp_path, demo_grids, open_offline, width, height, dense
):
    """Chromium's own layout: one label per grid at the opening zoom, no two label boxes
    overlapping, the legend clear of the scale bar and in columns of 20 entries."""
    from tests.maps.test_labels import dense_division

    grids = dense_division(n=45) if dense else demo_grids
    path = save_html(render_division_map(grids), tmp_path / "labels.html")
    page, blocked, errors = open_offline(path, width=width, height=height)
    assert blocked == [] and errors == []
    labels = page.evaluate(_RECTS, ".wangge-label")
    assert len(labels) == len(grids)
    texts = page.evaluate(_TEXT_RECTS)  # the glyphs as laid out fit the boxes placed
    for box, text in zip(labels, texts, strict=True):
        assert text[0] >= box[0] - 1 and text[2] <= box[2] + 1, (box, text)
        # vertically the range spans the font's whole content area (Noto CJK's ascent and
        # descent reach past the 1.2 line height by about 0.12 em), not only the glyphs
        slack = 0.1 * (box[3] - box[1])
        assert text[1] >= box[1] - slack and text[3] <= box[3] + slack, (box, text)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), (a, b)
    legend = page.evaluate(_RECTS, ".wangge-legend")[0]
    scale = page.evaluate(_RECTS, ".leaflet-control-scale")[0]
    assert not _overlap(legend, scale)
    columns = page.evaluate(
        "getComputedStyle(document.querySelector('.wangge-legend > div')).columnCount"
    )
    assert int(columns) == -(-len(grids) // 20)
