"""Web maps: offline HTML (no CDN links), labels, public map without houses, attribution."""

from __future__ import annotations

import json
import re

import folium
import folium.plugins
import pytest

from gis.coverage import validate
from maps.assets import UnknownAssetError, offline, remote_links
from maps.base import OSM_ATTRIBUTION, TiandituKeyError, base_map
from maps.web import (
    LABEL_ZOOM_STEPS,
    TO_FILL,
    render_division_map,
    render_validation_map,
    save_html,
)

REMOTE_TAG = re.compile(r"<(?:script|link)\b[^>]*(?:src|href)=[\"']?(?:https?:)?//", re.I)


def _escaped(text: str) -> str:
    """The form a string takes inside folium's embedded JSON (\\uXXXX escapes)."""
    return json.dumps(text)[1:-1]


def _contains(html: str, text: str) -> bool:
    return text in html or _escaped(text) in html


def test_cdn_links_replaced_inline_and_served(tmp_path):
    m = folium.Map(tiles=None)
    folium.plugins.HeatMap([[31.2, 121.4, 1.0]]).add_to(m)
    folium.plugins.HeatMapWithTime([[[31.2, 121.4, 1.0]]], index=["a"]).add_to(m)
    assert REMOTE_TAG.search(m.get_root().render())  # folium's default really is a CDN
    inline = save_html(m, tmp_path / "inline.html").read_text()
    assert not REMOTE_TAG.search(inline) and remote_links(inline) == []
    assert "L.heatLayer" in inline and "TimeDimension" in inline  # plugin code is inlined
    served = save_html(m, tmp_path / "served.html", mode="served", base_url="/static/").read_text()
    assert not REMOTE_TAG.search(served)
    assert '<script src="/static/vendor/leaflet/leaflet.js">' in served
    assert '"/static/vendor/leaflet.heat/leaflet_heat.min.js"' in served


def test_unknown_remote_asset_is_an_error():
    m = folium.Map(tiles=None)
    m.get_root().header.add_child(folium.JavascriptLink("https://cdn.example.com/x.js"))
    offline(m)
    with pytest.raises(UnknownAssetError, match=r"x\.js"):
        m.get_root().render()


def test_division_map_labels_popups_and_public_privacy(
    tmp_path, demo_grids, demo_houses, demo_staff, demo_roads
):
    m = render_division_map(demo_grids, staff=demo_staff, houses=demo_houses, roads=demo_roads)
    html = save_html(m, tmp_path / "public.html").read_text()
    assert not REMOTE_TAG.search(html)
    for code, name in zip(demo_grids["code"], demo_grids["name"], strict=True):
        assert _contains(html, code) and _contains(html, name)
    assert _contains(html, "张晓明") and _contains(html, "13800000001")
    assert not _contains(html, "13800000002")  # unpublished phone stays off the public map
    assert _contains(html, TO_FILL)  # grids without staff
    for address in demo_houses["address"]:
        assert not _contains(html, address)
    assert OSM_ATTRIBUTION in html  # roads are OSM data

    private = render_division_map(demo_grids, staff=demo_staff, houses=demo_houses, public=False)
    html_private = save_html(private, tmp_path / "private.html").read_text()
    assert _contains(html_private, demo_houses["address"].iloc[0])
    assert _contains(html_private, "13800000002")
    assert OSM_ATTRIBUTION not in html_private  # nothing from OSM drawn


def test_tiles_choices():
    assert _contains(base_map("osm").get_root().render(), OSM_ATTRIBUTION)
    with pytest.raises(TiandituKeyError, match="key"):
        base_map("tianditu")
    html = base_map("tianditu", tianditu_key="k123").get_root().render()
    assert "vec_w" in html and "cva_w" in html and "tk=k123" in html
    assert "tile.openstreetmap.org" not in base_map().get_root().render()
    with pytest.raises(ValueError, match="amap"):
        base_map("amap")


def test_gcj02_shift_moves_data(demo_grids):
    plain = render_division_map(demo_grids)
    shifted = render_division_map(demo_grids, m=base_map(gcj02=True))
    b0, b1 = plain.get_bounds(), shifted.get_bounds()
    # GCJ-02 in Shanghai: roughly +0.0045 deg lon, -0.002 deg lat (hundreds of metres)
    assert 0.003 < b1[0][1] - b0[0][1] < 0.006
    assert -0.004 < b1[0][0] - b0[0][0] < -0.001


def test_validation_map_has_every_finding(tmp_path, demo_boundary):
    import geopandas as gpd

    from tests.maps.conftest import DEMO

    grids = gpd.read_file(DEMO / "grids_defective.geojson")
    findings = validate(grids, demo_boundary)
    html = save_html(render_validation_map(grids, findings), tmp_path / "v.html").read_text()
    assert not REMOTE_TAG.search(html)
    for message in findings["message_zh"]:
        assert _contains(html, message.replace("<", "&lt;"))
    for message in findings["message_en"]:
        assert _contains(html, message)


def test_validation_map_names_a_grid_without_code(tmp_path, demo_boundary):
    """A grid whose code is missing is labelled "(无编码)", never "nan" or "None"."""
    import re

    import geopandas as gpd

    from tests.maps.conftest import DEMO

    grids = gpd.read_file(DEMO / "grids.geojson")
    grids.loc[2, "code"] = None
    grids.loc[5, "code"] = float("nan")
    grids["code"] = grids["code"].astype(object)
    findings = validate(grids, demo_boundary)
    assert (findings["kind"] == "missing_code").any()
    html = save_html(render_validation_map(grids, findings), tmp_path / "v.html").read_text()

    def strings(key: str) -> list[str]:  # folium writes JSON strings with \u escapes
        return [json.loads(v) for v in re.findall(rf'"{key}": ("(?:[^"\\]|\\.)*")', html)]

    labels = [h for h in strings("html") if "wangge-label" in h]
    assert len(labels) == LABEL_ZOOM_STEPS * len(grids)  # one label set per zoom step
    assert sum("<small>(无编码)</small>" in label for label in labels) == 2 * LABEL_ZOOM_STEPS
    assert not any(re.search(r"<small>(nan|None|null)?</small>", label) for label in labels)
    codes = strings("code")  # the grid tooltips' data
    assert codes.count("(无编码)") == 2 and "nan" not in codes
