"""Houses from OSM buildings and their door plates along the roads."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from demo_maker.settings import ENTRANCE_MAX_HOUSEHOLDS, FLOOR_HEIGHT_M, M2_PER_HOUSEHOLD

__all__ = [
    "HOUSE_TYPES",
    "NON_RESIDENTIAL",
    "RESIDENTIAL_SHARE",
    "TYPE_P_HIGH",
    "TYPE_P_LOW",
    "building_houses",
    "door_plates",
]


# House type of a building OSM does not tag as residential: the old core is mostly offices and
# shops in its tall buildings; share of the floor area lived in, by type.
HOUSE_TYPES = ["住宅", "商住", "商业", "办公"]
TYPE_P_LOW = [0.55, 0.2, 0.15, 0.1]
TYPE_P_HIGH = [0.1, 0.15, 0.35, 0.4]
RESIDENTIAL_SHARE = {"住宅": 0.6, "商住": 0.3, "商业": 0.0, "办公": 0.0}
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
