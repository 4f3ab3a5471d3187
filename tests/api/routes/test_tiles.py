"""/tiles/base: the offline base map over HTTP (tiles, 204, caching, overzoom, style, TileJSON).

The archive is the demo extract built by ``maps.basemap``; served tiles are decoded by GDAL's
MVT driver (not by mapbox-vector-tile, which encoded them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth_table import POLICY, PUBLIC
from api.routes.tiles import MAX_ZOOM, MVT_TYPE
from gis.osm import read_osm_layers
from maps.basemap import build_basemap, tile_bounds
from tests.mvt import gdal_tile, lonlat_to_tile
from tests.osm_fixture import DEMO_GPKG

ROAD = "中山东一路"
ON_ROAD = (121.4856, 31.2410)  # a point on it


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    layers = read_osm_layers([DEMO_GPKG])
    return {
        fmt: build_basemap(layers, folder / f"demo.{fmt}", processes=1).path
        for fmt in ("pmtiles", "mbtiles")
    }


@pytest.fixture(params=["pmtiles", "mbtiles"])
def api(request, archives, make_api, tmp_path):
    return make_api(f"sqlite:///{tmp_path / 'tiles.db'}", basemap=archives[request.param])


def test_routes_are_public_in_the_auth_table():
    for path in (
        "/tiles/base/{z}/{x}/{y}.mvt",
        "/tiles/base/style.json",
        "/tiles/base.json",
        "/tiles/config",
    ):
        assert POLICY[("GET", path)].who == PUBLIC


def test_a_tile_on_a_named_road_decodes_to_that_road(api, tmp_path):
    x, y = lonlat_to_tile(*ON_ROAD, 16)
    r = api.client.get(f"/tiles/base/16/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["content-type"] == MVT_TYPE
    assert "content-encoding" not in r.headers
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    layers = gdal_tile(r.content, 16, x, y, tmp_path)
    assert ROAD in set(layers["roads"]["name"])
    assert len(layers["buildings"]) > 0
    road = layers["roads"][layers["roads"]["name"] == ROAD].to_crs(4326).geometry.union_all()
    assert road.distance(shapely.Point(ON_ROAD)) < 1e-4  # about 10 m


def test_gzip_is_passed_through_to_clients_that_accept_it(api, archives):
    x, y = lonlat_to_tile(*ON_ROAD, 16)
    plain = api.client.get(f"/tiles/base/16/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    zipped = api.client.get(f"/tiles/base/16/{x}/{y}.mvt", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx undid the gzip
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.headers["etag"] == plain.headers["etag"]


def test_etag_revalidates_with_304(api):
    x, y = lonlat_to_tile(*ON_ROAD, 15)
    first = api.client.get(f"/tiles/base/15/{x}/{y}.mvt")
    etag = first.headers["etag"]
    again = api.client.get(f"/tiles/base/15/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = api.client.get(f"/tiles/base/15/{x}/{y}.mvt", headers={"If-None-Match": '"x"'})
    assert other.status_code == 200
    nx, ny = lonlat_to_tile(121.4880, 31.2300, 15)
    assert (nx, ny) != (x, y)
    assert api.client.get(f"/tiles/base/15/{nx}/{ny}.mvt").headers["etag"] != etag


def test_empty_tiles_are_204_and_bad_addresses_404(api):
    r = api.client.get("/tiles/base/16/0/0.mvt")
    assert r.status_code == 204 and r.content == b""
    assert r.headers["cache-control"].startswith("public")
    assert api.client.get("/tiles/base/5/0/0.mvt").status_code == 204  # under the min zoom
    assert api.client.get("/tiles/base/3/8/0.mvt").status_code == 404  # x past 2**z
    assert api.client.get(f"/tiles/base/{MAX_ZOOM + 1}/0/0.mvt").status_code == 404
    assert api.client.get("/tiles/base/16/a/0.mvt").status_code == 422


@pytest.mark.parametrize("z", [17, 19])
def test_past_the_top_zoom_the_parent_is_cut_to_the_child(api, tmp_path, z):
    parent_x, parent_y = lonlat_to_tile(*ON_ROAD, 16)
    x, y = lonlat_to_tile(*ON_ROAD, z)
    parent = api.client.get(f"/tiles/base/16/{parent_x}/{parent_y}.mvt").content
    child = api.client.get(f"/tiles/base/{z}/{x}/{y}.mvt")
    assert child.status_code == 200 and child.headers["content-type"] == MVT_TYPE
    whole = gdal_tile(parent, 16, parent_x, parent_y, tmp_path / "parent")["roads"]
    cut = gdal_tile(child.content, z, x, y, tmp_path / "child")["roads"]
    box = tile_bounds(z, x, y)
    truth = shapely.clip_by_rect(whole[whole["name"] == ROAD].geometry.union_all(), *box)
    mine = cut[cut["name"] == ROAD].geometry.union_all()
    assert not mine.is_empty
    assert mine.hausdorff_distance(truth) < 0.1
    # a child away from every feature of its parent is empty
    far = api.client.get(f"/tiles/base/{z}/0/0.mvt")
    assert far.status_code == 204


def test_pmtiles_are_read_by_ranges_not_whole(make_api, archives, tmp_path):
    path = archives["pmtiles"]
    api = make_api(f"sqlite:///{tmp_path / 'tiles.db'}", basemap=path)
    archive = api.client.app.state.basemap
    size = path.stat().st_size
    opened = archive.bytes_read  # header and metadata
    x, y = lonlat_to_tile(*ON_ROAD, 16)
    api.client.get(f"/tiles/base/16/{x}/{y}.mvt")
    first = archive.bytes_read
    nx, ny = x, y + 1
    stored = archive.get(16, nx, ny)
    before = archive.bytes_read
    assert stored and before - first == len(stored)  # the directory came from the cache
    r = api.client.get(f"/tiles/base/16/{nx}/{ny}.mvt", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert archive.bytes_read - before == len(stored)  # the tile's bytes, nothing else
    assert first < size / 4 and opened < 2048
    assert r.headers["etag"] == f'"{hashlib.blake2b(stored, digest_size=12).hexdigest()}"'
    assert gzip.decompress(stored)


def test_style_and_tilejson_describe_the_served_layers(api):
    style = api.client.get("/tiles/base/style.json")
    assert style.status_code == 200
    doc = style.json()
    assert doc["version"] == 8
    source = doc["sources"]["wangge"]
    assert source["type"] == "vector"
    assert source["tiles"] == ["http://testserver/tiles/base/{z}/{x}/{y}.mvt"]
    assert (source["minzoom"], source["maxzoom"]) == (10, 16)
    tj = api.client.get("/tiles/base.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"] == source["tiles"]
    layers = {v["id"]: v for v in tj["vector_layers"]}
    assert {"roads", "buildings", "water", "addresses"} <= set(layers)
    assert "name" in layers["roads"]["fields"]
    drawn = {lay["source-layer"] for lay in doc["layers"] if "source-layer" in lay}
    labelled = {lab["source-layer"] for lab in doc["metadata"]["wangge:labels"]}
    assert drawn | labelled >= set(layers)  # every served layer is drawn or labelled
    west, south, east, north = tj["bounds"]
    assert west < ON_ROAD[0] < east and south < ON_ROAD[1] < north
    assert "glyphs" not in doc  # nothing fetched from outside the app
    assert "http" not in str(doc).replace("http://testserver/", "")


def test_without_a_base_map_the_routes_say_so(make_api, tmp_path):
    api = make_api(f"sqlite:///{tmp_path / 'none.db'}")
    for url in ("/tiles/base/16/0/0.mvt", "/tiles/base/style.json", "/tiles/base.json"):
        r = api.client.get(url)
        assert r.status_code == 404 and "no base map" in r.json()["detail"], url


@pytest.mark.parametrize("how", ["environment", "wangge.toml"])
def test_the_base_map_setting_is_served(make_api, archives, tmp_path, monkeypatch, how):
    from api.core.config import get_settings

    path = archives["pmtiles"]
    if how == "environment":
        monkeypatch.setenv("WANGGE_BASEMAP", str(path))
    else:
        toml = tmp_path / "wangge.toml"
        toml.write_text(f'[wangge]\nbasemap = "{path}"\n', encoding="utf-8")
        monkeypatch.setenv("WANGGE_CONFIG", str(toml))
        monkeypatch.delenv("WANGGE_BASEMAP", raising=False)
    get_settings.cache_clear()
    try:
        assert get_settings().basemap == path
        api = make_api(f"sqlite:///{tmp_path / 'setting.db'}")
        x, y = lonlat_to_tile(*ON_ROAD, 16)
        assert api.client.get(f"/tiles/base/16/{x}/{y}.mvt").status_code == 200
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    z=st.integers(8, 22),
    lon=st.floats(121.478, 121.498),
    lat=st.floats(31.225, 31.249),
    dx=st.integers(-1, 1),
    dy=st.integers(-1, 1),
)
def test_any_tile_near_the_data_is_a_valid_tile_or_empty(api, tmp_path, z, lon, lat, dx, dy):
    """Stored, missing and overzoomed tiles alike: 200 with features GDAL reads, or 204."""
    x, y = lonlat_to_tile(lon, lat, z)
    x, y = x + dx, y + dy
    r = api.client.get(f"/tiles/base/{z}/{x}/{y}.mvt")
    assert r.status_code in (200, 204), r.text
    if r.status_code == 200:
        layers = gdal_tile(r.content, z, x, y, tmp_path / f"{z}_{x}_{y}")
        assert set(layers) <= {"roads", "buildings", "water", "landuse", "pois", "addresses"}
        assert layers  # features may lie in the tile's buffer only: GDAL clips those away
        for frame in layers.values():
            assert frame.geometry.is_valid.all()
            assert frame.geometry.intersects(shapely.box(*tile_bounds(z, x, y))).all()


def test_an_overzoomed_tile_is_cut_once(make_api, archives, tmp_path):
    api = make_api(f"sqlite:///{tmp_path / 'tiles.db'}", basemap=archives["pmtiles"])
    archive = api.client.app.state.basemap
    x, y = lonlat_to_tile(*ON_ROAD, 18)
    first = api.client.get(f"/tiles/base/18/{x}/{y}.mvt")
    read = archive.bytes_read
    again = api.client.get(f"/tiles/base/18/{x}/{y}.mvt")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert archive.bytes_read == read  # answered from memory, the parent not read again


@pytest.mark.parametrize("how", ["environment", "wangge.toml"])
def test_online_sources_and_key_reach_the_pages(make_api, archives, tmp_path, monkeypatch, how):
    """The settings ``tiles`` and ``tianditu_key`` decide the online sources pages offer
    (their config, /tiles/config) and the tile hosts their CSP lets them show."""
    from api.core.config import get_settings

    if how == "environment":
        monkeypatch.setenv("WANGGE_TILES", "tianditu,amap")
        monkeypatch.setenv("WANGGE_TIANDITU_KEY", "k123")
        monkeypatch.setenv("WANGGE_BASEMAP", str(archives["pmtiles"]))
    else:
        toml = tmp_path / "wangge.toml"
        toml.write_text(
            f'[wangge]\ntiles = ["tianditu", "amap"]\ntianditu_key = "k123"\n'
            f'basemap = "{archives["pmtiles"]}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("WANGGE_CONFIG", str(toml))
        for name in ("WANGGE_TILES", "WANGGE_TIANDITU_KEY", "WANGGE_BASEMAP"):
            monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        api = make_api(f"sqlite:///{tmp_path / 'online.db'}")
        doc = api.client.get("/tiles/config").json()
        assert [s["id"] for s in doc["online"]] == ["tianditu", "amap"]
        assert [s["gcj02"] for s in doc["online"]] == [False, True]
        urls = [layer["url"] for layer in doc["online"][0]["layers"]]
        assert len(urls) == 2 and all("tk=k123" in u for u in urls)
        assert "LAYER=vec" in urls[0] and "LAYER=cva" in urls[1]
        assert doc["offline"]["tiles"].endswith("/tiles/base/{z}/{x}/{y}.mvt")
        assert doc["default"] == "offline"
        page = api.client.get("/public")
        config = json.loads(
            re.search(r'id="wangge-config">(.*?)</script>', page.text, re.S).group(1)
        )
        assert config["basemap"] == doc
        csp = page.headers["content-security-policy"]
        img = next(d for d in csp.split("; ") if d.startswith("img-src"))
        assert "https://t0.tianditu.gov.cn" in img and "https://webrd04.is.autonavi.com" in img
        assert "script-src 'self';" in csp  # scripts still only from the app
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_no_online_source_means_no_outside_host(make_api, tmp_path, monkeypatch):
    from api.core.config import get_settings

    monkeypatch.delenv("WANGGE_TILES", raising=False)
    monkeypatch.setenv("WANGGE_CONFIG", str(tmp_path / "absent.toml"))
    get_settings.cache_clear()
    try:
        api = make_api(f"sqlite:///{tmp_path / 'plain.db'}")
        doc = api.client.get("/tiles/config").json()
        assert doc["online"] == [] and doc["offline"] is None and doc["default"] == "none"
        csp = api.client.get("/public").headers["content-security-policy"]
        assert "http" not in csp
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("env", "message"),
    [({"WANGGE_TILES": "bing"}, "unknown online base map bing"),
     ({"WANGGE_TILES": "tianditu"}, "Tianditu tiles need a key")],
)  # fmt: skip
def test_bad_online_settings_are_refused_with_a_reason(tmp_path, monkeypatch, env, message):
    from api.app import create_app
    from api.core.config import get_settings

    monkeypatch.delenv("WANGGE_TIANDITU_KEY", raising=False)
    monkeypatch.setenv("WANGGE_CONFIG", str(tmp_path / "absent.toml"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match=message):
            create_app(f"sqlite:///{tmp_path / 'bad.db'}")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
