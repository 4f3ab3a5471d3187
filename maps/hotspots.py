"""Incident hot and cold spots: Getis-Ord Gi* (PySAL ``esda.G_Local``, ``star=True``).

Counts are taken per grid or per cell of a regular square lattice in metres (the local metric
CRS of :func:`gis.crs.metric_crs`). Gi* compares the sum of counts in each unit and its
neighbours (queen contiguity, the unit itself included) with the global mean; the p-value comes
from conditional permutations (seeded, so results repeat).
"""

from __future__ import annotations

import warnings

import esda
import folium
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import scipy.stats
import shapely

from gis.assign import assign_points
from gis.crs import metric_crs
from gis.errors import InputError
from maps.base import base_map, fit_to, to_map_frame
from maps.incidents import incident_points
from maps.web import add_legend

__all__ = ["HOTSPOT_CLASSES", "Z95", "Z99", "hotspots", "lattice", "render_hotspot_map"]

Z95 = 1.959964  # two-sided 95 % normal quantile
Z99 = 2.575829

# class -> (colour, label)
HOTSPOT_CLASSES: dict[str, tuple[str, str]] = {
    "hot99": ("#b2182b", "热点 99% hot spot"),
    "hot95": ("#ef8a62", "热点 95% hot spot"),
    "ns": ("#f7f7f7", "不显著 not significant"),
    "cold95": ("#67a9cf", "冷点 95% cold spot"),
    "cold99": ("#2166ac", "冷点 99% cold spot"),
}


def lattice(extent: gpd.GeoDataFrame, *, cell_m: float = 100.0) -> gpd.GeoDataFrame:
    """Return square cells of ``cell_m`` metres covering ``extent`` (in its local metric CRS).

    Only cells that intersect the extent's geometries are kept; columns ``cell`` ("r<row>c<col>")
    and geometry.
    """
    if cell_m <= 0:
        raise InputError(f"cell_m 必须为正数 / cell_m must be positive: {cell_m}")
    crs = metric_crs(extent)
    geoms = extent.geometry.to_crs(crs)
    minx, miny, maxx, maxy = geoms.total_bounds
    cols = max(int(np.ceil((maxx - minx) / cell_m)), 1)
    rows = max(int(np.ceil((maxy - miny) / cell_m)), 1)
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x0 = minx + jj.ravel() * cell_m
    y0 = miny + ii.ravel() * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    union = shapely.union_all(geoms.values)
    hit = shapely.intersects(boxes, union)
    names = [f"r{r}c{c}" for r, c in zip(ii.ravel()[hit], jj.ravel()[hit], strict=True)]
    return gpd.GeoDataFrame({"cell": names}, geometry=boxes[hit], crs=crs)


def hotspots(
    incidents: pd.DataFrame,
    grids: gpd.GeoDataFrame | None = None,
    *,
    cell_m: float = 100.0,
    code_field: str = "code",
    permutations: int = 999,
    seed: int = 12345,
) -> gpd.GeoDataFrame:
    """Return Getis-Ord Gi* per unit: ``count``, ``z``, ``p``, ``hotspot`` class.

    Parameters
    ----------
    incidents : DataFrame
        Points (GeoDataFrame or ``lon``/``lat`` in WGS84).
    grids : GeoDataFrame, optional
        Units = grids (id ``code_field``). Without grids, units are a square lattice of
        ``cell_m`` metres over the incidents' extent (cells with zero count included).
    permutations, seed : int
        Conditional permutations for the pseudo p-value (``p_sim``), seeded.

    Returns
    -------
    GeoDataFrame
        ``unit`` (grid code or cell name), ``count``, ``z`` (``Zs``, the analytical z of Gi*),
        ``p`` (conditional-permutation pseudo p-value, one-sided, seeded), ``p_norm`` (the
        two-sided normal p of ``z``) and ``hotspot`` in hot99/hot95/ns/cold95/cold99 by the
        z-score at 95 %/99 % (|z| > 1.96 / 2.576), as in Getis & Ord (1995). The class does not
        use ``p``: conditional permutation holds the unit's own count fixed, so ``p`` only tests
        its neighbourhood and misses a hot unit whose neighbours are ordinary (a single hot grid
        among large grids). In the metric CRS of the units.
    """
    points = incident_points(incidents)
    points = points[points.geometry.notna() & ~points.geometry.is_empty]
    if grids is not None:
        crs = metric_crs(grids)
        units = gpd.GeoDataFrame(
            {"unit": grids[code_field].astype(str).to_numpy()},
            geometry=grids.geometry.to_crs(crs).to_numpy(),
            crs=crs,
        )
    else:
        if not len(points):
            raise InputError("没有事件，无法划分格网 / no incidents to lay a lattice over")
        hull = gpd.GeoDataFrame(geometry=[points.to_crs(metric_crs(points)).union_all().envelope])
        hull = hull.set_crs(metric_crs(points))
        units = lattice(hull.buffer(cell_m / 2).to_frame("geometry"), cell_m=cell_m)
        units = units.rename(columns={"cell": "unit"})
    if len(units) < 3:
        raise InputError(
            f"单元太少（{len(units)}），无法计算 Gi* / too few units ({len(units)}) for Gi*"
        )
    codes = assign_points(points.to_crs(units.crs), units, code_field="unit")
    counts = codes.dropna().astype(str).value_counts()
    units["count"] = counts.reindex(units["unit"], fill_value=0).to_numpy().astype(float)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands warning for grids with no neighbour
        weights = libpysal.weights.Queen.from_dataframe(units, use_index=False)
    with warnings.catch_warnings():
        # esda's notices about its future default alternative hypothesis and numpy aliases
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        stat = esda.G_Local(
            units["count"].to_numpy(),
            weights,
            transform="B",  # binary weights (esda's default "R" row-standardises and shrinks z)
            star=True,
            permutations=permutations,
            seed=seed,
        )
    units["z"] = stat.Zs
    units["p"] = stat.p_sim
    units["p_norm"] = 2 * scipy.stats.norm.sf(np.abs(stat.Zs))
    z = units["z"].to_numpy()
    cls = np.full(len(units), "ns", dtype=object)
    cls[z > Z95] = "hot95"
    cls[z > Z99] = "hot99"
    cls[z < -Z95] = "cold95"
    cls[z < -Z99] = "cold99"
    units["hotspot"] = cls
    return units


def render_hotspot_map(
    spots: gpd.GeoDataFrame,
    *,
    grids: gpd.GeoDataFrame | None = None,
    m: folium.Map | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Draw the units of :func:`hotspots` coloured by class, with z, p and count on click."""
    m = base_map(tiles) if m is None else m
    frame = to_map_frame(spots, m)
    frame = frame[["unit", "count", "z", "p", "hotspot", "geometry"]].copy()
    frame["z"] = frame["z"].round(2)
    frame["p"] = frame["p"].round(3)
    frame["_colour"] = frame["hotspot"].map(lambda c: HOTSPOT_CLASSES[c][0])
    folium.GeoJson(
        frame,
        name="冷热点 Hot spots (Gi*)",
        style_function=lambda f: {
            "fillColor": f["properties"]["_colour"],
            "color": "#888888",
            "weight": 0.5,
            "fillOpacity": 0.75,
        },
        popup=folium.GeoJsonPopup(fields=["unit", "count", "z", "p", "hotspot"]),
    ).add_to(m)
    if grids is not None:
        folium.GeoJson(
            to_map_frame(grids, m)[["geometry"]],
            name="网格 Grids",
            style_function=lambda f: {"color": "#333333", "weight": 1.5, "fillOpacity": 0},
            interactive=False,
        ).add_to(m)
    add_legend(m, "Getis-Ord Gi*", list(HOTSPOT_CLASSES.values()))
    folium.LayerControl(collapsed=True).add_to(m)
    fit_to(m, frame)
    return m
