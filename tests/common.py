"""Planted geometry cases shared by tests.

Every case is built in metres in :data:`METRIC_CRS` (EPSG:4549, CGCS2000 3° Gauss-Krüger
CM 120°E) around :data:`ORIGIN_M` (North Bund, Hongkou, Shanghai: about 121.4906°E,
31.2441°N), then converted to lon/lat (EPSG:4326), so every size is known by construction.
``gis.crs.metric_crs`` picks EPSG:4549 for these data too, so the metres of construction
are the metres of measurement.

The base community is a 300 m × 200 m rectangle divided into 3 columns × 2 rows of
100 m × 100 m grids, coded with 15 digits (Hongkou 310109 + street 012 + community 003 +
sequence) and numbered west→east, north→south::

    y+200 +--------+--------+--------+
          |  001   |  002   |  003   |
    y+100 +--------+--------+--------+
          |  004   |  005   |  006   |
    y     +--------+--------+--------+
          x      x+100    x+200    x+300
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely import MultiPolygon, Point, Polygon, box

__all__ = [
    "CODE_PREFIX",
    "METRIC_CRS",
    "ORIGIN_M",
    "Expected",
    "PlantedCase",
    "cell_m",
    "code",
    "explicit_t_junctions",
    "grids_frame",
    "planted_cases",
    "planted_points",
    "to_lonlat",
]

METRIC_CRS = CRS.from_epsg(4549)
ORIGIN_M = (642_000.0, 3_459_000.0)
CODE_PREFIX = "310109012003"
WIDTH_M, HEIGHT_M, CELL_M = 300.0, 200.0, 100.0


def code(seq: int) -> str:
    """15-digit code of grid number ``seq`` of the base community."""
    return f"{CODE_PREFIX}{seq:03d}"


def cell_m(seq: int) -> Polygon:
    """Metric square of grid ``seq`` (1..6) of the base division."""
    col, row = (seq - 1) % 3, (seq - 1) // 3
    x0, y0 = ORIGIN_M
    left, top = x0 + col * CELL_M, y0 + HEIGHT_M - row * CELL_M
    return box(left, top - CELL_M, left + CELL_M, top)


def rect_m(dx0: float, dy0: float, dx1: float, dy1: float) -> Polygon:
    """Metric rectangle given by offsets in metres from :data:`ORIGIN_M`."""
    x0, y0 = ORIGIN_M
    return box(x0 + dx0, y0 + dy0, x0 + dx1, y0 + dy1)


def to_lonlat(geoms: list[shapely.Geometry | None]) -> gpd.GeoSeries:
    """Metric geometries (EPSG:4549) as a lon/lat GeoSeries (EPSG:4326)."""
    return gpd.GeoSeries(geoms, crs=METRIC_CRS).to_crs(4326)


def grids_frame(
    codes: list[str | None], geoms_m: list[shapely.Geometry | None]
) -> gpd.GeoDataFrame:
    """Lon/lat grids frame with a ``code`` column from metric geometries."""
    return gpd.GeoDataFrame({"code": codes}, geometry=to_lonlat(geoms_m).array, crs=4326)


def boundary_frame(geoms_m: list[shapely.Geometry] | None = None) -> gpd.GeoDataFrame:
    """Lon/lat boundary frame (default: the 300 m × 200 m base rectangle)."""
    geoms_m = geoms_m or [rect_m(0, 0, WIDTH_M, HEIGHT_M)]
    return gpd.GeoDataFrame(
        {"name": ["北外滩示例社区"] * len(geoms_m)}, geometry=to_lonlat(geoms_m).array
    )


def explicit_t_junctions(
    grids: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    between_grids: bool = False,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | gpd.GeoSeries]:
    """The lon/lat division with the T-junctions of its metric construction made vertices.

    The cases are exact in metres: a grid corner may lie on the long edge of the boundary
    (or, ``between_grids``, of a neighbour). Converted vertex by vertex, that edge is
    straight in lon/lat and the corner lies up to a millimetre off it, so the lon/lat data
    would not be the division built. Adding the corner to the edge (in metres, where it
    lies on it to 1e-6 m) keeps the division exact in both CRSs and the sizes known by
    construction exact. Invalid geometries (planted on purpose) are left as they are.
    """
    metric_g = grids.geometry.to_crs(METRIC_CRS).to_numpy()
    metric_b = boundary.geometry.to_crs(METRIC_CRS).to_numpy()
    geoms = np.r_[metric_g, metric_b]
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    corners = shapely.multipoints(np.unique(shapely.get_coordinates(geoms[present]), axis=0))
    target = present & shapely.is_valid(geoms)
    if not between_grids:  # grids get the boundary's corners only
        target[: len(metric_g)] &= False
        b_corners = shapely.multipoints(
            shapely.get_coordinates(metric_b[~shapely.is_missing(metric_b)])
        )
        g = np.flatnonzero(present[: len(metric_g)] & shapely.is_valid(metric_g))
        snapped_g = shapely.snap(metric_g[g], b_corners, tolerance=1e-6)
    snapped = geoms.copy()
    snapped[target] = shapely.snap(geoms[target], corners, tolerance=1e-6)
    if not between_grids:
        snapped[g] = snapped_g
    gained = shapely.get_num_coordinates(snapped) > shapely.get_num_coordinates(geoms)
    lonlat = np.r_[grids.geometry.to_numpy(), boundary.geometry.to_numpy()]
    lonlat[gained] = gpd.GeoSeries(snapped[gained], crs=METRIC_CRS).to_crs(grids.crs).to_numpy()
    n = len(grids)
    grids = grids.set_geometry(gpd.GeoSeries(lonlat[:n], index=grids.index, crs=grids.crs))
    out_b = gpd.GeoSeries(lonlat[n:], index=boundary.index, crs=boundary.crs)
    boundary = out_b if isinstance(boundary, gpd.GeoSeries) else boundary.set_geometry(out_b)
    return grids, boundary


@dataclass(frozen=True)
class Expected:
    """A finding a case must produce: kind, grids, and sizes known by construction.

    ``location_m`` is a metric point that must lie within ``1 cm`` of the finding's geometry.
    """

    kind: str
    grid_codes: tuple[str, ...]
    area_m2: float | None = None
    width_m: float | None = None
    length_m: float | None = None
    location_m: Point | None = None


@dataclass(frozen=True)
class PlantedCase:
    """Grids and boundary in lon/lat, and the findings ``gis.coverage.validate`` must give.

    ``expected`` lists every ``error`` finding; ``warnings`` lists the ``edge_mismatch``
    warnings that must be there (grid codes of the grid owning the flagged edges first).
    """

    name: str
    grids: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame
    expected: tuple[Expected, ...] = ()
    warnings: tuple[str, ...] = ()  # owners of expected edge_mismatch warnings
    note: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        grids, boundary = explicit_t_junctions(self.grids, self.boundary)
        object.__setattr__(self, "grids", grids)
        object.__setattr__(self, "boundary", boundary)


def _base(
    replace: dict[int, shapely.Geometry | None] | None = None,
) -> list[shapely.Geometry | None]:
    replace = replace or {}
    return [replace.get(seq, cell_m(seq)) for seq in range(1, 7)]


def _codes() -> list[str | None]:
    return [code(seq) for seq in range(1, 7)]


def planted_cases() -> dict[str, PlantedCase]:
    """Return every planted case by name (fresh frames on each call)."""
    x0, y0 = ORIGIN_M
    cases: list[PlantedCase] = []
    boundary = boundary_frame()

    cases.append(PlantedCase("clean", grids_frame(_codes(), _base()), boundary))

    # two grids sharing one edge exactly, boundary their union
    shared = [rect_m(0, 0, 100, 100), rect_m(100, 0, 200, 100)]
    cases.append(
        PlantedCase(
            "shared_edge",
            grids_frame([code(1), code(2)], shared),
            boundary_frame([rect_m(0, 0, 200, 100)]),
        )
    )

    # the boundary given as two polygons (west and east halves): union them
    cases.append(
        PlantedCase(
            "split_boundary",
            grids_frame(_codes(), _base()),
            boundary_frame([rect_m(0, 0, 150, 200), rect_m(150, 0, 300, 200)]),
        )
    )

    # 0.3 m x 40 m notch in the west edge of 002: a gap narrower than 0.5 m -> sliver
    notch = rect_m(100, 130, 100.3, 170)
    cases.append(
        PlantedCase(
            "gap_0.3m",
            grids_frame(_codes(), _base({2: cell_m(2).difference(notch)})),
            boundary,
            (Expected("sliver", (code(1), code(2)), 12.0, 0.3, None, notch.centroid),),
            warnings=(code(1), code(2)),
            note="0.3 m × 40 m notch between 001 and 002",
        )
    )

    # a wedge between 004 and 005: 005's west edge leans from 0 m (top) to 0.4 m (bottom)
    wedge = Polygon([(x0 + 100, y0), (x0 + 100.4, y0), (x0 + 100, y0 + 100)])
    cases.append(
        PlantedCase(
            "sliver",
            grids_frame(_codes(), _base({5: cell_m(5).difference(wedge)})),
            boundary,
            (
                Expected(
                    "sliver",
                    (code(4), code(5)),
                    20.0,
                    # inscribed circle of the triangle: 2 * area / semi-perimeter
                    4 * 20.0 / (100 + 0.4 + (100**2 + 0.4**2) ** 0.5),
                    None,
                    wedge.centroid,
                ),
            ),
            warnings=(code(4), code(5)),
            note="wedge 0.4 m at its base, 100 m long",
        )
    )

    # a real gap: 005 leaves a 10 m x 20 m bite at its south-east corner (on the boundary)
    bite = rect_m(190, 0, 200, 20)
    cases.append(
        PlantedCase(
            "gap",
            grids_frame(_codes(), _base({5: cell_m(5).difference(bite)})),
            boundary,
            (Expected("gap", (code(5), code(6)), 200.0, 10.0, None, bite.centroid),),
        )
    )

    # 002 extends 2 m into 003 over their whole shared edge
    lap = rect_m(200, 100, 202, 200)
    cases.append(
        PlantedCase(
            "overlap",
            grids_frame(_codes(), _base({2: cell_m(2).union(lap)})),
            boundary,
            (Expected("overlap", (code(2), code(3)), 200.0, 2.0, None, lap.centroid),),
        )
    )

    # 005 as a bow-tie: its ring crosses itself at the cell centre; repaired it covers the
    # west and east triangles, leaving the north and south triangles uncovered
    c = cell_m(5).bounds
    centre = Point((c[0] + c[2]) / 2, (c[1] + c[3]) / 2)
    bowtie = Polygon([(c[0], c[1]), (c[2], c[3]), (c[2], c[1]), (c[0], c[3])])
    tri_width = 2 * 2500.0 / ((100 + 2 * 50 * 2**0.5) / 2)  # 2 * area / semi-perimeter
    north_tri = Point(centre.x, c[3] - 10)
    south_tri = Point(centre.x, c[1] + 10)
    cases.append(
        PlantedCase(
            "bowtie",
            grids_frame(_codes(), _base({5: bowtie})),
            boundary,
            (
                Expected("gap", (code(2), code(5)), 2500.0, tri_width, None, north_tri),
                Expected("gap", (code(5),), 2500.0, tri_width, None, south_tri),
                Expected("invalid", (code(5),), None, None, None, centre),
            ),
            note="the south triangle touches only the boundary and 005 (no other grid)",
        )
    )

    # 003 spills 5 m east of the boundary
    spill = rect_m(300, 100, 305, 200)
    cases.append(
        PlantedCase(
            "outside",
            grids_frame(_codes(), _base({3: cell_m(3).union(spill)})),
            boundary,
            (Expected("outside", (code(3),), 500.0, 5.0, None, spill.centroid),),
        )
    )

    # 006 also owns a detached 10 m square at the south-west corner, cut out of 004
    corner = rect_m(0, 0, 10, 10)
    cases.append(
        PlantedCase(
            "multipart",
            grids_frame(
                _codes(),
                _base({4: cell_m(4).difference(corner), 6: MultiPolygon([cell_m(6), corner])}),
            ),
            boundary,
            (Expected("multipart", (code(6),), 100.0, 10.0, None, corner.centroid),),
        )
    )

    # 006 is an invalid MultiPolygon: its main part has a zero-width spike (a ring that
    # doubles back on itself, as an edited spill can produce) and it owns the detached corner
    c6 = cell_m(6).bounds
    spike_tip = Point(c6[0] + 30, c6[1] + 50)
    spiky = Polygon(
        [
            (c6[0], c6[1]),
            (c6[2], c6[1]),
            (c6[2], c6[3]),
            (c6[0], c6[3]),
            (c6[0], c6[1] + 50),
            (spike_tip.x, spike_tip.y),
            (c6[0], c6[1] + 50),
            (c6[0], c6[1]),
        ]
    )
    cases.append(
        PlantedCase(
            "invalid_multipart",
            grids_frame(
                _codes(),
                _base({4: cell_m(4).difference(corner), 6: MultiPolygon([spiky, corner])}),
            ),
            boundary,
            (
                Expected("invalid", (code(6),), None, None, None, spike_tip),
                Expected("multipart", (code(6),), 100.0, 10.0, None, corner.centroid),
            ),
        )
    )

    # legit donut: grid A wraps grid B, B fills A's hole exactly
    inner = rect_m(100, 50, 200, 150)
    outer = rect_m(0, 0, 300, 200).difference(inner)
    cases.append(PlantedCase("donut", grids_frame([code(1), code(2)], [outer, inner]), boundary))

    # unfilled hole: 002 has a 10 m x 10 m hole that no grid fills
    hole = rect_m(145, 145, 155, 155)
    cases.append(
        PlantedCase(
            "hole",
            grids_frame(_codes(), _base({2: cell_m(2).difference(hole)})),
            boundary,
            (Expected("hole", (code(2),), 100.0, 10.0, None, hole.centroid),),
        )
    )

    # donut whose hole is only partly filled: a 2 m ring around the inner grid stays empty
    inner_small = rect_m(102, 52, 198, 148)
    ring_area = 100 * 100 - 96 * 96
    # widest inscribed circle sits in a corner of the 2 m ring: touching both outer sides
    # and the inner corner, (2 - r) * sqrt(2) = r
    ring_width = 2 * (2 * 2**0.5 / (1 + 2**0.5))
    cases.append(
        PlantedCase(
            "partly_filled_hole",
            grids_frame([code(1), code(2)], [outer, inner_small]),
            boundary,
            (
                Expected(
                    "hole",
                    (code(1), code(2)),
                    ring_area,
                    ring_width,
                    None,
                    Point(x0 + 101, y0 + 100),
                ),
            ),
        )
    )

    # 005 carries 004's code
    dup_codes = _codes()
    dup_codes[4] = code(4)
    cases.append(
        PlantedCase(
            "duplicate_code",
            grids_frame(dup_codes, _base()),
            boundary,
            (Expected("duplicate_code", (code(4), code(4)), None, None, None, cell_m(5).centroid),),
        )
    )

    # 006 has no code, 003 has only whitespace
    missing = _codes()
    missing[5] = None
    missing[2] = "  "
    cases.append(
        PlantedCase(
            "missing_code",
            grids_frame(missing, _base()),
            boundary,
            (
                Expected("missing_code", ("#2",), None, None, None, cell_m(3).centroid),
                Expected("missing_code", ("#5",), None, None, None, cell_m(6).centroid),
            ),
        )
    )
    return {case.name: case for case in cases}


def planted_points() -> dict[str, Point]:
    """Metric points on the base division: on a shared edge, a 4-grid vertex, the outer
    boundary, a boundary corner, inside 001, and 1 m outside."""
    x0, y0 = ORIGIN_M
    return {
        "shared_edge": Point(x0 + 100, y0 + 150),
        "vertex_4": Point(x0 + 100, y0 + 100),
        "outer_boundary": Point(x0 + 150, y0 + 200),
        "corner": Point(x0, y0),
        "inside_001": Point(x0 + 50, y0 + 150),
        "outside": Point(x0 - 1, y0 + 50),
    }
