"""Generated points and grids for the assignment tests: the bench's generator (a jittered
tiling with points exactly on shared edges and vertices) plus points outside it, and the
assignment rule computed by brute force."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84

ROOT = Path(__file__).resolve().parents[2]


def build_scaled(out: Path, n_houses: int, n_grids: int, seed: int) -> None:
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_scaled(out, n_houses, n_grids, seed)


def truth(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    """The rule by brute force: of the grids whose polygon covers the point, the smallest code."""
    geoms = grids.geometry.to_numpy()
    codes = grids["code"].astype(str).to_numpy()
    tree = shapely.STRtree(geoms)
    point_geoms = points.geometry.to_crs(grids.crs).to_numpy()
    pairs = tree.query(point_geoms, predicate="covered_by")
    best = np.full(len(point_geoms), None, dtype=object)
    for p, g in zip(*pairs, strict=True):
        if best[p] is None or codes[g] < best[p]:
            best[p] = codes[g]
    return best


def houses_with_outside(folder: Path, seed: int) -> gpd.GeoDataFrame:
    """The generated houses plus points outside the tiling and on its outer boundary."""
    houses = gpd.read_parquet(folder / "houses.parquet")
    grids = gpd.read_parquet(folder / "grids.parquet")
    xmin, ymin, xmax, ymax = grids.total_bounds
    rng = np.random.default_rng(seed)
    n = 300
    lon = np.concatenate(
        [rng.uniform(xmax, xmax + 0.01, n // 3), rng.uniform(xmin, xmax, n // 3),
         np.full(n - 2 * (n // 3), xmin)]
    )  # fmt: skip
    lat = np.concatenate(
        [rng.uniform(ymin, ymax, n // 3), rng.uniform(ymin - 0.01, ymin, n // 3),
         rng.uniform(ymin, ymax, n - 2 * (n // 3))]
    )  # fmt: skip
    extra = gpd.GeoDataFrame(
        {
            "house_id": [f"X{i:07d}" for i in range(n)],
            "households": rng.integers(1, 4, n),
            "placement": "outside",
            "lon": lon,
            "lat": lat,
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
    both = pd.concat([houses, extra], ignore_index=True)
    return gpd.GeoDataFrame(both.sample(frac=1.0, random_state=seed), crs=WGS84)
