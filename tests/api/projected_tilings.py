"""Voronoi divisions drawn in projected CRSs, with one planted defect or none, and their truth.

A rotated square (2-15 km a side) cut into Voronoi cells: the square's four long straight
edges carry many grid vertices each, straight in the plane where they were drawn, so a reader
converting them vertex by vertex to lon/lat would bend them away from those vertices. The truth
of each planted defect is computed with shapely in the source CRS and its area on the
ellipsoid (pyproj.Geod), independently of wangge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer

# EPSG code -> (lon, lat) the square is centred at: a CGCS2000 3° Gauss-Krüger zone given by
# its central meridian and by its zone number (false easting 40,500 km), UTM, Web Mercator
CENTRES = {
    4549: (121.5, 31.2),  # CGCS2000 / 3-degree GK CM 120E
    4528: (121.5, 31.2),  # CGCS2000 / 3-degree GK zone 40
    4547: (114.1, 22.5),  # CGCS2000 / 3-degree GK CM 114E
    32650: (116.4, 39.9),  # WGS 84 / UTM zone 50N
    3857: (121.5, 31.2),  # WGS 84 / Pseudo-Mercator
}
DEFECTS = ("none", "gap", "overlap", "outside")
_GEOD = Geod(ellps="WGS84")


@dataclass
class Tiling:
    grids: gpd.GeoDataFrame  # in ``epsg``
    boundary: gpd.GeoDataFrame  # in ``epsg``
    epsg: int
    defect: str  # one of DEFECTS
    truth: shapely.Geometry | None  # the planted piece in ``epsg`` (None when clean)


def geodesic_area_m2(geom: shapely.Geometry, epsg: int) -> float:
    """Area on the WGS84 ellipsoid of ``geom`` given in ``epsg`` (densified first)."""
    dense = shapely.segmentize(geom, 10.0)
    lonlat = gpd.GeoSeries([dense], crs=epsg).to_crs(4326).iloc[0]
    return abs(_GEOD.geometry_area_perimeter(lonlat)[0])


def tiling(
    epsg: int, side: float, angle_deg: float, n_sites: int, seed: int, defect: str
) -> Tiling:
    """A Voronoi division of a rotated square in ``epsg`` with ``defect`` planted."""
    lon, lat = CENTRES[epsg]
    cx, cy = Transformer.from_crs(4326, CRS.from_epsg(epsg), always_xy=True).transform(lon, lat)
    a = np.radians(angle_deg)
    u, v = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    p0 = np.array([cx, cy]) - (u + v) * side / 2

    def at(s: np.ndarray, t: np.ndarray) -> np.ndarray:
        return p0 + np.outer(s, u) + np.outer(t, v)

    frame = shapely.Polygon(at(np.array([0, 1, 1, 0]) * side, np.array([0, 0, 1, 1]) * side))
    rng = np.random.default_rng(seed)
    local = rng.uniform(0.02, 0.98, (n_sites, 2)) * side
    sites = shapely.multipoints(at(local[:, 0], local[:, 1]))
    cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame))
    cells = shapely.intersection(cells, frame)
    cells = cells[shapely.area(cells) > 0]
    touches = shapely.intersects(cells, frame.exterior)
    truth = None
    extra: list[shapely.Geometry] = []
    keep = np.ones(len(cells), dtype=bool)
    if defect in ("gap", "overlap"):
        inner = np.flatnonzero(~touches)
        pick = int(inner[rng.integers(len(inner))])
        if defect == "gap":
            keep[pick] = False
            truth = cells[pick]
        else:  # a new grid drawn inside a convex cell, smaller by a third
            c = cells[pick]
            p = shapely.centroid(c)
            coords = shapely.get_coordinates(c)
            centre = np.array([p.x, p.y])
            truth = shapely.Polygon(centre + (coords - centre) / 3)
            extra.append(truth)
    elif defect == "outside":  # a cell on the bottom edge grows a tab out of the square
        spans = []
        for cell in cells:
            xy = shapely.get_coordinates(cell) - p0
            on_edge = np.abs(xy @ v) < 1e-6 * side  # vertices on the bottom edge
            s = xy[on_edge] @ u
            spans.append((s.max() - s.min(), s.min(), s.max()) if on_edge.sum() > 1 else (0, 0, 0))
        pick = int(np.argmax([span[0] for span in spans]))
        _, s0, s1 = spans[pick]
        s0, s1 = s0 + (s1 - s0) / 4, s1 - (s1 - s0) / 4
        depth = min(20.0, (s1 - s0) / 2)
        truth = shapely.Polygon(at(np.array([s0, s1, s1, s0]), np.array([0, 0, -depth, -depth])))
        cells[pick] = shapely.union(cells[pick], truth)
    grids = list(cells[keep]) + extra
    codes = [f"310101002005{i:03d}" for i in range(len(grids))]
    return Tiling(
        gpd.GeoDataFrame({"code": codes}, geometry=grids, crs=epsg),
        gpd.GeoDataFrame({"name": ["测试社区"]}, geometry=[frame], crs=epsg),
        epsg,
        defect,
        truth,
    )


def oracle(t: Tiling) -> dict[str, float]:
    """What shapely finds in the source CRS: invalid coverage edges, gaps, overlaps, spills.

    Areas are in the source CRS's units, to tell a defect (> 1) from rounding (< 1e-3).
    """
    geoms = t.grids.geometry.to_numpy()
    frame = t.boundary.geometry.iloc[0]
    union = shapely.union_all(geoms)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])).sum()
    return {
        "invalid_edges": float(shapely.length(shapely.coverage_invalid_edges(geoms)).sum()),
        "gap": float(shapely.area(shapely.difference(frame, union))),
        "outside": float(shapely.area(shapely.difference(union, frame))),
        "overlap": float(overlap),
    }


def write_tiling(t: Tiling, folder: Path, ext: str) -> tuple[Path, Path]:
    """Write ``t``'s grids and boundary to ``folder`` as GeoParquet or GeoPackage (``ext``)."""
    folder.mkdir(parents=True, exist_ok=True)
    grids, boundary = folder / f"grids{ext}", folder / f"boundary{ext}"
    if ext == ".parquet":
        t.grids.to_parquet(grids)
        t.boundary.to_parquet(boundary)
    else:
        t.grids.to_file(grids, driver="GPKG")
        t.boundary.to_file(boundary, driver="GPKG")
    return grids, boundary


# Hypothesis draws of :func:`tiling`: every CRS and defect, squares of 2-15 km
TILINGS = st.builds(
    tiling,
    epsg=st.sampled_from(sorted(CENTRES)),
    side=st.floats(2_000.0, 15_000.0),
    angle_deg=st.floats(5.0, 40.0),
    n_sites=st.integers(20, 120),
    seed=st.integers(0, 2**32 - 1),
    defect=st.sampled_from(DEFECTS),
)
