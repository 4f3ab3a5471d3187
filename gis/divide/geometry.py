"""Geometry helpers of the automatic division: metric arrays, faces, merging.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import CRS

from gis.crs import require_crs
from gis.divide.params import CLIP_MARGIN_M, CUT_AREA_M2, GRID_SIZE_M
from gis.errors import GeometryTypeError, InputError

# --- geometry helpers ---------------------------------------------------------------------


def metric_array(frame: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: CRS, what: str):
    if frame is None:
        return np.empty(0, dtype=object)
    require_crs(
        frame if isinstance(frame, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=frame), what
    )
    geo = frame.geometry.to_crs(crs).to_numpy()
    keep = ~(shapely.is_missing(geo) | shapely.is_empty(geo))
    return geo[keep]


def metric_boundary(boundary: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> shapely.Geometry:
    geoms = metric_array(boundary, crs, "boundary / 边界")
    if len(geoms) == 0:
        raise InputError("边界为空 / boundary is empty: it has no polygon")
    kinds = set(shapely.get_type_id(geoms).tolist())
    if not kinds <= {3, 6}:
        raise GeometryTypeError("边界必须是面 / boundary must be polygons")
    merged = shapely.union_all(shapely.make_valid(geoms), grid_size=GRID_SIZE_M)
    return polygonal(merged)


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), [3, 6])]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def as_lines(geoms: np.ndarray) -> np.ndarray:
    """Lines of ``geoms``: lines as they are, polygon outlines, points dropped."""
    if len(geoms) == 0:
        return geoms
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, [3, 6])
    lines = geoms.copy()
    lines[polygonal] = shapely.boundary(geoms[polygonal])
    return lines[np.isin(shapely.get_type_id(lines), [1, 2, 5])]


def polygon_faces(boundary_m: shapely.Geometry, lines_m: np.ndarray) -> np.ndarray:
    """Polygonise ``boundary_m`` with ``lines_m``: faces tiling the boundary exactly."""
    if len(lines_m):
        lines_m = shapely.intersection(lines_m, shapely.buffer(boundary_m, CLIP_MARGIN_M))
    edges = np.concatenate([[shapely.boundary(boundary_m)], lines_m])
    noded = shapely.union_all(edges, grid_size=GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return faces
    inside = shapely.covered_by(shapely.point_on_surface(faces), boundary_m)
    return faces[inside & (shapely.area(faces) > 0)]


def _merge_groups(faces: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Replace each group of face positions by one face (coverage union)."""
    merged_away: set[int] = set()
    out = list(faces)
    for group in groups:
        if len(group) < 2:
            continue
        first = min(group)
        out[first] = single(shapely.coverage_union_all(faces[group]))
        merged_away.update(g for g in group if g != first)
    return np.array([f for i, f in enumerate(out) if i not in merged_away], dtype=object)


def single(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    return parts[0] if len(parts) == 1 else geom


def keep_buildings_whole(faces: np.ndarray, footprints: np.ndarray) -> np.ndarray:
    """Merge faces that share a footprint (each by more than ``CUT_AREA_M2``)."""
    if len(footprints) == 0 or len(faces) == 0:
        return faces
    tree = shapely.STRtree(faces)
    fp_pos, face_pos = tree.query(footprints, predicate="intersects")
    if len(fp_pos) == 0:
        return faces
    shared = shapely.area(shapely.intersection(footprints[fp_pos], faces[face_pos]))
    keep = shared > CUT_AREA_M2
    graph = nx.Graph()
    graph.add_nodes_from(range(len(faces)))
    fp_pos, face_pos = fp_pos[keep], face_pos[keep]
    for fp in np.unique(fp_pos):
        holders = face_pos[fp_pos == fp]
        graph.add_edges_from((int(holders[0]), int(h)) for h in holders[1:])
    groups = [sorted(c) for c in nx.connected_components(graph) if len(c) > 1]
    return _merge_groups(faces, groups) if groups else faces
