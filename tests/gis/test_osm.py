"""gis.osm: OSM XML, .osm.pbf and GeoPackage sources read into the base map's layers.

The XML is written from the demo's OSM GeoPackage (tests/osm_fixture.py) and turned into PBF
by osmium-tool, so what each reader returns is compared with what was written, feature by
feature; GDAL's OSM driver does the parsing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InputError, UnknownCRSError, UnreadableFileError
from gis.osm import LAYERS, ROAD_KINDS, parse_other_tags, read_osm_layers
from tests.osm_fixture import DEMO_GPKG, EXTRA, osm_to_pbf, write_demo_osm


@pytest.fixture(scope="module")
def osm_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("osm")
    osm = write_demo_osm(folder / "demo.osm")
    return {"osm": osm, "pbf": osm_to_pbf(osm, folder / "demo.osm.pbf")}


@pytest.fixture(scope="module")
def source_roads():
    return gpd.read_file(DEMO_GPKG, layer="roads")


def _named_lengths(frame: gpd.GeoDataFrame) -> dict[str, float]:
    named = frame[frame["name"].notna()]
    metric = named.to_crs(32651)
    return metric.length.groupby(named["name"].to_numpy()).sum().round(0).to_dict()


@pytest.mark.parametrize("kind", ["osm", "pbf"])
def test_osm_and_pbf_give_every_layer_with_its_columns(osm_files, kind):
    layers = read_osm_layers([osm_files[kind]])
    assert set(layers) == set(LAYERS)
    for name, frame in layers.items():
        assert list(frame.columns) == [*LAYERS[name], "geometry"], name
        assert frame.crs.to_epsg() == 4326
    assert len(layers["buildings"]) == len(gpd.read_file(DEMO_GPKG, layer="buildings"))
    assert set(layers["landuse"]["name"]) == {EXTRA["park"]["name"]}
    assert set(layers["landuse"]["kind"]) == {"park"}
    assert {p["name"] for p in EXTRA["pois"]} == set(layers["pois"]["name"])
    assert {"restaurant", "viewpoint"} == set(layers["pois"]["kind"])
    assert {"苏州河", "黄浦江"} <= set(layers["water"]["name"])


@pytest.mark.parametrize("kind", ["osm", "pbf"])
def test_roads_keep_kind_name_and_length_of_what_was_written(osm_files, source_roads, kind):
    roads = read_osm_layers([osm_files[kind]])["roads"]
    written = source_roads[source_roads["kind_detail"].isin(ROAD_KINDS)]
    assert sorted(roads["kind"].value_counts().items()) == sorted(
        written.explode(index_parts=False)["kind_detail"].value_counts().items()
    )
    ours, truth = _named_lengths(roads), _named_lengths(written)
    assert ours.keys() == truth.keys()
    for name, length in truth.items():  # 7 decimals of a degree in the XML: centimetres
        assert ours[name] == pytest.approx(length, abs=1.0), name


def test_pbf_reads_the_same_as_its_xml(osm_files):
    xml, pbf = read_osm_layers([osm_files["osm"]]), read_osm_layers([osm_files["pbf"]])
    for name in LAYERS:
        a, b = xml[name], pbf[name]
        assert len(a) == len(b), name
        assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 1e-7).all()
        assert a.drop(columns="geometry").fillna("").equals(b.drop(columns="geometry").fillna(""))


def test_door_plates_come_from_addr_tags_with_escaped_quotes_and_commas(osm_files):
    plates = read_osm_layers([osm_files["osm"]])["addresses"]
    plate = EXTRA["plate"]
    row = plates[plates["street"] == plate["addr:street"]]
    assert row["number"].tolist() == [plate["addr:housenumber"]]
    assert row.geometry.iloc[0].equals_exact(shapely.Point(plate["lon"], plate["lat"]), 1e-7)
    buildings = gpd.read_file(DEMO_GPKG, layer="buildings")
    tagged = buildings["addr_housenumber"].notna().sum()
    assert len(plates) == tagged + 1  # every tagged building, and the plate node
    # a plate lies on its building
    on = gpd.sjoin(plates.iloc[1:], read_osm_layers([osm_files["osm"]])["buildings"],
                   predicate="within")  # fmt: skip
    assert on.index.nunique() == tagged


def test_gpkg_layers_are_read_with_tilezen_kinds(source_roads):
    layers = read_osm_layers([DEMO_GPKG])
    roads = layers["roads"]
    assert len(roads) == source_roads["kind_detail"].isin(ROAD_KINDS).sum()
    assert set(roads["kind"]) <= ROAD_KINDS
    assert _named_lengths(roads) == _named_lengths(
        source_roads.assign(name=source_roads["name"].where(source_roads["name"].notna()))
    )
    assert len(layers["buildings"]) == 945 and len(layers["water"]) == 4
    assert layers["addresses"]["number"].notna().all()


def test_several_sources_are_concatenated_and_bbox_filters(osm_files):
    both = read_osm_layers([DEMO_GPKG, osm_files["osm"]])
    one = read_osm_layers([DEMO_GPKG])
    assert len(both["buildings"]) == 2 * len(one["buildings"])
    bbox = (121.484, 31.236, 121.489, 31.240)
    part = read_osm_layers([DEMO_GPKG], bbox=bbox)["buildings"]
    assert 0 < len(part) < len(one["buildings"])
    box = shapely.box(*bbox)
    truth = one["buildings"].geometry.intersects(box).sum()
    assert len(part) == truth
    assert part.geometry.intersects(box).all()


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(InputError, match=r"data\.shp.*\.osm, \.osm\.pbf or \.gpkg"):
        read_osm_layers([tmp_path / "data.shp"])
    with pytest.raises(UnreadableFileError, match=r"missing\.osm\.pbf"):
        read_osm_layers([tmp_path / "missing.osm.pbf"])
    with pytest.raises(InputError, match="no OSM source"):
        read_osm_layers([])
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id=", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"broken\.osm"):
        read_osm_layers([broken])
    no_crs = tmp_path / "nocrs.gpkg"
    frame = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])])
    with pytest.warns(UserWarning, match="crs"):
        pyogrio.write_dataframe(frame, no_crs, layer="roads")
    with pytest.raises(UnknownCRSError, match=r"nocrs\.gpkg.*roads"):
        read_osm_layers([no_crs])


def test_other_crs_gpkg_is_reprojected(tmp_path):
    roads = gpd.read_file(DEMO_GPKG, layer="roads").to_crs(32651)
    path = tmp_path / "utm.gpkg"
    roads.to_file(path, layer="roads")
    ours = read_osm_layers([path])["roads"]
    back = read_osm_layers([DEMO_GPKG])["roads"]
    assert np.allclose(ours.total_bounds, back.total_bounds, atol=1e-7)


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(tags=st.dictionaries(_text.filter(lambda k: k.strip() == k), _text, min_size=1,
                            max_size=4))  # fmt: skip
def test_other_tags_round_trip_through_gdal(tmp_path_factory, tags):
    """GDAL writes other_tags; parse_other_tags gives back the tags of the node."""
    path = tmp_path_factory.mktemp("tags") / "node.osm"
    from xml.sax.saxutils import quoteattr

    body = "".join(f"<tag k={quoteattr('x_' + k)} v={quoteattr(v)}/>" for k, v in tags.items())
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        f'<node id="1" version="1" lat="31.2" lon="121.4">{body}<tag k="shop" v="x"/></node>'
        "</osm>",
        encoding="utf-8",
    )
    frame = pyogrio.read_dataframe(path, layer="points")
    parsed = parse_other_tags(frame["other_tags"].iloc[0])
    assert {k: v for k, v in parsed.items() if k.startswith("x_")} == {
        "x_" + k: v for k, v in tags.items()
    }
