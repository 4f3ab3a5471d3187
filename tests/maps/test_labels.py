"""Grid labels never overlap: the placement itself, the printed diagram and the web map."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from maps.labels import boxes_overlap, place_labels
from maps.print import LEGEND_ROWS, cjk_style, division_figure
from maps.web import LABEL_ZOOM_STEPS, render_division_map


def dense_division(n: int = 90, side_m: float = 900.0, seed: int = 7) -> gpd.GeoDataFrame:
    """``n`` small Voronoi grids in a square of ``side_m`` near the Bund (Gauss-Krüger 4549)."""
    rng = np.random.default_rng(seed)
    x0, y0 = 551_000.0, 3_457_000.0
    square = shapely.box(x0, y0, x0 + side_m, y0 + side_m)
    points = shapely.multipoints(rng.uniform([x0, y0], [x0 + side_m, y0 + side_m], (n, 2)))
    cells = [
        c.intersection(square) for c in shapely.voronoi_polygons(points, extend_to=square).geoms
    ]
    codes = [f"3101010020{i:05d}" for i in range(len(cells))]
    names = [f"第{i + 1}网格" for i in range(len(cells))]
    frame = gpd.GeoDataFrame({"code": codes, "name": names}, geometry=cells, crs=4549)
    return frame.to_crs(4326)


def _no_overlaps(boxes) -> None:
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not boxes_overlap(a, b), (i, j, a, b)


@st.composite
def divisions(draw):
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    square = shapely.box(0, 0, 1000, 1000)
    points = shapely.multipoints(rng.uniform(0, 1000, (n, 2)))
    cells = [
        c.intersection(square) for c in shapely.voronoi_polygons(points, extend_to=square).geoms
    ]
    w = draw(st.floats(20, 200))
    h = draw(st.floats(8, 60))
    return cells, [[(w, h), (w * 0.7, h * 0.7)] for _ in cells]


@settings(max_examples=40, deadline=None)
@given(divisions())
def test_placed_labels_never_overlap_and_inside_ones_fit(case):
    cells, sizes = case
    frame = (-300.0, -300.0, 1300.0, 1300.0)
    obstacle = (0.0, 0.0, 150.0, 40.0)
    spots = place_labels(cells, sizes, obstacles=[obstacle], frame=frame, gap=0.0)
    placed = [s for s in spots if s is not None]
    _no_overlaps([s.box for s in placed] + [obstacle])
    for cell, spot in zip(cells, spots, strict=True):
        if spot is None:
            continue
        box = shapely.box(*spot.box)
        assert shapely.box(*frame).covers(box)
        if spot.leader_from is None:  # inside its own grid, as GEOS sees it
            assert cell.buffer(1e-6).covers(box)
        else:
            assert cell.buffer(1e-6).covers(shapely.Point(spot.leader_from))


def _rendered_label_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text()]
    boxes = []
    for text in texts:
        ext = text.get_window_extent(renderer)
        boxes.append((ext.x0, ext.y0, ext.x1, ext.y1))
    return texts, boxes


@pytest.mark.parametrize("dense", [False, True], ids=["demo", "dense"])
def test_printed_labels_do_not_overlap(dense, demo_grids, demo_boundary, demo_roads):
    grids = dense_division() if dense else demo_grids
    boundary = gpd.GeoDataFrame(geometry=[grids.union_all()], crs=4326) if dense else demo_boundary
    with cjk_style():
        fig = division_figure(
            grids,
            boundary,
            base={"roads": demo_roads},
            community_name="测试社区",
            date="2026-11-25",
        )
        texts, boxes = _rendered_label_boxes(fig)  # matplotlib's own extents, after drawing
    labels = [t for t in texts if t.get_gid() == "grid-label"]
    assert len(labels) == len(grids)  # every grid labelled
    _no_overlaps(boxes)  # grid labels, road names, scale bar and north arrow texts
    if not dense:  # Chinese road names were written along the roads, among the boxes checked
        road_names = set(demo_roads["name"].dropna())
        written = {t.get_text() for t in texts if t.get_text() in road_names}
        assert len(written) >= 10 and all(
            any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in written
        )


def _legend_and_scale_bar(fig):
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    ax = fig.axes[0]
    bar = [p.get_window_extent(renderer) for p in ax.patches if p.get_zorder() == 20][:2]
    bar += [t.get_window_extent(renderer) for t in ax.texts if t.get_text().endswith("m")][:1]
    return legend, bar


@pytest.mark.parametrize("landscape", [False, True], ids=["portrait", "landscape"])
def test_a3_map_fills_the_sheet_and_legend_clears_the_scale_bar(
    landscape, demo_grids, demo_boundary
):
    with cjk_style():
        fig = division_figure(
            demo_grids, demo_boundary, community_name="外滩源社区", paper="A3", landscape=landscape
        )
        fig.canvas.draw()
        ax = fig.axes[0]
        box = ax.get_window_extent(fig.canvas.get_renderer())
        sheet = fig.bbox
        assert box.width * box.height / (sheet.width * sheet.height) >= 0.70
        xmin, xmax = ax.get_xlim()  # the drawn data fill the axes box: equal scale both ways
        ymin, ymax = ax.get_ylim()
        assert (xmax - xmin) / (ymax - ymin) == pytest.approx(box.width / box.height, rel=1e-3)
        legend, bar = _legend_and_scale_bar(fig)
        assert len(bar) == 3
        assert not any(legend.overlaps(part) for part in bar)
        assert sheet.contains(legend.x0, legend.y0) and sheet.contains(legend.x1, legend.y1)


def test_legend_wraps_into_columns_past_twenty_grids():
    grids = dense_division(n=45)
    boundary = gpd.GeoDataFrame(geometry=[grids.union_all()], crs=4326)
    for landscape in (False, True):
        with cjk_style():
            fig = division_figure(grids, boundary, community_name="测试社区", landscape=landscape)
            fig.canvas.draw()
            legend, bar = _legend_and_scale_bar(fig)
        entries = len(grids) + 1
        assert fig.legends[0]._ncols >= -(-entries // LEGEND_ROWS) >= 3
        assert not any(legend.overlaps(part) for part in bar)
        assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)


_TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def _web_label_boxes(group, zoom: int):
    """The emitted label boxes in pixels at ``zoom``: each DivIcon's size around its marker."""
    half = 20037508.342789244
    scale = 256 * 2**zoom / (2 * half)
    boxes = []
    for child in group._children.values():
        if type(child).__name__ != "Marker":
            continue
        lat, lon = child.location
        x, y = _TO_3857.transform(lon, lat)  # pyproj's Web Mercator, not the module's formula
        px, py = (x + half) * scale, (half - y) * scale
        icon = next(c for c in child._children.values() if type(c).__name__ == "DivIcon")
        w, h = icon.options["icon_size"]
        ax, ay = icon.options["icon_anchor"]
        boxes.append((px - ax, py - ay, px - ax + w, py - ay + h))
    return boxes


@pytest.mark.parametrize("dense", [False, True], ids=["demo", "dense"])
def test_web_labels_do_not_overlap(dense, demo_grids):
    grids = dense_division() if dense else demo_grids
    m = render_division_map(grids)
    layer = next(
        c for c in m._children.values() if getattr(c, "layer_name", "") == "网格标注 Labels"
    )
    sets = layer._wangge_label_sets
    assert [z for z, _ in sets] == list(range(sets[0][0], sets[0][0] + LABEL_ZOOM_STEPS))
    for zoom, group in sets:
        boxes = _web_label_boxes(group, zoom)
        assert len(boxes) == len(grids)
        for z in (zoom, zoom + 1, zoom + 4):  # shown from its zoom inwards
            _no_overlaps(_web_label_boxes(group, z))
