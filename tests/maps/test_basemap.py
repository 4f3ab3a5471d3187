"""maps.basemap, maps.tile_archive, maps.overzoom: OSM layers → vector tiles → archive.

Every tile is decoded by GDAL (its MVT, PMTiles and MBTiles drivers through pyogrio), not by
mapbox-vector-tile, which encodes them; geometry is compared with the source data projected
and clipped by shapely.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pmtiles.reader import MmapSource, all_tiles
from pyproj import Transformer

from gis.errors import InputError
from gis.osm import read_osm_layers
from maps.basemap import MAX_TILE_BYTES, build_basemap, tile_bounds
from maps.overzoom import overzoom_tile
from maps.tile_archive import open_archive
from tests.mvt import gdal_layer, gdal_tile, lonlat_to_tile
from tests.osm_fixture import DEMO_GPKG, EXTRA, write_demo_osm

MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
UP_FROM_RESIDENTIAL = {
    "motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link", "trunk_link",
    "primary_link", "secondary_link", "tertiary_link", "unclassified", "residential",
    "living_street",
}  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict[str, gpd.GeoDataFrame]:
    """The demo extract and the fixture's park, POIs and door plate (from its OSM XML)."""
    osm = write_demo_osm(tmp_path_factory.mktemp("osm") / "demo.osm")
    return read_osm_layers([osm])


@pytest.fixture(scope="module")
def archives(source, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiles")
    pm = build_basemap(source, folder / "demo.pmtiles", processes=2)
    mb = build_basemap(source, folder / "demo.mbtiles", processes=1)
    assert pm.tiles == mb.tiles > 0
    return {"pmtiles": pm.path, "mbtiles": mb.path}


def test_every_named_road_from_residential_up_carries_its_name_at_z16(archives, tmp_path):
    roads = gpd.read_file(DEMO_GPKG, layer="roads")
    named = roads[roads["name"].notna() & roads["kind_detail"].isin(UP_FROM_RESIDENTIAL)]
    merc = named.to_crs(3857)
    archive = open_archive(archives["pmtiles"])
    assert len(named["name"].unique()) > 30
    for name, group in merc.groupby("name"):
        line = group.geometry.union_all()
        lon, lat = shapely.get_coordinates(
            gpd.GeoSeries([line.interpolate(0.5, normalized=True)], crs=3857).to_crs(4326)
        )[0]
        x, y = lonlat_to_tile(lon, lat, 16)
        decoded = gdal_tile(archive.get(16, x, y), 16, x, y, tmp_path)["roads"]
        mine = decoded[(decoded["name"] == name) & decoded["kind"].isin(UP_FROM_RESIDENTIAL)]
        mine = mine.geometry.union_all()
        truth = shapely.clip_by_rect(line, *tile_bounds(16, x, y))
        assert not mine.is_empty, name
        # z16 is cut at 0.15 m per tile unit: the decoded road lies on the source road
        assert mine.hausdorff_distance(truth) < 0.5, name
        assert mine.length == pytest.approx(truth.length, rel=0.01, abs=1.0), name


@pytest.mark.parametrize("fmt", ["pmtiles", "mbtiles"])
def test_buildings_at_z16_cover_the_source_buildings(archives, source, fmt):
    decoded = gdal_layer(archives[fmt], "buildings", 16)
    assert len(decoded) >= len(source["buildings"])
    assert decoded.geometry.is_valid.all()
    mine = decoded.geometry.union_all()
    truth = source["buildings"].to_crs(3857).geometry.make_valid().union_all()
    assert mine.symmetric_difference(truth).area < 0.01 * truth.area
    inside = source["buildings"].to_crs(3857).geometry.representative_point()
    assert shapely.dwithin(mine, inside.to_numpy(), 0.5).all()


def test_layers_come_in_at_their_zooms(archives, source):
    pm = archives["pmtiles"]
    kinds10 = set(gdal_layer(pm, "roads", 10)["kind"])
    assert kinds10 and kinds10 <= {"motorway", "trunk"}
    kinds14, kinds16 = (
        set(gdal_layer(pm, "roads", 14)["kind"]),
        set(gdal_layer(pm, "roads", 16)["kind"]),
    )
    assert {"residential", "primary"} <= kinds14 and "footway" not in kinds14
    assert {"footway", "service", "residential"} <= kinds16
    assert len(gdal_layer(pm, "buildings", 13)) == 0 < len(gdal_layer(pm, "buildings", 14))
    assert len(gdal_layer(pm, "buildings", 14)) <= len(gdal_layer(pm, "buildings", 16))
    assert len(gdal_layer(pm, "addresses", 15)) == 0
    plates = gdal_layer(pm, "addresses", 16)
    assert set(plates["number"]) == set(source["addresses"]["number"])
    assert EXTRA["plate"]["addr:street"] in set(plates["street"])
    assert set(gdal_layer(pm, "pois", 16)["name"]) == {p["name"] for p in EXTRA["pois"]}
    assert set(gdal_layer(pm, "landuse", 12)["kind"]) == {"park"}
    assert {"黄浦江", "苏州河"} <= set(gdal_layer(pm, "water", 10)["name"])


def test_no_tile_is_over_500_kb(archives):
    with open(archives["pmtiles"], "rb") as f:
        sizes = [len(gzip.decompress(data)) for _, data in all_tiles(MmapSource(f))]
    assert sizes and max(sizes) <= MAX_TILE_BYTES


def test_a_tile_too_dense_for_500_kb_is_thinned_until_it_fits(tmp_path):
    """25,000 detailed buildings in one z16 tile: far over 500 KB unless simplified."""
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = tile_bounds(16, 54883, 26775)
    centres = rng.uniform((minx, miny), (maxx, maxy), size=(25_000, 2))
    angles = np.linspace(0, 2 * np.pi, 25)[:-1]
    radii = rng.uniform(0.8, 1.6, size=(25_000, 24))
    rings = centres[:, None, :] + radii[..., None] * np.stack(
        [np.cos(angles), np.sin(angles)], axis=-1
    )
    polygons = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    frame = gpd.GeoDataFrame({"name": [None] * len(polygons)}, geometry=polygons, crs=3857)
    summary = build_basemap({"buildings": frame}, tmp_path / "dense.pmtiles", minzoom=16,
                            processes=1)  # fmt: skip
    # as given, snapped to the tile grid and encoded whole, the tile is far over the limit
    scale = 4096 / (maxx - minx)
    units = shapely.transform(polygons, lambda c: (c - (minx, maxy)) * (scale, -scale))
    whole = mapbox_vector_tile.encode(
        [{"name": "b", "features": [{"geometry": g} for g in shapely.set_precision(units, 1)]}],
        default_options={"y_coord_down": True},
    )
    assert len(whole) > 2 * MAX_TILE_BYTES
    assert summary.largest_tile_bytes <= MAX_TILE_BYTES
    data = open_archive(summary.path).get(16, 54883, 26775)
    assert len(gzip.decompress(data)) <= MAX_TILE_BYTES
    decoded = gdal_tile(data, 16, 54883, 26775, tmp_path)["buildings"]
    assert 1000 < len(decoded) < len(polygons)  # thinned, not emptied
    assert decoded.geometry.is_valid.all()
    # the largest buildings are the ones kept
    kept_area = decoded.geometry.area.median()
    assert kept_area > np.median(shapely.area(polygons))


def test_pmtiles_and_mbtiles_hold_the_same_tiles(archives):
    pm, mb = open_archive(archives["pmtiles"]), open_archive(archives["mbtiles"])
    with open(archives["pmtiles"], "rb") as f:
        for (z, x, y), data in all_tiles(MmapSource(f)):
            assert gzip.decompress(mb.get(z, x, y)) == gzip.decompress(data), (z, x, y)
    assert (pm.minzoom, pm.maxzoom) == (mb.minzoom, mb.maxzoom) == (10, 16)
    assert np.allclose(pm.bounds, mb.bounds, atol=1e-6)
    assert pm.get(16, 0, 0) is None and mb.get(16, 0, 0) is None


def test_overzoomed_child_holds_the_parent_cut_to_its_extent(archives, tmp_path):
    archive = open_archive(archives["pmtiles"])
    x, y = lonlat_to_tile(121.4856, 31.2410, 16)  # on 中山东一路
    parent = archive.get(16, x, y)
    whole = gdal_tile(parent, 16, x, y, tmp_path / "parent")
    for cx, cy in ((4 * x, 4 * y), (4 * x + 3, 4 * y + 2), (4 * x + 1, 4 * y + 3)):
        child = overzoom_tile(gzip.decompress(parent), 18, cx, cy, 16)
        box = tile_bounds(18, cx, cy)
        if not child:  # nothing of the parent there
            for frame in whole.values():
                assert not shapely.clip_by_rect(frame.geometry.union_all(), *box).area
            continue
        cut = gdal_tile(child, 18, cx, cy, tmp_path / "child")
        for name in ("roads", "buildings"):
            truth = shapely.clip_by_rect(whole[name].geometry.union_all(), *box)
            mine = cut[name].geometry.union_all() if name in cut else shapely.Polygon()
            assert mine.hausdorff_distance(truth) < 0.1, (name, cx, cy)
        names = set(cut["roads"]["name"].dropna())
        truth_names = {
            n for n, g in zip(whole["roads"]["name"], whole["roads"].geometry, strict=True)
            if isinstance(n, str) and shapely.clip_by_rect(g, *box).length > 0.05
        }  # fmt: skip
        assert names == truth_names


def test_bad_builds_are_refused_before_writing(source, tmp_path):
    with pytest.raises(InputError, match=r"\.zip"):
        build_basemap(source, tmp_path / "base.zip")
    with pytest.raises(ValueError, match="zoom"):
        build_basemap(source, tmp_path / "base.pmtiles", minzoom=12, maxzoom=11)
    with pytest.raises(ValueError, match="no feature"):
        build_basemap(source, tmp_path / "base.pmtiles", bbox=(0.0, 0.0, 0.01, 0.01))
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179.999, 179.999),
    lat=st.floats(-85.0, 85.0),
    z=st.integers(0, 22),
)
def test_tile_bounds_hold_the_point_of_their_tile(lon, lat, z):
    """tile_bounds against pyproj's Web Mercator and the OSM wiki's tile formula."""
    x, y = lonlat_to_tile(lon, lat, z)
    px, py = MERCATOR.transform(lon, lat)
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    slack = 1e-6 * (maxx - minx) + 1e-6
    assert minx - slack <= px <= maxx + slack and miny - slack <= py <= maxy + slack
    assert maxx - minx == pytest.approx(2 * 20037508.342789244 / 2**z)
