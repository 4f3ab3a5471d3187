"""Which roads split blocks, and the blocks they cut a boundary into.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.codes import spatial_order
from gis.crs import metric_crs, require_crs
from gis.divide.geometry import (
    as_lines,
    keep_buildings_whole,
    metric_array,
    metric_boundary,
    polygon_faces,
)
from gis.divide.params import BRIDGE_FIELDS, FALSE_TEXT, NON_SPLITTING_CLASSES, TUNNEL_FIELDS
from gis.errors import InputError

# --- road classes -----------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_TEXT
    try:
        return bool(value) and not pd.isna(value)
    except (TypeError, ValueError):
        return bool(value)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text.lower() if text else None


def _class_columns(roads: pd.DataFrame, road_class_field: str | None) -> list[str]:
    if road_class_field is not None:
        if road_class_field not in roads.columns:
            raise InputError(
                f"道路数据没有字段 {road_class_field!r} / roads have no column "
                f"{road_class_field!r}; columns: {list(roads.columns)}"
            )
        return [road_class_field]
    if "highway" in roads.columns:
        return ["highway"]
    return [c for c in ("kind", "kind_detail") if c in roads.columns]


def road_splits(
    roads: gpd.GeoDataFrame,
    *,
    road_class_field: str | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
) -> pd.Series:
    """Return, per road, whether it splits blocks (see the module docstring for the rule).

    >>> from shapely import LineString
    >>> r = gpd.GeoDataFrame({"highway": ["residential", "footway", None, "residential"],
    ...                       "tunnel": [None, None, None, "yes"]},
    ...                      geometry=[LineString([(0, 0), (1, 1)])] * 4, crs=4549)
    >>> road_splits(r).tolist()
    [True, True, False, False]
    >>> r = gpd.GeoDataFrame({"kind": ["major_road", "rail"], "kind_detail": ["primary", None]},
    ...                      geometry=[LineString([(0, 0), (1, 1)])] * 2, crs=4549)
    >>> road_splits(r).tolist(), road_splits(r, split_classes=["rail"]).tolist()
    ([True, False], [False, True])
    """
    columns = _class_columns(roads, road_class_field)
    wanted = None if split_classes is None else {str(c).strip().lower() for c in split_classes}
    out = np.zeros(len(roads), dtype=bool)
    for i, row in enumerate(roads[columns].itertuples(index=False) if columns else []):
        labels = {t for t in (_text(v) for v in row) if t is not None}
        if wanted is None:
            out[i] = bool(labels) and not (labels & NON_SPLITTING_CLASSES)
        else:
            out[i] = bool(labels & wanted)
    if not columns:
        out[:] = wanted is None
    for fields, allowed in ((TUNNEL_FIELDS, split_tunnels), (BRIDGE_FIELDS, split_bridges)):
        if allowed:
            continue
        for field in fields:
            if field in roads.columns:
                out &= ~np.array([_truthy(v) for v in roads[field]], dtype=bool)
    return pd.Series(out, index=roads.index, name="splits")


def as_frame(obj: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    return obj if isinstance(obj, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=obj)


def cutting_lines(
    roads: gpd.GeoDataFrame,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None,
    crs,
    *,
    road_class_field: str | None,
    split_classes: Iterable[str] | None,
    split_tunnels: bool,
    split_bridges: bool,
) -> np.ndarray:
    """The lines that cut blocks, in ``crs``: the splitting roads (:func:`road_splits`) and
    the barriers (polygons by their outline)."""
    split = road_splits(
        roads,
        road_class_field=road_class_field,
        split_classes=split_classes,
        split_tunnels=split_tunnels,
        split_bridges=split_bridges,
    ).to_numpy()
    return np.concatenate(
        [
            as_lines(metric_array(roads.loc[split], crs, "roads / 道路")),
            as_lines(metric_array(barriers, crs, "barriers / 隔断")),
        ]
    )


def blocks_from_roads(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    roads: gpd.GeoDataFrame,
    *,
    road_class_field: str | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Return the blocks into which the splitting roads cut ``boundary`` (boundary's CRS).

    The blocks tile the boundary exactly (no gap, no overlap, identical shared vertices).
    With ``buildings``, blocks that would cut a footprint are one block. Columns:
    ``block`` (0, 1, … in :func:`gis.codes.spatial_order`), ``area_m2``, geometry.

    >>> from shapely import LineString, box
    >>> x, y = 642000, 3459000  # EPSG:4549 (CGCS2000 GK CM 120E), North Bund, Shanghai
    >>> b = gpd.GeoSeries([box(x, y, x + 100, y + 100)], crs=4549)
    >>> r = gpd.GeoDataFrame({"highway": ["residential", "footway", "rail"]}, crs=4549,
    ...     geometry=[LineString([(x + 50, y - 10), (x + 50, y + 110)]),
    ...               LineString([(x, y + 50), (x + 50, y + 50)]),
    ...               LineString([(x - 5, y + 20), (x + 105, y + 20)])])
    >>> blocks_from_roads(b, r)["area_m2"].round(6).tolist()  # 3 blocks; rail does not cut
    [2500.0, 5000.0, 2500.0]
    """
    out_crs = require_crs(as_frame(boundary), "boundary / 边界")
    crs = metric_crs(as_frame(boundary))
    boundary_m = metric_boundary(boundary, crs)
    lines = cutting_lines(
        roads, barriers, crs, road_class_field=road_class_field, split_classes=split_classes,
        split_tunnels=split_tunnels, split_bridges=split_bridges,
    )  # fmt: skip
    footprints = metric_array(buildings, crs, "buildings / 建筑")
    if len(footprints):
        footprints = shapely.intersection(shapely.make_valid(footprints), boundary_m)
        footprints = footprints[~shapely.is_empty(footprints)]
    faces = keep_buildings_whole(polygon_faces(boundary_m, lines), footprints)
    blocks = gpd.GeoDataFrame({"area_m2": shapely.area(faces)}, geometry=faces, crs=crs)
    blocks = blocks.iloc[spatial_order(blocks)].reset_index(drop=True)
    blocks.insert(0, "block", np.arange(len(blocks)))
    return blocks.to_crs(out_crs)
