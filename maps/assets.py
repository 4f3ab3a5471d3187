"""Offline browser assets: Leaflet and folium's plugins served by the app or inlined.

folium links Leaflet, jQuery, Bootstrap, Font Awesome and its plugins from CDNs. Government
intranets have no internet, so :func:`offline` rewrites every such link of a map either to a
URL the app serves (``mode="served"``, files under ``maps/static/``) or to the file content
itself (``mode="inline"``), which makes a single HTML file that opens from disk with no network.
The vendored files and their licences are listed in ``maps/static/vendor/README.md``.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from typing import Literal

import folium
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement

from gis.errors import InputError

__all__ = [
    "STATIC_DIR",
    "VENDOR_DIR",
    "UnknownAssetError",
    "asset_for_url",
    "offline",
    "remote_links",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"

# Last path component(s) of a folium CDN URL -> vendored file (relative to STATIC_DIR).
# Matched on the URL's file name so that folium's version bumps keep working.
_BY_FILE_NAME: dict[str, str | None] = {
    "leaflet.js": "vendor/leaflet/leaflet.js",
    "leaflet.css": "vendor/leaflet/leaflet.css",
    "jquery.min.js": "vendor/jquery/jquery.min.js",
    "bootstrap.bundle.min.js": "vendor/bootstrap/bootstrap.bundle.min.js",
    "bootstrap.min.css": "vendor/bootstrap/bootstrap.min.css",
    "bootstrap-glyphicons.css": "vendor/glyphicons/glyphicons.css",
    "all.min.css": "vendor/fontawesome-free/css/all.min.css",
    "leaflet.awesome-markers.js": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "leaflet.awesome-markers.css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    # Only for rotated folium.Icon(angle=...); not vendored, the link is dropped.
    "leaflet.awesome.rotate.min.css": None,
    "leaflet_heat.min.js": "vendor/leaflet.heat/leaflet_heat.min.js",
    "iso8601.min.js": "vendor/iso8601-js-period/iso8601.js",
    "leaflet.timedimension.min.js": "vendor/leaflet-timedimension/leaflet.timedimension.min.js",
    "leaflet.timedimension.control.css": (
        "vendor/leaflet-timedimension/leaflet.timedimension.control.css"
    ),
    "leaflet.timedimension.control.min.css": (
        "vendor/leaflet-timedimension/leaflet.timedimension.control.css"
    ),
    "pa7_hm.min.js": "vendor/heatmap.js/pa7_hm.min.js",
    "pa7_leaflet_hm.min.js": "vendor/heatmap.js/pa7_leaflet_hm.min.js",
}

# Resources only needed by folium.Icon (awesome markers); dropped by default when no Icon is drawn.
_ICON_FILES = {
    "bootstrap.bundle.min.js",
    "bootstrap.min.css",
    "bootstrap-glyphicons.css",
    "all.min.css",
    "leaflet.awesome-markers.js",
    "leaflet.awesome-markers.css",
    "leaflet.awesome.rotate.min.css",
}

_REMOTE_TAG = re.compile(
    r"<(?:script|link)\b[^>]*?(?:src|href)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I
)
_CSS_URL = re.compile(r"url\(\s*([\"']?)([^\"')]+)\1\s*\)")


APP_FILE = "wangge-static:"
"""Prefix of a link to a file under :data:`STATIC_DIR` (served or inlined like the vendored
ones)."""


class UnknownAssetError(InputError):
    """A map links a remote script or stylesheet that has no vendored copy."""


def remote_links(html: str) -> list[str]:
    """Return the remote (``http(s)://`` or ``//``) URLs of ``<script>``/``<link>`` tags in HTML.

    >>> remote_links('<script src="https://cdn.x/a.js"></script><link href="a.css">')
    ['https://cdn.x/a.js']
    """
    return [m.group(1) for m in _REMOTE_TAG.finditer(html)]


def _file_name(url: str) -> str:
    """URL file name without a version (``jquery-3.7.1.min.js`` -> ``jquery.min.js``)."""
    name = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"-\d+(?:\.\d+)+(?=\.)", "", name)


def asset_for_url(url: str) -> Path | None:
    """Return the vendored file for a folium CDN URL, or None if the link is to be dropped.

    Raises
    ------
    UnknownAssetError
        The URL names a file that is not vendored.
    """
    name = _file_name(url)
    if name not in _BY_FILE_NAME:
        raise UnknownAssetError(
            f"地图引用了未内置的外部资源 {url}，离线地图无法加载 / "
            f"the map links {url}, which has no vendored copy under maps/static/vendor"
        )
    rel = _BY_FILE_NAME[name]
    return None if rel is None else STATIC_DIR / rel


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0]
    if path.suffix == ".woff2":
        mime = "font/woff2"
    payload = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime or 'application/octet-stream'};base64,{payload}"


def _inline_css(path: Path) -> str:
    """CSS text with relative ``url(...)`` references replaced by data URIs."""
    text = path.read_text(encoding="utf-8")

    def repl(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        target = (path.parent / ref.split("?", 1)[0].split("#", 1)[0]).resolve()
        if not target.is_file():  # e.g. the .ttf fallbacks of Font Awesome: woff2 is used
            return "url(data:,)"
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(repl, text)


def _inline_js(path: Path) -> str:
    # A literal "</script" inside the code would end the element early.
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def _uses_icons(root: Figure) -> bool:
    stack = [root]
    while stack:
        element = stack.pop()
        if isinstance(element, folium.Icon):
            return True
        stack.extend(element._children.values())
    return False


class _OfflineLinks(MacroElement):
    """Rewrites the figure header's CDN links; rendered after the map (so after all plugins)."""

    def __init__(self, mode: str, base_url: str, keep_unused: bool):
        super().__init__()
        self._name = "OfflineLinks"
        self.mode = mode
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.keep_unused = keep_unused

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        header = figure.header
        keep_icons = self.keep_unused or _uses_icons(figure)
        for key, child in list(header._children.items()):
            if not isinstance(child, JavascriptLink | CssLink):
                continue
            url = str(child.url)
            if url.startswith(APP_FILE):  # one of the app's own files (maps.base)
                path = STATIC_DIR / url[len(APP_FILE) :]
            elif not re.match(r"^(?:https?:)?//", url):
                continue
            else:
                path = asset_for_url(url)
            if path is None or (not keep_icons and _file_name(url) in _ICON_FILES):
                del header._children[key]
                continue
            is_js = isinstance(child, JavascriptLink)
            if self.mode == "inline":
                if is_js:
                    new = Element(f"<script>{_inline_js(path)}</script>")
                else:
                    new = Element(f"<style>{_inline_css(path)}</style>")
            else:
                href = self.base_url + path.relative_to(STATIC_DIR).as_posix()
                new = JavascriptLink(href) if is_js else CssLink(href)
            new._parent = header
            header._children[key] = new


DEFAULT_TITLE = "网格地图 wangge map"
"""The ``<title>`` of a map page that was given none."""


def offline(
    m: folium.Map,
    *,
    mode: Literal["inline", "served"] = "inline",
    base_url: str = "/static/",
    keep_unused: bool = False,
    title: str | None = None,
) -> folium.Map:
    """Make a folium map load Leaflet and its plugins without a CDN; return the same map.

    Parameters
    ----------
    m : folium.Map
        The map; layers may be added before or after this call (links are rewritten when the
        HTML is rendered, after every plugin has added its links).
    mode : {"inline", "served"}
        ``"inline"`` puts the JavaScript and CSS (with images and fonts as data URIs) into the
        HTML, so the saved file opens from disk with no network. ``"served"`` points the links at
        ``base_url`` + ``vendor/...``, for an app that serves ``maps/static/`` at ``base_url``.
    base_url : str
        URL prefix under which the app serves ``maps.assets.STATIC_DIR`` (served mode).
    keep_unused : bool
        Keep Bootstrap, Font Awesome and awesome-markers even when no ``folium.Icon`` is drawn
        (by default they are dropped: about 0.6 MB less per inlined map).
    title : str, optional
        The page's ``<title>``; a map without one gets :data:`DEFAULT_TITLE`.

    Raises
    ------
    UnknownAssetError
        At render time, when a plugin links a remote file that is not vendored.

    Notes
    -----
    Tile layers (OSM, Tianditu) stay remote by design: they are optional and only added when
    asked for (``tiles=``). Tiles and data must be in the same datum; see ``maps.web``.
    """
    if mode not in ("inline", "served"):
        raise InputError(
            f"mode 必须是 inline 或 served / mode must be 'inline' or 'served': {mode!r}"
        )
    figure = m.get_root()
    if not isinstance(figure, Figure):  # pragma: no cover - folium.Map always makes one
        figure = Figure()
        figure.add_child(m)
    if title:
        figure.title = title
    elif not figure.title:
        figure.title = DEFAULT_TITLE
    for key, child in list(figure._children.items()):
        if isinstance(child, _OfflineLinks):
            del figure._children[key]
    figure.add_child(_OfflineLinks(mode, base_url, keep_unused), name="wangge_offline_links")
    return m
