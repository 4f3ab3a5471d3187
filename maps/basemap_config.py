"""What a web page needs to draw its base map: the offline vector tiles and the online sources.

Every page (the staff and public pages, the planner, the ``/maps/...`` pages and the
self-contained HTML files) draws its base layers with one script, ``maps/static/app/basemap.js``,
configured by the document :func:`page_config` returns:

- ``offline``: the offline base map (vector tiles, :mod:`maps.basemap`): a ``tiles`` URL
  template served by the app, or ``embedded`` tiles (base64 MVT by ``z/x/y``) for a file that
  opens from disk; None when there is none;
- ``online``: the online sources the deployment offers (setting ``tiles``), each with its
  tile layers and whether it is GCJ-02 (Amap/Gaode, Tencent: the page then shifts what it
  draws into GCJ-02 for display, never the stored coordinates);
- ``default``: the base layer shown first (the offline map when there is one, else the first
  online source, else none);
- ``colours``, ``road_classes``, ``labels``: the style of :mod:`maps.basemap_style`, so screen
  and paper draw the same colours.

Pure: no web framework, no database.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from gis.errors import InputError
from maps.basemap_style import COLOURS, ROAD_CLASSES, base_style

__all__ = [
    "ONLINE_SOURCES",
    "embedded_offline",
    "online_sources",
    "page_config",
    "parse_tile_sources",
    "served_offline",
    "source_hosts",
]

OSM_ATTRIBUTION = (
    '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>'
)
_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
ONLINE_SOURCES: dict[str, dict] = {
    "osm": {
        "name": "OpenStreetMap",
        "gcj02": False,
        "layers": [{"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "subdomains": "",
                    "maxZoom": 19, "attribution": OSM_ATTRIBUTION}],
    },
    "tianditu": {  # vector map + Chinese annotation, Web Mercator tile matrix set "w"
        "name": "天地图",
        "gcj02": False,
        "layers": [
            {"url": _TIANDITU.replace("{layer}", "vec"), "subdomains": "01234567",
             "maxZoom": 18, "attribution": "天地图 Tianditu"},
            {"url": _TIANDITU.replace("{layer}", "cva"), "subdomains": "01234567",
             "maxZoom": 18, "attribution": ""},
        ],
    },
    "amap": {
        "name": "高德地图",
        "gcj02": True,
        "layers": [{"url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1"
                           "&scale=1&style=8&x={x}&y={y}&z={z}",
                    "subdomains": "1234", "maxZoom": 18, "attribution": "© 高德地图 AutoNavi"}],
    },
    "tencent": {  # TMS rows: {-y}
        "name": "腾讯地图",
        "gcj02": True,
        "layers": [{"url": "https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}&type=vector"
                           "&styleid=0",
                    "subdomains": "0123", "maxZoom": 18, "attribution": "© 腾讯地图 Tencent"}],
    },
}  # fmt: skip
"""Online sources a deployment may offer (setting ``tiles``), by name."""


def parse_tile_sources(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The online sources named by the setting ``tiles``: comma separated or a list.

    ``none`` (or empty) offers none. Unknown names raise :class:`~gis.errors.InputError`.

    >>> parse_tile_sources("osm, amap")
    ('osm', 'amap')
    >>> parse_tile_sources("none")
    ()
    """
    if value is None:
        return ()
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = [str(n).strip().lower() for n in names if str(n).strip()]
    chosen = [n for n in chosen if n != "none"]
    unknown = [n for n in chosen if n not in ONLINE_SOURCES]
    if unknown:
        raise InputError(
            f"未知在线底图 {', '.join(unknown)}，可选 none、{'、'.join(ONLINE_SOURCES)} / unknown"
            f" online base map {', '.join(unknown)}; choose from none, {', '.join(ONLINE_SOURCES)}"
        )
    return tuple(dict.fromkeys(chosen))


def online_sources(names: Sequence[str], *, tianditu_key: str | None = None) -> list[dict]:
    """The page documents of the online sources ``names`` (Tianditu needs ``tianditu_key``)."""
    out = []
    for name in names:
        source = ONLINE_SOURCES[name]
        if name == "tianditu" and not tianditu_key:
            raise InputError(
                "天地图底图需要密钥（设置 WANGGE_TIANDITU_KEY）/ Tianditu tiles need a key "
                "(set WANGGE_TIANDITU_KEY)"
            )
        layers = [
            {**layer, "url": layer["url"].replace("{key}", tianditu_key or "")}
            for layer in source["layers"]
        ]
        out.append({"id": name, "name": source["name"], "gcj02": source["gcj02"],
                    "layers": layers})  # fmt: skip
    return out


def source_hosts(online: Sequence[dict]) -> list[str]:
    """The origins (``https://host``, one per subdomain) the online sources' images come from:
    what a page's Content-Security-Policy must allow in ``img-src``."""
    hosts: dict[str, None] = {}
    for source in online:
        for layer in source["layers"]:
            subdomains = layer.get("subdomains") or [""]
            for s in subdomains:
                parts = urlsplit(layer["url"].replace("{s}", s))
                hosts[f"{parts.scheme}://{parts.netloc}"] = None
    return list(hosts)


def _style_labels() -> list[dict]:
    style = base_style("", minzoom=0, maxzoom=0, bounds=(0, 0, 0, 0))
    return style["metadata"]["wangge:labels"]


def served_offline(tiles_url: str, *, minzoom: int, maxzoom: int, bounds) -> dict:
    """The offline base map served by the app at ``tiles_url`` (``.../{z}/{x}/{y}.mvt``)."""
    return {"tiles": tiles_url, "minzoom": int(minzoom), "maxzoom": int(maxzoom),
            "bounds": [float(v) for v in bounds]}  # fmt: skip


def embedded_offline(archive, bounds, *, zooms: int = 3, pad: float = 0.2) -> dict:
    """The offline base map's tiles over ``bounds`` (W, S, E, N lon/lat, padded by ``pad`` of
    their size) at the archive's top ``zooms`` zooms, as base64 MVT (uncompressed) by
    ``"z/x/y"``: for an HTML file that opens from disk with no network."""
    import numpy as np  # here, like the two below: the settings check names with this module
    from pyproj import Transformer

    from maps.basemap import tile_range  # here: it loads geopandas, which settings never need

    west, south, east, north = bounds
    dx, dy = (east - west) * pad, (north - south) * pad
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    xs, ys = to_3857.transform(np.array([west - dx, east + dx]), np.array([south - dy, north + dy]))
    box = (min(xs), min(ys), max(xs), max(ys))
    top = archive.maxzoom
    tiles: dict[str, str] = {}
    for z in range(max(archive.minzoom, top - zooms + 1), top + 1):
        x0, y0, x1, y1 = tile_range(box, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = archive.get_mvt(z, x, y)
                if not data:
                    continue
                tiles[f"{z}/{x}/{y}"] = base64.b64encode(data).decode("ascii")
    return {"embedded": tiles, "minzoom": max(archive.minzoom, top - zooms + 1),
            "maxzoom": top, "bounds": [float(v) for v in archive.bounds]}  # fmt: skip


def page_config(offline: dict | None, online: Sequence[dict] = ()) -> dict:
    """The base-map document of a page (see the module's docstring)."""
    default = "offline" if offline else (online[0]["id"] if online else "none")
    return {
        "offline": offline,
        "online": list(online),
        "default": default,
        "colours": COLOURS,
        "road_classes": {k: list(v) for k, v in ROAD_CLASSES.items()},
        "labels": _style_labels(),
    }
