"""City blocks: the road network, the block faces it encloses, the community's faces."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon

__all__ = [
    "ROAD_DETAILS_MAJOR",
    "ROAD_DETAILS_MINOR",
    "block_faces",
    "community_faces",
    "road_network",
]


ROAD_DETAILS_MAJOR = {"primary", "secondary", "tertiary"}
ROAD_DETAILS_MINOR = {"residential", "unclassified", "living_street"}


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
