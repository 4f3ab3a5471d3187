"""A door-plate gazetteer from OSM addr:* tags (.osm XML, .osm.pbf, GeoPackage).

The OSM files are written here from the real buildings of data/demo/osm_bund.gpkg (© OpenStreetMap
contributors, ODbL): each building with addr:street/addr:housenumber becomes a closed way (XML
by hand, PBF with pyosmium's writer), a few become nodes. The truth is the GeoPackage read with
geopandas: the same door plates, each point inside its own building.
"""

from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import osmium
import pandas as pd
import pytest
import shapely

from gis.errors import InputError, UnreadableFileError
from gis.gazetteer_osm import GAZETTEER_COLUMNS, gazetteer_from_osm, osm_address
from gis.geocode import Gazetteer

GPKG = Path(__file__).resolve().parents[2] / "data" / "demo" / "osm_bund.gpkg"
N_NODES = 5  # the first few door plates are written as nodes, the rest as building ways


@pytest.fixture(scope="module")
def buildings() -> gpd.GeoDataFrame:
    frame = gpd.read_file(GPKG, layer="buildings")
    frame = frame[frame["addr_street"].notna() & frame["addr_housenumber"].notna()]
    frame = frame.explode(index_parts=False).drop_duplicates("osm_id")
    return frame.reset_index(drop=True)


def _elements(buildings):
    """Yield ('node', id, (lon, lat), tags) and ('way', id, [(lon, lat), ...], tags)."""
    for k, row in buildings.iterrows():
        tags = {"addr:street": row["addr_street"], "addr:housenumber": row["addr_housenumber"]}
        if isinstance(row["name"], str):
            tags["name"] = row["name"]
        if k < N_NODES:
            point = row.geometry.representative_point()
            yield "node", 10_000 + k, (point.x, point.y), tags
        else:
            ring = list(row.geometry.exterior.coords)
            yield "way", 20_000 + k, ring, {**tags, "building": "yes"}


def _write_xml(buildings, path: Path) -> None:
    nodes, ways, next_node = [], [], 1
    for kind, ident, geometry, tags in _elements(buildings):
        tag_xml = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        if kind == "node":
            lon, lat = geometry
            nodes.append(f'<node id="{ident}" version="1" lat="{lat}" lon="{lon}">{tag_xml}</node>')
            continue
        refs = []
        for lon, lat in geometry[:-1]:
            nodes.append(f'<node id="{next_node}" version="1" lat="{lat}" lon="{lon}"/>')
            refs.append(next_node)
            next_node += 1
        refs.append(refs[0])
        nd = "".join(f'<nd ref="{r}"/>' for r in refs)
        ways.append(f'<way id="{ident}" version="1">{nd}{tag_xml}</way>')
    body = "\n".join(nodes + ways)
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">'
    path.write_text(f"{head}\n{body}\n</osm>\n", encoding="utf-8")


def _write_pbf(buildings, path: Path) -> None:
    from osmium.osm.mutable import Node, Way

    meta = {
        "version": 1,
        "changeset": 1,
        "timestamp": "2024-01-01T00:00:00Z",
        "uid": 1,
        "user": "t",
    }
    nodes, ways, next_node = [], [], 1
    for kind, ident, geometry, tags in _elements(buildings):
        if kind == "node":
            nodes.append(Node(id=ident, location=geometry, tags=tags, **meta))
            continue
        refs = []
        for lon, lat in geometry[:-1]:
            nodes.append(Node(id=next_node, location=(lon, lat), **meta))
            refs.append(next_node)
            next_node += 1
        ways.append(Way(id=ident, nodes=[*refs, refs[0]], tags=tags, **meta))
    writer = osmium.SimpleWriter(str(path))
    try:  # sorted by type and id, as a PBF extract is (the XML file is left unsorted)
        for node in sorted(nodes, key=lambda n: n.id):
            writer.add_node(node)
        for way in sorted(ways, key=lambda w: w.id):
            writer.add_way(way)
    finally:
        writer.close()


@pytest.fixture(params=["osm", "pbf"])
def osm_file(request, buildings, tmp_path) -> Path:
    if request.param == "osm":
        path = tmp_path / "bund.osm"
        _write_xml(buildings, path)
    else:
        path = tmp_path / "bund.osm.pbf"
        _write_pbf(buildings, path)
    return path


def test_every_tagged_building_becomes_one_door_plate(osm_file, buildings):
    plates = gazetteer_from_osm(osm_file, prefix="上海市")
    assert tuple(plates.columns) == GAZETTEER_COLUMNS
    expected = {
        osm_address({"addr:street": s, "addr:housenumber": n}, prefix="上海市")
        for s, n in zip(buildings["addr_street"], buildings["addr_housenumber"], strict=True)
    }
    assert set(plates["address"]) == set(expected)
    assert (plates["source"] == "OSM").all()
    # each point lies in (or, for a node, is) its own building
    by_address = {}
    for row in buildings.itertuples():
        address = osm_address(
            {"addr:street": row.addr_street, "addr:housenumber": row.addr_housenumber},
            prefix="上海市",
        )
        by_address.setdefault(address, []).append(row.geometry)
    for plate in plates.itertuples():
        point = shapely.Point(plate.lon, plate.lat)
        assert any(g.buffer(1e-6).covers(point) for g in by_address[plate.address]), plate.address


def test_names_are_kept(osm_file, buildings):
    plates = gazetteer_from_osm(osm_file)
    named = buildings[buildings["name"].notna()]
    assert len(named) > 10
    assert set(named["name"]) <= set(plates["name"].dropna())


def test_the_gazetteer_geocodes_its_own_door_plates(osm_file, tmp_path):
    out = tmp_path / "gazetteer.csv"
    gazetteer_from_osm(osm_file, prefix="上海市").to_csv(out, index=False)
    gaz = Gazetteer.from_file(out, road_column="road")
    plates = pd.read_csv(out, dtype=str)
    simple = plates[plates["number"].str.fullmatch(r"\d+号?")]
    assert len(simple) > 50
    for plate in simple.itertuples():
        result = gaz.geocode(f"上海{plate.road}{plate.number.removesuffix('号')}号")
        if result.match_level == "road":  # the same door plate twice in OSM: ambiguous
            assert result.reason.startswith("duplicate")
            continue
        assert result.matched_address == plate.address


def test_a_geopackage_with_tag_columns_is_read(buildings):
    plates = gazetteer_from_osm(GPKG)
    assert len(plates) == len(
        {
            (s, n)
            for s, n in zip(buildings["addr_street"], buildings["addr_housenumber"], strict=True)
        }
    )


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(UnreadableFileError, match="not found"):
        gazetteer_from_osm(tmp_path / "missing.osm")
    empty = tmp_path / "empty.osm"
    empty.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" version="1" lat="31.2" '
        'lon="121.4"><tag k="name" v="x"/></node></osm>',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="addr:housenumber"):
        gazetteer_from_osm(empty)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"not a pbf")
    with pytest.raises((UnreadableFileError, InputError)):
        gazetteer_from_osm(junk)
