"""Base maps: a plain offline background, OSM or Tianditu tiles, and the datum of the data.

Tiles and data must share a datum. OSM and Tianditu tiles are WGS84-aligned (Tianditu uses
CGCS2000, which differs from WGS84 by centimetres), so data in EPSG:4326/4490 is drawn as is.
Tiles of Amap (高德) or Tencent are GCJ-02 ("Mars coordinates"), 100–700 m off in China: a map
made with ``gcj02=True`` shifts every layer with :func:`gis.crs.wgs84_to_gcj02` before drawing, so
such tiles (added by the caller as a ``folium.TileLayer``) line up.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement, Template
from folium.elements import JSCSSMixin

from gis.crs import WGS84, require_crs, wgs84_to_gcj02
from gis.errors import InputError
from maps.assets import APP_FILE

__all__ = [
    "BACKGROUND",
    "OSM_ATTRIBUTION",
    "TIANDITU_ATTRIBUTION",
    "TILE_CHOICES",
    "TiandituKeyError",
    "add_base_layers",
    "add_osm_attribution",
    "base_map",
    "fit_to",
    "to_map_frame",
]

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
TIANDITU_ATTRIBUTION = "天地图 Tianditu"
BACKGROUND = "#f4f3ef"  # the plain offline background (no tiles)
TILE_CHOICES = (None, "none", "osm", "tianditu")

_TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)


class TiandituKeyError(InputError):
    """Tianditu tiles were asked for without a key."""


def base_map(
    tiles: Literal["none", "osm", "tianditu"] | None = None,
    *,
    tianditu_key: str | None = None,
    gcj02: bool = False,
    max_zoom: int = 20,
) -> folium.Map:
    """Return an empty map with the chosen base tiles.

    Parameters
    ----------
    tiles : {None, "none", "osm", "tianditu"}
        None/"none": no tiles, a plain background (works offline; the default).
        "osm": OpenStreetMap standard tiles with "© OpenStreetMap contributors".
        "tianditu": Tianditu vector map + Chinese annotation (``vec_w`` + ``cva_w``, EPSG:3857
        tile matrix set ``w``); needs ``tianditu_key``.
    tianditu_key : str, optional
        The Tianditu browser key (``WANGGE_TIANDITU_KEY`` in the app's settings).
    gcj02 : bool
        Shift all data drawn by ``maps`` renderers to GCJ-02 (for GCJ-02 tiles the caller adds).

    Raises
    ------
    TiandituKeyError
        ``tiles="tianditu"`` without a key.
    InputError
        An unknown ``tiles`` value.
    """
    if tiles not in TILE_CHOICES:
        raise InputError(
            f"未知底图 {tiles!r}，可选 none、osm、tianditu / "
            f"unknown tiles {tiles!r}; choose none, osm or tianditu"
        )
    m = folium.Map(tiles=None, control_scale=True, max_zoom=max_zoom, prefer_canvas=False)
    m._wangge_gcj02 = bool(gcj02)  # read by to_map_frame
    if tiles in (None, "none"):
        m.get_root().header.add_child(
            Element(f"<style>.leaflet-container{{background:{BACKGROUND} !important;}}</style>"),
            name="wangge_background",
        )
    elif tiles == "osm":
        folium.TileLayer(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            attr=f'<a href="{OSM_COPYRIGHT_URL}">{OSM_ATTRIBUTION}</a>',
            name="OpenStreetMap",
            max_zoom=19,
        ).add_to(m)
    else:
        if not tianditu_key:
            raise TiandituKeyError(
                "天地图底图需要密钥（设置 WANGGE_TIANDITU_KEY 或传入 tianditu_key） / "
                "Tianditu tiles need a key (set WANGGE_TIANDITU_KEY or pass tianditu_key)"
            )
        for layer, name, overlay in (("vec", "天地图 矢量", False), ("cva", "天地图 注记", True)):
            folium.TileLayer(
                _TIANDITU_URL.format(layer=layer, key=tianditu_key),
                attr=TIANDITU_ATTRIBUTION,
                name=name,
                subdomains="01234567",
                overlay=overlay,
                control=overlay,
                max_zoom=18,
            ).add_to(m)
    return m


def add_osm_attribution(m: folium.Map) -> folium.Map:
    """Show "© OpenStreetMap contributors" in the map's attribution control (once)."""
    key = "wangge_osm_attribution"
    if key not in m._children:
        element = MacroElement()
        element._template = Template(
            "{% macro script(this, kwargs) %}"
            "{{ this._parent.get_name() }}.attributionControl.addAttribution("
            f"'<a href=\"{OSM_COPYRIGHT_URL}\">{OSM_ATTRIBUTION}</a>');"
            "{% endmacro %}"
        )
        m.add_child(element, name=key)
    return m


_ATTACH = """{% macro script(this, kwargs) %}
(function () {
  var node = document.getElementById("wangge-basemap-config");
  if (!window.wanggeBasemap || !node) { return; }
  window.wanggeBasemap.attach({{ this._parent.get_name() }}, JSON.parse(node.textContent),
    {{ this.control or "null" }});
})();
{% endmacro %}"""


class _BaseLayers(JSCSSMixin, MacroElement):
    """basemap.js's base layers and layer switch on a folium map (rendered after its layers
    control, whose base layers it joins; its scripts are linked after Leaflet's)."""

    default_js: ClassVar[list[tuple[str, str]]] = [
        ("protomaps_leaflet", f"{APP_FILE}vendor/protomaps-leaflet/protomaps-leaflet.js"),
        ("wangge_basemap", f"{APP_FILE}app/basemap.js"),
    ]

    def __init__(self, control: str | None) -> None:
        super().__init__()
        self._name = "WanggeBaseLayers"
        self.control = control
        self._template = Template(_ATTACH)


def add_base_layers(m: folium.Map, config: dict) -> folium.Map:
    """Draw the base map of ``config`` (:func:`maps.basemap_config.page_config`) under the map's
    layers, with the layer switch 离线底图 / 无底图 / online sources
    (``maps/static/app/basemap.js``).

    The scripts are linked as app files (``wangge-static:``), which :func:`maps.assets.offline`
    turns into ``/static/...`` links or inlines; the configuration is a JSON data block. Call
    it after every layer and the ``folium.LayerControl`` are added (once per map).
    """
    import json

    figure = m.get_root()
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    figure.html.add_child(
        Element(f'<script type="application/json" id="wangge-basemap-config">{data}</script>'),
        name="wangge_basemap_config",
    )
    controls = [c for c in m._children.values() if isinstance(c, folium.LayerControl)]
    m.add_child(
        _BaseLayers(controls[-1].get_name() if controls else None), name="wangge_base_layers"
    )
    return m


def to_map_frame(frame: gpd.GeoDataFrame, m: folium.Map | None = None) -> gpd.GeoDataFrame:
    """Return ``frame`` in EPSG:4326 (shifted to GCJ-02 when the map was made with ``gcj02``)."""
    require_crs(frame, "map layer / 地图图层")
    out = frame.to_crs(WGS84) if len(frame) else frame.set_crs(WGS84, allow_override=True)
    if m is not None and getattr(m, "_wangge_gcj02", False):
        out = out.copy()

        def shift(coords):
            lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        out.geometry = gpd.GeoSeries(
            shapely.transform(out.geometry.values, shift), index=out.index, crs=WGS84
        )
    return out


def fit_to(m: folium.Map, frame: gpd.GeoDataFrame) -> folium.Map:
    """Fit the map view to the bounds of ``frame`` (already in the map's frame)."""
    if len(frame) and not frame.geometry.is_empty.all():
        minx, miny, maxx, maxy = frame.total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m
