"""maps.basemap_features: roads and buildings read back from the demo's tile archive.

The truth is the OSM extract the archive was cut from (read here with geopandas): every
decoded vertex lies on a source road or building outline within the tiles' quantisation
(4096 units per zoom-16 tile: 12.8 cm at Shanghai's latitude; a vertex moves at most 0.71
units to the unit grid, a cut at a tile edge up to one unit more for the top zoom's
simplification), and the names come through.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gis.osm import read_osm_layers
from maps.basemap import build_basemap
from maps.basemap_features import MAX_TILES, archive_features
from maps.tile_archive import open_archive

ROOT = Path(__file__).resolve().parents[2]
OSM = ROOT / "data" / "demo" / "osm_bund.gpkg"
BOUNDARY = ROOT / "data" / "demo" / "boundary.geojson"
METRIC = 4549


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("basemap") / "demo.pmtiles"
    build_basemap(read_osm_layers([OSM]), path, processes=1)
    opened = open_archive(path)
    yield opened
    opened.close()


def _unit_m(lat: float, zoom: int) -> float:
    """One tile unit in metres on the ground at ``lat``."""
    return 40075016.686 * math.cos(math.radians(lat)) / 2**zoom / 4096


def test_roads_and_buildings_come_back_where_osm_has_them(archive):
    bounds = tuple(gpd.read_file(BOUNDARY).total_bounds)
    found = archive_features(archive, bounds)
    lat = (bounds[1] + bounds[3]) / 2
    unit = _unit_m(lat, archive.maxzoom)
    assert 0.12 < unit < 0.14
    limit = 1.71 * unit  # rounding to the unit grid, plus the simplification at tile cuts
    for layer in ("roads", "buildings"):
        decoded = found[layer]
        assert len(decoded) > 50 and decoded.crs.to_epsg() == 4326
        source = gpd.read_file(OSM, layer=layer).to_crs(METRIC).geometry.to_numpy()
        if layer == "buildings":
            source = shapely.boundary(source)
        lines = shapely.union_all(source)
        geoms = decoded.to_crs(METRIC).geometry.to_numpy()
        vertices = shapely.points(shapely.get_coordinates(geoms))
        assert shapely.distance(vertices, lines).max() <= limit
        kinds = set(shapely.get_type_id(geoms).tolist())
        assert kinds <= {1, 5}  # lines; buildings as outlines
    names = set(found["roads"]["name"].dropna())
    assert {"金陵东路", "中山东二路"} <= names
    assert names <= set(gpd.read_file(OSM, layer="roads")["name"].dropna())


def test_an_area_of_too_many_tiles_is_refused(archive):
    with pytest.raises(ValueError, match=f"more than {MAX_TILES}"):
        archive_features(archive, (121.0, 31.0, 121.6, 31.5))
