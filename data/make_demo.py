"""Build the wangge demo community (and scaled benchmark data) from real OpenStreetMap geometry.

Run from the repository root::

    .venv/bin/python data/make_demo.py                      # demo into data/demo/
    .venv/bin/python data/make_demo.py --out /tmp/d --seed 7
    .venv/bin/python data/make_demo.py --houses 1000000 --grids 10000 --out /tmp/big
    .venv/bin/python data/make_demo.py \
        --osm-source path/to/shanghai_bund_osm.gpkg   # re-cut from a full OSM extract

The demo reads the committed OSM clip ``data/demo/osm_bund.gpkg`` (roads, buildings, water;
© OpenStreetMap contributors, ODbL 1.0). ``--osm-source`` re-cuts that clip from the full
extract first. Everything not in OSM (door plates, households, owners, incidents) is generated
here from ``--seed``; the same seed always gives byte-identical files.
All metric work (areas, buffers, shifts) is done in ``gis.crs.metric_crs`` of the data;
files are written in lon/lat, EPSG:4326.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gis.crs import WGS84, metric_crs  # noqa: E402

if str(ROOT / "data") not in sys.path:  # the portrait generator beside this file
    sys.path.insert(0, str(ROOT / "data"))
from make_staff_photos import PHOTO_FOLDER as STAFF_PHOTO_FOLDER  # noqa: E402
from make_staff_photos import photo_file_name, write_staff_photos  # noqa: E402

__all__ = [
    "COMMUNITY",
    "build_demo",
    "build_scaled",
    "extract_osm",
    "main",
    "number_grids",
]

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
DEMO_DIR = ROOT / "data" / "demo"
OSM_CLIP = "osm_bund.gpkg"
SEED = 20261101

# Illustrative codes: 310101 is Huangpu district (GB/T 2260); street 002 and community 005
# are made up for the demo and do not claim to be the official numbers.
COMMUNITY = {
    "code": "310101002005",
    "name": "外滩源社区",
    "street_name": "外滩街道",
    "district_name": "黄浦区",
    "city": "上海市",
}

# Window (lon/lat) of the source extract cut into the committed clip, with margin.
CLIP_BBOX = (121.4800, 31.2264, 121.4960, 31.2475)
# Faces (city blocks) whose representative point falls in this polygon make the community.
# It follows the west bank of the Huangpu and leaves out the river and Pudong.
COMMUNITY_WINDOW = Polygon(
    [
        (121.4805, 31.2458),
        (121.4885, 31.2458),
        (121.4890, 31.2390),
        (121.4905, 31.2345),
        (121.4935, 31.2310),
        (121.4935, 31.2268),
        (121.4805, 31.2268),
    ]
)
N_GRIDS = 12
M2_PER_HOUSEHOLD = 80.0
FLOOR_HEIGHT_M = 3.0
ENTRANCE_MAX_HOUSEHOLDS = 150  # one door plate per this many households in a big building
REPORTED_END = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=8)))
N_INCIDENTS = 400
# House type of a building OSM does not tag as residential: the old core is mostly offices and
# shops in its tall buildings; share of the floor area lived in, by type.
HOUSE_TYPES = ["住宅", "商住", "商业", "办公"]
TYPE_P_LOW = [0.55, 0.2, 0.15, 0.1]
TYPE_P_HIGH = [0.1, 0.15, 0.35, 0.4]
RESIDENTIAL_SHARE = {"住宅": 0.6, "商住": 0.3, "商业": 0.0, "办公": 0.0}

ROAD_DETAILS_MAJOR = {"primary", "secondary", "tertiary"}
ROAD_DETAILS_MINOR = {"residential", "unclassified", "living_street"}
NON_RESIDENTIAL = {
    "commercial",
    "hotel",
    "retail",
    "bank",
    "tower",
    "office",
    "attraction",
    "transportation",
    "place_of_worship",
    "embassy",
    "communications_tower",
    "construction",
    "school",
    "arts_centre",
    "mall",
    "shed",
    "shop",
    "church",
    "public",
    "industrial",
    "hospital",
    "university",
    "museum",
    "theatre",
    "government",
    "parking",
    "train_station",
    "civic",
}


# --------------------------------------------------------------------------- OSM clip
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
        _write_gpkg(gdf.reset_index(drop=True), dest, layer)


def _as_multiline(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "LineString"]
    return shapely.MultiLineString(parts)


def _as_multipolygon(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return MultiPolygon(parts)


def _write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    gdf.to_file(
        path,
        layer=layer,
        driver="GPKG",
        engine="pyogrio",
        layer_metadata={"DESCRIPTION": ATTRIBUTION, "ATTRIBUTION": ATTRIBUTION},
    )


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path, description: str) -> None:
    path.unlink(missing_ok=True)
    gdf.to_crs(WGS84).to_file(
        path, driver="GeoJSON", engine="pyogrio", layer_options={"DESCRIPTION": description}
    )


# --------------------------------------------------------------------------- blocks
def road_network(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the roads that bound blocks: named-class surface streets, no tunnels/links."""
    major = roads["kind"].eq("major_road") & roads["kind_detail"].isin(ROAD_DETAILS_MAJOR)
    minor = roads["kind"].eq("minor_road") & roads["kind_detail"].isin(ROAD_DETAILS_MINOR)
    surface = roads["is_tunnel"].ne(True) & roads["is_link"].ne(True)
    return roads[(major | minor) & surface]


def block_faces(roads_m: gpd.GeoDataFrame) -> np.ndarray:
    """Polygonize the noded road network into faces (blocks), in a deterministic order."""
    noded = shapely.union_all(roads_m.geometry.values)
    faces = np.array(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    pts = shapely.point_on_surface(faces)
    order = np.lexsort((np.round(shapely.get_x(pts), 3), -np.round(shapely.get_y(pts), 3)))
    return faces[order]


def community_faces(faces_m, water_m, window_m) -> tuple[np.ndarray, Polygon]:
    """Pick the faces of the community and return them with the boundary polygon."""
    pts = shapely.point_on_surface(faces_m)
    water = shapely.union_all(water_m) if len(water_m) else Polygon()
    wet = shapely.area(shapely.intersection(faces_m, water)) > 0.2 * shapely.area(faces_m)
    chosen = faces_m[shapely.contains(window_m, pts) & ~wet]
    union = shapely.union_all(chosen)
    if union.geom_type == "MultiPolygon":  # keep the largest connected piece
        union = max(union.geoms, key=lambda g: g.area)
    boundary = Polygon(union.exterior)  # fill holes
    inside = shapely.covers(boundary, shapely.point_on_surface(faces_m))
    faces = faces_m[inside]
    check = shapely.union_all(faces)
    assert check.geom_type == "Polygon" and check.is_valid, check.geom_type
    assert shapely.symmetric_difference(check, boundary).area < 1e-6 * boundary.area
    return faces, check


# --------------------------------------------------------------------------- houses
def building_houses(buildings_m: gpd.GeoDataFrame, boundary: Polygon, rng) -> gpd.GeoDataFrame:
    """One row per residential building (or per entrance of a big one) inside the boundary."""
    b = buildings_m[buildings_m["kind"].eq("building")].copy()
    b = b[~b["kind_detail"].isin(NON_RESIDENTIAL) & b["name"].isna()]
    b["geometry"] = b.geometry.apply(
        lambda g: max(g.geoms, key=lambda p: p.area) if g.geom_type == "MultiPolygon" else g
    )
    b = b[b.area >= 40.0]
    pos = shapely.point_on_surface(b.geometry.values)
    b = b[shapely.contains_properly(boundary, pos)].sort_values("osm_id", kind="stable")
    rows = []
    for _, bd in b.iterrows():
        height = bd["height"]
        if isinstance(height, float | int) and not math.isnan(height) and height >= 3:
            floors = max(1, round(float(height) / FLOOR_HEIGHT_M))
        else:
            floors = int(rng.integers(2, 7))
        footprint = bd.geometry.area
        floor_area = footprint * floors
        if bd["kind_detail"] in ("apartments", "residential", "house"):
            house_type = "住宅"
        else:
            p = TYPE_P_HIGH if floors >= 8 else TYPE_P_LOW
            house_type = str(rng.choice(HOUSE_TYPES, p=p))
        share = RESIDENTIAL_SHARE[house_type]
        households = max(1, round(floor_area * share / M2_PER_HOUSEHOLD))
        n_entr = math.ceil(households / ENTRANCE_MAX_HOUSEHOLDS)
        points = _entrance_points(bd.geometry, n_entr)
        split = np.diff(np.round(np.linspace(0, households, len(points) + 1)).astype(int))
        for k, (pt, hh) in enumerate(zip(points, split, strict=True)):
            rows.append(
                {
                    "building": f"osm{int(bd['osm_id'])}",
                    "entrance": k,
                    "households": max(1, int(hh)),
                    "floor_area_m2": round(floor_area / len(points), 1),
                    "floors": floors,
                    "house_type": house_type,
                    "kind_detail": bd["kind_detail"],
                    "geometry": pt,
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings_m.crs)


def _entrance_points(footprint: Polygon, n: int) -> list[Point]:
    """Return ``n`` points strictly inside ``footprint`` spread along its long axis."""
    if n <= 1:
        return [shapely.point_on_surface(footprint)]
    rect = shapely.oriented_envelope(footprint)
    xy = np.asarray(rect.exterior.coords)[:4]
    e1, e2 = xy[1] - xy[0], xy[2] - xy[1]
    if np.hypot(*e1) < np.hypot(*e2):
        a, b = (xy[0] + xy[1]) / 2, (xy[2] + xy[3]) / 2
    else:
        a, b = (xy[1] + xy[2]) / 2, (xy[3] + xy[0]) / 2
    inner = footprint.buffer(-1.0)
    axis = LineString([a, b]).intersection(inner)
    if axis.is_empty:
        return [shapely.point_on_surface(footprint)]
    if axis.geom_type != "LineString":
        axis = max(shapely.get_parts(axis), key=lambda g: g.length)
    pts = [axis.interpolate((k + 0.5) / n, normalized=True) for k in range(n)]
    pts = [p for p in pts if footprint.contains_properly(p)]
    return pts or [shapely.point_on_surface(footprint)]


def _road_axis(geom) -> np.ndarray:
    """Unit principal axis of a road's vertices, pointing east (or north if it runs N-S)."""
    xy = shapely.get_coordinates(geom)
    xy = xy - xy.mean(axis=0)
    _, _, vt = np.linalg.svd(xy, full_matrices=False)
    axis = vt[0]
    if (abs(axis[0]) < 1e-9 and axis[1] < 0) or axis[0] < 0:
        axis = -axis
    return axis


def door_plates(houses: gpd.GeoDataFrame, roads_m: gpd.GeoDataFrame, rng) -> gpd.GeoDataFrame:
    """Give each house a number on its nearest named road.

    Numbers rise along the road's principal axis (oriented east, or north for a road running
    north-south); odd numbers on the left of that direction, even numbers on the right.
    """
    named = roads_m[roads_m["name"].notna() & roads_m["kind"].isin(["major_road", "minor_road"])]
    named = named[named["is_tunnel"].ne(True) & ~named["name"].str.contains("隧道|停车|枢纽")]
    by_name = named.dissolve(by="name", sort=True)
    names = by_name.index.to_numpy()
    lines = by_name.geometry.values
    tree = shapely.STRtree(lines)
    idx = tree.nearest(houses.geometry.values)
    houses = houses.copy()
    houses["road"] = names[idx]
    along, side = [], []
    axes = {n: _road_axis(g) for n, g in zip(names, lines, strict=True)}
    for pt, i in zip(houses.geometry.values, idx, strict=True):
        line = lines[i]
        axis = axes[names[i]]
        d = line.project(pt)
        p0, p1 = line.interpolate(max(d - 1.0, 0)), line.interpolate(min(d + 1.0, line.length))
        tangent = np.array([p1.x - p0.x, p1.y - p0.y])
        if tangent @ axis < 0:
            tangent = -tangent
        q = line.interpolate(d)
        cross = tangent[0] * (pt.y - q.y) - tangent[1] * (pt.x - q.x)
        side.append("left" if cross > 0 else "right")
        along.append(float(np.array([pt.x, pt.y]) @ axis))
    houses["along_m"] = along
    houses["side"] = side
    houses = houses.sort_values(["road", "side", "along_m"], kind="stable")
    numbers = np.zeros(len(houses), dtype=int)
    for _, grp in houses.groupby(["road", "side"], sort=True):
        first = 1 if grp["side"].iloc[0] == "left" else 2
        steps = 2 * rng.choice([1, 1, 1, 2, 3], size=len(grp))
        steps[0] = 0
        numbers[houses.index.get_indexer(grp.index)] = first + np.cumsum(steps)
    houses["number"] = numbers
    return houses


# --------------------------------------------------------------------------- grids
def face_adjacency(faces: np.ndarray, min_shared_m: float = 1.0) -> list[dict[int, float]]:
    """For each face, the neighbouring faces and the length of the edge they share."""
    tree = shapely.STRtree(faces)
    left, right = tree.query(faces, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right]))
    )
    adj: list[dict[int, float]] = [{} for _ in faces]
    for i, j, s in zip(left, right, shared, strict=True):
        if s >= min_shared_m:
            adj[i][j] = adj[j][i] = float(s)
    return adj


def _connected(members: set[int], adj) -> bool:
    if not members:
        return False
    start = min(members)
    seen, queue = {start}, deque([start])
    while queue:
        i = queue.popleft()
        for j in adj[i]:
            if j in members and j not in seen:
                seen.add(j)
                queue.append(j)
    return len(seen) == len(members)


def grow_grids(faces: np.ndarray, load: np.ndarray, n_grids: int) -> np.ndarray:
    """Group adjacent faces into ``n_grids`` connected regions of balanced ``load``.

    Seeds are spread by farthest-point sampling from the north-west face; the least loaded
    region repeatedly takes the free neighbour face it shares the longest edge with; then
    boundary faces move from the heaviest region to lighter neighbours while that helps.
    """
    adj = face_adjacency(faces)
    cent = shapely.get_coordinates(shapely.point_on_surface(faces))
    start = int(np.argmin(cent[:, 0] - cent[:, 1]))
    seeds = [start]
    dist = np.hypot(*(cent - cent[start]).T)
    while len(seeds) < n_grids:
        nxt = int(np.argmax(dist))
        seeds.append(nxt)
        dist = np.minimum(dist, np.hypot(*(cent - cent[nxt]).T))
    label = np.full(len(faces), -1)
    loads = np.zeros(n_grids)
    for g, s in enumerate(seeds):
        label[s] = g
        loads[g] = load[s]
    while (label < 0).any():
        best = None
        for g in np.argsort(loads, kind="stable"):
            cands = {}
            for i in np.flatnonzero(label == g):
                for j, s in adj[i].items():
                    if label[j] < 0:
                        cands[j] = cands.get(j, 0.0) + s
            if cands:
                best = (g, max(sorted(cands), key=lambda j: cands[j]))
                break
        if best is None:  # faces touching nothing by an edge: give them to a neighbour
            for i in np.flatnonzero(label < 0):
                near = np.argsort(np.hypot(*(cent - cent[i]).T))
                label[i] = next(label[j] for j in near if label[j] >= 0)
            break
        g, j = best
        label[j] = g
        loads[g] += load[j]
    for _ in range(400):  # refinement: shave the heaviest region
        loads = np.bincount(label, weights=load, minlength=n_grids)
        moved = False
        for g in np.argsort(-loads, kind="stable"):
            members = set(np.flatnonzero(label == g).tolist())
            best_move, best_peak = None, loads[g]
            for i in sorted(members):
                for j in adj[i]:
                    h = label[j]
                    if h == g:
                        continue
                    peak = max(loads[g] - load[i], loads[h] + load[i])
                    if peak < best_peak - 1e-9 and _connected(members - {i}, adj):
                        best_move, best_peak = (i, h), peak
            if best_move is not None:
                label[best_move[0]] = best_move[1]
                moved = True
                break
        if not moved:
            break
    return label


def number_grids(grid_geoms_m: np.ndarray, boundary_m: Polygon) -> np.ndarray:
    """Return the 1-based sequence of each grid: rows north→south, west→east in a row.

    The row of a grid is ``floor((ymax - cy) / band_m)`` where ``cy`` is the y of the grid's
    centroid in the metric CRS, ``ymax`` the boundary's northern limit and
    ``band_m = sqrt(boundary area / number of grids)``; inside a row grids go by centroid x.
    """
    c = shapely.centroid(grid_geoms_m)
    cx, cy = shapely.get_x(c), shapely.get_y(c)
    band_m = math.sqrt(boundary_m.area / len(grid_geoms_m))
    row = np.floor((boundary_m.bounds[3] - cy) / band_m)
    order = np.lexsort((cx, row))
    seq = np.empty(len(order), dtype=int)
    seq[order] = np.arange(1, len(order) + 1)
    return seq


# --------------------------------------------------------------------------- defects
def _shared_line(a: Polygon, b: Polygon):
    return shapely.line_merge(shapely.intersection(a.boundary, b.boundary))


def _longest_straight(line, min_len: float):
    """Longest straight segment (two consecutive vertices) of ``line`` if >= ``min_len``."""
    best = None
    for part in shapely.get_parts(line):
        if part.geom_type != "LineString":
            continue
        xy = np.asarray(part.coords)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        k = int(np.argmax(seg))
        if seg[k] >= min_len and (best is None or seg[k] > best[2]):
            best = (xy[k], xy[k + 1], seg[k])
    return best


def plant_defects(geoms: list, codes: list[str], boundary: Polygon, rng):
    """Return (defective geometries, defective codes, defect records) in metric CRS."""
    geoms = list(geoms)
    codes = list(codes)
    n = len(geoms)
    used: dict[int, int] = dict.fromkeys(range(n), 0)
    spots: list[Point] = []
    records = []
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            seg = _longest_straight(_shared_line(geoms[i], geoms[j]), 45.0)
            if seg is not None:
                pairs.append((i, j, seg))

    def far(p: Point) -> bool:
        return all(p.distance(q) > 120.0 for q in spots) and p.distance(boundary.exterior) > 40

    def pick_pair():
        ranked = sorted(pairs, key=lambda t: (used[t[0]] + used[t[1]], -t[2][2], t[0], t[1]))
        for i, j, (a, b, length) in ranked:
            mid = Point((a + b) / 2)
            if far(mid):
                return i, j, a, b, length
        raise RuntimeError("no free shared edge for a defect")

    def note(kind, idx, where, **extra):
        for k in idx:
            used[k] += 1
        spots.append(where)
        records.append({"kind": kind, "grid_index": list(idx), "point_m": where, **extra})

    # gap: a 30 m x 15 m piece of grid A next to its neighbour B, removed and given to nobody
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    square = Point(mid).buffer(15.0, cap_style="square")
    side_a = geoms[i] if geoms[i].intersection(square).area > 0 else geoms[j]
    ia, ib = (i, j) if side_a is geoms[i] else (j, i)
    hole = geoms[ia].intersection(square)
    geoms[ia] = geoms[ia].difference(square)
    note(
        "gap",
        (ia, ib),
        hole.point_on_surface(),
        area_m2=hole.area,
        description="30 m 见方的一块从网格中挖去, 无人覆盖 / a ~30 m square piece removed, "
        "covered by no grid",
    )

    # overlap: grid A extended 10 m into B along 40 m of their shared edge
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    seg = LineString([mid - 20 * u, mid + 20 * u])
    strip = seg.buffer(10.0, cap_style="flat")
    over = geoms[j].intersection(strip)
    geoms[i] = shapely.union(geoms[i], over)
    note(
        "overlap",
        (i, j),
        over.point_on_surface(),
        area_m2=over.area,
        description="网格向邻格伸入 10 m / a grid extended 10 m into its neighbour",
    )

    # sliver: 0.3 m strip along 30 m of a shared edge given up by B, covered by nobody
    i, j, a, b, length = pick_pair()
    u = (b - a) / length
    mid = (a + b) / 2
    seg = LineString([mid - 15 * u, mid + 15 * u])
    band = seg.buffer(0.3, cap_style="flat")
    strip = geoms[j].intersection(band)
    geoms[j] = geoms[j].difference(band)
    note(
        "sliver",
        (i, j),
        Point(mid + 0.15 * _toward(geoms[i], mid, u)),
        area_m2=strip.area,
        width_m=0.3,
        length_m=30.0,
        description="共享边移动 0.3 m, 留下 0.3 m 宽的缝 / shared edge shifted 0.3 m, "
        "a 0.3 m wide strip uncovered",
    )
    # the strip lies on B's side: the point is 0.15 m into it
    records[-1]["point_m"] = Point(mid - 0.15 * _toward(geoms[i], mid, u))
    spots[-1] = records[-1]["point_m"]

    # outside: a grid on the community edge spills 20 m across the boundary along 40 m
    outer = []
    for k in np.argsort([used[k] for k in range(n)], kind="stable"):
        seg_b = _longest_straight(_shared_line(geoms[k], boundary), 45.0)
        if seg_b is not None:
            outer.append((int(k), seg_b))
    k, (a, b, length) = next(
        (k, s) for k, s in outer if all(Point((s[0] + s[1]) / 2).distance(q) > 120 for q in spots)
    )
    mid = (a + b) / 2
    u = (b - a) / length
    out_n = -_toward(boundary, mid, u)
    # The rectangle reaches 1 m into the grid so the union overlaps by area: a rectangle
    # merely touching the edge gave parts joined along a float-thin line, which crossed
    # itself once written in lon/lat.
    p, q = mid - 20 * u - out_n, mid + 20 * u - out_n
    geoms[k] = shapely.union(geoms[k], Polygon([p, q, q + 21 * out_n, p + 21 * out_n]))
    spill = geoms[k].difference(boundary)
    note(
        "outside",
        (k,),
        spill.point_on_surface(),
        area_m2=spill.area,
        description="网格越过社区边界 20 m / a grid spills 20 m outside the community",
    )

    # invalid: a bow-tie (self-intersecting ring) on another grid's stretch of boundary
    k2, (a, b, length) = next(
        (k2, s)
        for k2, s in outer
        if k2 != k and all(Point((s[0] + s[1]) / 2).distance(q) > 120 for q in spots)
    )
    geoms[k2], lobe, crossing = _bowtie(geoms[k2], a, b, boundary, w=6.0, d=6.0)
    note(
        "invalid",
        (k2,),
        crossing,
        area_m2=lobe,
        description="网格边界自相交 (蝴蝶结) / self-intersecting ring (bow-tie); its two "
        "6 m x 3 m lobes lie outside the community",
    )

    # multipart: a 30 m x 30 m piece deep inside B is given to A (A becomes two parts)
    # prefer grids already used elsewhere (far away) to keep spare grids for the code defects
    for i, j, _ in sorted(pairs, key=lambda t: (-used[t[0]] - used[t[1]], t[0], t[1])):
        if not (geoms[i].is_valid and geoms[j].is_valid and geoms[i].geom_type == "Polygon"):
            continue
        core = geoms[j].buffer(-30.0)
        if core.is_empty:
            continue
        centre = core.point_on_surface()
        if all(centre.distance(q) > 120.0 for q in spots):
            break
    piece = centre.buffer(15.0, cap_style="square")
    geoms[j] = geoms[j].difference(piece)
    geoms[i] = MultiPolygon([geoms[i], piece])
    note(
        "multipart",
        (i,),
        centre,
        area_m2=piece.area,
        description="网格含一块飞地, 位于邻格内部 / a detached part of the grid lies inside "
        "another grid (which has a matching hole)",
    )

    # duplicate_code and missing_code on the least involved grids
    spare = [int(k) for k in np.argsort([used[k] for k in range(n)], kind="stable")]
    d1, d2, m1 = spare[0], spare[1], spare[2]
    records.append(
        {
            "kind": "duplicate_code",
            "grid_index": [d1, d2],
            "point_m": geoms[d2].point_on_surface(),
            "description": "两个网格同一编码 / two grids share one code",
        }
    )
    records.append(
        {
            "kind": "missing_code",
            "grid_index": [m1],
            "point_m": geoms[m1].point_on_surface(),
            "description": "网格没有编码 / a grid with no code",
        }
    )
    original = list(codes)
    codes[d2] = codes[d1]
    codes[m1] = None
    for r in records:
        r["original_codes"] = [original[k] for k in r["grid_index"]]
        r["grid_codes"] = [codes[k] for k in r["grid_index"] if codes[k] is not None]
    return geoms, codes, records


def _toward(poly: Polygon, mid: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Unit normal to ``u`` at ``mid`` pointing into ``poly``."""
    nrm = np.array([-u[1], u[0]])
    return nrm if poly.contains(Point(mid + 0.5 * nrm)) else -nrm


def _bowtie(poly: Polygon, a, b, boundary: Polygon, *, w: float, d: float):
    """Replace a piece of edge a-b of ``poly`` by a crossing detour outside ``boundary``."""
    u = (b - a) / np.hypot(*(b - a))
    nrm = np.array([-u[1], u[0]])
    mid = (a + b) / 2
    if boundary.contains(Point(mid + 0.5 * nrm)):
        nrm = -nrm  # point outward
    m = mid - u * w / 2
    detour = [m, m + u * w + nrm * d, m + nrm * d, m + u * w]
    ring = np.asarray(poly.exterior.coords)
    for k in range(len(ring) - 1):
        p, q = ring[k], ring[k + 1]
        if (np.allclose(p, a) and np.allclose(q, b)) or (np.allclose(p, b) and np.allclose(q, a)):
            pts = detour if np.allclose(p, a) else detour[::-1]
            new = [*ring[: k + 1], *pts, *ring[k + 1 :]]
            out = Polygon(new, [i.coords for i in poly.interiors])
            assert not out.is_valid
            # two triangles of w*d/4 each; the ring crosses itself at mid + nrm*d/2
            return out, w * d / 2, Point(mid + nrm * d / 2)
    raise RuntimeError("edge for the bow-tie not found")


# --------------------------------------------------------------------------- incidents
def read_categories(path: Path) -> pd.DataFrame:
    """Read the incident category code table."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


DESCRIPTIONS = {
    "0101": ["党员组织关系转入登记", "楼组党小组活动场地需协调"],
    "0102": ["新成立业主委员会需党建指导", "两新组织党员情况摸排"],
    "0201": ["沿街新开一家便利店", "沿街店铺更换经营者", "临街餐饮店新开业"],
    "0202": ["沿街店铺关闭停业", "店铺转为仓库使用"],
    "0301": ["屋顶新搭建违章阁楼", "天井内新砌违法建筑", "阳台外扩违法搭建"],
    "0302": ["电线杆上乱贴小广告", "沿街乱挂横幅", "楼道口乱堆杂物"],
    "0303": ["垃圾箱房周边垃圾未及时清运", "弄堂口生活垃圾堆积"],
    "0304": ["化粪池满溢", "窨井冒溢污水"],
    "0305": ["装修垃圾堆放路边", "建筑垃圾未按规定清运"],
    "0306": ["绿化带被踩踏损坏", "公共垃圾桶损坏", "公厕设施损坏"],
    "0401": ["新生儿出生登记", "育龄妇女信息变更"],
    "0402": ["流动人口婚育证明核查", "计生家庭特别扶助申请"],
    "0501": ["居民失业登记", "就业困难人员求助"],
    "0502": ["居民办理退休", "退休人员社会化管理登记"],
    "0503": ["居民患大病需救助", "重病家庭申请医疗救助"],
    "0504": ["困难家庭申请临时救助", "生活困难求助"],
    "0505": ["残疾人证办理咨询", "残疾人家庭无障碍改造需求"],
    "0506": ["低保家庭收入变化", "低保对象户籍迁出"],
    "0507": ["独居老人多日未出门", "空巢老人需要上门探访"],
    "0601": ["群租房隐患", "新增出租房屋登记", "出租房屋人员变动"],
    "0602": ["流动人口新入住未登记", "流动人口居住证到期"],
    "0603": ["楼道堆放杂物堵塞消防通道", "电动车楼道内充电", "私拉电线存在火灾隐患"],
    "0604": ["社区矫正人员外出未报告", "社区矫正对象走访"],
    "0605": ["邻里噪音纠纷", "楼上漏水引发邻里矛盾", "停车位邻里纠纷"],
    "0606": ["多名居民酝酿集体上访", "动迁补偿引发群体不满"],
}


# The second-level categories of the foundation's table (the demo's incidents draw from these).
FOUNDATION_CODES = (
    "0101",
    "0102",
    "0201",
    "0202",
    "0301",
    "0302",
    "0303",
    "0304",
    "0305",
    "0306",
    "0307",
    "0401",
    "0402",
    "0501",
    "0502",
    "0503",
    "0504",
    "0505",
    "0506",
    "0507",
    "0601",
    "0602",
    "0603",
    "0604",
    "0605",
    "0606",
    "0607",
)


def make_incidents(
    boundary: Polygon, houses: gpd.GeoDataFrame, categories: pd.DataFrame, rng, n: int = N_INCIDENTS
) -> pd.DataFrame:
    """Seeded incidents: ~60 % around four hot spots, the rest spread over the community."""
    subs = categories[categories["parent"] != ""]
    # the demo draws from the foundation's categories only, so that extending the table
    # does not change the demo's incidents
    subs = subs[subs["code"].isin(FOUNDATION_CODES)]
    codes = subs["code"].to_numpy()
    weight = np.array([3.0 if c[:2] in {"03", "06"} else 1.0 for c in codes])
    weight /= weight.sum()
    hot = houses.geometry.values[rng.choice(len(houses), size=4, replace=False)]
    pts = []
    minx, miny, maxx, maxy = boundary.bounds
    while len(pts) < n:
        if rng.random() < 0.6:
            c = hot[int(rng.integers(0, 4))]
            p = Point(c.x + rng.normal(0, 50), c.y + rng.normal(0, 50))
        else:
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if boundary.contains_properly(p):
            pts.append(p)
    start = REPORTED_END - timedelta(days=92)
    rows = []
    for k, p in enumerate(pts):
        code = str(rng.choice(codes, p=weight))
        day = start + timedelta(days=int(rng.integers(0, 92)))
        if rng.random() < 0.85:
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            minute = int(rng.integers(8 * 60 + 30, 17 * 60 + 30))
        else:
            minute = int(rng.integers(0, 24 * 60))
        ts = day + timedelta(minutes=minute, seconds=int(rng.integers(0, 60)))
        texts = DESCRIPTIONS.get(code) or [subs.loc[subs["code"] == code, "name_zh"].iloc[0]]
        rows.append(
            {
                "incident_id": f"I{k + 1:05d}",
                "category_code": code,
                "reported_at": ts.isoformat(),
                "description": str(rng.choice(texts)),
                "geometry": p,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=houses.crs)


# --------------------------------------------------------------------------- fake owners
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯健俊帆帅旭宁鑫婷雪琳晨阳佳怡欣悦子涵梓轩思雨一诺"
)


def fake_names(rng, n: int) -> list[str]:
    """Seeded made-up Chinese names (surname + one or two given characters)."""
    out = []
    for _ in range(n):
        given = "".join(rng.choice(GIVEN, size=int(rng.integers(1, 3))))
        out.append(str(rng.choice(SURNAMES)) + given)
    return out


# --------------------------------------------------------------------------- demo
POLICE_GRIDS = 4  # one community police officer serves this many grids
INSTRUCTOR_GRIDS = 6  # one street-office cadre guides this many grids
FOUR_FIFTY_GRIDS = ("001", "007")  # grids (by sequence) with an extra worker on a 4050 post
LEADER_DUTIES = "网格第一责任人，统筹{grid}各项工作，每月召集网格议事会，督办重大事项"
WORKER_DUTIES = "负责{grid}{roads}沿线入户登记与信息更新，每周巡查不少于15小时，发现问题及时上报"
POLICE_DUTIES = "负责{grids}治安防控、流动人口与出租房屋管理、重点人员管控"
INSTRUCTOR_DUTIES = "街道联系干部，指导督查{grids}网格工作，协调街道部门处置上报事项"
HELPER_DUTIES = "楼栋长，协助{grid}{roads}一带信息采集、政策宣传与邻里纠纷劝解"
FOUR_FIFTY_DUTIES = "“4050”公益性岗位，协助{grid}环境巡查与便民服务（不单独负责网格）"


def make_staff(codes: list[str], roads_by_grid: dict[str, list[str]], rng) -> pd.DataFrame:
    """Fictional staff, several per grid: a grid leader (网格长) and a full-time grid worker
    (专职网格员) in every grid, a community police officer per :data:`POLICE_GRIDS` grids, a
    street-office instructor per :data:`INSTRUCTOR_GRIDS` grids, a building head (兼职网格员)
    in every other grid, and in the grids of :data:`FOUR_FIFTY_GRIDS` a second worker on a
    "4050" public-welfare post (``is_4050``: not counted when grids are made one per worker).

    Each has a staff number (``staff_no`` W0001…), a phone (fictional, 138 0000 xxxx), duties
    of their own (naming their grid and its roads) and a portrait ``photo_path`` (drawn by
    ``data/make_staff_photos.py``). The police do not publish their phones.
    """
    names = iter(fake_names(rng, 8 * len(codes)))
    rows = []

    def label(code: str) -> str:
        return f"第{int(code[-3:])}网格"

    def roads(code: str) -> str:
        return "、".join(roads_by_grid.get(code, [])[:2])

    def person(role: str, duties: str, grid_codes: list[str], *, is_4050: bool = False) -> None:
        n = len(rows) + 1
        rows.append(
            {
                "staff_id": f"S{n:03d}",
                "staff_no": f"W{n:04d}",
                "name": next(names),
                "role": role,
                "phone": f"1380000{n:04d}",
                "phone_published": role != "grid_police",
                "duties": duties,
                "grid_codes": ",".join(grid_codes),
                "is_4050": is_4050,
                "photo_path": photo_file_name(f"S{n:03d}"),
            }
        )

    for i, code in enumerate(codes):
        grid = label(code)
        person("grid_leader", LEADER_DUTIES.format(grid=grid), [code])
        person("grid_worker", WORKER_DUTIES.format(grid=grid, roads=roads(code)), [code])
        if i % 2 == 0:
            person("part_time_worker", HELPER_DUTIES.format(grid=grid, roads=roads(code)), [code])
        if code[-3:] in FOUR_FIFTY_GRIDS:
            person("grid_worker", FOUR_FIFTY_DUTIES.format(grid=grid), [code], is_4050=True)
    for size, role, duties in (
        (POLICE_GRIDS, "grid_police", POLICE_DUTIES),
        (INSTRUCTOR_GRIDS, "grid_instructor", INSTRUCTOR_DUTIES),
    ):
        for k in range(0, len(codes), size):
            served = codes[k : k + size]
            span = f"{label(served[0])}至{label(served[-1])}"
            person(role, duties.format(grids=span), served)
    return pd.DataFrame(rows)


def build_people(out: Path, seed: int = SEED) -> dict:
    """Write the demo's people beside its grids and houses in ``out``: ``staff.csv`` with
    portraits, ``residents.csv`` and ``special_statuses.csv`` (each from its own stream of
    random numbers, so no other file changes)."""
    from make_residents import make_residents

    grids = gpd.read_file(out / "grids.geojson")
    table = pd.read_csv(out / "houses.csv", dtype={"number": str, "building": str})
    houses = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
    joined = gpd.sjoin(houses, grids[["code", "geometry"]], predicate="within", how="inner")
    roads_by_grid = {
        code: part["road"].value_counts().index.tolist() for code, part in joined.groupby("code")
    }
    staff = make_staff(sorted(grids["code"]), roads_by_grid, np.random.default_rng(seed + 3))
    staff.to_csv(out / "staff.csv", index=False, encoding="utf-8", lineterminator="\n")
    folder = out / STAFF_PHOTO_FOLDER
    for old in folder.glob("S*.png"):
        old.unlink()
    write_staff_photos(staff, folder)  # placeholder portraits (illustrative)
    residents, specials = make_residents(table, seed=seed + 4)
    residents.to_csv(out / "residents.csv", index=False, encoding="utf-8", lineterminator="\n")
    specials.to_csv(
        out / "special_statuses.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    return {"staff": len(staff), "residents": len(residents), "special_statuses": len(specials)}


def _to_lonlat(geoms, crs: CRS) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=crs).to_crs(WGS84).values


def build_demo(out: Path, seed: int = SEED, osm_clip: Path | None = None) -> dict:
    """Write the demo community into ``out``; return a summary dict."""
    out.mkdir(parents=True, exist_ok=True)
    clip = osm_clip or DEMO_DIR / OSM_CLIP
    rng = np.random.default_rng(seed)
    roads = gpd.read_file(clip, layer="roads")
    buildings = gpd.read_file(clip, layer="buildings")
    water = gpd.read_file(clip, layer="water")
    crs = metric_crs(roads)
    roads_m, buildings_m, water_m = roads.to_crs(crs), buildings.to_crs(crs), water.to_crs(crs)
    window_m = gpd.GeoSeries([COMMUNITY_WINDOW], crs=WGS84).to_crs(crs).iloc[0]

    faces_all = block_faces(road_network(roads_m))
    faces, boundary = community_faces(faces_all, water_m.geometry.values, window_m)

    houses = building_houses(buildings_m, boundary, rng)
    houses = door_plates(houses, roads_m, rng)
    houses = houses.sort_values(["building", "entrance"], kind="stable").reset_index(drop=True)

    face_of_house = shapely.STRtree(faces).query(houses.geometry.values, predicate="within")
    load = np.zeros(len(faces))
    np.add.at(load, face_of_house[1], houses["households"].to_numpy()[face_of_house[0]])
    label = grow_grids(faces, load, N_GRIDS)
    grid_geoms = np.array([shapely.union_all(faces[label == g]) for g in range(N_GRIDS)])
    for g in grid_geoms:
        assert g.geom_type == "Polygon" and g.is_valid, g.geom_type
    seq = number_grids(grid_geoms, boundary)
    order = np.argsort(seq)
    grid_geoms = grid_geoms[order]
    hh_grid = np.bincount(label, weights=load, minlength=N_GRIDS)[order].astype(int)
    cc = COMMUNITY["code"]
    codes = [f"{cc}{k + 1:03d}" for k in range(N_GRIDS)]
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"{COMMUNITY['name']}第{k + 1}网格" for k in range(N_GRIDS)],
            "households": hh_grid,
            "area_m2": np.round(shapely.area(grid_geoms), 1),
        },
        geometry=list(grid_geoms),
        crs=crs,
    )
    assert shapely.coverage_is_valid(grid_geoms)

    # --- files
    desc = f"{COMMUNITY['name']} demo, built from OpenStreetMap data {ATTRIBUTION}"
    bnd = gpd.GeoDataFrame(
        [
            {k: COMMUNITY[k] for k in ("code", "name", "street_name", "district_name")}
            | {"area_m2": round(boundary.area, 1)}
        ],
        geometry=[boundary],
        crs=crs,
    )
    _write_geojson(bnd, out / "boundary.geojson", desc)
    _write_geojson(grids, out / "grids.geojson", desc)

    d_geoms, d_codes, records = plant_defects(list(grid_geoms), codes, boundary, rng)
    dgrids = gpd.GeoDataFrame(
        {"code": d_codes, "name": grids["name"].tolist()}, geometry=d_geoms, crs=crs
    )
    _write_geojson(dgrids, out / "grids_defective.geojson", desc + " (planted defects)")
    pts_ll = _to_lonlat([r["point_m"] for r in records], crs)
    defects = []
    for r, p in zip(records, pts_ll, strict=True):
        rec = {
            "kind": r["kind"],
            "grid_codes": r["grid_codes"],
            "original_codes": r["original_codes"],
        }
        for key in ("area_m2", "width_m", "length_m"):
            if key in r:
                rec[key] = round(float(r[key]), 3)
        rec["lon"], rec["lat"] = round(p.x, 9), round(p.y, 9)
        rec["description"] = r["description"]
        defects.append(rec)
    (out / "defects.json").write_text(
        json.dumps(
            {"source": "grids_defective.geojson", "defects": defects}, ensure_ascii=False, indent=2
        )
        + "\n",
        encoding="utf-8",
    )

    # houses.csv
    hrng = np.random.default_rng(seed + 1)
    n = len(houses)
    types = houses["house_type"].to_numpy()
    use_by_type = {
        "住宅": (["自住", "出租", "空置"], [0.7, 0.25, 0.05]),
        "商住": (["自住", "出租", "经营"], [0.4, 0.3, 0.3]),
        "商业": (["经营", "出租", "空置"], [0.7, 0.25, 0.05]),
        "办公": (["办公", "出租", "空置"], [0.7, 0.25, 0.05]),
    }
    uses = [str(hrng.choice(use_by_type[t][0], p=use_by_type[t][1])) for t in types]
    owners = fake_names(hrng, n)
    ll = _to_lonlat(houses.geometry.values, crs)
    prefix = f"{COMMUNITY['city']}{COMMUNITY['district_name']}"
    table = pd.DataFrame(
        {
            "house_id": [f"H{k + 1:05d}" for k in range(n)],
            "address": [
                f"{prefix}{r}{num}号"
                for r, num in zip(houses["road"], houses["number"], strict=True)
            ],
            "road": houses["road"],
            "number": houses["number"],
            "building": houses["building"],
            "households": houses["households"],
            "floor_area_m2": houses["floor_area_m2"],
            "house_type": types,
            "use": uses,
            "owner": owners,
            "lon": np.round(shapely.get_x(ll), 8),
            "lat": np.round(shapely.get_y(ll), 8),
        }
    )
    table.to_csv(out / "houses.csv", index=False, encoding="utf-8", lineterminator="\n")

    # the OSM clip travels with the demo
    if (out / OSM_CLIP).resolve() != clip.resolve():
        shutil.copyfile(clip, out / OSM_CLIP)

    # incidents.csv
    cats = read_categories(ROOT / "data" / "codes" / "incident_categories.csv")
    inc = make_incidents(boundary, houses, cats, np.random.default_rng(seed + 2))
    ill = _to_lonlat(inc.geometry.values, crs)
    inc = pd.DataFrame(inc.drop(columns="geometry"))
    inc["lon"], inc["lat"] = np.round(shapely.get_x(ill), 8), np.round(shapely.get_y(ill), 8)
    inc.to_csv(out / "incidents.csv", index=False, encoding="utf-8", lineterminator="\n")

    # staff, residents: separate streams of random numbers, so the files above do not change
    people = build_people(out, seed)

    return {
        "metric_crs": crs.to_epsg(),
        "boundary_km2": boundary.area / 1e6,
        "faces": len(faces),
        "houses": n,
        "households": int(table["households"].sum()),
        "grid_households_min": int(hh_grid.min()),
        "grid_households_max": int(hh_grid.max()),
        "incidents": len(inc),
        "defects": [d["kind"] for d in defects],
        **people,
    }


# --------------------------------------------------------------------------- scaled
def _factor_pair(n: int) -> tuple[int, int]:
    """Return (nx, ny) with nx * ny == n and nx as close to sqrt(n) as possible."""
    ny = math.isqrt(n)
    while n % ny:
        ny -= 1
    return n // ny, ny


def build_scaled(out: Path, n_houses: int, n_grids: int, seed: int = SEED) -> dict:
    """Write a scaled synthetic data set (GeoParquet) for benchmarks into ``out``.

    Grids are a jittered ``nx`` x ``ny`` lattice (``nx * ny == n_grids``) of ~150 m cells
    centred on the demo area; vertices are snapped to multiples of 2**-20 degree so that
    midpoints and quarter points of edges are exactly representable and lie exactly on the
    edges. Of the houses 80 % are uniform random, 15 % lie exactly on a shared interior edge
    (at 1/4, 1/2 or 3/4 of it) and 5 % exactly on an interior lattice vertex.
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    nx, ny = _factor_pair(n_grids)
    lon0, lat0 = COMMUNITY_WINDOW.centroid.x, COMMUNITY_WINDOW.centroid.y
    cell_m = 150.0
    dlat = cell_m / 110_950.0
    dlon = cell_m / (111_320.0 * math.cos(math.radians(lat0)))
    q = 2.0**-20
    xs = lon0 + (np.arange(nx + 1) - nx / 2) * dlon
    ys = lat0 + (np.arange(ny + 1) - ny / 2) * dlat
    gx, gy = np.meshgrid(xs, ys[::-1])  # row 0 is the northern edge
    jx = rng.uniform(-0.2, 0.2, gx.shape) * dlon
    jy = rng.uniform(-0.2, 0.2, gy.shape) * dlat
    jx[:, [0, -1]] = 0.0
    jy[[0, -1], :] = 0.0
    vx = np.round((gx + jx) / q) * q
    vy = np.round((gy + jy) / q) * q
    r, c = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    r, c = r.ravel(), c.ravel()
    ring_r = np.stack([r, r, r + 1, r + 1, r], axis=1)
    ring_c = np.stack([c, c + 1, c + 1, c, c], axis=1)
    rings = np.stack([vx[ring_r, ring_c], vy[ring_r, ring_c]], axis=-1)
    polys = shapely.polygons(rings)
    # codes: communities are blocks of 10 x 10 cells, numbered row-major from the NW corner;
    # inside a block grids are numbered row by row north→south, west→east.
    bx = 10
    ncb = math.ceil(nx / bx)
    comm = (r // bx) * ncb + (c // bx)
    seq = (r % bx) * bx + (c % bx) + 1
    street = comm // 999 + 1
    comm_no = comm % 999 + 1
    community_code = np.char.add(
        np.char.add("310101", np.char.zfill(street.astype(str), 3)),
        np.char.zfill(comm_no.astype(str), 3),
    )
    codes = np.char.add(community_code, np.char.zfill(seq.astype(str), 3))
    grids = gpd.GeoDataFrame(
        {"code": codes, "community_code": community_code}, geometry=polys, crs=WGS84
    )

    n_edge = int(n_houses * 0.15)
    n_vert = int(n_houses * 0.05) if nx > 1 and ny > 1 else 0
    n_free = n_houses - n_edge - n_vert
    px = rng.uniform(vx.min(), vx.max(), n_free)
    py = rng.uniform(vy.min(), vy.max(), n_free)
    # shared edges: vertical ones (r, c)-(r+1, c) with 0 < c < nx, horizontal ones likewise
    horiz = rng.random(n_edge) < 0.5
    er = np.where(horiz, rng.integers(1, max(ny, 2), n_edge), rng.integers(0, ny, n_edge))
    ec = np.where(horiz, rng.integers(0, nx, n_edge), rng.integers(1, max(nx, 2), n_edge))
    er2, ec2 = np.where(horiz, er, er + 1), np.where(horiz, ec + 1, ec)
    t = rng.choice([0.25, 0.5, 0.75], n_edge)
    ex = vx[er, ec] + t * (vx[er2, ec2] - vx[er, ec])
    ey = vy[er, ec] + t * (vy[er2, ec2] - vy[er, ec])
    ok = (horiz & (ny > 1)) | (~horiz & (nx > 1))
    vr = rng.integers(1, max(ny, 2), n_vert)
    vc = rng.integers(1, max(nx, 2), n_vert)
    lon = np.concatenate([px, ex[ok], vx[vr, vc]])
    lat = np.concatenate([py, ey[ok], vy[vr, vc]])
    kind = np.concatenate(
        [np.full(n_free, "random"), np.full(ok.sum(), "edge"), np.full(n_vert, "vertex")]
    )
    m = len(lon)
    houses = gpd.GeoDataFrame(
        {
            "house_id": np.char.add("H", np.char.zfill(np.arange(1, m + 1).astype(str), 7)),
            "households": rng.integers(1, 4, m),
            "placement": kind,
            "lon": lon,
            "lat": lat,
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
    boundary = gpd.GeoDataFrame(
        {"name": ["scaled benchmark area"]},
        geometry=[shapely.box(vx.min(), vy.min(), vx.max(), vy.max())],
        crs=WGS84,
    )
    grids.to_parquet(out / "grids.parquet", index=False)
    houses.to_parquet(out / "houses.parquet", index=False)
    boundary.to_parquet(out / "boundary.parquet", index=False)
    return {"grids": len(grids), "houses": m, "lattice": [nx, ny]}


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="output folder (default data/demo)")
    p.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    p.add_argument("--houses", type=int, default=None, help="scaled mode: number of houses")
    p.add_argument("--grids", type=int, default=None, help="scaled mode: number of grids")
    p.add_argument(
        "--osm-source",
        type=Path,
        default=None,
        help="re-cut data/demo/osm_bund.gpkg from this full OSM extract first",
    )
    args = p.parse_args(argv)
    if args.houses is not None or args.grids is not None:
        if args.out is None:
            p.error("--out is required with --houses/--grids")
        summary = build_scaled(args.out, args.houses or 1000, args.grids or 100, args.seed)
    else:
        if args.osm_source is not None:
            extract_osm(args.osm_source, DEMO_DIR / OSM_CLIP)
        summary = build_demo(args.out or DEMO_DIR, args.seed)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
