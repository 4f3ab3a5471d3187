"""The committed OSM clip: cut it from a full extract; line and polygon geometry helpers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon

from demo_maker.files import write_gpkg

__all__ = ["CLIP_BBOX", "extract_osm"]


# Window (lon/lat) of the source extract cut into the committed clip, with margin.
CLIP_BBOX = (121.4800, 31.2264, 121.4960, 31.2475)


def extract_osm(source: Path, dest: Path, bbox: tuple[float, float, float, float] = CLIP_BBOX):
    """Cut roads, buildings and water inside ``bbox`` from the full extract into ``dest``."""
    box = shapely.box(*bbox)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    layers = {
        "roads": [
            "id",
            "kind",
            "kind_detail",
            "name",
            "name:zh",
            "name:en",
            "is_tunnel",
            "is_bridge",
            "is_link",
            "oneway",
        ],
        "buildings": [
            "id",
            "kind",
            "kind_detail",
            "name",
            "name:zh",
            "height",
            "min_height",
            "addr_street",
            "addr_housenumber",
        ],
        "water": ["id", "kind", "name"],
    }
    for layer, cols in layers.items():
        gdf = gpd.read_file(source, layer=layer, bbox=bbox)
        gdf = gdf[[c for c in cols if c in gdf.columns] + ["geometry"]].copy()
        gdf["geometry"] = shapely.intersection(gdf.geometry.values, box)
        gdf = gdf[~gdf.geometry.is_empty].rename(
            columns={"name:zh": "name_zh", "name:en": "name_en"}
        )
        if layer == "roads":
            gdf = gdf[gdf["kind"].isin(["major_road", "minor_road", "path"])]
            gdf["geometry"] = gdf.geometry.apply(_as_multiline)
        else:
            gdf["geometry"] = gdf.geometry.apply(_as_multipolygon)
        gdf = gdf.rename(columns={"id": "osm_id"}).sort_values("osm_id", kind="stable")
        write_gpkg(gdf.reset_index(drop=True), dest, layer)


def _as_multiline(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "LineString"]
    return shapely.MultiLineString(parts)


def _as_multipolygon(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return MultiPolygon(parts)
