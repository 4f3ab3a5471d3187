"""Map colouring: neighbouring grids never share a colour.

Neighbours are grids that share an edge of positive length (or overlap); grids touching at a
single corner may share a colour, as on any political map. The colours come from a greedy
colouring of the adjacency graph (networkx ``greedy_color``), which needs at most
``max degree + 1`` colours and in practice 4–5 for a division.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from gis.crs import metric_crs, require_crs
from gis.defaults import DEFAULT_TOLERANCE_M
from gis.errors import InputError

__all__ = ["PALETTE", "colour_grids", "colour_indices", "grid_adjacency"]

# ColorBrewer Set3 (pleasant, light enough for black labels).
PALETTE: tuple[str, ...] = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462")
# Used only when a colouring needs more colours than PALETTE has (ColorBrewer Pastel1 / Set2).
_EXTRA = ("#b3de69", "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f", "#e5c494", "#a6d854")


def grid_adjacency(
    grids: gpd.GeoDataFrame, *, tolerance_m: float = DEFAULT_TOLERANCE_M
) -> nx.Graph:
    """Return the graph of grids sharing an edge; nodes are the row labels of ``grids``.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons with a CRS.
    tolerance_m : float
        Edges closer than this count as shared, so a 0.3 m digitising gap does not separate two
        neighbours. Two grids are neighbours when more than ``4 * tolerance_m`` of one's boundary
        lies within ``tolerance_m`` of the other (a corner touch gives at most ``2 * tolerance_m``),
        or when they overlap. With ``tolerance_m=0`` only an exactly shared edge of positive
        length counts.
    """
    require_crs(grids, "grids / 网格")
    graph = nx.Graph()
    graph.add_nodes_from(grids.index)
    if len(grids) < 2:
        return graph
    geoms = grids.geometry.to_crs(metric_crs(grids)).values
    geoms = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=max(tolerance_m, 0.0))
    keep = left < right
    left, right = left[keep], right[keep]
    a, b = geoms[left], geoms[right]
    overlapping = shapely.area(shapely.intersection(a, b)) > 0
    if tolerance_m > 0:
        near = shapely.intersection(shapely.boundary(a), shapely.buffer(b, tolerance_m))
        sharing = shapely.length(near) > 4 * tolerance_m
    else:
        sharing = shapely.length(shapely.intersection(shapely.boundary(a), shapely.boundary(b))) > 0
    labels = grids.index.to_numpy()
    pairs = zip(
        labels[left[overlapping | sharing]], labels[right[overlapping | sharing]], strict=True
    )
    graph.add_edges_from(pairs)
    return graph


def colour_indices(
    grids: gpd.GeoDataFrame,
    *,
    strategy: str = "largest_first",
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> pd.Series:
    """Return a colour number (0, 1, …) per grid, different for every two neighbours.

    ``strategy`` is a networkx ``greedy_color`` strategy ("largest_first", "DSATUR", …).
    """
    graph = grid_adjacency(grids, tolerance_m=tolerance_m)
    colouring = nx.greedy_color(graph, strategy=strategy)
    return pd.Series([colouring[i] for i in grids.index], index=grids.index, dtype="int64")


def colour_grids(
    grids: gpd.GeoDataFrame,
    *,
    palette: tuple[str, ...] = PALETTE,
    strategy: str = "largest_first",
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> pd.Series:
    """Return a fill colour (``#rrggbb``) per grid such that no two neighbours share one.

    Aligned with ``grids.index``. If the colouring needs more colours than ``palette`` has,
    further distinct colours are appended rather than reusing one (which could make
    neighbours equal).

    See Also
    --------
    grid_adjacency : what counts as neighbours.
    """
    numbers = colour_indices(grids, strategy=strategy, tolerance_m=tolerance_m)
    colours = list(palette) + [c for c in _EXTRA if c not in palette]
    if len(numbers) and numbers.max() >= len(colours):  # pragma: no cover - needs degree > 13
        raise InputError(f"colouring needs {numbers.max() + 1} colours, have {len(colours)}")
    return numbers.map(lambda i: colours[i]).rename("colour")
