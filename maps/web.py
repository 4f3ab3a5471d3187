"""Web maps of a division: the grid map, the public/staff division map and the validation map.

Every renderer takes ``m=None`` (make a new map, see :func:`maps.base.base_map`) or adds to the
map given, reprojects to EPSG:4326 itself, and returns the ``folium.Map``. Call
:func:`save_html` (or :func:`maps.assets.offline`) to get HTML that needs no CDN.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template

from gis.codes import require_code_field
from gis.errors import InputError
from maps.assets import offline
from maps.base import add_osm_attribution, base_map, fit_to, to_map_frame
from maps.colouring import colour_grids
from maps.labels import place_labels, text_width_px

__all__ = [
    "FILL_OPACITY",
    "FINDING_STYLES",
    "LEGEND_ROWS",
    "NO_CODE",
    "TO_FILL",
    "add_legend",
    "code_label",
    "grid_labels",
    "label_zoom",
    "render_division_map",
    "render_grid_map",
    "render_validation_map",
    "save_html",
    "staff_by_grid",
]

TO_FILL = "待填"
FILL_OPACITY = 0.7

# Finding kind -> (colour, label zh, label en). Kinds of gis.coverage.FINDING_KINDS.
FINDING_STYLES: dict[str, tuple[str, str, str]] = {
    "gap": ("#d7191c", "空隙", "gap"),
    "sliver": ("#ff7f00", "细缝", "sliver"),
    "overlap": ("#7b3294", "重叠", "overlap"),
    "invalid": ("#000000", "几何无效", "invalid geometry"),
    "outside": ("#1f78b4", "超出边界", "outside the boundary"),
    "multipart": ("#e7298a", "多部件", "multipart"),
    "hole": ("#a6611a", "孔洞", "hole"),
    "edge_mismatch": ("#ff00ff", "边不重合", "edge mismatch"),
    "duplicate_code": ("#b2182b", "编码重复", "duplicate code"),
    "missing_code": ("#4d4d4d", "缺少编码", "missing code"),
}


def _new_or(m: folium.Map | None, tiles: str | None, **kwargs: Any) -> folium.Map:
    return base_map(tiles, **kwargs) if m is None else m


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "t", "是"}
    return bool(value) if _text(value) is not None else False


def staff_by_grid(
    staff: pd.DataFrame | None, codes: pd.Series, *, public: bool = True
) -> pd.DataFrame:
    """Return one row per grid code: ``person`` (names with roles) and ``phone`` (or 待填).

    ``staff`` has columns grid_code, name, role, phone, phone_published (one row per person; a
    grid may have several). On a public map a phone is shown only where ``phone_published`` is
    true ("未公开" otherwise); a grid with no staff gets 待填 in both fields.
    """
    out = pd.DataFrame(
        {"person": TO_FILL, "phone": TO_FILL}, index=pd.Index(codes.astype(str), name="code")
    )
    if staff is None or not len(staff):
        return out
    missing = {"grid_code", "name"} - set(staff.columns)
    if missing:
        raise InputError(
            f"人员表缺少列 {sorted(missing)} / staff table lacks columns {sorted(missing)}"
        )
    for code, rows in staff.groupby(staff["grid_code"].astype(str), sort=False):
        if code not in out.index:
            continue
        people, phones = [], []
        for row in rows.to_dict("records"):
            name = _text(row.get("name"))
            if name is None:
                continue
            role = _text(row.get("role"))
            people.append(f"{name}（{role}）" if role else name)
            phone = _text(row.get("phone"))
            if phone is not None and (not public or _truthy(row.get("phone_published"))):
                phones.append(phone)
            elif phone is not None:
                phones.append("未公开")
        if people:
            out.loc[code, "person"] = "、".join(people)
        if phones:
            out.loc[code, "phone"] = "、".join(phones)
    return out


LABEL_VIEWPORT_PX = (390, 844)
"""The viewport (a phone) whose fitted zoom the web labels are placed for; at any closer zoom
they stay apart, since label boxes keep their pixel size while the distances between them grow."""
LABEL_SIZES_PX: tuple[tuple[float, bool], ...] = (
    (12.0, False),
    (12.0, True),
    (10.0, True),
    (8.0, True),
)
"""A grid label's size options, preferred first: font size of the name in CSS pixels and
whether the name is wrapped onto two lines (the code line below is ``<small>``)."""
_SMALL = 5 / 6  # the browser's default ratio of <small> text


def label_zoom(frame: gpd.GeoDataFrame, viewport_px: tuple[int, int] = LABEL_VIEWPORT_PX) -> int:
    """Return the zoom Leaflet's ``fitBounds`` gives ``frame`` (EPSG:4326) in ``viewport_px``."""
    minx, miny, maxx, maxy = frame.total_bounds
    x0, y0 = _mercator_px(np.array([minx, maxx]), np.array([maxy, miny]), 0)
    width, height = max(x0[1] - x0[0], 1e-12), max(y0[1] - y0[0], 1e-12)
    zoom = math.floor(math.log2(min(viewport_px[0] / width, viewport_px[1] / height)))
    return int(min(max(zoom, 0), 20))


def _mercator_px(lon, lat, zoom: int):
    """Web Mercator pixel coordinates (y down) of lon/lat at ``zoom`` (256-pixel tiles)."""
    scale = 256 * 2**zoom
    x = (np.asarray(lon, dtype=float) + 180) / 360 * scale
    phi = np.radians(np.asarray(lat, dtype=float))
    y = (1 - np.log(np.tan(phi) + 1 / np.cos(phi)) / np.pi) / 2 * scale
    return x, y


def _lonlat(x: float, y: float, zoom: int) -> tuple[float, float]:
    scale = 256 * 2**zoom
    lon = x / scale * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / scale))))
    return lon, lat


def _name_lines(name: str, wrapped: bool) -> list[str]:
    """The name on one line, or on two split near the middle (at a space when it has one)."""
    if not wrapped or len(name) < 4:
        return [name]
    middle = len(name) // 2
    spaces = [i for i, ch in enumerate(name) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - middle)) if spaces else middle
    return [name[:cut].strip(), name[cut:].strip()]


def _label_size(name: str, code: str, size_px: float, wrapped: bool) -> tuple[float, float]:
    """The label box in CSS pixels: the name's lines, then the code in ``<small>`` (1.2 leading)."""
    lines = _name_lines(name, wrapped)
    width = max(
        *(text_width_px(line, size_px) for line in lines), text_width_px(code, size_px * _SMALL)
    )
    return (math.ceil(width) + 4, math.ceil(1.2 * size_px * (len(lines) + _SMALL)) + 2)


LABEL_ZOOM_STEPS = 3
"""Label sets placed per map: at the phone's fitted zoom and this many zooms in all (a larger
screen opens the map one or two zooms closer, where labels fit inside more grids)."""

_ZOOM_SWITCH = """{% macro script(this, kwargs) %}
(function () {
  var group = {{ this._parent.get_name() }};
  var sets = [{% for zoom, name in this.sets %}[{{ zoom }}, {{ name }}],{% endfor %}];
  var watched = null;
  function pick() {
    var map = group._map;
    if (!map) { return; }
    var zoom = map.getZoom(), chosen = null;
    sets.forEach(function (s) { if (zoom >= s[0]) { chosen = s[1]; } });
    sets.forEach(function (s) {
      if (s[1] === chosen) { if (!group.hasLayer(s[1])) { group.addLayer(s[1]); } }
      else if (group.hasLayer(s[1])) { group.removeLayer(s[1]); }
    });
  }
  group.on("add", function () {
    if (watched !== group._map) { watched = group._map; watched.on("zoomend", pick); }
    pick();
  });
})();
{% endmacro %}"""


class _ZoomSwitch(MacroElement):
    """Show, of a label layer's sets, the one placed for the largest zoom not above the map's."""

    def __init__(self, sets: list[tuple[int, folium.FeatureGroup]]) -> None:
        super().__init__()
        self._name = "WanggeLabelZoomSwitch"
        self._sets = sets
        self._template = Template(_ZOOM_SWITCH)

    @property
    def sets(self) -> list[tuple[int, str]]:
        return [(zoom, group.get_name()) for zoom, group in self._sets]


def grid_labels(
    frame: gpd.GeoDataFrame, *, code_field: str = "code", zoom: int | None = None
) -> folium.FeatureGroup:
    """Return a layer of name + code labels (DivIcon) that never overlap on screen.

    Labels are measured with the CJK font the pages use and placed by
    :func:`maps.labels.place_labels` in pixels at a zoom: inside the grid (12 px, the name
    wrapped, 10 or 8 px), or outside on a leader line (class ``wangge-leader``). One set is
    placed for each of :data:`LABEL_ZOOM_STEPS` zooms from ``zoom`` (default
    :func:`label_zoom`, the zoom a phone opens the map at); the map shows the set of the largest
    of these zooms not above its own (closer in, boxes keep their size while grids grow, so the
    set still does not overlap) and none when zoomed out beyond the first.
    """
    layer = folium.FeatureGroup(name="网格标注 Labels", control=True)
    usable = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if not len(usable):
        return layer
    first = label_zoom(usable) if zoom is None else zoom
    names = [str(row.get("name", "") or "") for _, row in usable.iterrows()]
    codes = [code_label(row.get(code_field)) for _, row in usable.iterrows()]
    sizes = [
        [_label_size(n, c, px, wrap) for px, wrap in LABEL_SIZES_PX]
        for n, c in zip(names, codes, strict=True)
    ]
    sets = []
    for at in range(first, min(first + LABEL_ZOOM_STEPS, 22)):
        group = _label_set(usable, names, codes, sizes, at)
        group.add_to(layer)
        sets.append((at, group))
    layer.add_child(_ZoomSwitch(sets))
    layer._wangge_label_sets = sets  # for tests: (zoom, group) placed at that zoom
    return layer


def _label_set(usable, names, codes, sizes, zoom: int) -> folium.FeatureGroup:
    """The labels placed in pixels at ``zoom`` (markers at the label centres, leader lines)."""
    group = folium.FeatureGroup(name=f"labels z{zoom}", control=False)
    to_px = lambda xy: np.column_stack(_mercator_px(xy[:, 0], xy[:, 1], zoom))  # noqa: E731
    polygons = [shapely.transform(geom, to_px) for geom in usable.geometry]
    placements = place_labels(polygons, sizes, gap=2.0, rings=40, leader_size=2)
    for name, code, spot in zip(names, codes, placements, strict=True):
        if spot is None:
            continue
        lon, lat = _lonlat(spot.x, spot.y, zoom)
        w, h = spot.box[2] - spot.box[0], spot.box[3] - spot.box[1]
        size_px, wrapped = LABEL_SIZES_PX[spot.size]
        name_html = "<br>".join(html.escape(line) for line in _name_lines(name, wrapped))
        if spot.leader_from is not None:
            start_ll = _lonlat(*spot.leader_from, zoom)
            end_ll = _lonlat(*spot.leader_to, zoom)
            folium.PolyLine(
                [(start_ll[1], start_ll[0]), (end_ll[1], end_ll[0])],
                color="#333333",
                weight=1,
                interactive=False,
                class_name="wangge-leader",
            ).add_to(group)
        folium.Marker(
            [lat, lon],
            icon=folium.DivIcon(
                html=(
                    f'<div class="wangge-label" style="width:{w:g}px;height:{h:g}px;'
                    "white-space:nowrap;text-align:center;"
                    f"font:{size_px:g}px/1.2 'Noto Sans CJK SC',sans-serif;"
                    "color:#222;text-shadow:0 0 2px #fff,0 0 2px #fff;"
                    f'pointer-events:none">{name_html}<br>'
                    f"<small>{html.escape(code)}</small></div>"
                ),
                icon_size=(w, h),
                icon_anchor=(w / 2, h / 2),
            ),
        ).add_to(group)
    return group


LEGEND_ROWS = 20
"""Legend entries per column: a longer legend wraps into more columns."""


def add_legend(m: folium.Map, title: str, entries: list[tuple[str, str]]) -> folium.Map:
    """Add a fixed legend box (HTML) with coloured swatches: ``entries`` = [(colour, label)].

    The box sits bottom left above Leaflet's scale control (it never covers the scale bar) and
    starts a new column every :data:`LEGEND_ROWS` entries.
    """
    rows = "".join(
        f'<div style="break-inside:avoid"><span style="display:inline-block;width:14px;'
        "height:14px;margin-right:6px;vertical-align:middle;border:1px solid #555;"
        f'background:{colour}"></span>{html.escape(label)}</div>'
        for colour, label in entries
    )
    columns = max(1, math.ceil(len(entries) / LEGEND_ROWS))
    box = (
        '<div class="wangge-legend" style="position:fixed;bottom:64px;left:12px;z-index:9999;'
        "background:rgba(255,255,255,.92);padding:8px 10px;border:1px solid #999;"
        "border-radius:4px;font:12px/1.5 'Noto Sans CJK SC',sans-serif;"
        'max-height:calc(100vh - 180px);max-width:calc(100vw - 40px);overflow:auto">'
        f"<b>{html.escape(title)}</b>"
        f'<div style="column-count:{columns};column-gap:16px">{rows}</div></div>'
    )
    legend = MacroElement()
    legend._template = Template("{% macro html(this, kwargs) %}" + box + "{% endmacro %}")
    m.get_root().add_child(legend)
    return m


def _grid_frame(grids: gpd.GeoDataFrame, m: folium.Map, code_field: str) -> gpd.GeoDataFrame:
    require_code_field(grids, code_field)
    frame = to_map_frame(grids, m)
    cols = [code_field] + [c for c in ("name", "households") if c in frame.columns]
    frame = frame[[*cols, "geometry"]].copy()
    frame[code_field] = frame[code_field].map(code_label)
    return frame


NO_CODE = "(无编码)"


def code_label(value: object) -> str:
    """A grid code as shown on a map: :data:`NO_CODE` when missing, empty or NaN."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return NO_CODE
    text = str(value).strip()
    return text or NO_CODE


def _grid_style(feature: dict) -> dict:
    """A grid filled with its ``_colour`` (neighbour colouring), outlined in grey."""
    return {
        "fillColor": feature["properties"]["_colour"],
        "color": "#444444",
        "weight": 1.5,
        "fillOpacity": FILL_OPACITY,
    }


def _grid_highlight(feature: dict) -> dict:
    return {"weight": 3}


def render_grid_map(
    grids: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
    tiles: str | None = None,
    code_field: str = "code",
    colours: pd.Series | None = None,
    name: str = "网格 Grids",
) -> folium.Map:
    """Draw the grids coloured so that no two neighbours match, with code/name labels."""
    m = _new_or(m, tiles)
    frame = _grid_frame(grids, m, code_field)
    frame["_colour"] = (colours if colours is not None else colour_grids(grids)).loc[frame.index]
    fields = [c for c in (code_field, "name", "households") if c in frame.columns]
    aliases = {code_field: "编码 Code", "name": "名称 Name", "households": "户数 Households"}
    folium.GeoJson(
        frame,
        name=name,
        style_function=_grid_style,
        highlight_function=_grid_highlight,
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[aliases[f] for f in fields]),
    ).add_to(m)
    grid_labels(frame, code_field=code_field).add_to(m)
    fit_to(m, frame)
    return m


def render_division_map(
    grids: gpd.GeoDataFrame,
    *,
    staff: pd.DataFrame | None = None,
    houses: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    m: folium.Map | None = None,
    tiles: str | None = None,
    public: bool = True,
    code_field: str = "code",
    roads_from_osm: bool = True,
    tianditu_key: str | None = None,
) -> folium.Map:
    """Draw the division: coloured, labelled grids with staff popups, legend and layer control.

    Parameters
    ----------
    grids : GeoDataFrame
        ``code`` (or ``code_field``), optional ``name`` and ``households``.
    staff : DataFrame, optional
        grid_code, name, role, phone, phone_published; grids without staff show 待填.
    houses : GeoDataFrame, optional
        Points (address, households, …); drawn only when ``public=False`` (signed-in staff).
        The public map never carries houses, addresses or residents.
    roads : GeoDataFrame, optional
        Lines, drawn thin grey; attributed to OpenStreetMap when ``roads_from_osm``.
    public : bool
        Public map: published phones only, no house layer.
    """
    m = _new_or(m, tiles, tianditu_key=tianditu_key)
    frame = _grid_frame(grids, m, code_field)
    colours = colour_grids(grids)
    info = staff_by_grid(staff, frame[code_field], public=public)
    frame["_colour"] = colours.loc[frame.index].to_numpy()
    frame["person"] = info["person"].to_numpy()
    frame["phone"] = info["phone"].to_numpy()
    if "households" in frame.columns:
        frame["households"] = frame["households"].map(lambda v: TO_FILL if _text(v) is None else v)
    else:
        frame["households"] = TO_FILL
    if "name" not in frame.columns:
        frame["name"] = ""

    if roads is not None and len(roads):
        road_frame = to_map_frame(roads, m)[["geometry"]]
        folium.GeoJson(
            road_frame,
            name="道路 Roads",
            style_function=lambda f: {"color": "#9a9a9a", "weight": 1, "fill": False},
            interactive=False,
        ).add_to(m)
        if roads_from_osm:
            add_osm_attribution(m)

    fields = [code_field, "name", "person", "phone", "households"]
    aliases = ["编码 Code", "名称 Name", "负责人 Responsible", "电话 Phone", "户数 Households"]
    folium.GeoJson(
        frame,
        name="网格 Grids",
        style_function=_grid_style,
        highlight_function=_grid_highlight,
        tooltip=folium.GeoJsonTooltip(fields=[code_field, "name"], aliases=aliases[:2]),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases),
    ).add_to(m)
    grid_labels(frame, code_field=code_field).add_to(m)

    if not public and houses is not None and len(houses):
        house_frame = to_map_frame(houses, m)
        layer = folium.FeatureGroup(name="房屋门牌 Houses (staff only)", show=False)
        label_col = next((c for c in ("address", "house_id") if c in house_frame.columns), None)
        for (_, row), geom in zip(house_frame.iterrows(), house_frame.geometry, strict=True):
            if geom is None or geom.is_empty:
                continue
            point = geom if geom.geom_type == "Point" else geom.representative_point()
            text = html.escape(str(row[label_col])) if label_col else ""
            folium.CircleMarker(
                [point.y, point.x],
                radius=3,
                color="#333333",
                weight=1,
                fill=True,
                fill_color="#ffffff",
                fill_opacity=1,
                tooltip=text or None,
            ).add_to(layer)
        layer.add_to(m)

    entries = [
        (colour, f"{row['name']} {row[code_field]}".strip())
        for (_, row), colour in zip(frame.iterrows(), frame["_colour"], strict=True)
    ]
    add_legend(m, "网格 Grids", entries)
    folium.LayerControl(collapsed=True).add_to(m)
    fit_to(m, frame)
    return m


def render_validation_map(
    grids: gpd.GeoDataFrame,
    findings: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
    tiles: str | None = None,
    code_field: str = "code",
) -> folium.Map:
    """Draw the findings of :func:`gis.coverage.validate` over the division, one style per kind.

    Each finding is clickable: its popup carries ``message_zh`` and ``message_en``; points
    (invalid spots) are circle markers, lines (edge mismatches) dashed lines.
    """
    m = _new_or(m, tiles)
    frame = _grid_frame(grids, m, code_field)
    folium.GeoJson(
        frame,
        name="网格 Grids",
        style_function=lambda f: {
            "fillColor": "#ffffff",
            "color": "#555555",
            "weight": 1,
            "fillOpacity": 0.3,
        },
        tooltip=folium.GeoJsonTooltip(fields=[code_field]),
    ).add_to(m)
    grid_labels(frame, code_field=code_field).add_to(m)

    found = findings[findings.geometry.notna() & ~findings.geometry.is_empty]
    found = to_map_frame(found, m) if len(found) else found
    used: list[tuple[str, str]] = []
    for kind, rows in found.groupby("kind", sort=False):
        colour, zh, en = FINDING_STYLES.get(str(kind), ("#333333", str(kind), str(kind)))
        layer = folium.FeatureGroup(name=f"{zh} {en}")
        for row in rows.itertuples(index=False):
            popup = folium.Popup(
                f"<b>{html.escape(zh)} / {html.escape(en)}</b><br>"
                f"{html.escape(str(row.message_zh))}<br><i>{html.escape(str(row.message_en))}</i>",
                max_width=360,
            )
            geom = row.geometry
            for part in getattr(geom, "geoms", [geom]):
                if part.geom_type == "Point":
                    folium.CircleMarker(
                        [part.y, part.x],
                        radius=8,
                        color=colour,
                        weight=3,
                        fill=True,
                        fill_opacity=0.6,
                        popup=popup,
                    ).add_to(layer)
            polys_lines = [p for p in getattr(geom, "geoms", [geom]) if p.geom_type != "Point"]
            if polys_lines:
                dashed = geom.geom_type in ("LineString", "MultiLineString")
                folium.GeoJson(
                    gpd.GeoSeries(polys_lines, crs=found.crs).union_all().__geo_interface__,
                    style_function=lambda f, c=colour, d=dashed: {
                        "color": c,
                        "fillColor": c,
                        "weight": 4 if d else 2,
                        "fillOpacity": 0.6,
                        "dashArray": "6 4" if d else None,
                    },
                    popup=popup,
                ).add_to(layer)
        layer.add_to(m)
        used.append((colour, f"{zh} {en} ({len(rows)})"))
    add_legend(m, "检查结果 Findings", used or [("#ffffff", "无问题 No findings")])
    folium.LayerControl(collapsed=False).add_to(m)
    fit_to(m, frame)
    return m


def save_html(
    m: folium.Map,
    out: str | Path,
    *,
    mode: Literal["inline", "served"] = "inline",
    base_url: str = "/static/",
    title: str | None = None,
) -> Path:
    """Write the map as HTML with no CDN links (inline: opens from disk offline); return path.

    The page's ``<title>`` is ``title`` (or the map's own, or a default one)."""
    out = Path(out)
    offline(m, mode=mode, base_url=base_url, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(m.get_root().render(), encoding="utf-8")
    return out
