"""Writing the demo's files: GeoPackage layers with the OSM attribution, GeoJSON."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from gis.crs import WGS84

__all__ = ["ATTRIBUTION", "write_geojson", "write_gpkg"]


ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    gdf.to_file(
        path,
        layer=layer,
        driver="GPKG",
        engine="pyogrio",
        layer_metadata={"DESCRIPTION": ATTRIBUTION, "ATTRIBUTION": ATTRIBUTION},
    )


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, description: str) -> None:
    path.unlink(missing_ok=True)
    gdf.to_crs(WGS84).to_file(
        path, driver="GeoJSON", engine="pyogrio", layer_options={"DESCRIPTION": description}
    )
