"""The automatic division: :func:`divide`.

Part of :mod:`gis.divide`; the rules are described there.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.codes import make_grid_code, spatial_order
from gis.crs import metric_crs, require_crs
from gis.defaults import DEFAULT_HOUSEHOLD_BAND, DEFAULT_TARGET_HOUSEHOLDS
from gis.divide.cuts import split_oversized
from gis.divide.geometry import (
    keep_buildings_whole,
    metric_array,
    metric_boundary,
    polygon_faces,
    single,
)
from gis.divide.households import households_per_face, houses_m, whole_if_possible
from gis.divide.regions import adjacency, aggregate, polsby_popper
from gis.divide.roads import as_frame, cutting_lines
from gis.errors import InputError


def divide(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries,
    roads: gpd.GeoDataFrame,
    houses: gpd.GeoDataFrame,
    *,
    target_households: float = DEFAULT_TARGET_HOUSEHOLDS,
    households_field: str = "households",
    road_class_field: str | None = None,
    band: float = DEFAULT_HOUSEHOLD_BAND,
    min_share: float = 0.6,
    code_prefix: str | None = None,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    split_classes: Iterable[str] | None = None,
    split_tunnels: bool = False,
    split_bridges: bool = False,
    n_grids: int | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Divide ``boundary`` into contiguous grids of about ``target_households`` households,
    or into exactly ``n_grids`` grids balanced by households.

    Parameters
    ----------
    boundary : GeoDataFrame or GeoSeries
        The community (polygons; several are unioned). Its CRS is the output CRS.
    roads : GeoDataFrame
        Road lines (any CRS); see the module docstring for which of them split blocks.
    houses : GeoDataFrame
        House points, or building footprints (polygons), with ``households_field`` (a
        missing field or empty value counts one household per house).
    target_households : float, default 300
        Households per grid aimed at.
    band : float, default 0.2
        Grids within ``target × (1 ± band)`` are in band; ``(1 - band) × target`` is the
        max-p floor and ``(1 + band) × target`` the size above which a block is split.
    min_share : float, default 0.6
        No two neighbouring grids both hold fewer than ``min_share × target``.
    code_prefix : str, optional
        12 digits (division + street + community): codes become 15-digit grid codes.
    buildings : GeoDataFrame or GeoSeries, optional
        Building footprints to keep whole when ``houses`` are points.
    barriers : GeoDataFrame or GeoSeries, optional
        Rivers, walls, fences: lines (or polygons, by their outline) that always split.
    split_classes, split_tunnels, split_bridges
        Override which road lines split blocks (:func:`road_splits`).
    n_grids : int, optional
        Make exactly this many grids (one per eligible grid worker, say): the target becomes
        the community's households divided by ``n_grids`` (``target_households`` is then
        ignored) and no grid is dissolved or merged afterwards. An
        :class:`~gis.errors.InputError` when there are fewer blocks (after cutting
        oversized ones between buildings) or populated blocks than grids.

    Returns
    -------
    grids : GeoDataFrame
        ``code``, ``name``, ``households``, ``area_m2``, ``polsby_popper``, geometry (in the
        boundary's CRS), in numbering order.
    report : DataFrame
        One row per grid: ``code``, ``name``, ``households``, ``share_of_target``,
        ``area_m2``, ``polsby_popper``, ``blocks``, ``status`` (``"ok"``, ``"under"`` below
        the band, ``"over"`` above it; ``"over-unsplittable"`` for a block that holds too
        many households and has no gap between buildings to cut along). ``report.attrs``
        holds the totals (houses used, houses outside the boundary, blocks, target).
        Households are integers unless ``households_field`` holds fractions (a household
        count shared between buildings) that do not add up to whole numbers per grid.
        :func:`band_summary` counts the grids per status.
    """
    if not target_households > 0:
        raise InputError(f"目标户数必须为正 / target_households must be > 0: {target_households}")
    if not 0 <= band < 1:
        raise InputError(f"band 必须在 [0, 1) / band must be in [0, 1): {band}")
    if not 0 <= min_share <= 1:
        raise InputError(f"min_share 必须在 [0, 1] / min_share must be in [0, 1]: {min_share}")
    if n_grids is not None and (
        isinstance(n_grids, bool) or int(n_grids) != n_grids or n_grids < 1
    ):
        raise InputError(f"网格数必须为正整数 / n_grids must be a positive integer: {n_grids}")
    if code_prefix is not None:
        make_grid_code(code_prefix, 1)  # validates the prefix
    out_crs = require_crs(as_frame(boundary), "boundary / 边界")
    crs = metric_crs(as_frame(boundary))
    boundary_m = metric_boundary(boundary, crs)

    lines = cutting_lines(
        roads, barriers, crs, road_class_field=road_class_field, split_classes=split_classes,
        split_tunnels=split_tunnels, split_bridges=split_bridges,
    )  # fmt: skip
    house_m = houses_m(houses, crs, households_field, boundary_m)
    if n_grids is not None:
        total = float(np.sum(house_m.households))
        if total <= 0:
            raise InputError("边界内没有住户，无法按人数划分 / no households inside the boundary")
        target_households = total / n_grids
    ceiling = (1 + band) * target_households
    footprints = house_m.geoms if house_m.footprints else np.empty(0, dtype=object)
    extra = metric_array(buildings, crs, "buildings / 建筑")
    extra = extra[np.isin(shapely.get_type_id(extra), [3, 6])] if len(extra) else extra
    if len(extra):
        extra = shapely.intersection(shapely.make_valid(extra), boundary_m)
        extra = extra[~shapely.is_empty(extra)]
    footprints = np.concatenate([footprints, extra])

    faces = keep_buildings_whole(polygon_faces(boundary_m, lines), footprints)
    weights = households_per_face(faces, house_m, crs)
    obstacles = np.concatenate([footprints, house_m.geoms if not house_m.footprints else []])
    item_pts, item_w = house_m.points, house_m.households
    cuts: list[shapely.Geometry] = []
    for face in faces[weights > ceiling]:
        cuts += split_oversized(
            face, item_pts, item_w, obstacles, target=target_households, ceiling=ceiling
        )
    if cuts:
        lines = np.concatenate([lines, np.array(cuts, dtype=object)])
        faces = keep_buildings_whole(polygon_faces(boundary_m, lines), footprints)
        weights = households_per_face(faces, house_m, crs)

    graph = adjacency(faces)
    labels = aggregate(
        faces,
        weights,
        graph,
        target=target_households,
        band=band,
        min_share=min_share,
        n_grids=n_grids,
    )

    regions = np.unique(labels)
    geoms = np.array(
        [single(shapely.coverage_union_all(faces[labels == r])) for r in regions], dtype=object
    )
    households = whole_if_possible(np.array([weights[labels == r].sum() for r in regions]))
    n_blocks = np.array([(labels == r).sum() for r in regions])
    unsplittable = np.array(
        [bool(((labels == r) & (weights > ceiling)).any()) for r in regions], dtype=bool
    )
    grids_m = gpd.GeoDataFrame(
        {
            "households": households,
            "area_m2": shapely.area(geoms),
            "polsby_popper": [polsby_popper(g) for g in geoms],
        },
        geometry=geoms,
        crs=crs,
    )
    order = spatial_order(grids_m)
    grids_m = grids_m.iloc[order].reset_index(drop=True)
    n_blocks, unsplittable = n_blocks[order], unsplittable[order]
    seq = np.arange(1, len(grids_m) + 1)
    codes = [make_grid_code(code_prefix, int(s)) if code_prefix else f"{s:03d}" for s in seq]
    grids_m.insert(0, "code", codes)
    grids_m.insert(1, "name", [f"第{s}网格" for s in seq])
    grids = grids_m.to_crs(out_crs)

    low, high = (1 - band) * target_households, ceiling
    status = np.where(
        grids_m["households"] > high + 1e-9,
        np.where(unsplittable, "over-unsplittable", "over"),
        np.where(grids_m["households"] < low - 1e-9, "under", "ok"),
    )
    report = pd.DataFrame(
        {
            "code": codes,
            "name": grids_m["name"],
            "households": grids_m["households"],
            "share_of_target": grids_m["households"] / target_households,
            "area_m2": grids_m["area_m2"],
            "polsby_popper": grids_m["polsby_popper"],
            "blocks": n_blocks,
            "status": status,
        }
    )
    report.attrs.update(
        {
            "target_households": target_households,
            "band": band,
            "houses_used": len(house_m.geoms),
            "houses_outside": int(len(houses) - len(house_m.geoms)),
            "households_total": whole_if_possible(np.array([weights.sum()]))[0].item(),
            "blocks": len(faces),
            "cuts_between_buildings": len(cuts),
            "metric_crs": crs.to_string(),
        }
    )
    return grids, report
