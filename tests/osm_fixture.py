"""OSM XML (and .osm.pbf through osmium-tool) written from the demo's OSM GeoPackage.

The base-map tests read real OSM files the way deployments get them. This writes the demo
extract's roads (``highway`` = the source's ``kind_detail``), buildings (closed ways,
``addr:*`` where the source has them) and water (closed ways, ``natural=water``) as OSM XML,
plus a few features the extract lacks: a park, named POIs, and a door-plate node whose street
holds quotes and a comma (GDAL's ``other_tags`` escaping). :data:`EXTRA` says what was added,
so tests compare what is read with what was written.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import shapely

DEMO_GPKG = Path(__file__).resolve().parents[1] / "data" / "demo" / "osm_bund.gpkg"

EXTRA = {
    "park": {"name": "测试公园", "leisure": "park"},
    "pois": [
        {"name": "老正兴菜馆", "amenity": "restaurant", "lon": 121.4872, "lat": 31.2380},
        {"name": "外滩观景台", "tourism": "viewpoint", "lon": 121.4905, "lat": 31.2395},
    ],
    "plate": {"addr:housenumber": "99号", "addr:street": '测试路 "甲", 乙', "lon": 121.4866,
              "lat": 31.2371},
}  # fmt: skip
PARK_RING = [(121.4850, 31.2330), (121.4862, 31.2330), (121.4862, 31.2340), (121.4850, 31.2340)]


class _Writer:
    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.next_node = 1
        self.next_way = 1

    def node(self, lon: float, lat: float, tags: dict | None = None) -> int:
        nid = self.next_node
        self.next_node += 1
        body = "".join(
            f"<tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in (tags or {}).items()
        )
        attrs = f'id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
        self.nodes.append(f"<node {attrs}>{body}</node>" if body else f"<node {attrs}/>")
        return nid

    def way(self, coords, tags: dict, *, closed: bool = False) -> None:
        coords = list(coords)[:-1] if closed else list(coords)
        refs = [self.node(x, y) for x, y in coords]
        if closed:
            refs.append(refs[0])
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items())
        self.ways.append(f'<way id="{self.next_way}" version="1">{nds}{body}</way>')
        self.next_way += 1

    def text(self) -> str:
        return (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<osm version="0.6" generator="wangge tests">\n'
            + "\n".join(self.nodes + self.ways)
            + "\n</osm>\n"
        )


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def write_demo_osm(path: Path) -> Path:
    """Write the demo extract (and :data:`EXTRA`) as OSM XML at ``path``."""
    w = _Writer()
    for poi in EXTRA["pois"]:
        w.node(poi["lon"], poi["lat"], {k: v for k, v in poi.items() if k not in ("lon", "lat")})
    plate = EXTRA["plate"]
    w.node(plate["lon"], plate["lat"], {k: v for k, v in plate.items() if k not in ("lon", "lat")})
    roads = gpd.read_file(DEMO_GPKG, layer="roads")
    for row in roads.itertuples():
        tags = {"highway": row.kind_detail} | ({"name": row.name} if _text(row.name) else {})
        for part in shapely.get_parts(row.geometry):
            w.way(part.coords, tags)
    buildings = gpd.read_file(DEMO_GPKG, layer="buildings")
    for row in buildings.itertuples():
        tags = {"building": "yes"}
        if _text(row.addr_housenumber):
            tags["addr:housenumber"] = row.addr_housenumber
        if _text(row.addr_street):
            tags["addr:street"] = row.addr_street
        for part in shapely.get_parts(row.geometry):
            w.way(part.exterior.coords, tags, closed=True)
    water = gpd.read_file(DEMO_GPKG, layer="water")
    for row in water.itertuples():
        tags = {"natural": "water"} | ({"name": row.name} if _text(row.name) else {})
        for part in shapely.get_parts(row.geometry):
            w.way(part.exterior.coords, tags, closed=True)
    w.way(PARK_RING + PARK_RING[:1], EXTRA["park"], closed=True)
    path.write_text(w.text(), encoding="utf-8")
    return path


def osm_to_pbf(osm: Path, pbf: Path) -> Path:
    """Convert OSM XML to PBF with osmium-tool (a Debian package, see install.sh)."""
    osmium = shutil.which("osmium")
    if osmium is None:
        raise RuntimeError("osmium-tool is not installed (install.sh installs it)")
    subprocess.run([osmium, "cat", str(osm), "-o", str(pbf), "--overwrite"], check=True)
    return pbf
