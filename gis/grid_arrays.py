"""A division as plain arrays: what a point look-up needs, with neither geopandas nor pandas."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

__all__ = ["GridArrays"]


@dataclass(frozen=True)
class GridArrays:
    """A division as plain arrays: grid ids, their Polygons/MultiPolygons, and their CRS.

    Accepted wherever a grids GeoDataFrame is (:func:`gis.assign.assign_points`,
    :func:`gis.assign.assign_lonlat`, :class:`gis.assign.GridIndex`), for callers that hold
    the grids as arrays (decoded from a database, or read by :mod:`gis.io.grid_layers`) and
    need neither geopandas nor pandas. Same rules as for a frame: a missing id or a
    None/empty geometry takes no part; any other non-polygon is refused.
    """

    ids: Sequence[Hashable] | np.ndarray
    geoms: Sequence[shapely.Geometry | None] | np.ndarray
    crs: Any

    def __len__(self) -> int:
        return len(self.ids)
