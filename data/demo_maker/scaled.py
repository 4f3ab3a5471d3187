"""Scaled benchmark data: a jittered tiling of grids and houses of any size."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from demo_maker.settings import COMMUNITY_WINDOW, SEED
from gis.crs import WGS84

__all__ = ["build_scaled"]


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
