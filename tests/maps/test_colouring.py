"""Map colouring: no two grids sharing an edge get the same colour."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.crs import metric_crs
from maps.colouring import PALETTE, colour_grids, grid_adjacency


def _shared_edge_pairs(grids: gpd.GeoDataFrame) -> set[tuple[int, int]]:
    """Pairs sharing a boundary stretch longer than 1 cm, by brute force over all pairs."""
    geoms = grids.geometry.to_crs(metric_crs(grids)).to_numpy()
    pairs = set()
    for i, j in itertools.combinations(range(len(geoms)), 2):
        shared = shapely.intersection(geoms[i].boundary, geoms[j].boundary)
        if shared.length > 0.01:
            pairs.add((i, j))
    return pairs


def test_demo_neighbours_differ(demo_grids):
    colours = colour_grids(demo_grids)
    pairs = _shared_edge_pairs(demo_grids)
    assert len(pairs) >= len(demo_grids) - 1  # a connected division has at least n-1 shared edges
    for i, j in pairs:
        assert colours.iloc[i] != colours.iloc[j], (i, j)
    assert set(colours) <= set(PALETTE)
    graph_pairs = {tuple(sorted(e)) for e in grid_adjacency(demo_grids).edges}
    assert graph_pairs == pairs


def _lattice(rows: int, cols: int, jitter: np.ndarray, cell_m: float = 50.0) -> gpd.GeoDataFrame:
    """Quadrilaterals on a jittered (rows+1)x(cols+1) vertex lattice (a true coverage)."""
    y, x = np.mgrid[0 : rows + 1, 0 : cols + 1].astype(float) * cell_m
    inner = (slice(1, rows), slice(1, cols))
    x[inner] += jitter[0][: rows - 1, : cols - 1] * cell_m
    y[inner] += jitter[1][: rows - 1, : cols - 1] * cell_m
    x += 500_000.0
    y += 3_460_000.0
    cells = [
        shapely.Polygon(
            [
                (x[r, c], y[r, c]),
                (x[r, c + 1], y[r, c + 1]),
                (x[r + 1, c + 1], y[r + 1, c + 1]),
                (x[r + 1, c], y[r + 1, c]),
            ]
        )
        for r in range(rows)
        for c in range(cols)
    ]
    return gpd.GeoDataFrame(
        {"code": [f"{k:03d}" for k in range(len(cells))]}, geometry=cells, crs="EPSG:32651"
    )


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_lattice_neighbours_differ(rows, cols, seed):
    jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, size=(2, 6, 6))
    grids = _lattice(rows, cols, jitter)
    colours = colour_grids(grids)
    # Neighbours by construction: right and upper cells share an edge; diagonals only a corner.
    expected = set()
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            if c + 1 < cols:
                expected.add((k, k + 1))
            if r + 1 < rows:
                expected.add((k, k + cols))
    assert {tuple(sorted(e)) for e in grid_adjacency(grids).edges} == expected
    for i, j in expected:
        assert colours.iloc[i] != colours.iloc[j]
    assert colours.nunique() <= 5  # greedy needs at most max degree (4) + 1 colours


def test_overlapping_grids_are_neighbours():
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(50, 50, 150, 150)  # overlaps a; boundaries only cross at two points
    grids = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[a, b], crs="EPSG:32651")
    colours = colour_grids(grids)
    assert colours.iloc[0] != colours.iloc[1]


def test_small_gap_within_tolerance_counts_as_neighbour():
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(100.3, 0, 200, 100)  # 0.3 m digitising gap
    grids = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[a, b], crs="EPSG:32651")
    assert grid_adjacency(grids).number_of_edges() == 1
    assert grid_adjacency(grids, tolerance_m=0).number_of_edges() == 0
