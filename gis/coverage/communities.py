"""Validate many communities' divisions at once, each against its own boundary.

A street's or a district's grids file holds the grids of many communities, with a column
saying which community each belongs to, beside a boundaries file with one boundary per
community and the same column. :func:`validate_communities` validates each community's
grids alone against that community's boundary (:func:`gis.coverage.validate`, so a grid of
one community never counts as overlapping its neighbour across the community line) and
returns all findings, with the community in front. Given a Dask ``client`` it spreads the
communities over the cluster's workers; the findings are the same either way.
"""

from __future__ import annotations

from collections.abc import Hashable

import geopandas as gpd
import pandas as pd

from gis.coverage.validate import FINDING_COLUMNS, validate
from gis.errors import InputError

__all__ = ["COMMUNITY_COLUMN", "validate_communities"]

COMMUNITY_COLUMN = "community"
"""Name of the column the findings carry the community in."""


def _groups(frame: gpd.GeoDataFrame, by: str, what: str) -> dict[Hashable, gpd.GeoDataFrame]:
    if by not in frame.columns:
        raise InputError(
            f"{what}: 没有社区字段 {by!r} / no community field {by!r}; fields: "
            f"{', '.join(str(c) for c in frame.columns if c != frame.geometry.name)}"
        )
    missing = frame[by].isna().to_numpy()
    if missing.any():
        row = int(missing.argmax()) + 1
        raise InputError(
            f"{what}: 第 {row} 个要素的社区字段 {by!r} 为空 / feature {row} has no {by!r}"
        )
    return {key: group for key, group in frame.groupby(by, sort=False)}


def validate_communities(
    grids: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame,
    *,
    by: str = "community_code",
    code_field: str = "code",
    tolerance_m: float = 0.5,
    noise_m: float = 0.001,
    client=None,
) -> tuple[gpd.GeoDataFrame, dict[Hashable, int]]:
    """Return the findings of every community's division and its number of grids.

    Parameters
    ----------
    grids : GeoDataFrame
        Grids of several communities; column ``by`` says whose.
    boundaries : GeoDataFrame
        The communities' boundaries; column ``by`` says whose (several polygons of one
        community are unioned, as :func:`gis.coverage.validate` does).
    by : str
        The community column, in both frames.
    code_field, tolerance_m, noise_m
        As :func:`gis.coverage.validate`.
    client : distributed.Client, optional
        Spread the communities over this cluster's workers (one task per community).

    Returns
    -------
    findings : GeoDataFrame
        ``community`` then :data:`~gis.coverage.FINDING_COLUMNS` and geometry (in the grids'
        CRS), community by community in order of the codes (as strings), each community's
        findings as :func:`gis.coverage.validate` orders them.
    grids_per_community : dict
        Number of grids of each community, in the same order.

    Raises
    ------
    InputError
        ``by`` missing or empty in either frame; a community with grids but no boundary,
        or a boundary without grids.
    """
    grid_groups = _groups(grids, by, "grids 网格")
    boundary_groups = _groups(boundaries, by, "boundaries 社区边界")
    no_boundary = sorted(map(str, set(grid_groups) - set(boundary_groups)))
    no_grids = sorted(map(str, set(boundary_groups) - set(grid_groups)))
    if no_boundary or no_grids:
        parts = []
        if no_boundary:
            parts.append(f"无边界 / no boundary: {', '.join(no_boundary)}")
        if no_grids:
            parts.append(f"无网格 / no grids: {', '.join(no_grids)}")
        raise InputError(f"社区不对应 / communities do not match ({by}): {'; '.join(parts)}")
    keys = sorted(grid_groups, key=str)
    options = {"code_field": code_field, "tolerance_m": tolerance_m, "noise_m": noise_m}
    if client is None:
        results = [validate(grid_groups[k], boundary_groups[k], **options) for k in keys]
    else:
        futures = [
            client.submit(validate, grid_groups[k], boundary_groups[k], **options, pure=False)
            for k in keys
        ]
        results = client.gather(futures)
    frames = []
    for key, found in zip(keys, results, strict=True):
        found = found.copy()
        found.insert(0, COMMUNITY_COLUMN, [key] * len(found))
        frames.append(found)
    columns = [COMMUNITY_COLUMN, *FINDING_COLUMNS, "geometry"]
    if frames:
        findings = gpd.GeoDataFrame(
            pd.concat(frames, ignore_index=True), geometry="geometry", crs=grids.crs
        )
    else:
        findings = gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=grids.crs)
    return findings, {key: len(grid_groups[key]) for key in keys}
