"""Divisions that tile their boundary exactly in their own CRS, drawn by Hypothesis.

A division is built in *unit* coordinates (the square [0, 1]², one unit = ``size_m``
metres, near enough: the map to the CRS scales each axis by metres per unit at the
division's latitude) and mapped to its CRS by one affine map per axis. Axis-parallel
lines stay axis-parallel and equal coordinates stay equal, so a tiling exact in unit
coordinates is exact in the CRS: a grid corner on its neighbour's long edge (a T-junction)
lies on that edge there too, and the boundary keeps only its corners.

CRSs: lon/lat (EPSG:4326 WGS84, EPSG:4490 CGCS2000), the CGCS2000 3° Gauss-Krüger zone of
the place (EPSG:4534-4554) and UTM (EPSG:32650/32651); latitudes 18-53°N; extents
50 m-20 km. Tilings: guillotine cuts (T-junctions on long edges) and Voronoi cells (vertices
on the boundary's edges), optionally a grid enclosing another (a hole filled by a grid) and
a community in two parts (a MultiPolygon boundary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import assume
from hypothesis import strategies as st
from pyproj import CRS, Transformer

CODE_PREFIX = "310109012003"
CRS_KINDS = ("EPSG:4326", "EPSG:4490", "Gauss-Kruger", "UTM")
UNIT_BOX = shapely.box(0.0, 0.0, 1.0, 1.0)
SECOND_PART_DX = 1.25  # the second part of a two-part community sits at x in [1.25, 2.25]


@dataclass(frozen=True)
class Frame:
    """Where and in which CRS a division is drawn, and its unit → CRS map."""

    crs: CRS
    lon: float
    lat: float
    size_m: float
    origin: tuple[float, float]  # CRS coordinates of unit (0, 0)
    per_unit: tuple[float, float]  # CRS units per unit along x and y

    def to_crs(self, geoms_u):
        """Unit geometries mapped to the CRS (one affine map per axis)."""
        origin, scale = np.array(self.origin), np.array(self.per_unit)
        return shapely.transform(geoms_u, lambda xy: origin + xy * scale)

    def label(self) -> str:
        return f"{self.crs.to_string()} at {self.lon:.3f}E {self.lat:.3f}N, {self.size_m:.0f} m"


@dataclass(frozen=True)
class Division:
    """A division in unit coordinates and its frame: grids ``cells_u``, boundary parts."""

    frame: Frame
    cells_u: tuple  # shapely geometries, one per grid
    boundary_u: tuple  # shapely polygons (the community's parts)
    codes: tuple[str, ...]
    shape: str  # "guillotine" or "voronoi", plus "+hole", "+two parts"

    def grids(self) -> gpd.GeoDataFrame:
        geoms = self.frame.to_crs(np.array(self.cells_u, dtype=object))
        return gpd.GeoDataFrame({"code": list(self.codes)}, geometry=geoms, crs=self.frame.crs)

    def boundary(self) -> gpd.GeoDataFrame:
        geoms = self.frame.to_crs(np.array(self.boundary_u, dtype=object))
        return gpd.GeoDataFrame(geometry=geoms, crs=self.frame.crs)

    def replace(self, **changes) -> Division:
        fields = {
            "frame": self.frame,
            "cells_u": self.cells_u,
            "boundary_u": self.boundary_u,
            "codes": self.codes,
            "shape": self.shape,
        }
        return Division(**(fields | changes))

    def label(self) -> str:
        return f"{self.shape} of {len(self.cells_u)} grids, {self.frame.label()}"

    def __repr__(self) -> str:  # what a failing example prints: enough to rebuild it
        cells = ", ".join(shapely.to_wkt(c, rounding_precision=6) for c in self.cells_u)
        return f"<{self.label()}; lon/lat origin {self.frame.origin}; unit cells: {cells}>"

    def metres_to_units(self, metres: float) -> float:
        return metres / self.frame.size_m


def _gauss_kruger_epsg(lon: float) -> int:
    """CGCS2000 3° Gauss-Krüger zone (no zone prefix): EPSG:4534 is CM 75°E, +1 per 3°."""
    return 4534 + (3 * round(lon / 3) - 75) // 3


@st.composite
def frames(draw, *, kinds: tuple[str, ...] = CRS_KINDS) -> Frame:
    """A CRS, a place in China (18-53°N) and an extent (50 m-20 km, log-uniform)."""
    kind = draw(st.sampled_from(kinds))
    lat = draw(st.floats(18.0, 53.0))
    lon = draw(st.floats(114.5, 125.5))  # UTM zones 50/51, GK CM 114-126°E
    size_m = 10 ** draw(st.floats(math.log10(50.0), math.log10(20_000.0)))
    if kind in ("EPSG:4326", "EPSG:4490"):
        crs = CRS.from_user_input(kind)
        per_unit = (
            size_m / (111_320.0 * math.cos(math.radians(lat))),
            size_m / 110_574.0,
        )
        return Frame(crs, lon, lat, size_m, (lon, lat), per_unit)
    epsg = _gauss_kruger_epsg(lon) if kind == "Gauss-Kruger" else (32650 if lon < 120 else 32651)
    crs = CRS.from_epsg(epsg)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    return Frame(crs, lon, lat, size_m, (x, y), (size_m, size_m))


def _max_cells(size_m: float) -> int:
    """Keep grids at least ~20 m across, so that defects of a few metres fit inside one."""
    return int(np.clip(size_m / 25.0, 2, 12))


@st.composite
def guillotine_cells(draw, max_cells: int, offset: float = 0.0) -> list[shapely.Polygon]:
    """Rectangles from cutting the unit square (shifted by ``offset`` in x) again and again
    across its longer side at 30-70 %: every cut ends on a longer edge (a T-junction)."""
    rects = [(offset, 0.0, offset + 1.0, 1.0)]
    for _ in range(draw(st.integers(1, max_cells - 1))):
        k = draw(st.integers(0, len(rects) - 1))
        x0, y0, x1, y1 = rects[k]
        f = draw(st.floats(0.3, 0.7))
        if x1 - x0 >= y1 - y0:
            x = x0 + f * (x1 - x0)
            rects[k : k + 1] = [(x0, y0, x, y1), (x, y0, x1, y1)]
        else:
            y = y0 + f * (y1 - y0)
            rects[k : k + 1] = [(x0, y0, x1, y), (x0, y, x1, y1)]
    return [shapely.box(*r) for r in rects]


@st.composite
def voronoi_cells(draw, max_cells: int) -> list[shapely.Polygon]:
    """Voronoi cells of 2..max_cells sites, clipped to the unit square, sites apart."""
    n = draw(st.integers(2, max_cells))
    sites = draw(
        st.lists(st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)), min_size=n, max_size=n)
    )
    xy = np.array(sites)
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assume(gaps[np.triu_indices(n, 1)].min() > 0.5 / math.sqrt(n))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=UNIT_BOX))
    cells = shapely.intersection(cells, UNIT_BOX)
    # thin cells would leave no room for a defect of a few metres
    radius = shapely.length(shapely.maximum_inscribed_circle(cells, 1e-4))
    assume(radius.min() > 0.08)
    return list(cells)


def with_hole(cells: list[shapely.Polygon]) -> list[shapely.Polygon]:
    """The largest cell wrapped around a new grid: a square at the centre of its largest
    inscribed circle (a hole filled exactly by that grid)."""
    k = int(np.argmax(shapely.area(cells)))
    circle = shapely.maximum_inscribed_circle(cells[k], 1e-4)
    (cx, cy), _ = shapely.get_coordinates(circle)
    half = shapely.length(circle) / 3
    inner = shapely.box(cx - half, cy - half, cx + half, cy + half)
    outer = shapely.Polygon(cells[k].exterior.coords, [inner.exterior.coords])
    return [*cells[:k], outer, *cells[k + 1 :], inner]


@st.composite
def divisions(draw, *, kinds: tuple[str, ...] = CRS_KINDS, prefix: str = CODE_PREFIX) -> Division:
    """A division exact in its own CRS (see the module docstring)."""
    frame = draw(frames(kinds=kinds))
    most = _max_cells(frame.size_m)
    shape = draw(st.sampled_from(["guillotine", "voronoi"]))
    draw_cells = guillotine_cells if shape == "guillotine" else voronoi_cells
    cells = draw(draw_cells(most))
    boundary = [UNIT_BOX]
    if draw(st.booleans()):
        cells = with_hole(cells)
        shape += "+hole"
    if draw(st.booleans()):
        cells += draw(guillotine_cells(max(2, most // 2), offset=SECOND_PART_DX))
        boundary.append(shapely.box(SECOND_PART_DX, 0.0, SECOND_PART_DX + 1.0, 1.0))
        shape += "+two parts"
    codes = tuple(f"{prefix}{k + 1:03d}" for k in range(len(cells)))
    return Division(frame, tuple(cells), tuple(boundary), codes, shape)
