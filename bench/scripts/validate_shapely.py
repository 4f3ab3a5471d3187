"""Validate a division with shapely: invalid coverage edges (overlaps, slivers) and the gaps.

Usage: python validate_shapely.py GRIDS.parquet BOUNDARY.parquet
"""

import sys

import geopandas as gpd
import shapely

grids = gpd.read_parquet(sys.argv[1]).to_crs(4549)
boundary = gpd.read_parquet(sys.argv[2]).to_crs(4549).union_all()
edges = shapely.coverage_invalid_edges(grids.geometry.to_numpy())
bad_edges = int((~shapely.is_empty(edges)).sum())
gaps = shapely.difference(boundary, shapely.union_all(grids.geometry.to_numpy()))
print(bad_edges, len(shapely.get_parts(gaps)))
