"""The base map's style document (MapLibre style v8) and TileJSON, for the pages and clients.

One palette, :data:`COLOURS`, names the colour of every base layer so web pages and printed
diagrams can draw the same map. Road widths grow with the road's rank (:data:`ROAD_CLASSES`).
Labels (road, POI and door-plate names) are listed under ``metadata["wangge:labels"]``: the
style carries no ``glyphs`` URL, because the app serves no glyph ranges and a page must not
fetch fonts from the Internet; a Leaflet page draws them with the browser's own CJK fonts.
"""

from __future__ import annotations

__all__ = ["COLOURS", "ROAD_CLASSES", "base_style", "tilejson"]

COLOURS = {
    "background": "#f6f4ef",
    "water": "#a9cbe8",
    "landuse": "#cfe6bf",
    "buildings": "#dcd6cc",
    "buildings_outline": "#c4bcb0",
    "road_major": "#f7c66b",
    "road_minor": "#ffffff",
    "road_casing": "#c9c2b6",
    "path": "#b5ada1",
    "rail": "#8f8f8f",
    "label": "#3d3a35",
    "label_halo": "#ffffff",
}
ROAD_CLASSES = {
    "major": ("motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link",
              "primary_link", "secondary_link"),
    "minor": ("tertiary", "tertiary_link", "unclassified", "residential", "living_street",
              "service", "road", "pedestrian", "track"),
    "path": ("footway", "cycleway", "path", "steps", "bridleway", "pier"),
    "rail": ("rail", "light_rail", "subway", "tram", "monorail"),
}  # fmt: skip
SOURCE = "wangge"


def _kind_in(kinds) -> list:
    return ["in", ["get", "kind"], ["literal", list(kinds)]]


def base_style(
    tiles_url: str, *, minzoom: int, maxzoom: int, bounds, name: str = "wangge base map"
) -> dict:
    """Return the MapLibre style (v8) drawing the base tiles at ``tiles_url`` (``{z}/{x}/{y}``)."""
    width = lambda low, high: ["interpolate", ["linear"], ["zoom"], 12, low, 18, high]  # noqa: E731
    c = COLOURS
    layers = [
        {"id": "background", "type": "background", "paint": {"background-color": c["background"]}},
        {"id": "landuse", "type": "fill", "source": SOURCE, "source-layer": "landuse",
         "paint": {"fill-color": c["landuse"]}},
        {"id": "water", "type": "fill", "source": SOURCE, "source-layer": "water",
         "filter": ["==", ["geometry-type"], "Polygon"], "paint": {"fill-color": c["water"]}},
        {"id": "waterway", "type": "line", "source": SOURCE, "source-layer": "water",
         "filter": ["==", ["geometry-type"], "LineString"],
         "paint": {"line-color": c["water"], "line-width": width(1, 4)}},
        {"id": "buildings", "type": "fill", "source": SOURCE, "source-layer": "buildings",
         "paint": {"fill-color": c["buildings"], "fill-outline-color": c["buildings_outline"]}},
        {"id": "roads-path", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["path"]),
         "paint": {"line-color": c["path"], "line-width": width(0.5, 1.5),
                   "line-dasharray": [2, 1]}},
        {"id": "roads-rail", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["rail"]),
         "paint": {"line-color": c["rail"], "line-width": width(0.5, 2)}},
        {"id": "roads-minor-casing", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["minor"]),
         "paint": {"line-color": c["road_casing"], "line-width": width(1.5, 12)}},
        {"id": "roads-minor", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["minor"]),
         "paint": {"line-color": c["road_minor"], "line-width": width(1, 10)}},
        {"id": "roads-major-casing", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["major"]),
         "paint": {"line-color": c["road_casing"], "line-width": width(2.5, 20)}},
        {"id": "roads-major", "type": "line", "source": SOURCE, "source-layer": "roads",
         "filter": _kind_in(ROAD_CLASSES["major"]),
         "paint": {"line-color": c["road_major"], "line-width": width(2, 18)}},
    ]  # fmt: skip
    labels = [
        {"id": "road-labels", "source-layer": "roads", "field": "name", "placement": "line",
         "minzoom": 14, "colour": c["label"], "halo": c["label_halo"], "size": 12},
        {"id": "poi-labels", "source-layer": "pois", "field": "name", "placement": "point",
         "minzoom": 16, "colour": c["label"], "halo": c["label_halo"], "size": 11},
        {"id": "address-labels", "source-layer": "addresses", "field": "number",
         "placement": "point", "minzoom": 17, "colour": c["label"], "halo": c["label_halo"],
         "size": 10},
    ]  # fmt: skip
    west, south, east, north = bounds
    return {
        "version": 8,
        "name": name,
        "metadata": {"wangge:colours": COLOURS, "wangge:labels": labels},
        "center": [(west + east) / 2, (south + north) / 2],
        "zoom": min(max(minzoom, 15), maxzoom),
        "sources": {
            SOURCE: {
                "type": "vector",
                "tiles": [tiles_url],
                "minzoom": minzoom,
                "maxzoom": maxzoom,
                "bounds": [west, south, east, north],
                "attribution": "© OpenStreetMap contributors",
            }
        },
        "layers": layers,
    }


def tilejson(tiles_url: str, metadata: dict, *, minzoom: int, maxzoom: int, bounds) -> dict:
    """Return the TileJSON 3.0.0 document of the base tiles at ``tiles_url``."""
    west, south, east, north = bounds
    return {
        "tilejson": "3.0.0",
        "name": metadata.get("name", "wangge base map"),
        "attribution": metadata.get("attribution", "© OpenStreetMap contributors"),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, min(max(minzoom, 15), maxzoom)],
        "vector_layers": metadata.get("vector_layers", []),
    }
