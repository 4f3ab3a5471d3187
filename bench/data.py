"""Scaled data sets for the benchmarks, built once and cached under ``bench/_data/``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["DATA_DIR", "assignment_data", "voronoi_division"]

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "_data"
SEED = 20240611
METRIC_EPSG = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E (Shanghai)


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assignment_data(n_houses: int, n_grids: int, seed: int = SEED) -> Path:
    """Folder with grids.parquet and houses.parquet from ``data/make_demo.py build_scaled``."""
    out = DATA_DIR / f"assign_h{n_houses}_g{n_grids}_s{seed}"
    if not (out / "houses.parquet").is_file():
        _make_demo().build_scaled(out, n_houses, n_grids, seed)
    return out


def voronoi_division(n_cells: int, seed: int = SEED) -> Path:
    """Folder with a Voronoi division of a square (EPSG:4549, ~150 m cells) with planted defects.

    ``grids_clean.parquet`` is the division before the defects were planted.

    Defects: 0.1 % of the cells removed (gaps), 0.1 % grown by 2 m (overlaps), 0.1 % with one
    vertex moved by 0.3 m (slivers / edge mismatch). ``defects.json`` says which.
    """
    out = DATA_DIR / f"voronoi_{n_cells}_s{seed}"
    if (out / "grids_clean.parquet").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side = float(np.sqrt(n_cells) * 150.0)
    x0, y0 = 640_000.0, 3_450_000.0
    frame = shapely.box(x0, y0, x0 + side, y0 + side)
    sites = shapely.multipoints(rng.uniform(0, side, (n_cells, 2)) + np.array([x0, y0]))
    cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame))
    cells = shapely.intersection(cells, frame)
    cells = cells[shapely.area(cells) > 0]
    n = len(cells)
    codes = np.char.add("310101001", np.char.zfill(np.arange(n).astype(str), 6))
    clean = gpd.GeoDataFrame({"code": codes}, geometry=cells.copy(), crs=METRIC_EPSG)
    clean.to_parquet(out / "grids_clean.parquet")
    k = max(1, n // 1000)
    pick = rng.permutation(n)
    removed, grown, moved = pick[:k], pick[k : 2 * k], pick[2 * k : 3 * k]
    cells[grown] = shapely.buffer(cells[grown], 2.0, join_style="mitre")
    for i in moved:
        coords = shapely.get_coordinates(cells[i])
        j = int(rng.integers(0, len(coords) - 1))
        coords[j] += 0.3
        if j == 0:
            coords[-1] = coords[0]
        cells[i] = shapely.Polygon(coords)
    keep = np.ones(n, dtype=bool)
    keep[removed] = False
    grids = gpd.GeoDataFrame({"code": codes[keep]}, geometry=cells[keep], crs=METRIC_EPSG)
    grids.to_parquet(out / "grids.parquet")
    gpd.GeoDataFrame(geometry=[frame], crs=METRIC_EPSG).to_parquet(out / "boundary.parquet")
    planted = {"removed": len(removed), "grown_2m": len(grown), "vertex_moved_0.3m": len(moved)}
    (out / "defects.json").write_text(json.dumps({**planted, "cells": n}))
    return out
